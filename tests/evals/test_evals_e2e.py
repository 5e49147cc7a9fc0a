"""`eval run` end to end on two project samples with the real drafting pipeline.

The extractive engine runs by default (it needs only the packaged MiniLM); the embedded-LLM run loads
Qwen2.5-Coder-1.5B through the session's `qwen_chat` fixture and is marked slow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import Settings
from assistant.transcript import parse_text
from evals.datasets import SAMPLES_DIR, EvalItem, load_sample, sample_ids
from evals.runner import RunConfig, run_eval


def _two_samples() -> list[EvalItem]:
    """The two shortest samples with gold records and a real conversation (>= 300 words)."""
    ready, _ = sample_ids()
    items = [load_sample(SAMPLES_DIR / i) for i in ready]
    items = [i for i in items if parse_text(i.transcript).word_count >= 300]
    assert len(items) >= 2, "the repository ships at least two samples with gold records"
    return sorted(items, key=lambda i: parse_text(i.transcript).word_count)[:2]


def _check_run(folder: Path, summary: dict[str, Any], n: int, engine: str) -> None:
    assert summary["items"]["ok"] == n, summary["items"]
    m = summary["metrics"]
    for key in (
        "rouge1",
        "rougeLsum",
        "semantic_f1",
        "fact_recall",
        "unsupported_rate",
        "attribution_accuracy",
        "section_accuracy",
        "time_saved_s",
    ):
        assert key in m and m[key]["n"] >= 1, key
    assert 0 <= m["fact_recall"]["mean"] <= 1
    assert summary["time_saved"]["n"] == n
    results = [json.loads(x) for x in (folder / "results.jsonl").read_text().splitlines()]
    assert {r["engine"] for r in results} == {engine}
    assert all(r["prediction"].strip() and r["facts"] for r in results)
    assert (folder / "report.md").is_file() and (folder / "metrics.png").is_file()


def test_eval_run_extractive_on_two_samples(tmp_path: Path) -> None:
    items = _two_samples()
    jsonl = tmp_path / "two.jsonl"
    # Exercise the CLI path on a JSONL dataset made from the samples (gold note rendered from gold.json).
    jsonl.write_text(
        "".join(
            json.dumps(
                {
                    "id": i.id,
                    "transcript": i.transcript,
                    "gold_note": i.gold_note,
                    "template": i.template_id,
                    "facts": [f.model_dump() for f in i.facts or []],
                }
            )
            + "\n"
            for i in items
        )
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["eval", "run", "--dataset", str(jsonl), "--engine", "extractive", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "estimated time saved" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["items"]["ok"] == 2
    assert "rouge1" in summary["metrics"] and "fact_recall" in summary["metrics"]
    # and through run_eval on the sample items themselves (gold records -> attribution/section accuracy)
    folder = tmp_path / "samples-run"
    summary = run_eval(
        items,
        folder,
        engine="extractive",
        settings=Settings(data_dir=tmp_path / "data"),
        run=RunConfig(dataset="samples", engine="extractive"),
        progress=False,
    )
    _check_run(folder, summary, 2, "extractive")


@pytest.mark.slow
def test_eval_run_embedded_llm_on_two_samples(tmp_path: Path, qwen_chat: Any, session_settings: Settings) -> None:
    items = _two_samples()
    folder = tmp_path / "llm-run"
    summary = run_eval(
        items,
        folder,
        engine="llm",
        settings=session_settings,
        chat=qwen_chat,
        run=RunConfig(dataset="samples", engine="llm"),
        progress=False,
    )
    _check_run(folder, summary, 2, "llm")
    assert summary["models"]["llm_model"], "the LLM's model id is recorded"
    assert summary["prompt_versions"], "prompt versions are recorded"
