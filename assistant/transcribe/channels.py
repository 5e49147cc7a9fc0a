"""Two-channel recordings: one microphone per person, so each channel is one speaker.

Many "stereo" files are really mono (the same signal twice) or use one side only; transcribing both
channels of those would duplicate every line, so they are reduced to mono first. With a mic per person,
each mic also picks up the other person faintly (bleed), and Whisper transcribes bleed as readily as the
wearer's voice. Two defences: before transcribing a channel, silence the stretches where the other
channel is much louder (the other person is talking: `gate_channel`); afterwards, when both channels
still yield the same words at the same time, drop the copy from the quieter channel (`drop_bleed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Literal

import numpy as np
from pydantic import BaseModel

from assistant.transcribe.wer import normalise

ChannelMode = Literal["mono", "per_channel", "identical_channels", "one_silent_channel", "downmixed"]

# Channels whose difference is this far below their level (about -26 dB) carry the same signal.
_IDENTICAL_RATIO = 0.05
# A channel this far below the other (-40 dB) carries nothing useful.
_SILENT_RATIO = 0.01
_BLOCK = 1 << 20  # samples per block, so a 3-hour file needs no full-size temporaries


class ChannelSegment(BaseModel):
    channel: int
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    speaker: str | None = None  # set by diarisation of a single-channel recording (assistant.diarise)


def _rms_blocks(x: np.ndarray) -> tuple[float, float, float]:
    """RMS of channel 0, channel 1 and their difference."""
    s0 = s1 = sd = 0.0
    n = x.shape[1]
    for i in range(0, n, _BLOCK):
        a = x[0, i:i + _BLOCK].astype(np.float64)
        b = x[1, i:i + _BLOCK].astype(np.float64)
        s0 += float(a @ a)
        s1 += float(b @ b)
        d = a - b
        sd += float(d @ d)
    n = max(n, 1)
    return (s0 / n) ** 0.5, (s1 / n) ** 0.5, (sd / n) ** 0.5


def choose_mode(samples: np.ndarray) -> tuple[ChannelMode, np.ndarray]:
    """How to transcribe ``samples`` ((n,) or (channels, n)); returns the mode and the audio to use
    ((n,) for every mode but per_channel, which keeps (2, n))."""
    if samples.ndim == 1:
        return "mono", samples
    if samples.shape[0] == 1:
        return "mono", samples[0]
    if samples.shape[0] != 2:
        return "downmixed", samples.mean(axis=0, dtype=np.float32)
    r0, r1, rd = _rms_blocks(samples)
    level = max(r0, r1)
    if level == 0.0 or rd <= _IDENTICAL_RATIO * level:
        return "identical_channels", samples.mean(axis=0, dtype=np.float32)
    if min(r0, r1) <= _SILENT_RATIO * level:
        return "one_silent_channel", samples[0 if r0 >= r1 else 1]
    return "per_channel", samples


# Crosstalk gate: a channel is silenced in frames where it is this far below the other channel.
GATE_THRESHOLD_DB = -10.0
GATE_FRAME_SECONDS = 0.05
GATE_PAD_SECONDS = 0.1  # keep this much around the wearer's own speech, for word onsets and tails


def _frame_rms(x: np.ndarray, frame: int) -> np.ndarray:
    """RMS per frame of a 1-D signal (the last partial frame included)."""
    n = len(x)
    frames = -(-n // frame)
    padded = np.zeros(frames * frame, dtype=np.float32)
    padded[:n] = x
    return np.sqrt(np.mean(np.square(padded.reshape(frames, frame)), axis=1))


def gate_channel(samples: np.ndarray, index: int, sample_rate: int) -> np.ndarray:
    """Channel ``index`` of (2, n) ``samples`` with the stretches dominated by the other channel zeroed."""
    frame = max(1, int(GATE_FRAME_SECONDS * sample_rate))
    own = _frame_rms(samples[index], frame)
    other = _frame_rms(samples[1 - index], frame)
    dominated = own < other * (10 ** (GATE_THRESHOLD_DB / 20))
    leading = (own > other) & (own > 1e-4)  # the wearer is talking (louder on their own mic)
    pad = int(round(GATE_PAD_SECONDS / GATE_FRAME_SECONDS))
    if pad and leading.any():
        # Widen the wearer's own speech by `pad` frames each side, so onsets and tails survive the gate.
        kernel = np.ones(2 * pad + 1, dtype=np.float32)
        leading = np.convolve(leading.astype(np.float32), kernel, mode="same") > 0
    keep = ~dominated | leading
    gain = np.repeat(keep.astype(np.float32), frame)[: samples.shape[1]]
    # Short ramps instead of hard steps, so the gate itself adds no clicks for the VAD to hear.
    ramp = max(1, int(0.01 * sample_rate))
    padded = np.pad(gain, (ramp // 2, ramp - 1 - ramp // 2), mode="edge")  # no fade at the file's edges
    gain = np.convolve(padded, np.full(ramp, 1.0 / ramp, dtype=np.float32), mode="valid")
    return (samples[index] * gain).astype(np.float32, copy=False)


def _overlap(a: ChannelSegment, b: ChannelSegment) -> float:
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def drop_bleed(
    segments: Sequence[ChannelSegment], samples: np.ndarray, sample_rate: int, similarity: float = 0.6
) -> tuple[list[ChannelSegment], list[ChannelSegment]]:
    """Split ``segments`` into (kept, dropped-as-bleed). A pair from different channels is a duplicate
    when they overlap for at least half the shorter one and their words are similar; the copy from the
    channel that is quieter over the overlap is the bleed."""
    dropped: set[int] = set()
    for i, a in enumerate(segments):
        for j in range(i + 1, len(segments)):
            b = segments[j]
            if a.channel == b.channel or i in dropped or j in dropped:
                continue
            shorter = min(a.end - a.start, b.end - b.start)
            if shorter <= 0 or _overlap(a, b) < 0.5 * shorter:
                continue
            if SequenceMatcher(None, normalise(a.text), normalise(b.text)).ratio() < similarity:
                continue
            lo = int(max(a.start, b.start) * sample_rate)
            hi = int(min(a.end, b.end) * sample_rate)
            louder_a = _rms(samples[a.channel, lo:hi]) >= _rms(samples[b.channel, lo:hi])
            dropped.add(j if louder_a else i)
    kept = [s for k, s in enumerate(segments) if k not in dropped]
    return kept, [s for k, s in enumerate(segments) if k in dropped]


def merge_by_time(per_channel: Sequence[Sequence[ChannelSegment]]) -> list[ChannelSegment]:
    """All channels' segments in order of start time (channel order breaks ties)."""
    merged = [s for segs in per_channel for s in segs]
    return sorted(merged, key=lambda s: (s.start, s.channel, s.end))
