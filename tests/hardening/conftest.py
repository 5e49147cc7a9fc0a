"""Hardening fixtures: the API test clients (alice, bob) from tests/api."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))

from api_helpers import alice, app_settings, bob, http  # noqa: E402,F401  (fixtures)
