"""The one error type for bad audio input, with a code the CLI and the web API map to a response."""

from __future__ import annotations

from typing import Literal

AudioErrorCode = Literal["missing", "empty", "unsupported", "undecodable", "too_long", "other_language"]

# What the web API answers for each code (the CLI always exits 2).
HTTP_STATUS: dict[str, int] = {
    "missing": 404,
    "empty": 422,
    "unsupported": 415,
    "undecodable": 422,
    "too_long": 413,
    "other_language": 422,
}


class AudioError(Exception):
    """Bad input audio. ``message`` is one line without the file name; callers add the name."""

    def __init__(self, code: AudioErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: AudioErrorCode = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def __repr__(self) -> str:
        return f"AudioError({self.code!r}, {self.message!r})"
