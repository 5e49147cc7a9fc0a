"""The pure parts of transcription, without a model: normaliser/WER, hallucination filter, channel
handling (mode choice, crosstalk gate, bleed removal, merging), segment splitting and the writers."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.transcribe import Transcriber, WhisperTranscriber, render
from assistant.transcribe.channels import ChannelSegment, choose_mode, drop_bleed, gate_channel, merge_by_time
from assistant.transcribe.engine import _split_at_gaps
from assistant.transcribe.filters import drop_reason
from assistant.transcribe.wer import normalise, wer
from assistant.transcript import Segment, Transcript, parse_text

SR = 16_000


# -- normaliser and WER --------------------------------------------------------------------------


def test_normaliser_spells_numbers_and_drops_punctuation() -> None:
    assert normalise("I take them 2 times a day, at 10:30!") == "i take them two times a day at ten thirty"
    assert normalise("£1,500 — that's 25% more.") == "one thousand five hundred thats twenty five percent more"


def test_wer_uses_the_normaliser() -> None:
    assert wer("Three times a week.", "3 times a week") == 0.0
    assert wer("one two three four", "one two three") == pytest.approx(0.25)
    assert wer("", "") == 0.0


# -- hallucination filter ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "logprob", "no_speech", "reason"),
    [
        ("Thank you.", -0.9, 0.5, "stock_phrase"),  # the classic: on silence or hiss
        ("Thanks for watching!", -0.3, 0.3, "stock_phrase"),
        ("Thank you.", -0.2, 0.05, None),  # said clearly in a conversation: kept
        ("We talked about the rent arrears.", -1.3, 0.7, "no_speech"),  # Whisper's own rule, per segment
        ("We talked about the rent arrears.", -0.4, 0.7, None),  # confident text is kept
        ("  ", -0.1, 0.0, "empty"),
    ],
)
def test_drop_reason(text: str, logprob: float, no_speech: float, reason: str | None) -> None:
    assert drop_reason(text, logprob, no_speech) == reason


# -- channels ------------------------------------------------------------------------------------


def _tone(seconds: float, freq: float = 300.0, level: float = 0.3) -> np.ndarray:
    return (level * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def test_choose_mode() -> None:
    a, b = _tone(2, 300), _tone(2, 410)
    assert choose_mode(a)[0] == "mono"
    assert choose_mode(np.stack([a, a]))[0] == "identical_channels"  # "stereo" that is really mono
    assert choose_mode(np.stack([a, a * 0.999]))[0] == "identical_channels"
    mode, used = choose_mode(np.stack([np.zeros_like(a), b]))
    assert mode == "one_silent_channel" and np.array_equal(used, b)
    mode, used = choose_mode(np.stack([a, b]))
    assert mode == "per_channel" and used.shape == (2, len(a))
    assert choose_mode(np.stack([a, b, a]))[0] == "downmixed"


def test_gate_silences_the_other_persons_bleed() -> None:
    x = np.zeros((2, 3 * SR), dtype=np.float32)
    x[0, :SR] = _tone(1)  # worker speaks in second 0, bleeding into the resident's mic at -26 dB
    x[1, :SR] = 0.05 * _tone(1)
    x[1, 2 * SR:] = _tone(1, 410)  # resident speaks in second 2
    x[0, 2 * SR:] = 0.05 * _tone(1, 410)
    worker, resident = gate_channel(x, 0, SR), gate_channel(x, 1, SR)
    assert np.allclose(worker[: SR - 2000], x[0, : SR - 2000])  # own speech untouched
    assert np.abs(worker[2 * SR + 2000:]).max() < 1e-3  # the resident's bleed is gone
    assert np.abs(resident[: SR - 2000]).max() < 1e-3
    assert np.allclose(resident[2 * SR + 2000:], x[1, 2 * SR + 2000:])


def _cs(channel: int, start: float, end: float, text: str) -> ChannelSegment:
    return ChannelSegment(channel=channel, start=start, end=end, text=text, avg_logprob=-0.2, no_speech_prob=0.1)


def test_drop_bleed_keeps_the_louder_copy() -> None:
    x = np.zeros((2, 4 * SR), dtype=np.float32)
    x[0, :2 * SR] = _tone(2)
    x[1, :2 * SR] = 0.1 * _tone(2)
    segs = [
        _cs(0, 0.0, 2.0, "How have you been since my last visit?"),
        _cs(1, 0.1, 1.9, "How have you been since my last visit"),  # the bleed copy
        _cs(1, 2.5, 3.5, "Not too bad, thank you."),  # different words: kept
    ]
    kept, dropped = drop_bleed(segs, x, SR)
    assert [s.channel for s in kept] == [0, 1]
    assert dropped == [segs[1]]


def test_merge_by_time_orders_across_channels() -> None:
    merged = merge_by_time([[_cs(0, 0.0, 1.0, "a"), _cs(0, 4.0, 5.0, "c")], [_cs(1, 2.0, 3.0, "b")]])
    assert [s.text for s in merged] == ["a", "b", "c"]


def test_segments_are_split_where_words_are_far_apart() -> None:
    words = [SimpleNamespace(start=s, end=e, word=w) for s, e, w in
             [(0.0, 0.4, " Yes,"), (0.5, 0.9, " please."), (6.0, 6.4, " Thank"), (6.5, 6.9, " you.")]]
    seg = SimpleNamespace(start=0.0, end=6.9, text=" Yes, please. Thank you.", words=words,
                          avg_logprob=-0.2, no_speech_prob=0.1)
    parts = _split_at_gaps(seg, 1)
    assert [(p.text, p.start, p.end, p.channel) for p in parts] == [
        ("Yes, please.", 0.0, 0.9, 1), ("Thank you.", 6.0, 6.9, 1)
    ]
    plain = SimpleNamespace(start=1.0, end=2.0, text=" Hello.", words=None, avg_logprob=-0.2, no_speech_prob=0.1)
    assert [p.text for p in _split_at_gaps(plain, 0)] == ["Hello."]


# -- engine surface without a model ----------------------------------------------------------------


def test_engine_options_follow_settings(settings) -> None:  # type: ignore[no-untyped-def]
    engine = WhisperTranscriber(settings.updated(whisper_beam_size=3, whisper_language=""))
    assert isinstance(engine, Transcriber)
    assert engine.decode_options() == {
        "language": None, "beam_size": 3, "vad_filter": True, "condition_on_previous_text": False,
    }
    assert engine.decode_options(per_channel=True)["word_timestamps"] is True
    english_only = WhisperTranscriber(settings.updated(whisper_language="fr"), "tiny.en")
    assert english_only.language == "en"
    with pytest.raises(ValueError, match="unknown Whisper model"):
        WhisperTranscriber(settings, "large-v3")


# -- writers --------------------------------------------------------------------------------------


@pytest.fixture
def two_speakers() -> Transcript:
    return Transcript(
        id="t1",
        source="0" * 64,
        duration=9.5,
        segments=[
            Segment(id=0, speaker="channel_1", start=0.0, end=2.5, text="How are you -->   today?"),
            Segment(id=1, speaker="channel_2", start=3.0, end=3661.25, text="Fine, <thanks> & you?"),
        ],
    )


def test_txt_reads_back_with_parse_text(two_speakers: Transcript) -> None:
    text = render(two_speakers, "txt")
    assert text == "[channel_1] How are you -> today?\n[channel_2] Fine, <thanks> & you?\n"
    back = parse_text(text)
    assert [s.speaker for s in back.segments] == ["channel_1", "channel_2"]


def test_txt_without_speakers_is_plain_lines() -> None:
    t = Transcript(segments=[Segment(id=0, text="Hello there."), Segment(id=1, text="Second line.")])
    assert render(t, "txt") == "Hello there.\nSecond line.\n"


def test_srt_and_vtt(two_speakers: Transcript) -> None:
    srt = render(two_speakers, "srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:02,500\nchannel_1: How are you -> today?\n\n2\n")
    assert "01:01:01,250" in srt
    vtt = render(two_speakers, "vtt")
    assert vtt.startswith("WEBVTT\n\n0\n00:00:00.000 --> 00:00:02.500\n<v channel_1>How are you -&gt; today?\n")
    assert "<v channel_2>Fine, &lt;thanks&gt; &amp; you?" in vtt


def test_json_is_the_canonical_transcript(two_speakers: Transcript) -> None:
    assert Transcript.model_validate(json.loads(render(two_speakers, "json"))) == two_speakers
    with pytest.raises(ValueError, match="unknown format"):
        render(two_speakers, "docx")


def test_long_audio_is_cut_in_quiet_places() -> None:
    """Pieces of about CHUNK_SECONDS, each cut in the quietest 0.1 s before the boundary (issue 19)."""
    from assistant.transcribe.engine import chunk_bounds

    rate = 100  # small numbers: 100 samples a second
    x = np.ones(rate * 2500, dtype=np.float32)
    x[rate * 595:rate * 596] = 0.0  # a pause 5 s before the first boundary
    bounds = chunk_bounds(x, rate, seconds=600)
    assert bounds[0] == (0, rate * 595 + 5) and bounds[-1][1] == len(x)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    assert all(hi - lo <= rate * 610 for lo, hi in bounds) and len(bounds) == 5
    assert chunk_bounds(x[: rate * 30], rate) == [(0, rate * 30)]


def test_repeated_runs_are_loops_and_speech_is_not() -> None:
    from assistant.transcribe.engine import repeated_run

    assert repeated_run("and then I said " + "I will go to the shop " * 5)
    assert repeated_run("thank you " * 8)
    assert not repeated_run("No, no, no. I told her no, and I meant it. She went to the shop and then the shop shut.")
    assert not repeated_run("I'm sorry, I'm sorry, I'm sorry.")


def test_a_looping_window_is_decoded_again_without_conditioning() -> None:
    """Conditioning on the previous text can loop; that segment's audio is decoded again without it."""
    from types import SimpleNamespace

    from faster_whisper.transcribe import Segment

    from assistant.config import Settings
    from assistant.transcribe.engine import WhisperTranscriber

    def seg(start: float, end: float, text: str) -> Segment:
        return Segment(id=0, seek=0, start=start, end=end, text=text, tokens=[], avg_logprob=-0.2,
                       compression_ratio=1.0, no_speech_prob=0.01, words=None, temperature=0.0)

    calls: list[tuple[int, bool]] = []

    class FakeModel:
        def transcribe(self, audio: np.ndarray, **options: object) -> tuple[list[Segment], object]:
            conditioned = bool(options["condition_on_previous_text"])
            calls.append((len(audio), conditioned))
            info = SimpleNamespace(language="en", language_probability=1.0)
            if not conditioned:
                return [seg(0.5, 3.0, " We talked about the school.")], info
            return [seg(0.0, 10.0, " Hello there."), seg(10.0, 20.0, " the school the school" * 8)], info

    transcriber = WhisperTranscriber(Settings())
    transcriber.decode_options = lambda per_channel=False: {"condition_on_previous_text": True}  # type: ignore[method-assign]
    out, _ = transcriber._run_channel(FakeModel(), np.zeros(16_000 * 30, dtype=np.float32), 0, False, 0.0, 30.0, None)
    assert [s.text for s in out] == ["Hello there.", "We talked about the school."]
    assert out[1].start == 10.5 and out[1].end == 13.0  # times of the re-decoded piece, in the recording
    assert calls == [(16_000 * 30, True), (16_000 * 10, False)]
