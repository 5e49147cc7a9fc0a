"""Multi-voice mono recordings with known turns, synthesised once per session (espeak-ng + sox)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import require

from assistant.audio.synth import DEFAULT_VOICES, VISIT_SCRIPT, Dialogue, have_tools, synthesise_dialogue
from assistant.diarise.demo import four_voice_meeting, two_voice_dialogue

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
    return two_voice_dialogue(diarise_audio_dir / "two.wav")


@pytest.fixture(scope="session")
def four_voices(diarise_audio_dir: Path) -> Dialogue:
    """A professionals' meeting, four voices, about 90 s, 16 kHz mono."""
    _need_tools()
    return four_voice_meeting(diarise_audio_dir / "four.wav")


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
