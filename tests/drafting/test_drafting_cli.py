"""`assistant draft` end to end without a model (extractive engine), and its input handling."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from helpers_drafting import FIXTURES
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import Settings
from assistant.drafting.run import guess_template, load_input
from assistant.records import CaseRecord
from assistant.transcript import parse_text


def test_draft_command_writes_each_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    src = FIXTURES / "attribution_visit.txt"
    result = CliRunner().invoke(app, ["draft", str(src), "--engine", "extractive", "--format", "json,docx,md,txt",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [f"attribution_visit.sc_contact_note.{s}" for s in ("docx", "json", "md", "txt")]
    record = CaseRecord.model_validate_json((tmp_path / "out" / "attribution_visit.sc_contact_note.json").read_text())
    assert record.provenance.engine == "extractive" and record.statements()
    from docx import Document

    doc = Document(io.BytesIO((tmp_path / "out" / "attribution_visit.sc_contact_note.docx").read_bytes()))
    assert any("AI-assisted draft" in p.text for p in doc.paragraphs)


def test_draft_command_rejects_unknown_format_and_missing_file(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["draft", str(FIXTURES / "attribution_visit.txt"), "--format", "pdf"])
    assert bad.exit_code == 2 and "unknown format pdf" in bad.output
    missing = runner.invoke(app, ["draft", str(tmp_path / "nope.txt"), "--engine", "extractive"])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_inputs_text_transcript_json_and_record_json(tmp_path: Path, settings: Settings) -> None:
    t = load_input(FIXTURES / "injection_visit.txt", settings)
    assert t.participants and t.segments
    (tmp_path / "t.json").write_text(t.model_dump_json())
    assert load_input(tmp_path / "t.json", settings).segments == t.segments
    record = CaseRecord(template_id="sc_contact_note", transcript=t)
    (tmp_path / "r.json").write_text(record.model_dump_json())
    assert load_input(tmp_path / "r.json", settings).id == t.id
    (tmp_path / "bad.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="transcript"):
        load_input(tmp_path / "bad.json", settings)


def test_template_guess() -> None:
    assert guess_template(parse_text("[doctor] hi\n[patient] hello")).id == "clin_consult_note"
    assert guess_template(parse_text("Sam: hi\nLeanne: hello")).id == "sc_contact_note"


@pytest.mark.slow
def test_draft_command_transcribes_audio_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An audio INPUT goes through the real Whisper model before drafting: here a 17-second doorstep
    exchange (a committed sample), too short to draft, so the record says so and invents nothing."""
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASSISTANT_WHISPER_MODEL", "tiny.en")
    audio = Path(__file__).resolve().parents[2] / "samples" / "short_exchange" / "audio.opus"
    result = CliRunner().invoke(app, ["draft", str(audio), "--engine", "extractive", "--format", "json",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "transcribing audio.opus" in result.output
    (out,) = (tmp_path / "out").iterdir()
    record = CaseRecord.model_validate_json(out.read_text())
    assert record.transcript.asr.model == "tiny.en" and record.transcript.duration
    words = " ".join(s.text for s in record.transcript.segments).lower()
    assert "children's services" in words and "late for work" in words
    assert "too_short" in record.flags and not record.statements()
