"""The drafting pipeline: transcript + template (+ model) -> CaseRecord of evidence-linked suggestions.

participants -> detectors (code) -> sectioner (code: each line's section, or none) -> section synthesis (LLM: a
few sentences per section from that section's lines only; or the lines quoted, for the extractive engine) ->
statements code writes from the detectors' findings -> merge -> verify -> sections -> summary. Each stage is a
typed function in its own module; this one wires them, times them and records provenance. The LLM proposes;
code checks; the worker decides.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.drafting.detectors import SHORT_ANSWER_WORDS, Finding, detect, redacted_texts
from assistant.drafting.findings import Candidate, coverage_candidates, finding_candidates
from assistant.drafting.merge import merge_candidates
from assistant.drafting.participants import Cast, identify_participants
from assistant.drafting.prompts import Prompt, load_prompt
from assistant.drafting.sectioner import Placement, Unit, build_units, place
from assistant.drafting.sections import build_sections, empty_sections
from assistant.drafting.summary import summarise
from assistant.drafting.synthesis import quotes, synthesise_section
from assistant.drafting.verify import not_a_note, verify_statement
from assistant.llm import ChatModel
from assistant.records import FLAG_LEAVE_OUT_REQUEST, CaseRecord, DraftingStats, Provenance, RecordMeta
from assistant.templates import Template
from assistant.transcript import Participant, Transcript

log = logging.getLogger(__name__)

MIN_WORDS = 150
FLAG_TOO_SHORT = "too_short"
FLAG_LLM_FALLBACK = "llm_fallback_extractive"

Progress = Callable[[str, float], None]


class _Clock:
    def __init__(self, progress: Progress | None) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress
        self._t = time.perf_counter()
        self._start = self._t

    def lap(self, stage: str, fraction: float) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(self.timings.get(stage, 0.0) + now - self._t, 3)
        self._t = now
        self.tell(stage, fraction)

    def tell(self, stage: str, fraction: float) -> None:
        if self.progress is not None:
            try:
                self.progress(stage, round(min(max(fraction, 0.0), 1.0), 3))
            except Exception:  # noqa: BLE001 - a broken progress callback must not break drafting
                log.exception("progress callback failed")

    def total(self) -> float:
        return round(time.perf_counter() - self._start, 3)


def _meta(cast: Cast, transcript: Transcript) -> RecordMeta:
    declared = {p.name for p in transcript.participants}
    present = [Participant(name=p.name, role=p.role, relationship=p.relationship) for p in cast.people
               if p.speaker or p.name in declared]
    present = [p for p in present if p.name.lower() != "author"]
    return RecordMeta(people_present=present, subject=cast.subjects[0] if cast.subjects else None,
                      contact_date=transcript.contact_date)


def screen_lines(findings: list[Finding], transcript: Transcript) -> set[int]:
    """Lines a screen statement written by code already says: the screening question, and a short answer."""
    handled: set[int] = set()
    for f in findings:
        if f.kind != "screen":
            continue
        handled.add(f.segment_id)
        answer = transcript.segment(f.answer_id) if f.answer_id is not None else None
        if answer is not None and len(answer.text.split()) <= SHORT_ANSWER_WORDS:
            handled.add(answer.id)
    return handled


OPENER_CANDIDATES = 3  # the first few lines of the section that opens another: the complaint comes early
OPENER_TIE = 0.05  # within this score the earlier line wins


def by_section(placements: list[Placement], template: Template) -> dict[str, list[Unit]]:
    out: dict[str, list[Unit]] = {s.id: [] for s in template.generated_sections}
    for p in placements:
        if p.section is not None:
            out[p.section].append(p.unit)
    for spec in template.generated_sections:
        source = [p for p in placements if spec.opened_by and p.section == spec.opened_by]
        if not out[spec.id] and source:
            out[spec.id].append(opener(source, spec.id))
    return out


def opener(source: list[Placement], section: str) -> Unit:
    """The line that opens an empty section (`opened_by`): of the first few lines not the worker's in the source
    section, the one the sectioner scores highest for the section, the earlier on a near tie. The first such line
    alone is often the greeting at the door ("Come in, love. I'm in the chair.")."""
    first = [p for p in source if p.unit.group != "worker"][:OPENER_CANDIDATES] or source[:1]
    best = max(p.scores.get(section, 0.0) for p in first)
    return next(p.unit for p in first if p.scores.get(section, 0.0) >= best - OPENER_TIE)


class DraftOptions(BaseModel):
    """Everything drafting reads besides the transcript, the template and the model: the engine, what the
    caller knows about who was present, and the settings it needs (`from_settings`)."""

    engine: Literal["llm", "extractive"] = "llm"
    models_dir: Path = Field(description="where the MiniLM encoder is found and the sectioner caches vectors")
    temperature: float = Field(description="sampling temperature, recorded in provenance")
    seed: int = Field(description="sampling seed, recorded in provenance")
    participants: list[Participant] = Field(default_factory=list, description="people the caller knows were present")
    worker: str | None = Field(default=None, description="the worker who wrote typed notes, when known")

    @classmethod
    def from_settings(cls, settings: Settings, **given: Any) -> DraftOptions:
        return cls(models_dir=settings.models_dir, temperature=settings.llm.temperature, seed=settings.llm.seed,
                   **given)


def draft(transcript: Transcript, template: Template, chat: ChatModel | None, options: DraftOptions, *,
          progress: Progress | None = None) -> CaseRecord:
    """Draft a case record: the one entry point for jobs, the CLI, the evaluation and the benchmarks.

    Without a model (or with the extractive engine) each section's lines are quoted. While drafting,
    participants' names become placeholders in what a redacting model sends."""
    from assistant.llm.redact import redaction_scope

    with redaction_scope(transcript):
        return _draft(transcript, template, chat if options.engine == "llm" else None, options, _Clock(progress))


def _draft(transcript: Transcript, template: Template, chat: ChatModel | None, options: DraftOptions,
           clock: _Clock) -> CaseRecord:
    notes: list[str] = []
    if options.engine == "llm" and chat is None:
        notes.append("no language model available: drafted with the extractive engine")
    section_prompt = load_prompt("section")
    cast = identify_participants(transcript, template, extra=options.participants or None, worker=options.worker)
    record = _new_record(transcript, template, cast, chat, options, section_prompt)
    clock.lap("participants", 0.02)

    if transcript.word_count < MIN_WORDS:
        record.flags.append(FLAG_TOO_SHORT)
        record.sections = empty_sections(template)
        notes.append(f"too short to draft: {transcript.word_count} words (at least {MIN_WORDS} needed); "
                     "nothing was generated")
        clock.lap("sections", 1.0)
        return _finish(record, notes, clock)

    findings = detect(transcript, cast)
    texts = redacted_texts(transcript, findings)
    handled = screen_lines(findings, transcript)
    units = [u for u in build_units(transcript, cast, findings, texts) if u.key not in handled]
    clock.lap("detectors", 0.05)

    from assistant.embeddings import get_encoder

    placements = place(units, template, get_encoder(options.models_dir), cache_dir=options.models_dir)
    sections = by_section(placements, template)
    clock.lap("sectioner", 0.12)

    candidates, stats = _write_sections(sections, template, cast, findings, chat, section_prompt, clock, notes)
    if chat is not None and stats.failed_units and stats.failed_units == stats.units:
        record.flags.append(FLAG_LLM_FALLBACK)
    stats.units, stats.placed = len(units), sum(p.section is not None for p in placements)
    clock.lap("synthesis", 0.85)

    candidates.extend(finding_candidates(findings, transcript, cast, template))
    placed = {i: p.section for p in placements if p.section for i in p.unit.segment_ids}
    candidates.extend(coverage_candidates(findings, candidates, transcript, cast, template, placed))
    merged, stats.duplicates_removed = merge_candidates(candidates)
    clock.lap("merge", 0.87)

    merged = _verified(merged, transcript, cast, findings, notes)
    clock.lap("verify", 0.9)

    record.sections, section_notes = build_sections(template, merged)
    notes.extend(section_notes)
    clock.lap("sections", 0.92)

    summary = summarise(record.sections)
    record.summary = summary.text
    record.summary_evidence = summary.cites
    stats.summary_method = summary.method
    clock.lap("summary", 1.0)

    stats.statements = len(record.statements())
    stats.flagged = sum(1 for st in record.statements() if st.flags)
    stats.findings = [f.model_dump(exclude_defaults=True) for f in findings]
    record.extra.drafting = stats
    return _finish(record, notes, clock)


def _new_record(transcript: Transcript, template: Template, cast: Cast, chat: ChatModel | None,
                options: DraftOptions, section_prompt: Prompt) -> CaseRecord:
    """An empty record with its people and provenance; model details only when a model writes it."""
    use_llm = chat is not None
    return CaseRecord(
        id=uuid.uuid4().hex,
        template_id=template.id,
        template_version=template.version,
        meta=_meta(cast, transcript),
        transcript=transcript,
        provenance=Provenance(
            engine="llm" if use_llm else "extractive",
            asr_model=transcript.asr.model if transcript.asr else None,
            llm_backend=chat.backend if chat is not None else None,
            llm_model=chat.name if chat is not None else None,
            prompt_versions={"section": section_prompt.version} if use_llm else {},
            temperature=options.temperature if use_llm else None,
            seed=options.seed if use_llm else None,
            created_at=datetime.now(UTC),
        ),
    )


def _verified(merged: list[Candidate], transcript: Transcript, cast: Cast, findings: list[Finding],
              notes: list[str]) -> list[Candidate]:
    """Each statement checked against the lines it cites; a model's question or pleasantry is dropped. A note
    resting on a line that tells the record what to say or leave out is flagged as that line's quote is: the
    model may have done what it asked ("The patient reports no abnormalities found.")."""
    asking = {f.segment_id for f in findings if f.kind in ("injection", "leave_out")}
    kept: list[Candidate] = []
    for cand in merged:
        if cand.source == "llm" and not_a_note(cand.statement.text):
            notes.append(f"dropped a question or pleasantry written as a statement: {cand.statement.text[:80]!r}")
            continue
        cand.statement = verify_statement(cand.statement, transcript, cast)
        if cand.source != "detector" and asking & set(cand.statement.evidence):
            cand.statement.flags = [*cand.statement.flags, FLAG_LEAVE_OUT_REQUEST]
        kept.append(cand)
    return kept


def _finish(record: CaseRecord, notes: list[str], clock: _Clock) -> CaseRecord:
    record.provenance.notes = notes
    record.provenance.timings_s = {**clock.timings, "total": clock.total()}
    return record


def _write_sections(sections: dict[str, list[Unit]], template: Template, cast: Cast, findings: list[Finding],
                    chat: ChatModel | None, prompt: Prompt, clock: _Clock, notes: list[str]
                    ) -> tuple[list[Candidate], DraftingStats]:
    """Each section with lines: written by the model from its own lines, or (no model, or a failed call) the
    lines quoted."""
    candidates: list[Candidate] = []
    stats = DraftingStats(calls=0, prompt_tokens=0, completion_tokens=0, failed_units=0,
                          sections={k: len(v) for k, v in sections.items() if v})
    todo = [(sid, units) for sid, units in sections.items() if units]
    for n, (sid, units) in enumerate(todo):
        spec = template.section(sid)
        if chat is None or spec is None:
            candidates.extend(quotes(units, sid))
            continue
        res = synthesise_section(chat, prompt, template, spec, units, cast, findings)
        candidates.extend(res.candidates)
        if res.failed:
            candidates.extend(quotes(res.failed, sid))
            notes.append(f"{len(res.failed)} lines of {spec.title!r} are quoted: the model's output failed")
        if res.dropped:
            notes.append(f"{len(res.dropped)} lines of {spec.title!r} are quoted: the model's sentences left them out")
        notes.extend(f"synthesis call failed: {e}" for e in res.errors)
        stats.calls += res.calls
        stats.prompt_tokens += res.prompt_tokens
        stats.completion_tokens += res.completion_tokens
        stats.failed_units += len(res.failed)
        stats.dropped_units += len(res.dropped)
        clock.tell("synthesis", 0.12 + 0.73 * (n + 1) / len(todo))
    stats.units = sum(len(u) for _, u in todo)
    return candidates, stats
