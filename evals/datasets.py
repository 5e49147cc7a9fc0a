"""Evaluation datasets: one `EvalItem` shape for the project's samples, ACI-Bench, PriMock57 and any JSONL.

- ``samples``: `samples/<id>/` folders with `transcript.txt`, `meta.json`, `gold.json` (a CaseRecord) and
  `facts.json`; folders without `gold.json` yet are skipped (and listed).
- ``aci-valid`` / ``aci-train``: `../shared/data/aci_bench_{valid,train}.jsonl` (ACI-Bench, CC BY 4.0).
- ``primock57``: `../shared/data/primock57.jsonl` (PriMock57, CC BY 4.0).
- a path to any JSONL with ``id``, ``transcript``, ``gold_note`` and optional ``facts`` (strings or
  facts.json objects) and ``template``.

Shared data is looked for in ``$ASSISTANT_EVAL_DATA_DIR`` (settings ``eval_data_dir``) or ``<repo>/../shared/data``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.config import REPO_ROOT, get_settings
from assistant.records import CaseRecord, Statement
from evals.metrics.facts import Fact

SAMPLES_DIR = REPO_ROOT / "samples"
NAMED = {
    "aci-valid": "aci_bench_valid.jsonl",
    "aci-train": "aci_bench_train.jsonl",
    "primock57": "primock57.jsonl",
}
DEFAULT_TEMPLATE = "clin_consult_note"


class DatasetError(ValueError):
    pass


def shared_data_dir() -> Path:
    return get_settings().eval_data_dir or REPO_ROOT.parent / "shared" / "data"


class EvalItem(BaseModel):
    id: str
    dataset: str
    transcript: str
    gold_note: str
    template_id: str = DEFAULT_TEMPLATE
    facts: list[Fact] | None = Field(default=None, description="from facts.json; None -> split the gold note")
    gold_record: CaseRecord | None = None
    audio: Path | None = None
    audio_reference: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


# --- rendering a record as note text (used for gold records and drafts alike) -----------------------------


def statement_text(st: Statement) -> str:
    text = st.text.strip()
    if st.due and st.due.lower() not in text.lower():
        text = f"{text.rstrip('.')} ({st.due})."
    return text


def render_record(record: CaseRecord) -> str:
    """The record as a plain note: each section with content under its template header, one statement per
    line. Local on purpose: exports add provenance and metadata lines that are not note content and would
    distort ROUGE; gold records and drafts go through this same function, so both sides match."""
    from assistant.templates import TemplateError, get_template

    try:
        template = get_template(record.template_id)
        headers = {s.id: (s.header or s.title.upper()) for s in template.sections}
    except TemplateError:
        headers = {}
    blocks = []
    for sec in record.sections:
        lines = [statement_text(st) for st in sec.statements if st.text.strip()]
        if not lines:
            continue
        blocks.append(headers.get(sec.id, sec.title.upper()) + "\n\n" + "\n".join(lines))
    return "\n\n".join(blocks)


# --- loaders -----------------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}:{n}: not JSON: {exc}") from exc


def _facts(raw: Any) -> list[Fact] | None:
    if raw is None:
        return None
    out = []
    for i, f in enumerate(raw):
        out.append(Fact(id=f"f{i + 1}", text=f) if isinstance(f, str) else Fact.model_validate(f))
    return out


def load_jsonl(path: Path, dataset: str | None = None, template: str | None = None) -> list[EvalItem]:
    items = []
    for row in _read_jsonl(path):
        missing = [k for k in ("id", "transcript", "gold_note") if not row.get(k)]
        if missing:
            raise DatasetError(f"{path}: item {row.get('id', '?')} lacks {', '.join(missing)}")
        meta = {k: v for k, v in row.items() if k not in {"transcript", "gold_note", "facts", "utterances"}}
        items.append(
            EvalItem(
                id=str(row["id"]),
                dataset=dataset or str(row.get("dataset") or path.stem),
                transcript=row["transcript"],
                gold_note=row["gold_note"],
                template_id=template or row.get("template") or DEFAULT_TEMPLATE,
                facts=_facts(row.get("facts")),
                meta=meta,
            )
        )
    return items


def sample_ids(samples_dir: Path = SAMPLES_DIR) -> tuple[list[str], list[str]]:
    """(ready ids, ids skipped because gold.json is missing)."""
    ready, skipped = [], []
    for folder in sorted(p for p in samples_dir.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        if not (folder / "meta.json").is_file() and not (folder / "transcript.txt").is_file():
            continue
        (ready if (folder / "gold.json").is_file() else skipped).append(folder.name)
    return ready, skipped


def load_sample(folder: Path, template: str | None = None) -> EvalItem:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8")) if (folder / "meta.json").is_file() else {}
    gold = CaseRecord.model_validate_json((folder / "gold.json").read_text(encoding="utf-8"))
    transcript_file = folder / "transcript.txt"
    transcript = transcript_file.read_text(encoding="utf-8") if transcript_file.is_file() else ""
    facts_file = folder / "facts.json"
    facts = _facts(json.loads(facts_file.read_text(encoding="utf-8"))) if facts_file.is_file() else None
    audio = folder / "audio.opus"
    return EvalItem(
        id=folder.name,
        dataset="samples",
        transcript=transcript,
        gold_note=render_record(gold),
        template_id=template or meta.get("template") or gold.template_id,
        facts=facts,
        gold_record=gold,
        audio=audio if audio.is_file() else None,
        audio_reference=audio_reference(folder),
        meta={k: meta[k] for k in ("title", "domain", "tests", "adversarial", "expect") if k in meta},
    )


def audio_reference(folder: Path) -> str | None:
    """Reference text of a sample's audio: its `audio_segments.json` texts in order, else the transcript."""
    seg_file = folder / "audio_segments.json"
    if seg_file.is_file():
        data = json.loads(seg_file.read_text(encoding="utf-8"))
        segs = data.get("segments", data) if isinstance(data, dict) else data
        texts = [s.get("text", "") for s in segs if isinstance(s, dict)]
        if texts:
            return " ".join(t.strip() for t in texts if t.strip())
    if (folder / "audio.opus").is_file() and (folder / "transcript.txt").is_file():
        from assistant.transcript import parse_text

        return parse_text((folder / "transcript.txt").read_text(encoding="utf-8")).text
    return None


def load_dataset(
    name_or_path: str, *, template: str | None = None, limit: int | None = None, samples_dir: Path = SAMPLES_DIR
) -> tuple[list[EvalItem], list[str]]:
    """Items of a named dataset or JSONL path, plus notes about anything skipped."""
    notes: list[str] = []
    if name_or_path == "samples":
        ready, skipped = sample_ids(samples_dir)
        if skipped:
            notes.append(f"skipped samples without gold.json: {', '.join(skipped)}")
        items = [load_sample(samples_dir / i, template) for i in ready]
    elif name_or_path in NAMED:
        path = shared_data_dir() / NAMED[name_or_path]
        if not path.is_file():
            raise DatasetError(f"{name_or_path}: {path} not found (set ASSISTANT_EVAL_DATA_DIR)")
        items = load_jsonl(path, dataset=name_or_path, template=template)
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise DatasetError(f"unknown dataset {name_or_path!r}: use samples, {', '.join(NAMED)} or a JSONL path")
        items = load_jsonl(path, template=template)
    if limit is not None:
        items = items[:limit]
    if not items:
        raise DatasetError(f"{name_or_path}: no items")
    return items, notes
