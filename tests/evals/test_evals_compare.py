"""`assistant eval compare`: paired differences, intervals, worse items, and refusals of bad run folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from evals.compare import bootstrap_ci, compare_runs, direction, render
from evals.runner import HARNESS_VERSION


def _run(folder: Path, items: dict[str, dict[str, float]], *, harness: int | None = HARNESS_VERSION,
         failed: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True)
    lines = []
    for rid, metrics in items.items():
        r: dict[str, Any] = {"id": rid, "status": "ok", "metrics": metrics, "timings_s": {"draft": metrics["t"]}}
        if harness is not None:
            r["harness"] = harness
        lines.append(json.dumps(r))
    lines += [json.dumps({"id": rid, "status": "error", "error": "draft: boom"}) for rid in failed]
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
    return folder


A = {"a": {"section_accuracy": 0.5, "unsupported_rate": 0.1, "words_ratio": 2.0, "t": 100.0},
     "b": {"section_accuracy": 0.6, "unsupported_rate": 0.0, "words_ratio": 1.5, "t": 120.0},
     "c": {"section_accuracy": 0.7, "unsupported_rate": 0.2, "words_ratio": 0.5, "t": 90.0},
     "only_a": {"section_accuracy": 0.1, "unsupported_rate": 0.0, "words_ratio": 1.0, "t": 10.0}}
B = {"a": {"section_accuracy": 0.8, "unsupported_rate": 0.0, "words_ratio": 1.1, "t": 50.0},
     "b": {"section_accuracy": 0.5, "unsupported_rate": 0.1, "words_ratio": 1.2, "t": 60.0},
     "c": {"section_accuracy": 0.9, "unsupported_rate": 0.2, "words_ratio": 0.9, "t": 45.0},
     "only_b": {"section_accuracy": 1.0, "unsupported_rate": 0.0, "words_ratio": 1.0, "t": 10.0}}


def test_paired_differences_worse_items_and_left_out(tmp_path: Path) -> None:
    cmp = compare_runs(_run(tmp_path / "A", A), _run(tmp_path / "B", B, failed=("d",)), samples=2000)
    assert cmp.paired == ["a", "b", "c"]
    assert cmp.only_a == ["only_a"] and cmp.only_b == ["d", "only_b"]
    assert cmp.failed == {"a": [], "b": ["d"]}
    m = {d.metric: d for d in cmp.metrics}
    sec = m["section_accuracy"]
    assert sec.n == 3 and sec.mean_diff == pytest.approx((0.3 - 0.1 + 0.2) / 3)
    assert sec.worse == ["b"] and sec.better == ["a", "c"]
    assert sec.ci95[0] <= sec.mean_diff <= sec.ci95[1]
    assert m["unsupported_rate"].worse == ["b"] and m["unsupported_rate"].better == ["a"]  # c is a tie
    assert m["words_ratio"].direction == "closer_to_1" and m["words_ratio"].worse == []
    assert m["timings_s.draft"].direction == "lower" and m["timings_s.draft"].better == ["a", "b", "c"]
    text = render(cmp)
    assert "section_accuracy: b" in text and "only_a" in text


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_agreement() -> None:
    lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0], samples=2000)
    assert lo < 2.5 < hi
    assert bootstrap_ci([2.0, 2.0, 2.0], samples=500) == (2.0, 2.0)


def test_directions() -> None:
    assert direction("fact_recall") == "higher" and direction("time_saved_s") == "higher"
    assert direction("share_question") == "lower" and direction("review.moves") == "lower"
    assert direction("omissions_critical") == "lower" and direction("draft_statements") == "none"


def test_cli_writes_report_and_chart(tmp_path: Path) -> None:
    a, b = _run(tmp_path / "A", A), _run(tmp_path / "B", B)
    result = CliRunner().invoke(app, ["eval", "compare", str(a), str(b), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    assert "| section_accuracy |" in result.output
    for name in ("compare.md", "compare.json", "compare.png"):
        assert (tmp_path / "cmp" / name).is_file()


def test_cli_refuses_an_older_harness_in_one_line(tmp_path: Path) -> None:
    a, b = _run(tmp_path / "A", A, harness=None), _run(tmp_path / "B", B)
    result = CliRunner().invoke(app, ["eval", "compare", str(a), str(b)])
    assert result.exit_code == 2
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "lacks the field 'harness'" in lines[0] and "re-score" in lines[0]


def test_cli_refuses_a_folder_that_is_no_run(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["eval", "compare", str(tmp_path / "empty"), str(_run(tmp_path / "B", B))])
    assert result.exit_code == 2 and "no results.jsonl" in result.output
