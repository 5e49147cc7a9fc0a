"""The summary: verified statements of the key sections, risks and safeguarding first, then why the contact
happened, what was agreed and the next contact, then what people said; 80-150 words, citing their ids.

Built by code, not written by the model: the statements it picks have each passed verification, so the summary
says only what the record says, and a denied screen stays denied. Why the model's summary was retired, with its
measurements, is in docs/drafting.md (step 7).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from assistant.drafting.verify import content_tokens
from assistant.records import Section, Statement

MIN_WORDS = 80
MAX_WORDS = 150


class SummaryResult(BaseModel):
    text: str = ""
    cites: list[str] = Field(default_factory=list)
    method: str = "none"


def verified(sections: list[Section]) -> list[tuple[Section, Statement]]:
    return [(sec, st) for sec in sections for st in sec.statements if not st.flags]


# Risks and safeguarding first, then why the contact happened, what was agreed and the next contact (what a
# reviewer needs first), then what people said. Sections not named here come last.
_ORDER = ("risks_strengths", "risks", "risk", "safeguarding", "injuries_property",
          "purpose", "chief_complaint", "reason", "account", "clinical_summary",
          "actions", "actions_gp", "actions_clinic", "actions_patient", "decisions", "plan", "assessment_plan",
          "next_contact", "follow_up", "next_meeting", "next_review",
          "views_family", "views_subject", "what_matters", "changes", "hpi")


def _priority(sec: Section) -> int:
    """The section's place in the summary's rounds (`_ORDER`)."""
    return _ORDER.index(sec.id) if sec.id in _ORDER else len(_ORDER)


def _words(text: str) -> int:
    return len(text.split())


def summarise(sections: list[Section], *, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> SummaryResult:
    """The first verified statement (not a quote) of each key section, in priority order and one per section per
    round, until the summary reaches `min_words`, never past `max_words`; a statement that mostly repeats one
    already there is skipped (a consultation's chief complaint and history often open alike)."""
    by_section: dict[str, list[Statement]] = {}
    order: dict[str, int] = {}
    for sec, st in verified(sections):
        if st.kind != "quote":  # a quote reads badly in a summary: the record has it
            by_section.setdefault(sec.id, []).append(st)
            order[sec.id] = _priority(sec)
    queues = [by_section[k] for k in sorted(by_section, key=order.__getitem__)]
    text: list[str] = []
    cites: list[str] = []
    while queues and sum(map(_words, text)) < min_words:
        for items in list(queues):
            if sum(map(_words, text)) >= min_words:
                break
            st = items.pop(0)
            sentence = _first_sentence(st.text)
            if not _repeats(sentence, text) and sum(map(_words, text)) + _words(sentence) <= max_words:
                text.append(sentence)
                cites.append(st.id)
            if not items:
                queues.remove(items)
    return SummaryResult(text=" ".join(text), cites=cites, method="statements" if text else "none")


REPEAT_OVERLAP = 0.6


def _repeats(sentence: str, text: list[str]) -> bool:
    """Most of the sentence's content words are already in one sentence of the summary."""
    own = content_tokens(sentence)
    return bool(own) and any(len(own & content_tokens(t)) >= REPEAT_OVERLAP * len(own) for t in text)


def _first_sentence(text: str, limit: int = 200) -> str:
    """Verbatim statements can be long quotes: keep the speaker lead-in and the most informative sentence
    (the summary cites the statement for the rest)."""
    lead = ""
    m = re.match(r'^([^"]{1,80}?:\s*")(.*)$', text)
    if m:
        lead, text = m.group(1), m.group(2).rstrip('"')
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z\"])", text)
    cut = lead + max(parts, key=lambda p: len(content_tokens(p)))
    if len(cut) > limit:
        cut = cut[:limit].rsplit(" ", 1)[0] + "…"
    if cut.count('"') % 2:
        cut += '"'
    return cut
