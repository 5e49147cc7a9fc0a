"""`eval run` bookkeeping: resumable results.jsonl, one failing item recorded, summary and report.

The drafting call is replaced through the runner's `draft_fn` seam (the pipeline is tested end to end in
test_evals_e2e.py); scoring uses the real embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.records import CaseRecord, Provenance, Section, Statement
from assistant.transcript import parse_text
from evals.datasets import DatasetError, EvalItem, load_dataset, render_record
from evals.metrics.facts import atomic_statements
from evals.runner import RunConfig, default_run_dir, draft_item, run_eval

FIX = Path(__file__).parent / "fixtures"
PREDICTIONS = {json.loads(x)["id"]: json.loads(x)["note"] for x in (FIX / "predictions.jsonl").read_text().splitlines()}


class FakePipeline:
    """Turns the fixture prediction into a CaseRecord; raises for ids in `fail`."""

    def __init__(self, fail: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.fail = set(fail)
        self.calls: list[str] = []

    def __call__(self, item: EvalItem) -> CaseRecord:
        self.calls.append(item.id)
        if item.id in self.fail:
            raise RuntimeError("model server went away")
        statements = [Statement(text=t, attributed_to="Doctor") for t in atomic_statements(PREDICTIONS[item.id])]
        return CaseRecord(
            template_id=item.template_id,
            transcript=parse_text(item.transcript),
            sections=[
                Section(id="assessment_plan", title="Assessment and plan", status="drafted", statements=statements)
            ],
            provenance=Provenance(
                engine="extractive", llm_model="fake", prompt_versions={"facts": "v0"}, timings_s={"extract": 0.01}
            ),
        )


@pytest.fixture
def items() -> list[EvalItem]:
    loaded, notes = load_dataset(str(FIX / "gold.jsonl"))
    assert not notes
    return loaded


def test_failing_item_recorded_then_retried_on_resume(tmp_path: Path, items: list[EvalItem]) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    run = RunConfig(dataset="fixture", engine="extractive")
    first = FakePipeline(fail={"enc2"})
    summary = run_eval(
        items, tmp_path / "run", engine="extractive", settings=settings, run=run, draft_fn=first, progress=False
    )
    assert first.calls == ["enc1", "enc2", "enc3"]
    assert summary["items"]["ok"] == 2 and summary["items"]["failed_ids"] == ["enc2"]
    lines = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    failed = next(r for r in lines if r["id"] == "enc2")
    assert failed["status"] == "error" and "model server went away" in failed["error"]

    second = FakePipeline()
    summary = run_eval(
        items, tmp_path / "run", engine="extractive", settings=settings, run=run, draft_fn=second, progress=False
    )
    assert second.calls == ["enc2"]  # done items are skipped, the failed one is retried
    assert summary["items"] == {"total": 3, "ok": 3, "failed": 0, "failed_ids": [], "resumed": 2}

    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["models"]["llm_model"] == ["fake"] and saved["prompt_versions"] == {"facts": ["v0"]}
    assert saved["git"]["commit"] is None or len(saved["git"]["commit"]) == 40
    assert saved["settings"]["data_dir"].endswith("data") and "openai_api_key" not in saved["settings"]
    assert {"draft", "score", "stage.extract"} <= set(saved["timings_s"])
    assert saved["peak_rss_mb"]["self"] > 0
    assert saved["metrics"]["rouge1"]["n"] == 3 and saved["aci_rouge"]["num_test"] == 3
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Estimated time saved" in report and "![" in report
    for png in ("metrics.png", "divisions.png", "time_saved.png", "published.png"):
        assert (tmp_path / "run" / png).stat().st_size > 1000

    # a different run configuration in the same folder is refused unless --fresh
    with pytest.raises(ValueError, match="use another --out or --fresh"):
        run_eval(
            items,
            tmp_path / "run",
            engine="llm",
            settings=settings,
            run=RunConfig(dataset="fixture", engine="llm"),
            draft_fn=second,
            progress=False,
        )
    third = FakePipeline()
    run_eval(
        items[:1],
        tmp_path / "run",
        engine="extractive",
        settings=settings,
        run=run,
        draft_fn=third,
        fresh=True,
        progress=False,
    )
    assert third.calls == ["enc1"]


def test_prediction_is_the_rendered_record(tmp_path: Path, items: list[EvalItem]) -> None:
    record = FakePipeline()(items[0])
    text = render_record(record)
    assert text.startswith("ASSESSMENT AND PLAN\n\n") and "prednisolone 30 mg" in text
    run_eval(
        items[:1],
        tmp_path / "r",
        engine="extractive",
        settings=Settings(data_dir=tmp_path / "d"),
        run=RunConfig(dataset="x", engine="extractive"),
        draft_fn=FakePipeline(),
        progress=False,
    )
    result = json.loads((tmp_path / "r" / "results.jsonl").read_text())
    assert result["prediction"] == text and result["record"]["sections"][0]["statements"]


def test_dataset_errors_and_defaults(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("no-such-set")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "transcript": "hello"}\n')
    with pytest.raises(DatasetError, match="lacks gold_note"):
        load_dataset(str(bad))
    assert default_run_dir("aci-valid", "llm", None).name == "aci-valid-llm"
    assert default_run_dir("/x/My Set.jsonl", "extractive", "clin_consult_note").name == (
        "my-set-extractive-clin_consult_note"
    )


def test_draft_item_needs_a_chat_model_for_llm(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a chat model"):
        draft_item("Doctor: hello", "clin_consult_note", "llm", Settings(data_dir=tmp_path), None)
