"""`assistant eval diarise`: argument handling, and one real run on the shortest multi-voice sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import REPO_ROOT


def _eval(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["eval", "diarise", *args])


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "html"], "--format must be json or md"),
    (["--model", "large"], "--model must be tiny.en or base"),
    (["--only", "no_such_sample"], "no such sample with audio.opus and a timed reference: no_such_sample"),
    (["--audio", "audio_nowhere.opus"], "no sample has audio_nowhere.opus"),
])
def test_bad_arguments_exit_2_with_a_reason(args: list[str], message: str) -> None:
    result = _eval(*args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_samples_folder_without_references(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "audio.opus").write_bytes(b"")
    result = _eval("--samples", str(tmp_path))
    assert result.exit_code == 2 and "no sample has audio.opus and audio_segments.json" in result.output


@pytest.mark.slow
def test_one_short_sample_gives_der_and_wder(tmp_path: Path) -> None:
    """short_exchange: two voices, 16 s; the voice encoder and Whisper tiny.en take seconds."""
    assert (REPO_ROOT / "samples" / "short_exchange" / "audio_segments.json").is_file()
    result = _eval("--only", "short_exchange", "--format", "json", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    row = printed["samples"]["short_exchange"]
    assert row["speakers"] == 2 and row["asr_model"] == "tiny.en"
    for key in ("der_known", "der_estimated"):
        assert 0.0 <= row[key]["der"] <= 1.0 and row[key]["collar"] == 0.25
    for key in ("wder", "wder_default"):  # count known, and the default path with no count (issue 19)
        assert 0.0 <= row[key]["wder"] <= 1.0 and row[key]["aligned_words"] > 10
    assert printed["summary"]["2"]["recordings"] == 1
    assert json.loads((tmp_path / "diarisation.json").read_text()) == printed
    table = (tmp_path / "diarisation.md").read_text()
    assert "| short_exchange | 2 |" in table and "mean WDER default" in table
