"""Session-wide fixtures. Real models are loaded once per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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

    runtime = LLMRuntime(settings.updated(llm_backend="embedded"), model)
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
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once per session without build isolation (no download). It is built from a
    copy of what the wheel is made of, so the checkout gets no build/ or egg-info litter; the copy resolves
    the assistant/prompts link into a folder, as an sdist would."""
    root = tmp_path_factory.mktemp("wheel")
    src, out = root / "src", root / "dist"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("assistant", "evals"):
        shutil.copytree(REPO / name, src / name, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    require(built.returncode == 0, f"could not build the wheel: {built.stderr[-500:]}")
    return next(out.glob("frontline_assistant-*.whl"))


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    """Uploads that are not audio, or not audio that decodes: each must fail with its own clear error."""
    files = {"empty": "empty.wav", "garbage": "garbage.mp3", "notes": "notes.txt", "image": "photo.png",
             "broken": "broken.wav"}
    paths = {key: tmp_path / name for key, name in files.items()}
    paths["empty"].write_bytes(b"")
    paths["garbage"].write_bytes(os.urandom(8192))
    paths["notes"].write_text("Present: Sam (social worker)\nSam: this is typed text, not audio.\n")
    paths["image"].write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(512))
    paths["broken"].write_bytes(b"RIFF\x00\x10\x00\x00WAVE" + os.urandom(8192))
    return paths


@pytest.fixture(scope="session")
def jfk_wav() -> Path:
    """jfk.wav, the one real human recording (11 s, one voice), used by the transcription and diarisation tests."""
    env = os.environ.get("ASSISTANT_TEST_DATA_DIR")
    path = (Path(env) if env else REPO / ".cache" / "test-data") / "jfk.wav"
    require(path.is_file(), f"{path} is missing: run `make test-data` (it extracts whisper.cpp/samples/jfk.wav "
                            "from the pywhispercpp==1.5.1 sdist) or set ASSISTANT_TEST_DATA_DIR")
    return path
