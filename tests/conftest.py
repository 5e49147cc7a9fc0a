"""Session-wide fixtures. Real models are loaded once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import IN_CI, REPO, SHARED_DATA, require  # noqa: F401  (re-exported for older imports)

from assistant.config import Settings


def _models_cache() -> Path:
    env = os.environ.get("ASSISTANT_MODELS_CACHE_DIR")
    return Path(env) if env else REPO / ".cache" / "models"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data dir per test, sharing the assembled model cache."""
    return Settings(data_dir=tmp_path / "data", models_cache_dir=_models_cache())


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield Settings(data_dir=tmp_path_factory.mktemp("data"), models_cache_dir=_models_cache())


# -- LLM (assistant/llm owner): one embedded llama.cpp server per model per session, via the real protocol.
if TYPE_CHECKING:
    from assistant.llm import ChatModel


def _embedded_chat(settings: Settings, model: str) -> Iterator[ChatModel]:
    from assistant.llm.factory import LLMRuntime

    runtime = LLMRuntime(settings.model_copy(update={"llm_backend": "embedded"}), model)
    try:
        yield runtime.start()
    finally:
        runtime.stop()


@pytest.fixture(scope="session")
def qwen_chat(session_settings: Settings) -> Iterator[ChatModel]:
    """`ChatModel` for the default Qwen2.5-Coder-1.5B behind the embedded loopback server (slow tests)."""
    yield from _embedded_chat(session_settings, "qwen-1.5b")


@pytest.fixture(scope="session")
def smol_chat(session_settings: Settings) -> Iterator[ChatModel]:
    """`ChatModel` for SmolLM2-135M behind the embedded loopback server: fast protocol plumbing only."""
    yield from _embedded_chat(session_settings, "smollm2-135m")


@pytest.fixture(scope="session")
def jfk_wav() -> Path:
    """jfk.wav, the one real human recording (11 s, one voice), used by the transcription and diarisation tests."""
    env = os.environ.get("ASSISTANT_TEST_DATA_DIR")
    path = (Path(env) if env else REPO / ".cache" / "test-data") / "jfk.wav"
    require(path.is_file(), f"{path} is missing: run `make test-data` (it extracts whisper.cpp/samples/jfk.wav "
                            "from the pywhispercpp==1.5.1 sdist) or set ASSISTANT_TEST_DATA_DIR")
    return path
