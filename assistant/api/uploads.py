"""Streaming multipart upload: the body goes to disk chunk by chunk while bytes are counted, so an
oversized upload is refused (413) as soon as it passes the limit, and no partial file is left behind.
Starlette's own form parser spools file parts with no size cap, so it is not used for uploads."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from assistant.api.errors import ApiError

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 16


@dataclass
class ParsedUpload:
    file_path: Path | None = None
    filename: str = ""
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


class _Parts:
    """The multipart parser's callbacks: the file part streams to a temp file under the size limit, the other
    parts are collected as text fields under theirs."""

    def __init__(self, tmp_dir: Path, max_bytes: int, file_field: str) -> None:
        self.tmp_dir, self.max_bytes, self.file_field = tmp_dir, max_bytes, file_field
        self.result = ParsedUpload()
        self.headers: dict[bytes, bytes] = {}
        self.name: str | None = None
        self.file: BinaryIO | None = None
        self.buf = bytearray()
        self.hfield, self.hvalue = b"", b""
        self.parts = 0

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_header_field": self.on_header_field, "on_header_value": self.on_header_value,
                "on_header_end": self.on_header_end, "on_part_begin": self.on_part_begin,
                "on_headers_finished": self.on_headers_finished, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.hfield += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.hvalue += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.hfield.lower()] = self.hvalue
        self.hfield, self.hvalue = b"", b""

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise ApiError(422, "invalid_request", f"too many form parts (limit {MAX_PARTS})")
        self.headers, self.name, self.file = {}, None, None
        self.buf = bytearray()

    def on_headers_finished(self) -> None:
        _, disp = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        self.name = name
        if name == self.file_field:
            if self.result.file_path is not None:
                raise ApiError(422, "invalid_request", f"more than one '{self.file_field}' part")
            fd, path = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-", suffix=".part")
            lock_while_open(fd)  # the kernel releases it if this process dies: stale, for the sweep
            self.file = os.fdopen(fd, "wb")
            self.result.file_path = Path(path)
            self.result.filename = os.path.basename(disp.get(b"filename", b"").decode("utf-8", "replace"))[:255]

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = memoryview(data)[start:end]  # no copy of the bytes on their way to the file
        if self.file is not None:
            self.result.size += len(chunk)
            if self.result.size > self.max_bytes:
                raise ApiError(413, "too_large", f"upload exceeds the limit of {self.max_bytes} bytes")
            self.file.write(chunk)
        else:
            self.buf += chunk
            if len(self.buf) > MAX_FIELD_BYTES:
                raise ApiError(413, "too_large", f"form field '{self.name}' exceeds {MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        elif self.name:
            self.result.fields[self.name] = bytes(self.buf).decode("utf-8", "replace")


def _check_headers(request: Request, max_bytes: int) -> bytes:
    """The multipart boundary; 4xx for a body that is not multipart or declares more than the limit."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise ApiError(422, "invalid_request", "expected multipart/form-data with a boundary and a 'file' field")
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes + MAX_FIELD_BYTES:
                raise ApiError(413, "too_large", f"upload exceeds the limit of {max_bytes} bytes")
        except ValueError:
            raise ApiError(400, "invalid_request", "invalid Content-Length") from None
    return params[b"boundary"]


async def receive_upload(request: Request, tmp_dir: Path, max_bytes: int, file_field: str = "file") -> ParsedUpload:
    boundary = _check_headers(request, max_bytes)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    parts = _Parts(tmp_dir, max_bytes, file_field)
    try:
        parser = MultipartParser(boundary, callbacks=parts.callbacks())  # type: ignore[arg-type]
    except ValueError:  # FormParserError: e.g. a boundary over python-multipart's length limit
        raise ApiError(422, "invalid_request", "invalid multipart boundary") from None
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except (ApiError, MultipartParseError, ValueError, UnicodeError) as exc:
        _close_quietly(parts.file)
        discard(parts.result)
        if isinstance(exc, ApiError):
            raise
        raise ApiError(422, "invalid_request", "malformed multipart body") from None
    except BaseException:
        _close_quietly(parts.file)  # a full disk fails the close's flush too: still remove the file
        discard(parts.result)
        raise
    if parts.file is not None:  # body ended inside the file part
        parts.file.close()
        discard(parts.result)
        raise ApiError(422, "invalid_request", "incomplete multipart body")
    return parts.result


def lock_while_open(fd: int) -> None:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (ImportError, OSError):  # not POSIX, or a filesystem without locks: the sweep skips nothing then
        pass


def _close_quietly(fh: object) -> None:
    if fh is not None:
        try:
            fh.close()  # type: ignore[attr-defined]
        except OSError:
            pass


def sweep_partial_uploads(tmp_dir: Path) -> int:
    """Delete temp files of uploads whose process died (kill -9, power loss): nobody holds their lock.
    Uploads still being received by another live process on the same data dir are locked and kept."""
    removed = 0
    if not tmp_dir.is_dir():
        return 0
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return 0
    for part in tmp_dir.glob("upload-*.part"):
        try:
            fd = os.open(part, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live upload
        finally:
            os.close(fd)
        part.unlink(missing_ok=True)
        removed += 1
    return removed


def discard(upload: ParsedUpload) -> None:
    if upload.file_path is not None:
        upload.file_path.unlink(missing_ok=True)
        upload.file_path = None
