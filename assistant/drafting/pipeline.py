"""The drafting pipeline: transcript + template (+ model) -> CaseRecord of evidence-linked suggestions.

participants -> detectors (code) -> windows -> extraction (LLM, or extractive) -> merge -> verify -> sections
-> summary. Each stage is a typed function in its own module; this one wires them, times them and records
provenance. The LLM proposes; code checks; the worker decides.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from assistant.config import Settings
from assistant.drafting.detectors import detect, redacted_texts
from assistant.drafting.extract import (
    CONTEXT_MARGIN,
    EXPECTED_NOTE_TOKENS,
    MIN_BATCH,
    TASK_FRAME_TOKENS,
    Candidate,
    Unit,
    build_units,
    coverage_candidates,
    extract_window,
    finding_candidates,
    labelled_lines,
    system_message,
)
from assistant.drafting.extractive import extractive_candidates
from assistant.drafting.merge import merge_candidates
from assistant.drafting.participants import Cast, identify_participants
from assistant.drafting.prompts import load_prompt
from assistant.drafting.sections import build_sections, empty_sections
from assistant.drafting.summary import summarise
from assistant.drafting.verify import verify_statement
from assistant.drafting.windows import Window, estimate_tokens, make_windows
from assistant.llm import ChatModel
from assistant.records import CaseRecord, Provenance, RecordMeta
from assistant.templates import Template
from assistant.transcript import Participant, Transcript

log = logging.getLogger(__name__)

MIN_WORDS = 150
FLAG_TOO_SHORT = "too_short"
FLAG_LLM_FALLBACK = "llm_fallback_extractive"
# Windows of ~20 segments: measured, the 1.5B model wrote third-person notes over a ~500-token transcript but
# mostly copied lines verbatim over a whole 2,800-token visit. Small windows cost little more: the system
# prefix (rules, people, sections) is identical across windows, so only the window itself is prefilled.
WINDOW_TOKENS = 900
WINDOW_OVERLAP_TOKENS = 150
# Each extraction call repeats its lines in full (segments are at most ~60 words, ~70 tokens).
LINE_TOKENS = 70

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


def window_budget(settings: Settings, system_tokens: int) -> int:
    """Transcript tokens one window may hold so that system prompt + a call of MIN_BATCH lines + their notes
    fit the model's context. A ~1,500-word visit (~2,800 tokens) fits one window of the 4,096-token model."""
    per_call = TASK_FRAME_TOKENS + MIN_BATCH * (LINE_TOKENS + EXPECTED_NOTE_TOKENS)
    return max(600, settings.llm_context - system_tokens - per_call - CONTEXT_MARGIN)


def _meta(cast: Cast, transcript: Transcript) -> RecordMeta:
    declared = {p.name for p in transcript.participants}
    present = [Participant(name=p.name, role=p.role, relationship=p.relationship) for p in cast.people
               if p.speaker or p.name in declared]
    present = [p for p in present if p.name.lower() != "author"]
    return RecordMeta(people_present=present, subject=cast.subjects[0] if cast.subjects else None,
                      contact_date=transcript.contact_date)


def _assign(units: list[Unit], windows: list[Window]) -> dict[int, list[Unit]]:
    out: dict[int, list[Unit]] = {w.index: [] for w in windows}
    for u in units:
        need = set(u.evidence)
        home = next((w for w in windows if need <= set(w.segment_ids)), None)
        if home is None:  # a question/answer pair cut by a window edge: the answer's window
            home = next((w for w in windows if u.segment_ids[0] in w.segment_ids), windows[-1])
        out[home.index].append(u)
    return out


def draft(
    transcript: Transcript,
    template: Template,
    chat: ChatModel | None,
    *,
    engine: Literal["llm", "extractive"] = "llm",
    settings: Settings,
    progress: Progress | None = None,
    participants: list[Participant] | None = None,
    worker: str | None = None,
) -> CaseRecord:
    """Draft a case record. `participants`/`worker` add what the caller knows about who was present."""
    clock = _Clock(progress)
    notes: list[str] = []
    extract_prompt = load_prompt(settings.prompts_dir, "extract")
    summary_prompt = load_prompt(settings.prompts_dir, "summary")
    use_llm = engine == "llm" and chat is not None
    if engine == "llm" and chat is None:
        notes.append("no language model available: drafted with the extractive engine")

    cast = identify_participants(transcript, template, extra=participants, worker=worker)
    record = CaseRecord(
        id=uuid.uuid4().hex,
        template_id=template.id,
        template_version=template.version,
        meta=_meta(cast, transcript),
        transcript=transcript,
        provenance=Provenance(
            engine="llm" if use_llm else "extractive",
            asr_model=(transcript.asr or {}).get("model"),
            llm_backend=chat.backend if use_llm and chat else None,
            llm_model=chat.name if use_llm and chat else None,
            prompt_versions={"extract": extract_prompt.version, "summary": summary_prompt.version}
            if use_llm else {},
            temperature=settings.llm_temperature if use_llm else None,
            seed=settings.llm_seed if use_llm else None,
            created_at=datetime.now(UTC),
        ),
    )
    clock.lap("participants", 0.02)

    if transcript.word_count < MIN_WORDS:
        record.flags.append(FLAG_TOO_SHORT)
        record.sections = empty_sections(template)
        notes.append(f"too short to draft: {transcript.word_count} words (at least {MIN_WORDS} needed); "
                     "nothing was generated")
        record.provenance.notes = notes
        clock.lap("sections", 1.0)
        record.provenance.timings_s = {**clock.timings, "total": clock.total()}
        return record

    findings = detect(transcript, cast)
    texts = redacted_texts(transcript, findings)
    units = build_units(transcript, cast, template, findings, texts)
    lines = labelled_lines(transcript, cast, texts)
    full_texts = {seg.id: texts.get(seg.id, seg.text) for seg in transcript.segments}
    clock.lap("detectors", 0.05)

    empty = Window(index=0, segment_ids=[], lines=[], tokens=0)
    system_tokens = estimate_tokens(system_message(extract_prompt, template, cast, empty))
    windows = make_windows(transcript, lines, max_tokens=min(WINDOW_TOKENS, window_budget(settings, system_tokens)),
                           overlap_tokens=WINDOW_OVERLAP_TOKENS)
    clock.lap("windows", 0.07)

    candidates: list[Candidate] = []
    stats: dict[str, object] = {"units": len(units), "windows": len(windows),
                                "window_tokens_est": [w.tokens for w in windows]}
    embed_method = ""
    if use_llm and chat is not None:
        by_window = _assign(units, windows)
        done = 0
        failed: list[Unit] = []
        calls = prompt_tokens = completion_tokens = 0
        for window in windows:
            todo = by_window[window.index]
            if not todo:
                continue

            def on_batch(lines: int) -> None:
                nonlocal done
                done += lines
                clock.tell("extract", 0.07 + 0.78 * done / max(len(units), 1))

            res = extract_window(chat, extract_prompt, template, transcript, cast, window, todo, full_texts,
                                 context_tokens=settings.llm_context, on_batch=on_batch)
            candidates.extend(res.candidates)
            failed.extend(res.failed_units)
            calls += res.calls
            prompt_tokens += res.prompt_tokens
            completion_tokens += res.completion_tokens
            notes.extend(f"extraction call failed: {e}" for e in res.errors)
        stats.update(calls=calls, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                     failed_units=len(failed))
        if failed:
            fallback, embed_method = extractive_candidates(failed, transcript, cast, template, settings,
                                                           texts=full_texts, keep_all=True)
            candidates.extend(fallback)
            notes.append(f"{len(failed)} of {len(units)} lines fell back to the extractive engine "
                         "(model output failed validation)")
            if len(failed) == len(units):
                record.flags.append(FLAG_LLM_FALLBACK)
    else:
        extracted, embed_method = extractive_candidates(units, transcript, cast, template, settings,
                                                        texts=full_texts)
        candidates.extend(extracted)
    if embed_method:
        notes.append(f"extractive scoring: {embed_method}")
    clock.lap("extract", 0.85)

    candidates.extend(finding_candidates(findings, transcript, cast, template))
    candidates.extend(coverage_candidates(findings, candidates, transcript, cast, template))
    merged, removed = merge_candidates(candidates)
    stats["duplicates_removed"] = removed
    clock.lap("merge", 0.87)

    for cand in merged:
        cand.statement = verify_statement(cand.statement, transcript, cast)
    clock.lap("verify", 0.9)

    record.sections, section_notes = build_sections(template, merged)
    notes.extend(section_notes)
    clock.lap("sections", 0.92)

    summary = summarise(chat if use_llm else None, summary_prompt if use_llm else None, template, cast,
                        record.sections, transcript)
    record.summary = summary.text
    record.summary_evidence = summary.cites
    stats.update(summary_method=summary.method, summary_dropped=summary.dropped)
    clock.lap("summary", 1.0)

    flagged = sum(1 for st in record.statements() if st.flags)
    stats.update(statements=len(record.statements()), flagged=flagged,
                 findings=[f.model_dump(exclude_defaults=True) for f in findings])
    record.extra["drafting"] = stats
    record.provenance.notes = notes
    record.provenance.timings_s = {**clock.timings, "total": clock.total()}
    return record
