"""Stage 3a: facts found in code, never generated.

Money, dates and times, phone numbers, doses and police involvement are extracted by pattern; self-harm and
suicide screens are found in the worker's questions, with the next turn of the person asked as the answer
and its polarity; requests to leave things out (and prompt injections) are detected and removed from what
the model sees. The model may only label what these find; the worker confirms it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from assistant import lexicons
from assistant.drafting.participants import Cast
from assistant.text import NUMBER_WORDS, sentences, words_to_number
from assistant.transcript import Segment, Transcript

FindingKind = Literal["money", "date", "phone", "dose", "police", "harm", "screen", "leave_out", "injection"]
# High-risk concepts that must reach the record when said (as a note or, failing that, a quote): measured,
# the small model dropped "He pushed me against the wall" from a visit note. Suicide and self-harm come
# through the screen detector (question and answer) instead.
HARM_CONCEPTS = ("assault", "domestic_abuse", "sexual_abuse", "abuse", "weapon", "neglect", "exploitation")
Polarity = Literal["denied", "disclosed", "unclear", "no_answer"]
# An answer this short means little without its question: a screen's short answer is quoted with it.
SHORT_ANSWER_WORDS = 14

_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_DAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NUM_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_TIME = (rf"(?:\d{{1,2}}(?::\d{{2}})?\s?(?:am|pm|a\.m\.|p\.m\.)|\d{{1,2}}:\d{{2}}|(?:\d{{1,2}}|{_NUM_WORDS})"
         rf"\s?o'?clock|half past (?:\d{{1,2}}|{_NUM_WORDS})|midday|noon|midnight)")
_DATE_PARTS = [
    rf"\b(?:(?:next|this|last|on)\s+)?(?:{_DAYS})\b(?:\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?)?"
    rf"(?:\s+(?:of\s+)?(?:{_MONTHS})\b)?",
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b(?:\s+\d{{4}})?",
    rf"\b(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?",
    r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b",
    r"\b(?:tomorrow|tonight|today|yesterday|next week|last week|next month|last month|end of the (?:week|month)|"
    r"in (?:a|one|two|three|four|six|\d{1,2}) (?:days?|weeks?|months?)(?: time)?)\b",
    rf"\b(?:at|by|from|until)\s+{_TIME}",
    rf"\b{_TIME}",
]
_DATE = re.compile("|".join(f"(?:{p})" for p in _DATE_PARTS), re.I)
_MONEY = re.compile(r"£\s?\d[\d,]*(?:\.\d{1,2})?(?:\s?(?:k|m|bn)\b)?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:pounds|quid)\b",
                    re.I)
_NUMBER_WORD = f"(?:{'|'.join(NUMBER_WORDS)}|a)"
_MONEY_WORDS = re.compile(rf"\b{_NUMBER_WORD}(?:[\s,-]+(?:and[\s-]+)?{_NUMBER_WORD})*\s+(?:pounds|quid)\b", re.I)
_PHONE = re.compile(r"(?<![\d£])(?:\+44\s?|0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}(?!\d)"
                    r"|(?<![\d£.,])(?:999|111|101)(?![\d,.]\d)")
_DOSE = re.compile(
    r"\b\d+(?:\.\d+)?\s?(?:mg|mcg|micrograms?|milligrams?|ml|millilit(?:re|er)s?|units?|puffs?|tablets?|capsules?)\b"
    r"(?:\s+(?:once|twice|three times|four times)\s+(?:a|per)\s+day|\s+(?:daily|at night|in the morning|a day))?",
    re.I)
_QUESTION_START = re.compile(r"^(?:and |so |but |ok(?:ay)?,? |can i ask,? |i have to ask,? |just to ask,? )*"
                             r"(?:have|has|had|do|does|did|are|is|was|were|any|can|could|would|will|how|what|when|"
                             r"why|who|where|ever)\b", re.I)


class Finding(BaseModel):
    kind: FindingKind
    segment_id: int
    speaker: str
    text: str  # the matched span, verbatim
    value: str = ""  # normalised (digits only for money/phone, lower case otherwise)
    # screens
    answer_id: int | None = None
    answer_speaker: str | None = None
    polarity: Polarity | None = None
    concepts: list[str] = []
    # leave-out requests / injections: the whole sentence that carries the request
    sentence: str = ""


def _spans(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    return [m for m in pattern.finditer(text) if m.group(0).strip()]


def _merge_adjacent(matches: list[re.Match[str]], text: str) -> list[tuple[int, int]]:
    """`Thursday 20 March` + `at 4pm` -> one span when only a few linking characters separate them."""
    spans: list[tuple[int, int]] = []
    for m in sorted(matches, key=lambda m: m.start()):
        s, e = m.start(), m.end()
        if spans and s - spans[-1][1] <= 4 and re.fullmatch(r"[\s,]*(?:at|by|the)?[\s,]*", text[spans[-1][1]:s]):
            spans[-1] = (spans[-1][0], max(e, spans[-1][1]))
        elif spans and s < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(e, spans[-1][1]))
        else:
            spans.append((s, e))
    return spans


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def find_patterns(segment: Segment) -> list[Finding]:
    out: list[Finding] = []
    text = segment.text
    for m in _spans(_MONEY, text):
        out.append(Finding(kind="money", segment_id=segment.id, speaker=segment.speaker, text=m.group(0).strip(),
                           value=digits(m.group(0).split(".")[0])))
    for m in _spans(_MONEY_WORDS, text):
        value = words_to_number(m.group(0))
        if value:
            out.append(Finding(kind="money", segment_id=segment.id, speaker=segment.speaker, text=m.group(0).strip(),
                               value=str(value)))
    money_spans = [(m.start(), m.end()) for m in _MONEY.finditer(text)]
    for m in _spans(_PHONE, text):
        if any(s <= m.start() < e for s, e in money_spans):
            continue
        out.append(Finding(kind="phone", segment_id=segment.id, speaker=segment.speaker, text=m.group(0).strip(),
                           value=digits(m.group(0))))
    for s, e in _merge_adjacent(_spans(_DATE, text), text):
        span = re.sub(r"^(?:on|at|by|from|until)\s+", "", text[s:e].strip(" ,"), flags=re.I)
        if not span or span.lower() in {"on", "at", "by"}:
            continue
        out.append(Finding(kind="date", segment_id=segment.id, speaker=segment.speaker, text=span,
                           value=span.lower()))
    for m in _spans(_DOSE, text):
        out.append(Finding(kind="dose", segment_id=segment.id, speaker=segment.speaker, text=m.group(0).strip(),
                           value=m.group(0).lower().replace(" ", "")))
    patterns = lexicons.high_risk()._patterns
    police = patterns.get("police")
    if police is not None and (m := police.search(text)):
        out.append(Finding(kind="police", segment_id=segment.id, speaker=segment.speaker, text=m.group(0),
                           value="police"))
    for concept in HARM_CONCEPTS:
        pattern = patterns.get(concept)
        if pattern is not None and (m := pattern.search(text)):
            out.append(Finding(kind="harm", segment_id=segment.id, speaker=segment.speaker, text=m.group(0),
                               value=concept))
    return out


def is_question(text: str) -> bool:
    last = sentences(text)[-1] if text.strip() else ""
    return last.endswith("?") or bool(_QUESTION_START.match(last) and len(last.split()) <= 25 and
                                      not last.endswith("."))


def answer_polarity(text: str) -> Polarity:
    low = " ".join(text.lower().replace("’", "'").split())
    c = lexicons.cues()
    first = re.sub(r"^[^a-z]+", "", low)
    if lexicons.phrase_pattern(c["denial_phrases"]).search(low):
        return "denied"
    for start in sorted(c["denial_starts"], key=len, reverse=True):
        if re.match(rf"{re.escape(start)}\b", first):
            # "No, but sometimes I think about it" is not a clean denial: the worker must read it.
            return "unclear" if re.match(rf"{re.escape(start)}\W+but\b", first) else "denied"
    for start in sorted(c["affirm_starts"], key=len, reverse=True):
        if re.match(rf"{re.escape(start)}\b", first):
            return "disclosed"
    return "unclear"


def _screen_pattern() -> re.Pattern[str]:
    c = lexicons.cues()
    hr = lexicons.high_risk().concepts
    return lexicons.phrase_pattern(list(c.get("screen_terms", [])) + hr.get("suicide", []) + hr.get("self_harm", []))


def find_screens(transcript: Transcript, cast: Cast) -> list[Finding]:
    """A worker's question about self-harm or suicide, paired with the next turn of someone else."""
    out: list[Finding] = []
    pattern = _screen_pattern()
    segs = transcript.segments
    for i, seg in enumerate(segs):
        if cast.worker and cast.name_of(seg.speaker) != cast.worker and not cast.single_author:
            continue
        asked = [s for s in sentences(seg.text) if pattern.search(s) and (s.endswith("?") or is_question(s))]
        if not asked:
            continue
        question = asked[-1]
        answer = next((s for s in segs[i + 1:i + 4] if s.speaker != seg.speaker), None)
        if answer is None and len(transcript.speakers()) == 1 and i + 1 < len(segs):
            # Speakers not told apart (a recording that was not diarised): the reply is most likely the next
            # segment. Saying "no answer was recorded" would be false; code cannot know who said it.
            answer = segs[i + 1]
        concepts = sorted(lexicons.high_risk().concepts_in(question) & {"suicide", "self_harm"})
        if answer is None:
            out.append(Finding(kind="screen", segment_id=seg.id, speaker=seg.speaker, text=question,
                               polarity="no_answer", concepts=concepts))
            continue
        out.append(Finding(kind="screen", segment_id=seg.id, speaker=seg.speaker, text=question,
                           answer_id=answer.id, answer_speaker=answer.speaker,
                           polarity=answer_polarity(answer.text), concepts=concepts))
    return out


def find_requests(transcript: Transcript, cast: Cast) -> list[Finding]:
    """Prompt injections (anyone) and requests to leave things out (anyone but the worker), by sentence."""
    c = lexicons.cues()
    injection = [re.compile(p, re.I) for p in c.get("injection_patterns", [])]
    leave_out = [re.compile(p, re.I) for p in c.get("leave_out_patterns", [])]
    out: list[Finding] = []
    for seg in transcript.segments:
        is_worker = cast.worker is not None and cast.name_of(seg.speaker) == cast.worker
        for sent in sentences(seg.text):
            norm = sent.replace("’", "'")
            if any(p.search(norm) for p in injection):
                out.append(Finding(kind="injection", segment_id=seg.id, speaker=seg.speaker, text=sent, sentence=sent))
            elif not is_worker and any(p.search(norm) for p in leave_out):
                out.append(Finding(kind="leave_out", segment_id=seg.id, speaker=seg.speaker, text=sent, sentence=sent))
    return out


def detect(transcript: Transcript, cast: Cast) -> list[Finding]:
    findings: list[Finding] = []
    for seg in transcript.segments:
        findings.extend(find_patterns(seg))
    findings.extend(find_screens(transcript, cast))
    findings.extend(find_requests(transcript, cast))
    return findings


REDACTED = "[a request about what to write in the record; kept aside for the worker]"


def redacted_texts(transcript: Transcript, findings: list[Finding]) -> dict[int, str]:
    """Segment id -> text with request/injection sentences replaced, for the prompt only."""
    out: dict[int, str] = {}
    for f in findings:
        if f.kind not in ("leave_out", "injection"):
            continue
        seg = transcript.segment(f.segment_id)
        if seg is None:
            continue
        text = out.get(f.segment_id, seg.text)
        out[f.segment_id] = text.replace(f.sentence, REDACTED)
    for sid, text in out.items():  # collapse repeats
        out[sid] = re.sub(rf"(?:{re.escape(REDACTED)}\s*)+", REDACTED + " ", text).strip()
    return out
