"""CLI commands that need no model: templates, models listing, help."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from assistant.cli import app

runner = CliRunner()


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("models", "templates", "serve"):
        assert cmd in result.output


def test_templates_command_lists_every_template() -> None:
    result = runner.invoke(app, ["templates"])
    assert result.exit_code == 0
    for tid in ("sc_contact_note", "asc_care_act_assessment", "clin_consult_note", "clin_clinic_letter",
                "police_incident_notes"):
        assert tid in result.output


def test_models_json_reports_every_model(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["models", "--json"])
    rows = json.loads(result.output)
    assert {r["id"] for r in rows} >= {"whisper-base", "whisper-tiny.en", "qwen-1.5b", "smollm2-135m"}
    assert all(r["licence"] for r in rows)
