"""Settings defaults are safe and offline; the app factory builds the real app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.config import Settings


def test_defaults_are_offline_and_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ASSISTANT_LLM_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.llm_backend == "embedded" and s.openai_base_url is None
    assert s.whisper_model == "base"
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"


def test_openai_variables_are_read_without_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ASSISTANT_MAX_UPLOAD_BYTES", "1234")
    s = Settings()
    assert s.openai_base_url == "http://127.0.0.1:9/v1" and s.max_upload_bytes == 1234


def test_health_and_openapi(settings: Settings) -> None:
    client = TestClient(create_app(settings))
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_readme_documents_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert readme.lstrip().startswith("# Frontline Assistant")
    assert readme.index("make run") < readme.index("## ") and "make test" in readme
    for name in Settings.model_fields:
        env = name.upper() if name.startswith("openai_") else f"ASSISTANT_{name.upper()}"
        assert f"`{env}`" in readme, f"README does not document {env}"
