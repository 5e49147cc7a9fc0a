"""Real engines (Whisper + the embedded LLM), loaded once for the web and end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import require
from web_helpers import have_tools, synthesise_dialogue

from assistant.config import Settings
from assistant.jobs.stages import Engines


@pytest.fixture(scope="session")
def real_engines(session_settings: Settings) -> Iterator[Engines]:
    engines = Engines(session_settings)
    yield engines
    engines.close()


@pytest.fixture(scope="session")
def dialogue_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(have_tools("espeak-ng", "sox"), "espeak-ng and sox (make test installs them)")
    return synthesise_dialogue(tmp_path_factory.mktemp("audio") / "visit.wav")
