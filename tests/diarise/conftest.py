"""Multi-voice mono recordings with known turns, synthesised once per session (espeak-ng + sox)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import require

from assistant.audio.synth import DEFAULT_VOICES, VISIT_SCRIPT, Dialogue, Voice, have_tools, synthesise_dialogue

# Four people, two men and two women with different accents, as on a phone in the middle of a meeting
# table. (espeak-ng 1.51 ignores a +variant on plain "en-gb", so the women use accented voices.)
MEETING_VOICES: dict[str, Voice] = {
    "chair": Voice(label="chair", espeak_voice="en-gb-x-rp", pitch=40, speed=160),
    "nurse": Voice(label="nurse", espeak_voice="en-us+f2", pitch=70, speed=165),
    "officer": Voice(label="officer", espeak_voice="en-gb-scotland+f4", pitch=55, speed=170),
    "teacher": Voice(label="teacher", espeak_voice="en-029+m3", pitch=30, speed=150),
}

MEETING_SCRIPT: list[tuple[str, str]] = [
    ("chair", "Thank you all for joining. We are here to talk about the family and agree what happens next."),
    ("nurse", "I saw the baby on Tuesday. She is feeding well and her weight is back on track."),
    ("officer", "We were called to the address twice last month, both times late at night, after a neighbour rang."),
    ("teacher", "Her brother has missed nine days of school this term, mostly on Mondays."),
    ("chair", "That is helpful. Does anyone know why the Mondays in particular?"),
    ("teacher", "He told his form tutor that he stays up late looking after his little sister."),
    ("nurse", "That fits with what mum told me. She said the weekends are the hardest for her."),
    ("officer", "On the second call the officers noted that the children were asleep upstairs and unhurt."),
    ("chair", "So the concern is the pattern rather than a single event. Is everyone agreed on that?"),
    ("nurse", "Yes, I agree. I would like to increase my visits to every two weeks for now."),
    ("teacher", "We can offer him a place at breakfast club, which would help with the Monday mornings."),
    ("officer", "I will flag the address so that any further call is shared with children's services the next day."),
    ("chair", "Good. I will write to mum today and arrange a home visit before the end of next week."),
    ("nurse", "Could you let me know the date? I would like to come along if I can."),
    ("chair", "Of course. We will meet again in four weeks to review how things are going."),
    ("teacher", "Thank you, that sounds like a sensible plan to me."),
]

# One person dictating (about 40 s): must come out as one speaker.
DICTATION_SCRIPT: list[tuple[str, str]] = [("worker", text) for _, text in VISIT_SCRIPT[:8]]


def _need_tools() -> None:
    missing = have_tools()
    require(not missing, f"{' and '.join(missing)} needed to synthesise test speech "
                         "(apt-get install espeak-ng sox, or `make test`, which installs them)")


@pytest.fixture(scope="session")
def diarise_audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("diarise-audio")


@pytest.fixture(scope="session")
def two_voices(diarise_audio_dir: Path) -> Dialogue:
    """A home visit, two voices, about 75 s, 16 kHz mono."""
    _need_tools()
    return synthesise_dialogue(diarise_audio_dir / "two.wav", VISIT_SCRIPT[:14], voices=DEFAULT_VOICES, gap=0.4)


@pytest.fixture(scope="session")
def four_voices(diarise_audio_dir: Path) -> Dialogue:
    """A professionals' meeting, four voices, about 90 s, 16 kHz mono."""
    _need_tools()
    return synthesise_dialogue(diarise_audio_dir / "four.wav", MEETING_SCRIPT, voices=MEETING_VOICES, gap=0.4)


@pytest.fixture(scope="session")
def one_voice(diarise_audio_dir: Path) -> Dialogue:
    _need_tools()
    return synthesise_dialogue(diarise_audio_dir / "one.wav", DICTATION_SCRIPT, voices=DEFAULT_VOICES, gap=0.4)


@pytest.fixture(scope="session")
def stereo_two_voices(diarise_audio_dir: Path) -> Dialogue:
    """A mic per person (worker left, resident right) with 5 % bleed."""
    _need_tools()
    return synthesise_dialogue(diarise_audio_dir / "stereo.wav", VISIT_SCRIPT[:6], voices=DEFAULT_VOICES,
                               stereo=True, bleed=0.05)
