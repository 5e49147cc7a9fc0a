"""Look inside an audio file without decoding it: container, codec, channels, rate, declared duration."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.audio.errors import AudioError
from assistant.audio.sniff import DEMUXER, SUPPORTED_DESCRIPTION, sniff

# Only local files: no demuxer may follow a reference to another protocol (http, tcp, concat...).
_OPEN_OPTIONS = {"protocol_whitelist": "file"}
# FFmpeg's stream probing reads up to 5 MB by default, and its cost grows with what it reads (README, "Speed").
# 4 KB gives the same streams, durations and bit rates for every format we accept
# (tests/audio/test_audio_formats.py; also an MP3 behind a 2 MB cover picture), except raw AAC
# (ADTS), whose duration FFmpeg estimates from the bit rate of what it read: that keeps FFmpeg's default.
PROBE_BYTES = 4096
FULL_PROBE_FORMATS = frozenset({"aac"})
MAX_CHANNELS = 8  # recorders and browsers give 1-2; hundreds of channels is a crafted file


class AudioInfo(BaseModel):
    path: str
    format: str = Field(description="sniffed container: wav, mp3, aac, m4a, mp4, ogg, opus, flac, webm, matroska")
    container: str = Field(description="FFmpeg demuxer name")
    codec: str
    channels: int
    sample_rate: int
    duration: float | None = Field(
        default=None, description="duration the container declares, in seconds; None when it declares none "
        "(browser MediaRecorder webm)"
    )
    header_duration: float | None = Field(
        default=None, description="WAV only: the duration its header declares (FFmpeg clamps `duration` to "
        "the bytes present, so only this shows a cut-off WAV)"
    )
    size_bytes: int
    bit_rate: int | None = None
    recorded_on: str | None = Field(
        default=None, description="the day the file says it was recorded (its `creation_time`/`date` tag), "
        "as `14 March 2026`; None when it says nothing usable"
    )

    @property
    def expected_duration(self) -> float | None:
        """The longest duration the file claims, for the truncation check."""
        known = [d for d in (self.duration, self.header_duration) if d is not None]
        return max(known) if known else None


def check_file(path: str | Path) -> tuple[Path, str]:
    """The cheap checks, in the order a user would want to hear them: exists, not empty, known format."""
    p = Path(path)
    if not p.is_file():
        raise AudioError("missing", "file not found" if not p.exists() else "not a regular file")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise AudioError("missing", f"cannot read the file ({exc.strerror})") from exc
    if size == 0:
        raise AudioError("empty", "file is empty (0 bytes)")
    fmt = sniff(p)
    if fmt is None:
        raise AudioError("unsupported", f"not a supported audio file (accepted: {SUPPORTED_DESCRIPTION})")
    return p, fmt


@contextlib.contextmanager
def open_container(path: Path, fmt: str, probe_bytes: int | None = None) -> Iterator[Any]:
    """Open with the sniffed demuxer forced; any FFmpeg failure becomes ``undecodable``. ``probe_bytes``
    caps how much FFmpeg reads to find the streams' parameters (None: its default, 5 MB)."""
    import av  # imported lazily: PyAV loads FFmpeg's shared libraries

    options = _OPEN_OPTIONS if probe_bytes is None else {**_OPEN_OPTIONS, "probesize": str(probe_bytes)}
    try:
        container = av.open(str(path), format=DEMUXER[fmt], options=options)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AudioError("undecodable", f"could not read the {fmt} data ({_reason(exc)})") from exc
    try:
        yield container
    finally:
        container.close()


def _reason(exc: BaseException) -> str:
    """FFmpeg errors carry the path in their text; keep only the reason so messages stay one short line."""
    strerror = getattr(exc, "strerror", None)
    text = str(strerror or exc).splitlines()[0] if str(strerror or exc) else type(exc).__name__
    return text.strip().rstrip(".") or type(exc).__name__


def declared_duration(container: Any, stream: Any) -> float | None:
    """The container's duration, else the stream's; None when neither is known (or it is nonsense)."""
    seconds: float | None = None
    if container.duration is not None and container.duration > 0:
        seconds = container.duration / 1_000_000  # AV_TIME_BASE units
    elif stream.duration is not None and stream.duration > 0 and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    return seconds


def wav_header_duration(path: Path) -> float | None:
    """Duration from a WAV's own data-chunk size. FFmpeg clamps a WAV's duration to the bytes present,
    so a cut-off WAV looks complete to it; the header still says how long the recording was."""
    byte_rate = 0
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None  # RF64/BW64 keep sizes in a ds64 chunk; FFmpeg's own value is used for those
            for _ in range(64):  # a bounded walk over the chunks before "data"
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], int.from_bytes(chunk[4:8], "little")
                if cid == b"fmt ":
                    fmt = fh.read(size + (size & 1))
                    byte_rate = int.from_bytes(fmt[8:12], "little") if len(fmt) >= 12 else 0
                elif cid == b"data":
                    # Writers to a pipe cannot come back to fill in the size; they leave 0 or a huge
                    # placeholder (0xFFFFFFFF, 0x7FFFF000...), which says nothing about the recording.
                    if byte_rate <= 0 or size == 0 or size >= 0x7FFF0000:
                        return None
                    return size / byte_rate
                else:
                    fh.seek(size + (size & 1), 1)
    except OSError:
        return None
    return None


def recorded_on(tags: dict[str, str]) -> str | None:
    """`creation_time` (MP4/M4A, what phones write), `date` (Ogg/FLAC/MP3 comments) as a UK long date.
    Only a full date counts: a bare year, or a default epoch date, says nothing about the visit."""
    for key in ("creation_time", "date", "DATE", "TDRC", "com.apple.quicktime.creationdate"):
        value = str(tags.get(key) or "").strip()
        m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", value)
        if not m:
            continue
        try:
            day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
        if day.year < 2000:  # 1904/1970 epoch defaults from tools that write a zero time
            continue
        return f"{day.day} {day:%B %Y}"
    return None


def probe(path: str | Path, *, decode_check_seconds: float = 0.0) -> AudioInfo:
    """Describe the first audio stream of ``path``; raises AudioError for anything we cannot accept.

    With ``decode_check_seconds``, also decode that much from the start, in the same open: a header alone
    does not prove there is audio behind it (a FLAC cut after its STREAMINFO, a polyglot behind a real
    header), and opening the file once instead of twice halves the cost of an upload's check."""
    p, fmt = check_file(path)
    with open_container(p, fmt, None if fmt in FULL_PROBE_FORMATS else PROBE_BYTES) as container:
        if not container.streams.audio:
            raise AudioError("undecodable", f"the {fmt} file has no audio stream")
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        if ctx is None:  # a codec FFmpeg does not know (e.g. a WAV with an unknown format tag)
            raise AudioError("undecodable", f"the {fmt} audio uses a codec that cannot be decoded")
        channels = int(ctx.channels or 0)
        rate = int(ctx.sample_rate or 0)
        if channels <= 0 or rate <= 0:
            raise AudioError("undecodable", f"the {fmt} audio stream has no channels or sample rate")
        if decode_check_seconds > 0:
            _require_audio(container, stream, fmt, channels, rate, decode_check_seconds)
        return AudioInfo(
            path=str(p),
            format=fmt,
            container=container.format.name,
            codec=ctx.name,
            channels=channels,
            sample_rate=rate,
            duration=declared_duration(container, stream),
            header_duration=wav_header_duration(p) if fmt == "wav" else None,
            size_bytes=p.stat().st_size,
            bit_rate=container.bit_rate or None,
            recorded_on=recorded_on({**(container.metadata or {}), **(stream.metadata or {})}),
        )


def _require_audio(container: Any, stream: Any, fmt: str, channels: int, rate: int, seconds: float,
                   max_packets: int = 200) -> None:
    """Raise AudioError unless some audio decodes from the start of the stream."""
    import av

    if channels > MAX_CHANNELS:
        raise AudioError("unsupported", f"{channels} audio channels; at most {MAX_CHANNELS} are accepted")
    decoded = packets = 0
    try:
        for packet in container.demux(stream):
            packets += 1
            try:
                decoded += sum(frame.samples for frame in packet.decode())
            except av.error.InvalidDataError:
                pass
            if decoded >= seconds * rate or packets >= max_packets:
                break
    except (av.FFmpegError, OSError):
        pass  # judged by what decoded before the failure
    if decoded == 0:
        raise AudioError("undecodable", f"no {fmt} audio could be decoded from the start of the file")
