"""Stage 3b: LLM extraction — one short third-person note per transcript line, and the section it belongs to.

Why this shape (see DRAFTING-EVIDENCE.md): one entry per segment, with the keys fixed by the grammar, gave the
best recall and no mother/child confusion; many small closed calls over one transcript prefix are cheap
because llama.cpp reuses the KV cache. So every call sends the same system message (rules, participants,
the numbered speaker-labelled transcript window) and only the task (which lines, which sections) changes.
Code, not the model, decides whose words a note reports (the line's speaker), which sections a speaker may
feed (a mother's words never become the child's views), the statement kind, and the evidence ids.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant import lexicons
from assistant.drafting.detectors import REDACTED, Finding, answer_polarity, digits, is_question, sentences
from assistant.drafting.participants import Cast, Group
from assistant.drafting.prompts import Prompt
from assistant.drafting.verify import content_tokens, numbers
from assistant.drafting.windows import Window, estimate_tokens
from assistant.llm import ChatModel, LLMError
from assistant.records import FLAG_LEAVE_OUT_REQUEST, Statement, StatementKind
from assistant.templates import SectionSpec, Template
from assistant.transcript import Transcript

log = logging.getLogger(__name__)

NOTE_MAX_CHARS = 180
BATCH_SIZE = 8  # at most this many lines per call
MIN_BATCH = 4  # windows are sized so that a call of at least this many lines fits the context
TASK_FRAME_TOKENS = 90  # the task text around the lines
EXPECTED_NOTE_TOKENS = 32  # measured: ~31 generated tokens per line
TOKENS_PER_NOTE = 60  # allowance per line for max_tokens: ~8 tokens of JSON + up to ~45 of note + section
STOP = ["<|im_end|>", "<|endoftext|>", "</transcript>", "<transcript>"]
SHORT_ANSWER_WORDS = 14
MIN_CONTENT = 3  # content words a line needs to be worth a note
MIN_WORKER_CONTENT = 4  # in the worker's non-question sentences (greetings and chat are skipped)


class Unit(BaseModel):
    """One line the model writes a note for: a segment, with its question when the answer is short."""

    key: str
    segment_ids: list[int]
    context_id: int | None = None
    speaker: str
    name: str
    group: Group
    sections: list[str]
    hints: list[str] = Field(default_factory=list)
    dates: list[str] = Field(default_factory=list)

    @property
    def evidence(self) -> list[int]:
        ids = ([self.context_id] if self.context_id is not None else []) + self.segment_ids
        return sorted(set(ids))


class Candidate(BaseModel):
    section: str
    statement: Statement
    source: Literal["llm", "detector", "extractive"]
    unit_key: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict)


# --- who may feed which section ------------------------------------------------------------------------


def allowed_sections(template: Template, group: Group, single_author: bool) -> list[str]:
    hints = lexicons.section_hints().get("sections", {})
    out = []
    for spec in template.generated_sections:
        speakers = (hints.get(spec.id) or {}).get("speakers")
        if single_author or not speakers or group in speakers:
            out.append(spec.id)
    return out or [s.id for s in template.generated_sections]


def _cue(name: str) -> re.Pattern[str]:
    return lexicons.phrase_pattern(lexicons.cues().get(name, []))


def derive_kind(text: str, group: Group, spec: SectionSpec | None) -> StatementKind:
    """Statement kind from the speaker and the wording, restricted to what the section accepts."""
    allowed: list[str] = list(spec.kinds) if spec and spec.kinds else ["observed", "reported", "opinion", "action",
                                                                        "decision", "quote"]
    wanted: list[str] = []
    if _cue("action_cues").search(text):
        wanted += ["action", "decision"]
    if re.search(r"\bagreed|decided|decision\b", text, re.I):
        wanted.insert(0, "decision")
    if _cue("opinion_cues").search(text):
        wanted.append("opinion")
    wanted += ["observed"] if group == "worker" else ["reported"]
    wanted += ["reported", "observed", "opinion", "action", "decision", "quote"]
    return next(k for k in wanted if k in allowed)  # type: ignore[return-value]


# --- units ------------------------------------------------------------------------------------------------


def _content_words(text: str) -> list[str]:
    back = set(lexicons.cues().get("backchannel", []))
    return [w for w in re.findall(r"[a-z0-9£']+", text.lower()) if w not in back]


def build_units(
    transcript: Transcript, cast: Cast, template: Template, findings: list[Finding], texts: dict[int, str]
) -> list[Unit]:
    """Lines worth a note: not the worker's bare questions, not acknowledgements, not lines wholly owned by a
    detector (screens, requests). Short answers carry their question as context."""
    handled: set[int] = set()
    for f in findings:
        if f.kind == "screen":
            handled.add(f.segment_id)
            if f.answer_id is not None:
                seg = transcript.segment(f.answer_id)
                if seg is not None and len(seg.text.split()) <= SHORT_ANSWER_WORDS:
                    handled.add(f.answer_id)
    hints: dict[int, list[str]] = {}
    dates: dict[int, list[str]] = {}
    for f in findings:
        if f.kind in ("money", "date", "phone", "dose"):
            hints.setdefault(f.segment_id, []).append(f.text)
        if f.kind == "date":
            dates.setdefault(f.segment_id, []).append(f.text)
    units: list[Unit] = []
    segs = transcript.segments
    for i, seg in enumerate(segs):
        if seg.id in handled:
            continue
        text = texts.get(seg.id, seg.text)
        if REDACTED in text:
            text = text.replace(REDACTED, " ")
        if not _content_words(text):
            continue
        group = cast.group_of(seg.speaker)
        is_worker = cast.worker is not None and cast.name_of(seg.speaker) == cast.worker
        prev = segs[i - 1] if i > 0 else None
        answers = prev is not None and prev.speaker != seg.speaker and is_question(prev.text)
        # Every note costs ~25 generated tokens (~1 s on 2 cores): lines with too little content are skipped,
        # unless a detector found something in them or they carry a high-risk term.
        keep = seg.id in hints or bool(lexicons.high_risk().concepts_in(text))
        if is_worker and not cast.single_author:
            told = " ".join(s for s in sentences(text) if not s.endswith("?"))
            if not keep and len(content_tokens(told)) < MIN_WORKER_CONTENT:
                continue
        elif answers:
            if not keep and not content_tokens(text) and answer_polarity(text) == "unclear":
                continue
        elif not keep and len(content_tokens(text)) < MIN_CONTENT:
            continue
        context = prev.id if answers and prev is not None and len(seg.text.split()) <= SHORT_ANSWER_WORDS else None
        # Safeguarding screens: the answer keeps its question even when long, for the polarity check.
        if any(f.kind == "screen" and f.answer_id == seg.id for f in findings):
            context = next(f.segment_id for f in findings if f.kind == "screen" and f.answer_id == seg.id)
        units.append(Unit(
            key=str(seg.id), segment_ids=[seg.id], context_id=context, speaker=seg.speaker,
            name=cast.name_of(seg.speaker), group=group,
            sections=allowed_sections(template, group, cast.single_author),
            hints=hints.get(seg.id, []), dates=dates.get(seg.id, []),
        ))
    return units


# --- prompts --------------------------------------------------------------------------------------------


def labelled_lines(transcript: Transcript, cast: Cast, texts: dict[int, str]) -> list[str]:
    out = []
    for s in transcript.segments:
        person = cast.by_speaker(s.speaker)
        who = person.label if person else s.speaker
        out.append(f"[{s.id}] {who}: {texts.get(s.id, s.text)}")
    return out


GUIDANCE_WORDS = 9


def sections_block(template: Template) -> str:
    """`- id: Title (first words of the guidance)` per generated section; short, it is in every prompt."""
    lines = []
    for spec in template.generated_sections:
        words = spec.guidance.split(". ")[0].rstrip(".").split() if spec.guidance else []
        guidance = " ".join(words[:GUIDANCE_WORDS]) + (" …" if len(words) > GUIDANCE_WORDS else "")
        lines.append(f"- {spec.id}: {spec.title}" + (f" ({guidance})" if guidance else ""))
    return "\n".join(lines)


def system_message(prompt: Prompt, template: Template, cast: Cast, window: Window) -> str:
    return prompt.render("system", record_title=template.title.split("(")[0].strip().lower(),
                         participants=cast.describe(), sections=sections_block(template), transcript=window.text)


def task_message(prompt: Prompt, units: list[Unit], cast: Cast, texts: dict[int, str]) -> str:
    """The lines to write notes for, repeated in full (an answer with its question). Measured on the
    embedded model: with the line right above the answer it writes third-person notes; given only line
    numbers, or the first words of each line, it copied the lines verbatim in the first person."""
    rows = []
    for u in units:
        person = cast.by_speaker(u.speaker)
        who = person.label if person else u.speaker
        own = " ".join(texts[i] for i in u.segment_ids)
        row = f"[{u.key}] {who}: {own}"
        if u.context_id is not None:
            q = texts.get(u.context_id, "")
            row = f"[{u.key}] {who}, answering [{u.context_id}] \"{q}\": {own}"
        # No "(keep: £640)" hints here: measured, the model then wrote the bare amount as the note. Amounts,
        # dates and numbers a note drops are added from the transcript by `coverage_candidates` instead.
        rows.append(row)
    return prompt.render("task", lines="\n".join(rows))


CONTEXT_MARGIN = 128


def line_tokens(u: Unit, texts: dict[int, str]) -> int:
    ids = ([u.context_id] if u.context_id is not None else []) + u.segment_ids
    return estimate_tokens(" ".join(texts.get(i, "") for i in ids)) + 12


def pack_batches(units: list[Unit], texts: dict[int, str], room: int) -> list[list[Unit]]:
    """Consecutive lines per call, at most BATCH_SIZE, while the repeated lines and their notes fit `room`."""
    batches: list[list[Unit]] = []
    current: list[Unit] = []
    used = TASK_FRAME_TOKENS
    for u in units:
        cost = line_tokens(u, texts) + EXPECTED_NOTE_TOKENS
        if current and (len(current) >= BATCH_SIZE or used + cost > room):
            batches.append(current)
            current, used = [], TASK_FRAME_TOKENS
        current.append(u)
        used += cost
    if current:
        batches.append(current)
    return batches


def unit_schema(units: list[Unit], cast: Cast) -> dict[str, Any]:
    """`{"12": {"n": "<note>", "s": "<section id>"}, ...}`: keys fixed by the grammar (one entry per line, in
    order). Measured: the object form makes the model paraphrase into third-person notes; a bare tuple
    `["<note>", "<section>"]` (8 tokens cheaper per line) made it copy the line verbatim. Typed single-author
    notes get a leading `w` (who, an enum of participants)."""
    props: dict[str, Any] = {}
    for u in units:
        entry: dict[str, Any] = {}
        if cast.single_author:
            # Typed notes have one author: whose view a note reports must come from the text.
            entry["w"] = {"type": "string", "enum": cast.names()}
        entry["n"] = {"type": "string", "maxLength": NOTE_MAX_CHARS}
        entry["s"] = {"type": "string", "enum": u.sections}
        props[u.key] = {"type": "object", "properties": entry, "required": list(entry),
                        "additionalProperties": False}
    return {"title": "notes", "type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


def parse_entry(value: Any, cast: Cast) -> dict[str, str] | None:
    if not isinstance(value, dict) or not isinstance(value.get("n"), str) or not isinstance(value.get("s"), str):
        return None
    return {k: v for k, v in value.items() if isinstance(v, str)}


# --- calls ----------------------------------------------------------------------------------------------


class ExtractionResult(BaseModel):
    candidates: list[Candidate] = Field(default_factory=list)
    failed_units: list[Unit] = Field(default_factory=list)
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_seconds: float = 0.0
    errors: list[str] = Field(default_factory=list)


def extract_window(
    chat: ChatModel,
    prompt: Prompt,
    template: Template,
    transcript: Transcript,
    cast: Cast,
    window: Window,
    units: list[Unit],
    texts: dict[int, str],
    *,
    context_tokens: int = 4096,
    on_batch: Callable[[int], None] | None = None,
    give_up_after: int = 2,
) -> ExtractionResult:
    """Notes for `units` over one window. After `give_up_after` failed calls with no success (a dead server,
    a model that cannot follow the schema) the remaining units go straight to the fallback."""
    result = ExtractionResult()
    system = system_message(prompt, template, cast, window)
    room = context_tokens - estimate_tokens(system) - CONTEXT_MARGIN
    batches = pack_batches(units, texts, room)
    successes = 0
    for batch in batches:
        if successes == 0 and len(result.errors) >= give_up_after:
            result.failed_units.extend(batch)
            continue
        messages = [{"role": "system", "content": system},
                    {"role": "user", "content": task_message(prompt, batch, cast, texts)}]
        try:
            reply = chat.structured(messages, unit_schema(batch, cast),
                                    max_tokens=TOKENS_PER_NOTE * len(batch) + 24, stop=STOP)
        except LLMError as exc:
            log.warning("extraction batch failed, falling back to extractive for %d lines: %s", len(batch), exc)
            result.failed_units.extend(batch)
            result.errors.append(str(exc)[:300])
            continue
        finally:
            result.calls += 1
            if on_batch:
                on_batch(len(batch))
        successes += 1
        result.prompt_tokens += reply.prompt_tokens
        result.completion_tokens += reply.completion_tokens
        result.llm_seconds += reply.seconds
        data = reply.data if isinstance(reply.data, dict) else {}
        for u in batch:
            entry = parse_entry(data.get(u.key), cast)
            if entry is None:
                result.failed_units.append(u)
                continue
            cand = _candidate(u, entry, template, cast, transcript)
            if cand is not None:
                result.candidates.append(cand)
    return result


_SKIP = re.compile(r"^\W*(?:-+|n/?a|none|nothing(?: (?:to|worth) record(?:ing)?)?|no note)\W*$", re.I)
_FIRST_PERSON_START = re.compile(r"^(?:i|i'm|i've|i'd|i'll|my|we|we're|we've|our)\b", re.I)


def clean_note(text: str, name: str) -> str:
    note = " ".join(text.split()).strip().strip('"').strip()
    note = re.sub(r"^(?:note|n)\s*:\s*", "", note, flags=re.I)
    note = note.replace(REDACTED, "").strip()
    if not note or _SKIP.match(note) or note.startswith("- ") or len(note) < 4:
        return ""
    if not content_tokens(note):  # "£400." or "Yes." is not a note (amounts are kept by the coverage check)
        return ""
    if _FIRST_PERSON_START.match(note):  # still in the speaker's own words: keep them as a quote
        return f'{name} said: "{note.rstrip(".")}."'
    note = note[0].upper() + note[1:]
    return note if note[-1] in ".!?\"'" else note + "."


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9£']+", text.lower().replace("’", "'")))


def _copied(note: str, line: str) -> bool:
    """The model copied (part of) the line instead of writing a note."""
    n, li = _norm(note), _norm(line)
    return len(n.split()) >= 4 and n in li


def _candidate(u: Unit, entry: dict[str, str], template: Template, cast: Cast, transcript: Transcript
               ) -> Candidate | None:
    name = u.name
    if cast.single_author and isinstance(entry.get("w"), str) and entry["w"] in cast.names():
        name = entry["w"]
    raw = " ".join(str(entry.get("n", "")).split()).strip().strip('"')
    line = " ".join(s.text for i in u.segment_ids if (s := transcript.segment(i)) is not None)
    if _copied(raw, line) and not cast.single_author:
        # A verbatim copy is kept as what it is: the speaker's words, quoted and attributed.
        text = f'{name} said: "{raw.rstrip(".")}."' if content_tokens(raw) else ""
    else:
        text = clean_note(raw, name)
    if not text:
        return None
    section = entry.get("s") if entry.get("s") in u.sections else u.sections[0]
    group = cast.group_of(u.speaker) if not cast.single_author else (
        cast.by_name(name).group if cast.by_name(name) else "worker")
    kind = derive_kind(text, group, template.section(section))
    if text.startswith(f'{name} said: "'):
        kind = "quote" if "quote" in (template.section(section).kinds or ["quote"]) else kind
    due = next((d for d in u.dates if d.lower() in text.lower()), None) if kind in ("action", "decision") else None
    statement = Statement(text=text, kind=kind, attributed_to=name, evidence=u.evidence, due=due)
    return Candidate(section=section, statement=statement, source="llm", unit_key=u.key, raw=entry)


# --- statements made in code from detector findings --------------------------------------------------------


def preferred_section(template: Template, kind: str, fallback: list[str] | None = None) -> str:
    order = lexicons.section_hints().get("finding_sections", {}).get(kind, [])
    ids = [s.id for s in template.generated_sections]
    for sid in [*order, *(fallback or [])]:
        if sid in ids:
            return sid
    return ids[0]


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


def finding_covered(f: Finding, statements: list[Statement]) -> bool:
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
                        template: Template) -> list[Candidate]:
    """Every amount, date, phone number, dose, police mention and mention of harm (violence, abuse, weapons,
    neglect) ends up in some statement: when no note carries it, the sentence that says it is added as an
    attributed quote."""
    statements = [c.statement for c in candidates]
    section_of: dict[int, str] = {}
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
