"""assistant.audio: the allow-list, probing, decoding, limits and truncation, on files PyAV encodes here.

No model and no external tool is needed: every file is written by PyAV's own encoders (FFmpeg inside
its wheel), so these run everywhere in a few seconds.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from assistant.audio import AudioError, decode, format_seconds, probe, sniff, sniff_bytes
from assistant.audio.errors import HTTP_STATUS
from assistant.audio.synth import encode, write_wav

RATE = 44_100
SECONDS = 3.0


def _stereo_tones() -> np.ndarray:
    t = np.arange(int(RATE * SECONDS)) / RATE
    # Different content per channel, so per-channel decoding can be told apart from a mono copy.
    return (0.3 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 220 * t)])).astype(np.float32)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("encoded")
    tones = _stereo_tones()
    files = {fmt: encode(folder / f"tones.{fmt}", tones, RATE, fmt) for fmt in ("wav", "mp3", "m4a", "opus", "flac")}
    files["webm"] = encode(folder / "tones.webm", tones, RATE, "webm")
    # What a browser's MediaRecorder uploads: webm/opus with no duration in the header.
    files["mediarecorder"] = encode(folder / "recorder.webm", tones, RATE, "webm", live=True)
    return files


EXPECTED_SNIFF = {
    "wav": "wav", "mp3": "mp3", "m4a": "m4a", "opus": "opus", "flac": "flac", "webm": "webm",
    "mediarecorder": "webm",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_SNIFF))
def test_every_accepted_format_sniffs_probes_and_decodes(encoded: dict[str, Path], name: str) -> None:
    path = encoded[name]
    assert sniff(path) == EXPECTED_SNIFF[name]
    info = probe(path)
    assert info.channels == 2
    assert info.size_bytes == path.stat().st_size
    if name == "mediarecorder":
        assert info.duration is None  # nothing to check up front: the limit applies while decoding
    else:
        assert info.duration == pytest.approx(SECONDS, abs=0.1)

    mono = decode(path)
    assert mono.sample_rate == 16_000 and mono.samples.dtype == np.float32 and mono.samples.ndim == 1
    assert mono.duration == pytest.approx(SECONDS, abs=0.1)
    assert not mono.truncated
    assert 0.05 < float(np.abs(mono.samples).max()) <= 1.0

    both = decode(path, mono=False)
    assert both.samples.shape[0] == 2 and both.channels == 2
    # Channel 1 is the 440 Hz tone, channel 2 the 220 Hz one: count zero crossings over one second.
    crossings = [int(np.count_nonzero(np.diff(np.signbit(ch[16_000:32_000])))) for ch in both.samples]
    assert crossings[0] == pytest.approx(880, rel=0.05)
    assert crossings[1] == pytest.approx(440, rel=0.05)



def test_the_quick_probe_finds_what_ffmpegs_full_probe_finds(tmp_path: Path) -> None:
    """probe() lets FFmpeg read only PROBE_BYTES to find the stream parameters (an upload's check is then
    ten times cheaper); on files far longer than that it must describe every format as the default does."""
    probe_module = importlib.import_module("assistant.audio.probe")
    t = np.arange(RATE * 30) / RATE
    tones = (0.3 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 220 * t)])).astype(np.float32)
    for fmt in ("wav", "mp3", "aac", "m4a", "opus", "flac", "webm"):
        path = encode(tmp_path / f"long.{fmt}", tones, RATE, fmt)
        assert path.stat().st_size > 4 * probe_module.PROBE_BYTES
        quick = probe(path, decode_check_seconds=1.0)
        with probe_module.open_container(path, quick.format, probe_bytes=None) as full:
            stream = full.streams.audio[0]
            assert (quick.codec, quick.channels, quick.sample_rate) == (
                stream.codec_context.name, stream.codec_context.channels, stream.codec_context.sample_rate), fmt
            assert quick.duration == probe_module.declared_duration(full, stream), fmt
            assert quick.bit_rate == (full.bit_rate or None), fmt
        assert quick.channels == 2 and quick.duration == pytest.approx(30, rel=0.05), fmt

def test_other_sample_rates_are_resampled(tmp_path: Path) -> None:
    tone = (0.2 * np.sin(2 * np.pi * 300 * np.arange(8000) / 8000)).astype(np.float32)  # 1 s at 8 kHz
    audio = decode(write_wav(tmp_path / "phone.wav", tone, 8000), sample_rate=16_000)
    assert audio.samples.shape == (16_000,)
    assert probe(tmp_path / "phone.wav").sample_rate == 8000


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
        (b"\xff\xfb\x90\x64", "mp3"),  # MPEG-1 layer III frame header
        (b"\xff\xf1\x50\x80", "aac"),  # ADTS
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "m4a"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "mp4"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead", "opus"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis", "ogg"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "matroska"),
        (b"", None),
        (b"\x89PNG\r\n\x1a\n", None),
        (b"%PDF-1.7", None),
        (b"#EXTM3U\n#EXT-X-VERSION:3", None),  # a playlist would make FFmpeg open other files
        (b"ffconcat version 1.0\nfile /etc/passwd", None),
        (b"Hello, this is a text file.", None),
        (b"\xff\xd8\xff\xe0", None),  # JPEG
    ],
)
def test_sniff_allow_list(head: bytes, expected: str | None) -> None:
    assert sniff_bytes(head) == expected


def test_sniff_looks_past_an_id3_tag(tmp_path: Path, encoded: dict[str, Path]) -> None:
    flac = encoded["flac"].read_bytes()
    tagged = tmp_path / "tagged.flac"
    body = b"\x00" * 20
    tagged.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00" + bytes([len(body)]) + body + flac)
    assert sniff(tagged) == "flac"
    assert decode(tagged).duration == pytest.approx(SECONDS, abs=0.1)


def _code(path: Path, **kwargs: object) -> tuple[str, str]:
    with pytest.raises(AudioError) as err:
        decode(path, **kwargs)  # type: ignore[arg-type]
    return err.value.code, err.value.message


def test_bad_inputs_have_codes_and_http_statuses(
    tmp_path: Path, encoded: dict[str, Path], bad_files: dict[str, Path]
) -> None:
    header_only = tmp_path / "header.wav"
    header_only.write_bytes(encoded["wav"].read_bytes()[:44])

    assert _code(tmp_path / "nope.wav")[0] == "missing"
    assert _code(tmp_path)[0] == "missing"
    assert _code(bad_files["empty"]) == ("empty", "file is empty (0 bytes)")
    code, message = _code(bad_files["garbage"])
    assert code == "unsupported" and "wav, mp3" in message
    assert _code(bad_files["notes"])[0] == "unsupported"
    assert _code(bad_files["image"])[0] == "unsupported"
    assert _code(bad_files["broken"])[0] == "undecodable"
    assert _code(header_only)[0] in ("undecodable", "empty")
    assert HTTP_STATUS == {"missing": 404, "empty": 422, "unsupported": 415, "undecodable": 422, "too_long": 413,
                           "other_language": 422}
    assert AudioError("too_long", "x").http_status == 413


def test_declared_duration_over_the_limit_is_refused_before_decoding(
    encoded: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import av

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoding started although the declared duration is over the limit")

    monkeypatch.setattr(av, "AudioResampler", no_decoding)
    code, message = _code(encoded["mp3"], max_seconds=2.0)
    assert code == "too_long"
    assert "3 s" in message and "limit of 2 s" in message


def test_limit_is_enforced_while_decoding_when_no_duration_is_declared(encoded: dict[str, Path]) -> None:
    code, message = _code(encoded["mediarecorder"], max_seconds=1.0)
    assert code == "too_long" and "limit of 1 s" in message


def test_decode_bomb_stops_at_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose container hides its length must not be decoded to the end: count resampled frames."""
    import av

    long_silence = np.zeros((1, 16_000 * 60), dtype=np.float32)  # 60 s, a few KB as webm/opus
    bomb = encode(tmp_path / "bomb.webm", long_silence, 16_000, "webm", live=True)
    assert probe(bomb).duration is None

    real = av.AudioResampler
    produced: list[int] = []

    class Counting:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self._inner = real(*args, **kwargs)

        def resample(self, frame: object) -> list[object]:
            frames = self._inner.resample(frame)
            produced.extend(f.samples for f in frames)
            return frames

    monkeypatch.setattr(av, "AudioResampler", Counting)
    code, _ = _code(bomb, max_seconds=2.0)
    assert code == "too_long"
    assert sum(produced) < 16_000 * 3  # stopped just past 2 s, not after 60 s


@pytest.mark.parametrize("fmt", ["mp3", "wav", "flac", "webm"])
def test_truncated_files_decode_what_is_there_and_are_flagged(
    tmp_path: Path, encoded: dict[str, Path], fmt: str
) -> None:
    data = encoded[fmt].read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(data[: len(data) // 2])
    audio = decode(cut)
    assert audio.truncated
    assert 0.5 < audio.duration < 2.5


def test_a_wav_written_to_a_pipe_is_not_called_truncated(tmp_path: Path) -> None:
    """Writers that cannot seek leave a placeholder size (0 or ~4 GB) in the header: that is no claim."""
    tone = (0.2 * np.sin(2 * np.pi * 300 * np.arange(16_000) / 16_000)).astype(np.float32)
    path = write_wav(tmp_path / "piped.wav", tone, 16_000)
    raw = bytearray(path.read_bytes())
    data_at = raw.index(b"data")
    raw[data_at + 4:data_at + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    raw[4:8] = (0xFFFFFFFF).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    audio = decode(path)
    assert audio.duration == pytest.approx(1.0, abs=0.01)
    assert not audio.truncated


def test_format_seconds() -> None:
    assert format_seconds(2) == "2 s"
    assert format_seconds(42.5) == "42.5 s"
    assert format_seconds(10_800) == "10800 s (3:00:00)"


def _tagged_m4a(path: Path, tags: dict[str, str]) -> Path:
    import av

    t = np.arange(RATE) / RATE
    with av.open(str(path), "w", format="ipod") as out:
        out.metadata.update(tags)
        stream = out.add_stream("aac", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :],
                                           format="fltp", layout="mono")
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_probe_reads_the_recording_date_a_phone_writes(tmp_path: Path) -> None:
    info = probe(_tagged_m4a(tmp_path / "visit.m4a", {"creation_time": "2026-03-14T10:22:05.000000Z"}))
    assert info.recorded_on == "14 March 2026"
    assert probe(_tagged_m4a(tmp_path / "plain.m4a", {})).recorded_on is None


@pytest.mark.parametrize(("tags", "expected"), [
    ({"creation_time": "2026-03-04T00:00:00Z"}, "4 March 2026"),
    ({"date": "2025-12-31"}, "31 December 2025"),
    ({"date": "2025"}, None),  # a bare year says nothing about the day
    ({"creation_time": "1970-01-01T00:00:00Z"}, None),  # an epoch default, not a recording date
    ({"creation_time": "2026-02-30T00:00:00Z"}, None),
    ({}, None),
])
def test_recorded_on_only_trusts_a_full_date(tags: dict[str, str], expected: str | None) -> None:
    from assistant.audio.probe import recorded_on

    assert recorded_on(tags) == expected
