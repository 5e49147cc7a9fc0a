"""The diarisation boundary: who spoke when in a single-channel recording."""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, Field


class SpeakerTurn(BaseModel):
    """One stretch of speech by one (anonymous) speaker, in seconds from the start of the recording."""

    start: float
    end: float
    speaker: str = Field(description="Anonymous label, `speaker_1`, `speaker_2`... in order of first speech.")


class DiarisationError(RuntimeError):
    """The diariser could not run (its model is missing or the input is unusable)."""


@runtime_checkable
class Diariser(Protocol):
    def diarise(
        self, samples: np.ndarray, *, speakers: int | None = None, max_speakers: int | None = None
    ) -> list[SpeakerTurn]:
        """Speaker turns of 16 kHz mono float32 ``samples``, in time order and not overlapping.

        ``speakers`` is the number of people known to speak (e.g. from the `Present:` list); without it
        the number is estimated, up to ``max_speakers``."""
        ...

    def describe(self) -> dict[str, object]:
        """Model and settings, recorded in the transcript's `asr` block."""
        ...


def speaker_label(index: int) -> str:
    return f"speaker_{index + 1}"


# A whole string that is one of speaker_label's labels.
SPEAKER_LABEL = re.compile(r"^speaker_[1-9][0-9]{0,2}$")
