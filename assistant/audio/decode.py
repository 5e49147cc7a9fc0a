"""Decode any accepted file to float32 PCM at one rate (16 kHz for Whisper), mono or one row per channel.

Two guards matter for uploads: the duration limit is checked against the container's declared duration
before any decoding, and again while decoding (a small file can decode to hours of audio, and browser
webm declares no duration at all). A file that decodes to clearly less than it declares is ``truncated``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.errors import AudioError
from assistant.audio.probe import AudioInfo, _reason, open_container, probe

WHISPER_SAMPLE_RATE = 16_000
# A decode that falls this far short of the declared duration is truncated: encoder delay and padding
# account for tens of milliseconds, a cut-off upload for seconds or more.
_TRUNCATION_MIN_SECONDS = 1.0
_TRUNCATION_FRACTION = 0.01
_PREALLOCATE_MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class DecodedAudio:
    """Decoded PCM (a dataclass, not pydantic: it holds a numpy array)."""

    samples: np.ndarray  # float32 in [-1, 1]: shape (n,) when mono, (channels, n) otherwise
    sample_rate: int
    info: AudioInfo
    truncated: bool = False
    decode_errors: int = 0  # packets FFmpeg could not decode and that were skipped

    @property
    def mono(self) -> bool:
        return self.samples.ndim == 1

    @property
    def channels(self) -> int:
        return 1 if self.mono else int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.samples.shape[-1] / self.sample_rate

    def channel(self, index: int) -> np.ndarray:
        return self.samples if self.mono else self.samples[index]


def format_seconds(seconds: float) -> str:
    """'42.5 s' or '10800 s (3:00:00)': exact for scripts, readable for people."""
    text = f"{seconds:.1f}".rstrip("0").rstrip(".") + " s"
    if seconds >= 60:
        whole = int(round(seconds))
        text += f" ({whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d})"
    return text


def too_long(limit: float, seconds: float | None = None) -> AudioError:
    """The limit is in the message so the user knows what would be accepted."""
    if seconds is None:
        said = f"recording is longer than the limit of {format_seconds(limit)}"
    else:
        said = f"recording is {format_seconds(seconds)} long, over the limit of {format_seconds(limit)}"
    return AudioError("too_long", f"{said} (ASSISTANT_MAX_AUDIO_SECONDS)")


def is_truncated(declared: float | None, decoded: float) -> bool:
    if declared is None:
        return False
    return declared - decoded > max(_TRUNCATION_MIN_SECONDS, _TRUNCATION_FRACTION * declared)


class _Buffer:
    """Growable (channels, n) float32 buffer. Sized from the declared duration when there is one, so a
    long recording is held once, not once in pieces and again when the pieces are joined."""

    def __init__(self, expected_samples: int | None) -> None:
        self._capacity = max(expected_samples or 0, 0) or 60 * WHISPER_SAMPLE_RATE
        self._data: np.ndarray | None = None
        self.size = 0

    def append(self, block: np.ndarray) -> None:
        if self._data is None:
            self._data = np.empty((block.shape[0], self._capacity), dtype=np.float32)
        end = self.size + block.shape[1]
        if end > self._data.shape[1]:
            grown = np.empty((self._data.shape[0], max(end, 2 * self._data.shape[1])), dtype=np.float32)
            grown[:, : self.size] = self._data[:, : self.size]
            self._data = grown
        self._data[:, self.size:end] = block
        self.size = end

    def result(self) -> np.ndarray:
        assert self._data is not None
        if self.size < 0.9 * self._data.shape[1]:
            return self._data[:, : self.size].copy()  # do not keep a mostly empty allocation alive
        return self._data[:, : self.size]


def decode(
    path: str | Path,
    *,
    sample_rate: int = WHISPER_SAMPLE_RATE,
    mono: bool = True,
    max_seconds: float | None = None,
    info: AudioInfo | None = None,
) -> DecodedAudio:
    """Decode ``path``; ``mono=False`` keeps one row per source channel. Raises AudioError."""
    import av

    info = info or probe(path)
    if max_seconds is not None and info.duration is not None and info.duration > max_seconds:
        raise too_long(max_seconds, info.duration)
    max_samples = int(max_seconds * sample_rate) if max_seconds is not None else None

    # Pre-size for the declared duration (+1 % for encoder padding), but never beyond the limit (or an
    # hour without one): a forged header must not make us allocate for a day of audio.
    expected = info.expected_duration
    ceiling = (max_seconds if max_seconds is not None else _PREALLOCATE_MAX_SECONDS) + 1.0
    buffer = _Buffer(int(min(expected * 1.01 + 1.0, ceiling) * sample_rate) if expected else None)
    bad_packets = 0
    stopped_early = False
    with open_container(Path(info.path), info.format) as container:
        stream = container.streams.audio[0]
        # fltp: planar float32, so to_ndarray() is (channels, samples) with no interleaving to undo.
        resampler = av.AudioResampler(format="fltp", layout="mono" if mono else None, rate=sample_rate)
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    bad_packets += 1  # a corrupt packet: skip it, keep the rest of the recording
                    continue
                for frame in frames:
                    frame.pts = None  # timestamps are irrelevant after decoding; gaps upset the resampler
                    for out in resampler.resample(frame):
                        buffer.append(out.to_ndarray())
                if max_samples is not None and buffer.size > max_samples:
                    raise too_long(max_seconds or 0.0)  # stop now: a decode bomb must not run for hours
            for out in resampler.resample(None):
                buffer.append(out.to_ndarray())
        except (av.FFmpegError, OSError) as exc:
            # The demuxer gave up part-way (cut-off upload, damaged container): keep what decoded.
            if buffer.size == 0:
                raise AudioError("undecodable", f"could not decode the {info.format} audio ({_reason(exc)})") from exc
            stopped_early = True

    total = buffer.size
    if total == 0:
        if bad_packets:
            raise AudioError("undecodable", f"could not decode any {info.format} audio ({bad_packets} bad packets)")
        raise AudioError("empty", f"the {info.format} file contains no audio samples")
    if max_samples is not None and total > max_samples:
        raise too_long(max_seconds or 0.0)
    data = buffer.result()
    samples = np.ascontiguousarray(data[0] if mono else data, dtype=np.float32)
    decoded = total / sample_rate
    return DecodedAudio(
        samples=samples,
        sample_rate=sample_rate,
        info=info,
        truncated=stopped_early or is_truncated(info.expected_duration, decoded),
        decode_errors=bad_packets,
    )
