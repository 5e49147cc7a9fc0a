"""Section synthesis: the model writes a few concise sentences for one section from that section's lines only.

Its input is the fixed system part (rules, people, the template's style: the same for every section of a visit,
so llama.cpp reuses it from the KV cache) and the section's own lines, numbered and speaker-labelled, each reply
with the question it answers. Each sentence cites the lines it rests on (an enum of those lines' numbers, so a
citation can only name a line the model was given). Code then decides who the sentence is attributed to, its
kind and its due date, and verification checks it against the lines it cites.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, Field

from assistant import lexicons
from assistant.drafting.detectors import SHORT_ANSWER_WORDS, Finding, is_question
from assistant.drafting.findings import Candidate
from assistant.drafting.participants import Cast, Group
from assistant.drafting.prompts import Prompt
from assistant.drafting.sectioner import Unit
from assistant.llm import ChatModel, LLMError
from assistant.llm.schema import cited_sentences
from assistant.records import Statement, StatementKind
from assistant.templates import SectionSpec, Template
from assistant.text import sentences

log = logging.getLogger(__name__)

SENTENCE_MAX_CHARS = 240
MAX_LINES_PER_CALL = 6
MAX_CITES = 6
TOKENS_PER_SENTENCE = 70  # allowance per sentence: ~45 tokens of text, the citations and JSON
DROPPED_MIN_WORDS = 4  # content words a line must lose, and more than two-thirds of its own, to be quoted back
STOP = ["<|im_end|>", "<|endoftext|>"]


class SectionResult(BaseModel):
    candidates: list[Candidate] = Field(default_factory=list)
    failed: list[Unit] = Field(default_factory=list, description="lines whose call failed: quoted instead")
    dropped: list[Unit] = Field(default_factory=list, description="lines the model's sentences left out: quoted")
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: list[str] = Field(default_factory=list)


def _label(cast: Cast, speaker: str, name: str) -> str:
    person = cast.by_speaker(speaker)
    return person.label if person else name


def line(u: Unit, cast: Cast) -> str:
    """`[23] Priya (social worker) asked: "Has he been in touch?" Kerry (mother) answered: "No."`; a long reply
    stands alone (`[15] Kerry (mother): "..."`): its question would only distract."""
    who = _label(cast, u.speaker, u.name)
    if u.question_id is not None and u.question and len(u.text.split()) <= SHORT_ANSWER_WORDS:
        asker = next((p.label for p in cast.people if p.name == u.asker), u.asker or "Someone")
        return f'[{u.key}] {asker} asked: "{u.question}" {who} answered: "{u.text}"'
    return f'[{u.key}] {who}: "{u.text}"'


def max_sentences(n_lines: int) -> int:
    return max(1, min(8, math.ceil(0.7 * n_lines)))


def schema(keys: Sequence[str], most: int) -> dict[str, Any]:
    return cited_sentences("section", "lines", list(keys), most=most, max_chars=SENTENCE_MAX_CHARS,
                           max_cites=MAX_CITES)


def system_message(prompt: Prompt, template: Template, cast: Cast) -> str:
    return prompt.render("system", record_title=template.title.split("(")[0].strip().lower(),
                         participants=cast.describe(), style=template.style or "Write plain, short sentences.")


def _batches(units: list[Unit]) -> list[list[Unit]]:
    n = max(1, math.ceil(len(units) / MAX_LINES_PER_CALL))
    size = math.ceil(len(units) / n)
    return [units[i:i + size] for i in range(0, len(units), size)]


def synthesise_section(
    chat: ChatModel, prompt: Prompt, template: Template, spec: SectionSpec, units: list[Unit], cast: Cast,
    findings: Sequence[Finding], *, on_call: Callable[[], None] | None = None,
) -> SectionResult:
    """Sentences for one section, a call per batch of at most MAX_LINES_PER_CALL lines (in transcript order)."""
    result = SectionResult()
    system = system_message(prompt, template, cast)
    for batch in _batches(units):
        most = max_sentences(len(batch))
        task = prompt.render("task", title=spec.title, guidance=spec.guidance,
                             lines="\n".join(line(u, cast) for u in batch), max_sentences=most)
        try:
            reply = chat.structured([{"role": "system", "content": system}, {"role": "user", "content": task}],
                                    schema([str(u.key) for u in batch], most),
                                    max_tokens=TOKENS_PER_SENTENCE * most + 20, stop=STOP)
        except LLMError as exc:
            log.warning("synthesis of %s failed for %d lines: %s", spec.id, len(batch), exc)
            result.failed.extend(batch)
            result.errors.append(f"{spec.id}: {str(exc)[:300]}")
            continue
        finally:
            result.calls += 1
            if on_call is not None:
                on_call()
        result.prompt_tokens += reply.prompt_tokens
        result.completion_tokens += reply.completion_tokens
        by_key = {str(u.key): u for u in batch}
        written: list[str] = []
        for item in (reply.data or {}).get("sentences", []):
            cited = [by_key[k] for k in dict.fromkeys(item.get("lines", [])) if k in by_key]
            text = clean(str(item.get("text", "")))
            if text and cited:
                written.append(text)
                result.candidates.append(Candidate(section=spec.id, source="llm",
                                                   statement=as_note(text, cited, spec, cast, findings)))
        lost = dropped(batch, written)
        result.dropped.extend(lost)
        result.candidates.extend(quoted_back(lost, written, spec.id))
    return result


def dropped(batch: Sequence[Unit], written: Sequence[str]) -> list[Unit]:
    """Lines the model left out: more than two-thirds of a line's content words, and at least DROPPED_MIN_WORDS
    of them, are in none of its call's sentences. The model merges lines and drops details; the record quotes
    such a line rather than lose what it says (the worker can shorten a quote, but cannot see what is missing).
    A question is never quoted back: its answer carries the fact."""
    from assistant.drafting.verify import content_tokens

    said: set[str] = set()
    for text in written:
        said |= content_tokens(text)
    out = []
    for u in batch:
        own = content_tokens(u.text)
        missing = own - said
        if len(missing) >= DROPPED_MIN_WORDS and 3 * len(missing) > 2 * len(own) and not u.text.rstrip().endswith("?"):
            out.append(u)
    return out


def lost_part(text: str, written: Sequence[str]) -> str:
    """The sentences of a dropped line that carry what the model left out: at least two content words of a
    sentence, and more than half of them, are in none of the written sentences. A long line quoted whole repeats
    what the model's sentences already say; "…" marks a gap. A question or a pleasantry is never quoted ("Can
    you tell me what's changed?", "Thanks, see you Thursday."); when what was lost is spread thin, every
    sentence that lost a word is kept. Empty when nothing else lost anything."""
    from assistant.drafting.verify import content_tokens, not_a_note

    said: set[str] = set()
    for w in written:
        said |= content_tokens(w)
    parts = sentences(text)
    told = [i for i, s in enumerate(parts) if not is_question(s) and not not_a_note(s)]
    lost = {i: content_tokens(parts[i]) - said for i in told}
    keep = [i for i in told if len(lost[i]) >= 2 and 2 * len(lost[i]) > len(content_tokens(parts[i]))]
    keep = keep or [i for i in told if lost[i]]
    if not keep:
        return ""
    out = parts[keep[0]]
    for prev, i in pairwise(keep):
        out += (" " if i == prev + 1 else " … ") + parts[i]
    return out


def quoted_back(units: Sequence[Unit], written: Sequence[str], section: str) -> list[Candidate]:
    """Dropped lines quoted in their section, trimmed to what was left out."""
    return [quote(u, section, said) for u in units if (said := lost_part(u.text, written))]


_SPACES = re.compile(r"\s+")


def clean(text: str) -> str:
    """One sentence, tidied: whitespace, a leading list marker, a capital first letter and a full stop (a
    sentence cut off by the length limit keeps no stop, and verification flags it)."""
    text = _SPACES.sub(" ", text).strip().strip('"').strip()
    text = re.sub(r"^(?:[-*•]|\d+[.)])\s+", "", text)
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    if len(text) < SENTENCE_MAX_CHARS - 5 and text[-1] not in ".!?\"'”)":
        text += "."
    return text


def actor(text: str, cited: Sequence[Unit], cast: Cast) -> str:
    """Whose statement it is: the first person the sentence names among the speakers of its lines, else the
    first speaker who is not the worker (the worker when all are). A person named but not speaking is what
    the statement is about, not its source: a doctor's finding about the patient stays the doctor's, and
    a mother's account of her ex-partner stays hers."""
    from assistant.drafting.verify import referenced_people

    speakers = {u.name for u in cited}
    named = [n for n in referenced_people(text, cast) if n in speakers]
    if named:
        return min(named, key=lambda n: _position(text, n, cast))
    others = [u for u in cited if u.group != "worker"]
    return (others or list(cited))[0].name


def _position(text: str, name: str, cast: Cast) -> int:
    person = cast.by_name(name)
    words = [name, name.split()[0]] + ([person.role] if person and person.role else [])
    found = [m.start() for w in words if w for m in [re.search(rf"\b{re.escape(w)}\b", text, re.I)] if m]
    return min(found) if found else len(text)


def derive_kind(text: str, group: Group, spec: SectionSpec | None) -> StatementKind:
    """Statement kind from the wording and who it is about, restricted to what the section accepts."""
    allowed: list[str] = list(spec.kinds) if spec and spec.kinds else ["observed", "reported", "opinion", "action",
                                                                        "decision", "quote"]
    cues = lexicons.cues()
    wanted: list[str] = []
    if re.search(r"\bagreed|decided|decision\b", text, re.I):
        wanted.append("decision")
    if lexicons.phrase_pattern(cues.get("action_cues", [])).search(text):
        wanted += ["action", "decision"]
    if lexicons.phrase_pattern(cues.get("opinion_cues", [])).search(text):
        wanted.append("opinion")
    wanted += ["observed"] if group == "worker" else ["reported"]
    wanted += ["reported", "observed", "opinion", "action", "decision", "quote"]
    return next(k for k in wanted if k in allowed)  # type: ignore[return-value]


def statement(text: str, cited: Sequence[Unit], spec: SectionSpec, cast: Cast, findings: Sequence[Finding]
              ) -> Statement:
    who = actor(text, cited, cast)
    person = cast.by_name(who)
    kind = derive_kind(text, person.group if person else "other", spec)
    evidence = sorted({i for u in cited for i in u.segment_ids})
    due = None
    if kind in ("action", "decision"):
        dates = [f.text for f in findings if f.kind == "date" and f.segment_id in evidence]
        due = next((d for d in dates if d.lower() in text.lower()), None)
    return Statement(text=text, kind=kind, attributed_to=who, evidence=evidence, due=due)


def as_note(text: str, cited: Sequence[Unit], spec: SectionSpec, cast: Cast, findings: Sequence[Finding]
            ) -> Statement:
    """The model's sentence as a statement; one still in the first or second person outside quotation marks is
    a line copied, not a note: the record then quotes that line as it was said, by its own speaker, rather than
    putting the model's rewording in someone's mouth."""
    from assistant.drafting.verify import content_tokens, in_speakers_words

    if in_speakers_words(text):
        words = content_tokens(text)
        line = max(cited, key=lambda u: len(words & content_tokens(u.text)))
        return Statement(text=f'{line.name} said: "{line.text.strip()}"', kind="quote", attributed_to=line.name,
                         evidence=list(line.segment_ids))
    return statement(text, cited, spec, cast, findings)


def quote(u: Unit, section: str, said: str | None = None) -> Candidate:
    """A line quoted and attributed, with the question it answers. `said` is the part quoted back when the model
    left it out; then a long reply stands alone (as in the prompt), and only a short answer, which means nothing
    without it, keeps its question."""
    asked = u.question_id is not None and u.question and (said is None or len(u.text.split()) <= SHORT_ANSWER_WORDS)
    words = u.text if said is None else said
    text = f'{u.asker or "Someone"} asked: "{u.question}" {u.name}: "{words}"' if asked else f'{u.name}: "{words}"'
    return Candidate(section=section, source="extractive", statement=Statement(
        text=text, kind="quote", attributed_to=u.name, evidence=list(u.segment_ids)))


def quotes(units: Sequence[Unit], section: str) -> list[Candidate]:
    """The lines themselves, attributed: what a section shows when it is not written by the model (the extractive
    engine, or a synthesis call that failed)."""
    return [quote(u, section) for u in units]
