"""The summary, written only from statements that passed verification, citing their ids.

The model writes a few sentences (risks first, then what was agreed and the next contact), each listing the ids
it rests on (an enum of real ids); code then checks every sentence against the statements it cites, with the
same support / high-risk / number checks as the record, and drops any sentence that fails. A summary left under
MIN_WORDS is topped up with verified statements of the key sections that it does not cite yet, verbatim; without
a model the summary is those statements alone.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from assistant import lexicons
from assistant.drafting.participants import Cast
from assistant.drafting.prompts import Prompt
from assistant.drafting.verify import (
    FLAG_MISATTRIBUTED,
    content_tokens,
    in_speakers_words,
    numbers,
    referenced_people,
    verify_statement,
)
from assistant.llm import ChatModel, LLMError
from assistant.llm.schema import cited_sentences
from assistant.records import FLAG_HIGH_RISK, FLAG_POLARITY, FLAG_UNKNOWN_PERSON, Section, Statement
from assistant.templates import Template
from assistant.transcript import Transcript

MIN_SENTENCES = 3
MAX_SENTENCES = 6
MIN_WORDS = 80
MAX_WORDS = 150
SENTENCE_MAX_CHARS = 320
MAX_NOTES = 30
SENTENCE_SUPPORT = 0.5
STOP = ["<|im_end|>", "<|endoftext|>"]


class SummaryResult(BaseModel):
    text: str = ""
    cites: list[str] = Field(default_factory=list)
    method: str = "none"
    dropped: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def verified(sections: list[Section]) -> list[tuple[Section, Statement]]:
    return [(sec, st) for sec in sections for st in sec.statements if not st.flags]


def _notes_block(items: list[tuple[Section, Statement]]) -> str:
    """The notes under their section titles, in the order given."""
    lines: list[str] = []
    previous = None
    for sec, st in items:
        if sec.id != previous:
            lines.append(f"{sec.title}:")
            previous = sec.id
        lines.append(f"- {st.id} ({st.attributed_to or 'unknown'}): {st.text}")
    return "\n".join(lines)


def schema(ids: list[str]) -> dict[str, Any]:
    return cited_sentences("summary", "cites", ids, most=MAX_SENTENCES, max_chars=SENTENCE_MAX_CHARS,
                           max_cites=4)


def sentence_supported(text: str, cited: list[Statement], transcript: Transcript | None = None,
                       cast: Cast | None = None) -> bool:
    """Supported by the statements it cites (content words, numbers, high-risk terms) and, given the
    transcript, free of the transcript-level faults verification catches (misattribution, polarity, people
    who are not there)."""
    source = " ".join(f"{st.attributed_to} {st.text}" for st in cited)
    toks = content_tokens(text)
    overlap = len(toks & content_tokens(source)) / len(toks) if toks else 0.0
    if overlap < SENTENCE_SUPPORT:
        return False
    if numbers(text) - numbers(source):
        return False
    hr = lexicons.high_risk()
    if hr.concepts_in(text) - hr.concepts_in(source):
        return False
    if cast is not None:
        # Everyone the sentence refers to (by name or role) must be in the statements it cites: this stops
        # "the child's sister" written from the mother's "my sister".
        allowed = {st.attributed_to for st in cited} | referenced_people(source, cast)
        if referenced_people(text, cast) - allowed:
            return False
    if transcript is not None and cast is not None:
        evidence = sorted({i for st in cited for i in st.evidence})
        checked = verify_statement(Statement(text=text, evidence=evidence), transcript, cast)
        if set(checked.flags) & _SENTENCE_FAULTS:
            return False
    return True


_SENTENCE_FAULTS = {FLAG_MISATTRIBUTED, FLAG_POLARITY, FLAG_UNKNOWN_PERSON, FLAG_HIGH_RISK}

# The task numbers what each sentence is for; a small model sometimes writes that wording back, as a label
# ("What was agreed: ...") or as the whole sentence ("Kieran will do what, by when.").
_TASK_LABEL = re.compile(r"^(?:(?:why the contact happened|the most serious risks[^:]*|what the people spoken to "
                         r"said[^:]*|what was agreed|the next contact)\s*:|what the people spoken to said about how "
                         r"things are is that|the contact happened because|the most serious risks,?[a-z, ]*? "
                         r"(?:are|were|is|was|include) (?:that )?)\s*", re.I)
_TASK_ECHO = re.compile(r"\bdo what\b|\bby when\b|\bthe people spoken to\b|\bleave out a point\b", re.I)


def without_task_wording(text: str) -> str:
    """The sentence with a label copied from the task removed; empty when it only echoes the task."""
    text = _TASK_LABEL.sub("", text).strip()
    if _TASK_ECHO.search(text):
        return ""
    return text[:1].upper() + text[1:]


_ORDER = ("risks_strengths", "risks", "safeguarding", "purpose", "chief_complaint", "reason", "account",
          "views_family", "views_subject", "hpi", "assessment_plan", "actions", "plan", "next_contact")


def _priority(sec: Section) -> int:
    """Risks and safeguarding first, then why the contact happened and what people said, then what was agreed."""
    return _ORDER.index(sec.id) if sec.id in _ORDER else len(_ORDER)


def _words(text: str) -> int:
    return len(text.split())


def top_up(sections: list[Section], text: list[str], cites: list[str], *, min_words: int = MIN_WORDS,
           max_words: int = MAX_WORDS) -> None:
    """Add the first uncited verified statement (not a quote) of each key section, risks first and one per
    section per round, until the summary reaches `min_words`, never past `max_words`."""
    by_section: dict[str, list[tuple[Section, Statement]]] = {}
    for sec, st in verified(sections):
        if st.id not in cites and st.kind != "quote":  # a quote reads badly in a summary: the record has it
            by_section.setdefault(sec.id, []).append((sec, st))
    queues = sorted(by_section.values(), key=lambda items: _priority(items[0][0]))
    while queues and sum(map(_words, text)) < min_words:
        for items in list(queues):
            if sum(map(_words, text)) >= min_words:
                break
            _, st = items.pop(0)
            sentence = _first_sentence(st.text)
            if _repeats(sentence, text):
                pass  # the chief complaint and the history often open with the same sentence
            elif sum(map(_words, text)) + _words(sentence) <= max_words:
                text.append(sentence)
                cites.append(st.id)
            if not items:
                queues.remove(items)


REPEAT_OVERLAP = 0.6


def _repeats(sentence: str, text: list[str]) -> bool:
    """Most of the sentence's content words are already in one sentence of the summary."""
    own = content_tokens(sentence)
    return bool(own) and any(len(own & content_tokens(t)) >= REPEAT_OVERLAP * len(own) for t in text)


def extractive_summary(sections: list[Section]) -> SummaryResult:
    text: list[str] = []
    cites: list[str] = []
    top_up(sections, text, cites)
    return SummaryResult(text=" ".join(text), cites=cites, method="extractive")


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


def summarise(
    chat: ChatModel | None, prompt: Prompt | None, template: Template, cast: Cast, sections: list[Section],
    transcript: Transcript | None = None,
) -> SummaryResult:
    items = verified(sections)
    if not items:
        return SummaryResult(method="none")
    if chat is None or prompt is None:
        return extractive_summary(sections)
    items = sorted(items, key=lambda p: _priority(p[0]))[:MAX_NOTES]  # risks first, as the summary is
    by_id = {st.id: st for _, st in items}
    worker = cast.by_name(cast.worker) if cast.worker else None
    messages = [
        {"role": "system", "content": prompt.render(
            "system", record_title=template.title.split("(")[0].strip().lower(),
            worker_role=(worker.role if worker and worker.role else "worker"))},
        {"role": "user", "content": prompt.render("task", notes=_notes_block(items), min_sentences=MIN_SENTENCES,
                                                  max_sentences=MAX_SENTENCES)},
    ]
    try:
        reply = chat.structured(messages, schema(list(by_id)), max_tokens=MAX_SENTENCES * 75 + 30, stop=STOP)
    except LLMError as exc:
        result = extractive_summary(sections)
        result.dropped.append(f"model summary failed: {str(exc)[:200]}")
        return result
    kept_text: list[str] = []
    cites: list[str] = []
    dropped: list[str] = []
    seen: set[str] = set()
    for sent in (reply.data or {}).get("sentences", []):
        text = " ".join(str(sent.get("text", "")).split())
        ids = [i for i in sent.get("cites", []) if i in by_id]
        if not text or not ids or text.lower() in seen:
            continue
        if in_speakers_words(text) or not (untasked := without_task_wording(text)):
            dropped.append(text)
            continue
        text = untasked
        if not sentence_supported(text, [by_id[i] for i in ids], transcript, cast):
            dropped.append(text)
            continue
        if sum(map(_words, kept_text)) + _words(text) > MAX_WORDS:
            dropped.append(text)
            continue
        seen.add(text.lower())
        kept_text.append(text if text[-1] in ".!?" else text + ".")
        cites.extend(i for i in ids if i not in cites)
    if not kept_text:
        result = extractive_summary(sections)
        result.dropped = dropped
        return result
    top_up(sections, kept_text, cites)
    return SummaryResult(text=" ".join(kept_text), cites=cites, method="llm", dropped=dropped,
                         seconds=reply.seconds, prompt_tokens=reply.prompt_tokens,
                         completion_tokens=reply.completion_tokens)
