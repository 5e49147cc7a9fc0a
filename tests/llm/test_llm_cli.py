"""`assistant llm-check`: backend, model, base URL and a timed schema-valid reply."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import Settings


@pytest.mark.slow
def test_llm_check_with_smollm2(llm_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(llm_settings.data_dir))
    monkeypatch.setenv("ASSISTANT_MODELS_CACHE_DIR", str(llm_settings.models_dir))
    monkeypatch.setenv("ASSISTANT_LLM_BACKEND", "embedded")
    result = CliRunner().invoke(app, ["llm-check", "--model", "smollm2-135m"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "backend:   embedded" in out
    assert "model:     smollm2-135m-instruct-q4_1" in out
    assert "base URL:  http://127.0.0.1:" in out
    assert "completion tokens/s" in out and "llama.cpp: prefill" in out
    assert "'city':" in out


def test_llm_check_rejects_unknown_model() -> None:
    result = CliRunner().invoke(app, ["llm-check", "--model", "gpt-9"])
    assert result.exit_code == 2
    assert "--model must be one of" in result.output


def test_llm_check_openai_without_url_is_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSISTANT_LLM_BACKEND", "openai")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("ASSISTANT_OPENAI_BASE_URL", raising=False)
    result = CliRunner().invoke(app, ["llm-check"])
    assert result.exit_code == 1
    assert "error: ASSISTANT_LLM_BACKEND=openai needs OPENAI_BASE_URL" in result.output
    assert "Traceback" not in result.output
