"""Fixtures for the job tests: real services (skip loudly outside CI, fail in CI) and a synthetic visit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from jobs_services import postgres_problem, redis_problem, temp_postgres_database, temp_redis_database
from support import require


def _service(problem: str | None, temp_database: Callable[[], AbstractContextManager[str]]) -> Iterator[str]:
    require(problem is None, problem or "")
    with temp_database() as url:
        yield url


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    yield from _service(postgres_problem(), temp_postgres_database)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    yield from _service(redis_problem(), temp_redis_database)


def _visit_audio(folder: Path, name: str, lines: int) -> Path:
    from assistant.audio.synth import VISIT_SCRIPT, have_tools, synthesise_dialogue

    missing = have_tools()
    require(not missing, f"{', '.join(missing)} not installed (apt-get install espeak-ng sox)")
    path = folder / name
    synthesise_dialogue(path, VISIT_SCRIPT[:lines])
    return path


@pytest.fixture(scope="session")
def visit_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 70 s of a two-voice home visit (espeak-ng), long enough (>150 words) to be drafted."""
    return _visit_audio(tmp_path_factory.mktemp("audio"), "visit.wav", 12)


@pytest.fixture(scope="session")
def short_visit_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few lines of the two-voice visit (espeak-ng): seconds of Whisper work, not minutes."""
    return _visit_audio(tmp_path_factory.mktemp("audio"), "short-visit.wav", 3)
