"""Names offered for the diariser's voices: suggestions only, from a self-introduction, the turn before
calling a voice by name, and the people present not yet placed."""

from __future__ import annotations

from assistant.diarise.names import suggest_names, with_present
from assistant.transcript import Participant, Segment, Transcript

VISIT = [
    ("speaker_1", "Hello, I'm Jo Smith from children's services."),
    ("speaker_2", "Hi, come in."),
    ("speaker_1", "How have you been, Leanne?"),
    ("speaker_2", "Not too bad, thanks."),
    ("speaker_3", "Can I have a biscuit?"),
    ("speaker_1", "Thank you, Okay."),
]
PRESENT = [Participant(name="Jo Smith", role="social worker"), Participant(name="Leanne Hart", role="mother"),
           Participant(name="Tyler Hart", role="child")]


def _transcript(rows: list[tuple[str, str]]) -> Transcript:
    return Transcript(segments=[Segment(id=i, speaker=who, text=text) for i, (who, text) in enumerate(rows)])


def _top(suggestions: dict, label: str) -> tuple[str, str]:
    return suggestions[label][0].name, suggestions[label][0].reason


def test_introduction_address_and_present() -> None:
    got = suggest_names(_transcript(VISIT), PRESENT)
    assert _top(got, "speaker_1") == ("Jo Smith", "introduced")
    assert _top(got, "speaker_2") == ("Leanne Hart", "addressed")  # a first name resolves to the person present
    assert _top(got, "speaker_3") == ("Tyler Hart", "present")


def test_without_people_present_only_what_was_said() -> None:
    got = suggest_names(_transcript(VISIT))
    assert _top(got, "speaker_1") == ("Jo Smith", "introduced")
    assert _top(got, "speaker_2") == ("Leanne", "addressed")
    assert "speaker_3" not in got
    # "Thank you, Okay." is not someone being addressed.
    assert all(s.name != "Okay" for ranked in got.values() for s in ranked)


def test_suggestions_are_never_applied() -> None:
    t = with_present(_transcript(VISIT), PRESENT)
    assert [s.speaker for s in t.segments] == [who for who, _ in VISIT]
    assert t.speaker_names == {} and _top(t.speaker_suggestions, "speaker_1") == ("Jo Smith", "introduced")
    assert [p.name for p in t.participants] == [p.name for p in PRESENT]


def test_undiarised_transcripts_get_none() -> None:
    assert suggest_names(_transcript([("unknown", "Hello, I'm Jo Smith.")]), PRESENT) == {}
