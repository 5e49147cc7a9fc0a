"""`assistant eval score` on small committed CSV and JSONL fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from evals.metrics.rouge import rouge_set
from evals.runner import pair_notes, read_notes

FIX = Path(__file__).parent / "fixtures"
GOLD = FIX / "gold.jsonl"


def _expected_rouge() -> dict[str, float]:
    gold = {r.id: r.note for r in read_notes(GOLD, gold=True)}
    pred = {r.id: r.note for r in read_notes(FIX / "predictions.jsonl")}
    ids = sorted(gold)
    return rouge_set([gold[i] for i in ids], [pred[i] for i in ids]).mean_x100


def _score(*args: str) -> dict:
    result = CliRunner().invoke(app, ["eval", "score", "--gold", str(GOLD), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_reading_and_pairing() -> None:
    csv_rows = read_notes(FIX / "predictions.csv")
    assert [r.id for r in csv_rows] == ["enc3", "enc1", "enc2"]
    assert "\n" in csv_rows[1].note  # multi-line notes survive CSV quoting (rougeLsum needs the newlines)
    gold = read_notes(GOLD, gold=True)
    pairs, how = pair_notes(csv_rows, gold)
    assert how == "id" and all(p.id == g.id for p, g in pairs)
    pairs, how = pair_notes(read_notes(FIX / "predictions_noid.jsonl"), gold)
    assert how == "order" and [g.id for _, g in pairs] == ["enc1", "enc2", "enc3"]
    with pytest.raises(ValueError, match="cannot pair"):
        pair_notes(read_notes(FIX / "predictions_noid.jsonl")[:2], gold)


@pytest.mark.parametrize("predictions", ["predictions.csv", "predictions.jsonl", "predictions_noid.jsonl"])
def test_score_json(predictions: str) -> None:
    out = _score("--predictions", str(FIX / predictions))
    assert out["items"]["ok"] == 3
    assert out["run"]["paired_by"] == ("order" if "noid" in predictions else "id")
    want = _expected_rouge()
    for k in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        assert out["metrics"][k]["mean"] == pytest.approx(want[k])
        assert out["aci_rouge"]["ALL"][k] == pytest.approx(want[k])
    assert set(out["aci_rouge"]) >= {"division-subjective", "division-assessment_and_plan"}
    m = out["metrics"]
    # enc1 facts.json: 4 facts, the prednisolone dose is wrong in the prediction (a critical correction)
    assert m["n_facts"]["n"] == 3 and 0 < m["fact_recall"]["mean"] < 1
    assert m["corrections_critical"]["mean"] == pytest.approx(1 / 3)
    # "She was advised to lose weight." (enc2) is not in the transcript
    assert m["unsupported"]["mean"] > 0
    assert out["time_saved"]["constants"]["compose_wpm"] == 19.0
    assert len(out["time_saved"]["grid"]) == 6


def test_score_markdown_and_run_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "score",
            "--gold",
            str(GOLD),
            "--predictions",
            str(FIX / "predictions.csv"),
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| ROUGE-1 |" in result.output and "Manual = gold words / 19 wpm" in result.output
    assert "GPT-4 zero-shot" in result.output
    for name in ("results.jsonl", "summary.json", "report.md", "metrics.png", "time_saved.png", "review_effort.png"):
        assert (tmp_path / "run" / name).is_file(), name
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["facts"]


def test_score_refuses_unpairable_input(tmp_path: Path) -> None:
    two = tmp_path / "two.jsonl"
    two.write_text("\n".join((FIX / "predictions_noid.jsonl").read_text().splitlines()[:2]) + "\n")
    result = CliRunner().invoke(app, ["eval", "score", "--gold", str(GOLD), "--predictions", str(two)])
    assert result.exit_code == 2
    assert "cannot pair" in result.output
