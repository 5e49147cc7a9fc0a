"""Audio fixtures for the transcription tests, made once per session.

Speech is synthesised with espeak-ng (two voices) and sox, so the reference text is known exactly;
jfk.wav is the one real human recording (11 s, from the pywhispercpp 1.5.1 sdist, placed by the
Makefile's test-data step). Missing tools or data: a loud skip on a laptop, a failure in CI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import require

from assistant.audio.synth import VISIT_SCRIPT, Dialogue, encode, have_tools, synthesise_dialogue, write_wav
from assistant.config import Settings

# Eight turns (about 48 s): long enough for a meaningful WER, short enough for 2 cores.
DIALOGUE_TURNS = VISIT_SCRIPT[:8]
# Two turns (about 13 s) where accuracy is not the point.
CLIP_TURNS = VISIT_SCRIPT[:2]


@pytest.fixture(scope="session")
def asr_settings(session_settings: Settings) -> Settings:
    """Default ASR settings (base, beam 5, English) with the shared model cache."""
    return session_settings


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("asr-audio")


def _need_speech_tools() -> None:
    missing = have_tools()
    require(not missing, f"{' and '.join(missing)} needed to synthesise test speech "
                         "(apt-get install espeak-ng sox, or `make test`, which installs them)")


@pytest.fixture(scope="session")
def dialogue(audio_dir: Path) -> Dialogue:
    """Two voices, 16 kHz mono WAV."""
    _need_speech_tools()
    return synthesise_dialogue(audio_dir / "dialogue.wav", DIALOGUE_TURNS)


@pytest.fixture(scope="session")
def stereo_dialogue(audio_dir: Path) -> Dialogue:
    """The same dialogue with a mic per person: worker on channel 1, resident on channel 2, and 5 % of each
    voice bleeding into the other mic (-26 dB), as with two lapel mics in one room."""
    _need_speech_tools()
    return synthesise_dialogue(audio_dir / "dialogue-stereo.wav", DIALOGUE_TURNS, stereo=True, bleed=0.05)


@pytest.fixture(scope="session")
def clip(audio_dir: Path) -> Dialogue:
    _need_speech_tools()
    return synthesise_dialogue(audio_dir / "clip.wav", CLIP_TURNS)


@pytest.fixture(scope="session")
def truncated_mp3(clip: Dialogue, audio_dir: Path) -> Path:
    """The clip as MP3 (LAME writes a frame count), cut off half-way like an interrupted upload."""
    from assistant.audio import decode

    full = encode(audio_dir / "clip.mp3", decode(clip.path).samples, 16_000, "mp3")
    data = full.read_bytes()
    cut = audio_dir / "clip-cut.mp3"
    cut.write_bytes(data[: len(data) // 2])
    return cut


@pytest.fixture(scope="session")
def mediarecorder_webm(clip: Dialogue, audio_dir: Path) -> Path:
    """The clip as a browser records it: webm/opus at 48 kHz with no duration header."""
    from assistant.audio import decode

    return encode(audio_dir / "clip.webm", decode(clip.path).samples, 16_000, "webm", live=True)


@pytest.fixture(scope="session")
def silence_wav(audio_dir: Path) -> Path:
    return write_wav(audio_dir / "silence.wav", np.zeros(16_000 * 8, dtype=np.float32), 16_000)


@pytest.fixture(scope="session")
def noise_wav(audio_dir: Path) -> Path:
    """Eight seconds of steady hiss at -26 dBFS: no speech, but far from digital silence."""
    rng = np.random.default_rng(7)
    return write_wav(audio_dir / "noise.wav", (0.05 * rng.standard_normal(16_000 * 8)).astype(np.float32), 16_000)
