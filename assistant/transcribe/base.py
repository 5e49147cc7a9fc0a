"""The speech-to-text boundary: anything that turns a recording into a `Transcript`."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from assistant.audio import DecodedAudio
from assistant.transcript import Transcript

# A path, audio we already decoded, or 16 kHz float32 samples ((n,) mono or (channels, n)).
AudioSource = str | Path | DecodedAudio | np.ndarray


class ProgressCallback(Protocol):
    def __call__(self, done_seconds: float, total_seconds: float) -> None:
        """Seconds of audio processed so far, out of the total (channels transcribed separately add up)."""


@runtime_checkable
class Transcriber(Protocol):
    def transcribe(
        self, source: AudioSource, progress: ProgressCallback | None = None, *, speakers: int | None = None
    ) -> Transcript:
        """Transcribe ``source``. Raises `assistant.audio.AudioError` for input that cannot be accepted.

        ``speakers``: how many people are expected to speak (the upload's `speakers`, or the number of people
        present), for diarising a single-channel recording; None when unknown."""
        ...
