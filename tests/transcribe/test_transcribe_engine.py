"""Real Whisper (faster-whisper, int8 CPU) on real audio: synthetic two-voice dialogues with known text,
one real human recording, silence, noise, a cut-off MP3 and a browser webm.

WER uses the normaliser `assistant.transcribe.wer.NORMALISER` ("basic-en-v1": lower-case, punctuation
stripped, digits spelled out as words; references are written with numbers as words).
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.audio import decode
from assistant.audio.synth import Dialogue, write_wav
from assistant.config import Settings
from assistant.transcribe import WhisperTranscriber, clear_model_cache, load_model
from assistant.transcribe.wer import NORMALISER, normalise, wer
from assistant.transcript import Transcript

pytestmark = pytest.mark.slow

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
)
CHANNEL_OF = {"worker": "channel_1", "resident": "channel_2"}


@pytest.fixture(scope="session")
def base(asr_settings: Settings) -> WhisperTranscriber:
    return WhisperTranscriber(asr_settings, "base")


@pytest.fixture(scope="session")
def tiny(asr_settings: Settings) -> WhisperTranscriber:
    return WhisperTranscriber(asr_settings, "tiny.en")


@pytest.fixture(scope="session")
def dialogue_transcript(base: WhisperTranscriber, dialogue: Dialogue) -> Transcript:
    return base.transcribe(dialogue.path)


@pytest.fixture(scope="session")
def stereo_run(base: WhisperTranscriber, stereo_dialogue: Dialogue) -> tuple[Transcript, list[tuple[float, float]]]:
    calls: list[tuple[float, float]] = []
    transcript = base.transcribe(stereo_dialogue.path, progress=lambda done, total: calls.append((done, total)))
    return transcript, calls


def _report(name: str, reference: str, t: Transcript) -> float:
    score = wer(reference, t.text)
    print(f"\n{name}: WER {score:.3f} ({NORMALISER}), model {t.asr.model}, {len(t.segments)} segments")
    return score


def test_two_voice_dialogue_wer_with_base(dialogue: Dialogue, dialogue_transcript: Transcript) -> None:
    assert _report("mono dialogue", dialogue.reference, dialogue_transcript) <= 0.10
    assert dialogue_transcript.flags == []
    assert dialogue_transcript.asr.channel_mode == "mono"
    # One microphone, two voices, no count given: diarised by default (issue 19). The estimate may split a
    # voice (3 found here with the default threshold); the count given, or naming, fixes that.
    found = {s.speaker for s in dialogue_transcript.segments}
    assert {"speaker_1", "speaker_2"} <= found and all(x.startswith("speaker_") for x in found)


def test_transcript_shape(dialogue: Dialogue, dialogue_transcript: Transcript) -> None:
    t = dialogue_transcript
    assert [s.id for s in t.segments] == list(range(len(t.segments)))
    starts = [s.start for s in t.segments]
    assert starts == sorted(starts)
    for s in t.segments:
        assert s.start is not None and s.end is not None and 0 <= s.start <= s.end <= dialogue.duration + 0.5
        assert s.text == s.text.strip() and s.text
        assert s.avg_logprob is not None and s.avg_logprob < 0
        assert s.no_speech_prob is not None and 0 <= s.no_speech_prob <= 1
    assert t.source == hashlib.sha256(dialogue.path.read_bytes()).hexdigest()
    assert t.id == t.source[:16]
    assert t.language == "en"
    assert t.duration == pytest.approx(dialogue.duration, abs=0.05)
    asr = t.asr
    assert (asr.engine, asr.model, asr.model_id) == ("faster-whisper", "base", "whisper-base")
    assert (asr.device, asr.compute_type) == ("cpu", "int8")
    assert asr.vad_filter is True and asr.condition_on_previous_text is False
    assert asr.beam_size == 5 and asr.language == "en" and asr.cpu_threads >= 1


def test_stereo_one_speaker_per_channel(
    stereo_dialogue: Dialogue, stereo_run: tuple[Transcript, list[tuple[float, float]]]
) -> None:
    t, _ = stereo_run
    assert t.asr.channel_mode == "per_channel"
    assert _report("stereo dialogue", stereo_dialogue.reference, t) <= 0.10
    # Each segment carries the label of the person speaking at that time...
    for seg in t.segments:
        assert seg.start is not None and seg.end is not None
        mid = (seg.start + seg.end) / 2
        turn = min(stereo_dialogue.turns, key=lambda tr: 0 if tr.start <= mid <= tr.end
                   else min(abs(mid - tr.start), abs(mid - tr.end)))
        assert seg.speaker == CHANNEL_OF[turn.speaker], f"{seg} falls in {turn}"
    # ...and the turns alternate exactly as in the script, with nothing from the other mic's bleed.
    labels = [s.speaker for s in t.segments]
    collapsed = [lab for i, lab in enumerate(labels) if i == 0 or lab != labels[i - 1]]
    assert collapsed == [CHANNEL_OF[tr.speaker] for tr in stereo_dialogue.turns]


def test_progress_counts_audio_seconds(
    stereo_dialogue: Dialogue, stereo_run: tuple[Transcript, list[tuple[float, float]]]
) -> None:
    _, calls = stereo_run
    total = 2 * stereo_dialogue.duration  # both channels are transcribed
    assert calls[0] == (0.0, pytest.approx(total, abs=0.05))
    assert calls[-1][0] == pytest.approx(total, abs=0.05)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(calls) > 4


def test_real_human_speech_jfk(base: WhisperTranscriber, jfk_wav: Path) -> None:
    t = base.transcribe(jfk_wav)
    text = normalise(t.text)
    assert "ask not what your country can do for you" in text
    assert "ask what you can do for your country" in text
    assert _report("jfk.wav", JFK_TEXT, t) <= 0.05
    assert t.flags == []


@pytest.mark.parametrize("fixture", ["silence_wav", "noise_wav"])
def test_silence_and_noise_give_no_speech(base: WhisperTranscriber, request: pytest.FixtureRequest,
                                          fixture: str) -> None:
    t = base.transcribe(request.getfixturevalue(fixture))
    assert t.segments == []
    assert t.text == ""
    assert "no_speech" in t.flags


def test_under_a_second_is_flagged_too_short(base: WhisperTranscriber, audio_dir: Path) -> None:
    t = base.transcribe(write_wav(audio_dir / "blip.wav", np.zeros(8000, dtype=np.float32), 16_000))
    assert set(t.flags) == {"no_speech", "too_short"}


def test_decoded_audio_and_arrays_are_accepted(tiny: WhisperTranscriber, clip: Dialogue) -> None:
    decoded = decode(clip.path)
    t = tiny.transcribe(decoded)
    assert t.source == hashlib.sha256(clip.path.read_bytes()).hexdigest()  # still the file's hash
    assert wer(clip.reference, t.text) <= 0.25
    # "Stereo" that is the same signal twice is transcribed once, not once per channel.
    doubled = tiny.transcribe(np.stack([decoded.samples, decoded.samples]))
    assert doubled.asr.channel_mode == "identical_channels"
    assert all(s.speaker.startswith("speaker_") for s in doubled.segments)  # one channel's voices, diarised
    assert wer(clip.reference, doubled.text) <= 0.25


def test_truncated_mp3_is_transcribed_and_flagged(tiny: WhisperTranscriber, truncated_mp3: Path,
                                                  clip: Dialogue) -> None:
    t = tiny.transcribe(truncated_mp3)
    assert "truncated" in t.flags
    assert t.segments, "what was there is still transcribed"
    assert t.duration is not None and t.duration < clip.duration * 0.75
    assert t.asr.declared_duration == pytest.approx(clip.duration, abs=0.2)
    assert "good morning" in normalise(t.text)


def test_browser_webm_without_duration(tiny: WhisperTranscriber, mediarecorder_webm: Path, clip: Dialogue) -> None:
    t = tiny.transcribe(mediarecorder_webm)
    assert t.asr.input_format == "webm" and t.asr.declared_duration is None
    assert t.flags == []
    assert wer(clip.reference, t.text) <= 0.25


def test_model_is_loaded_once_and_shared(asr_settings: Settings) -> None:
    assert load_model(asr_settings, "tiny.en") is load_model(asr_settings, "tiny.en")
    assert load_model(asr_settings, "tiny.en") is not load_model(asr_settings, "base")


def _loopback(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host in ("localhost", "::1") or host.startswith("127.")
    return isinstance(address, str | bytes)  # AF_UNIX paths stay on the machine


def test_offline_transcription(asr_settings: Settings, clip: Dialogue, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every non-loopback connection failing inside this process, the model still loads from disk
    and transcribes."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo
    attempts: list[Any] = []

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not _loopback(address):
            attempts.append(address)
            raise OSError(f"network disabled in this test: connect to {address!r}")
        return real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if not _loopback(address):
            attempts.append(address)
            raise OSError(f"network disabled in this test: connect to {address!r}")
        return real_connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "localhost") and not str(host).startswith("127.") and host != "::1":
            attempts.append(host)
            raise socket.gaierror(f"network disabled in this test: resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    with pytest.raises(OSError):
        socket.create_connection(("192.0.2.1", 443), timeout=1)  # the guard works
    attempts.clear()

    clear_model_cache("tiny.en")  # load from disk inside the guard, not from an earlier test's cache
    t = WhisperTranscriber(asr_settings, "tiny.en").transcribe(clip.path)
    assert wer(clip.reference, t.text) <= 0.25
    assert attempts == [], f"transcription tried to reach the network: {attempts}"
