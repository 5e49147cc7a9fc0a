"""Stage 6: assemble the template's sections from verified statements.

A section with no statements is `not_discussed` (never filled with generic text); a `human_only` section
(analysis, eligibility, risk judgement) is never filled: anything proposed for it is dropped and logged.
"""

from __future__ import annotations

import logging

from assistant.drafting.findings import Candidate
from assistant.records import Section
from assistant.templates import Template

log = logging.getLogger(__name__)


def build_sections(template: Template, candidates: list[Candidate]) -> tuple[list[Section], list[str]]:
    """Sections in template order, statements in transcript order with ids s1, s2, …; plus log notes."""
    notes: list[str] = []
    by_section: dict[str, list[Candidate]] = {s.id: [] for s in template.sections}
    for cand in candidates:
        spec = template.section(cand.section)
        if spec is None:
            notes.append(f"dropped a statement for unknown section {cand.section!r}: {cand.statement.text[:80]!r}")
            continue
        if spec.mode == "human_only":
            msg = f"dropped model output for human-only section {spec.id!r}: {cand.statement.text[:80]!r}"
            log.info(msg)
            notes.append(msg)
            continue
        by_section[spec.id].append(cand)
    sections: list[Section] = []
    counter = 0
    for spec in template.sections:
        if spec.mode == "human_only":
            sections.append(Section(id=spec.id, title=spec.title, status="human_only"))
            continue
        cands = sorted(by_section[spec.id], key=lambda c: min(c.statement.evidence or [10**9]))
        statements = []
        for cand in cands:
            counter += 1
            statements.append(cand.statement.model_copy(update={"id": f"s{counter}"}))
        sections.append(Section(id=spec.id, title=spec.title, status="drafted" if statements else "not_discussed",
                                statements=statements))
    return sections, notes


def empty_sections(template: Template) -> list[Section]:
    return [Section(id=s.id, title=s.title, status="human_only" if s.mode == "human_only" else "not_discussed")
            for s in template.sections]
