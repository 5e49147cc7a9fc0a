"""Helpers shared by test folders (importable as `support`: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
