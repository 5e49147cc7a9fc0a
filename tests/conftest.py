"""Session-wide fixtures. Real models are loaded once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
SHARED_DATA = REPO.parent / "shared" / "data"


def require(condition: bool, reason: str) -> None:
    """Skip loudly on a newcomer's laptop; fail in CI, where everything must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(f"SKIPPED (missing prerequisite): {reason}")


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
