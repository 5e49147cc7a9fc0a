"""Statements written by code from what the detectors find: never generated, always attributed quotes.

- Self-harm and suicide screens become the question and its answer, with the answer's polarity.
- Requests to leave things out and prompt injections become the speaker's quoted words, flagged for the worker.
- Every amount, date, phone number, dose, police mention and mention of harm must end up in a statement that
  cites its line: when synthesis left one out, the sentence that says it is added as an attributed quote.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from assistant import lexicons
from assistant.drafting.detectors import Finding, digits, is_question
from assistant.drafting.participants import Cast
from assistant.drafting.verify import numbers
from assistant.records import FLAG_LEAVE_OUT_REQUEST, Statement
from assistant.templates import Template
from assistant.text import sentences
from assistant.transcript import Transcript


class Candidate(BaseModel):
    """A proposed statement and the section it is for."""

    section: str
    statement: Statement
    source: Literal["llm", "detector", "extractive"]


def preferred_section(template: Template, kind: str) -> str:
    """Where a finding goes when its line has no section: the template's section that lists its kind."""
    specs = template.generated_sections
    return next((s.id for s in specs if kind in s.findings), specs[0].id)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def finding_candidates(findings: list[Finding], transcript: Transcript, cast: Cast, template: Template
                       ) -> list[Candidate]:
    """Screens and requests become statements written by code, quoting the transcript."""
    out: list[Candidate] = []
    for f in findings:
        asker = cast.name_of(f.speaker)
        if f.kind == "screen":
            section = preferred_section(template, "screen")
            if f.answer_id is None or f.answer_speaker is None:
                text = f'{asker} asked: "{_short(f.text)}" No answer was recorded.'
                st = Statement(text=text, kind="quote", attributed_to=asker, evidence=[f.segment_id])
            elif f.answer_speaker == f.speaker:  # speakers not told apart: quote both, name nobody
                answer = transcript.segment(f.answer_id)
                text = (f'{asker} asked: "{_short(f.text)}" Next in the transcript (speakers not told apart): '
                        f'"{_short(answer.text if answer else "")}"')
                st = Statement(text=text, kind="quote", attributed_to=asker,
                               evidence=sorted({f.segment_id, f.answer_id}))
            else:
                who = cast.name_of(f.answer_speaker)
                answer = transcript.segment(f.answer_id)
                said = _short(answer.text if answer else "")
                verb = {"denied": "said no", "disclosed": "said yes", "unclear": "answered"}.get(f.polarity or "",
                                                                                                "answered")
                text = f'{asker} asked {who}: "{_short(f.text)}" {who} {verb}: "{said}"'
                st = Statement(text=text, kind="reported", attributed_to=who,
                               evidence=sorted({f.segment_id, f.answer_id}))
            out.append(Candidate(section=section, statement=st, source="detector"))
        elif f.kind in ("leave_out", "injection"):
            who = cast.name_of(f.speaker)
            lead = "asked for something to be left out of, or written into, the record" if f.kind == "leave_out" \
                else "said"
            text = f'{who} {lead}: "{_short(f.sentence, 240)}"'
            st = Statement(text=text, kind="quote", attributed_to=who, evidence=[f.segment_id],
                           flags=[FLAG_LEAVE_OUT_REQUEST])
            out.append(Candidate(section=preferred_section(template, "leave_out"), statement=st, source="detector"))
    return out


# Relative days that say nothing on their own ("why I'm here today"); a named day or date is kept.
_VAGUE_DATES = frozenset({"today", "tonight", "now", "tomorrow", "yesterday"})


def finding_covered(f: Finding, statements: list[Statement]) -> bool:
    if f.kind == "date" and f.text.strip().lower() in _VAGUE_DATES:
        return True
    citing = [s for s in statements if f.segment_id in s.evidence]
    for s in citing:
        low = s.text.lower()
        if f.kind == "money" and f.value and f.value in {n.split(".")[0] for n in numbers(s.text)}:
            return True  # the amount as a number: "£1, 386. 40" (a mangled copy) does not count
        if f.kind == "phone" and f.value and f.value in digits(s.text):
            return True
        if f.kind == "date" and all(tok in low for tok in re.findall(r"[a-z0-9]+", f.value)):
            return True
        if f.kind == "dose" and digits(f.text) and digits(f.text) in digits(s.text):
            return True
        if f.kind == "police" and lexicons.high_risk().concepts_in(s.text) & {"police"}:
            return True
        if f.kind == "harm" and f.value in lexicons.high_risk().concepts_in(s.text):
            return True
    return False


def coverage_candidates(findings: list[Finding], candidates: list[Candidate], transcript: Transcript, cast: Cast,
                        template: Template, placed: dict[int, str] | None = None) -> list[Candidate]:
    """Every amount, date, phone number, dose, police mention and mention of harm (violence, abuse, weapons,
    neglect) ends up in some statement: when no note carries it, the sentence that says it is added as an
    attributed quote, in the section its line was placed in (`placed`: segment id -> section), else in the
    section the template names for its kind."""
    statements = [c.statement for c in candidates]
    section_of: dict[int, str] = dict(placed or {})
    for c in candidates:
        for sid in c.statement.evidence:
            section_of.setdefault(sid, c.section)
    added: list[Candidate] = []
    done: set[tuple[int, str]] = set()
    for f in findings:
        if f.kind not in ("money", "date", "phone", "dose", "police", "harm"):
            continue
        if finding_covered(f, statements + [c.statement for c in added]):
            continue
        seg = transcript.segment(f.segment_id)
        if seg is None:
            continue
        sent = next((s for s in sentences(seg.text) if f.text in s), seg.text)
        if (seg.id, sent) in done:
            continue
        done.add((seg.id, sent))
        who = cast.name_of(seg.speaker)
        evidence = [seg.id]
        if is_question(sent):  # a fact inside a question only means something with its answer
            idx = transcript.segments.index(seg)
            answer = next((s for s in transcript.segments[idx + 1:idx + 3] if s.speaker != seg.speaker), None)
            if answer is None:
                continue
            text = f'{who} asked: "{_short(sent)}" {cast.name_of(answer.speaker)} answered: "{_short(answer.text)}"'
            evidence.append(answer.id)
            who = cast.name_of(answer.speaker)
        else:
            text = f'{who} said: "{_short(sent, 240)}"'
        section = section_of.get(seg.id) or preferred_section(template, f.kind)
        added.append(Candidate(section=section, source="detector",
                               statement=Statement(text=text, kind="quote", attributed_to=who, evidence=evidence)))
    return added
