"""Stage 5: deterministic verification of every proposed statement (no LLM).

Checks, each a plain function of the statement and its cited segments:
- evidence ids exist (else `invalid_evidence`);
- support score: share of the statement's content words found in the cited segments, combined with the
  agreement of numbers, dates, medicines and names (a missing number or medicine caps the score below the
  threshold): weak support -> `unsupported`;
- a person named in the statement must be a participant or appear in a cited segment (`unknown_person`);
- a high-risk concept (lexicon with synonyms) absent from the cited segments -> `high_risk_unverified`;
- polarity: a positive assertion resting on a denial, or on a bare question -> `polarity_mismatch`.
Flagged statements stay in the record for review and are left out of exports until a person keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from pydantic import BaseModel

from assistant import lexicons
from assistant.drafting.detectors import answer_polarity, is_question
from assistant.drafting.participants import Cast, Person
from assistant.records import (
    FLAG_AGENT,
    FLAG_BAD_EVIDENCE,
    FLAG_HIGH_RISK,
    FLAG_MISATTRIBUTED,
    FLAG_POLARITY,
    FLAG_TRUNCATED,
    FLAG_UNKNOWN_PERSON,
    FLAG_UNSUPPORTED,
    Statement,
)
from assistant.text import NUMBER_WORDS, STOPWORDS, medicines_in, sentences, stem
from assistant.transcript import Segment, Transcript

SUPPORT_THRESHOLD = 0.5

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,:]\d+)*")
_NUMBER_WORDS = {w: str(n) for w, n in NUMBER_WORDS.items()} | {
    "twice": "2", "once": "1", "half": "0.5", "first": "1", "second": "2", "third": "3"}
_CALENDAR = frozenset("monday tuesday wednesday thursday friday saturday sunday january february march april may "
                      "june july august september october november december christmas easter".split())
# Capitalised words that are not people.
_NOT_NAMES = frozenset("i i'm i've i'll i'd gp nhs a&e uk ok camhs dsl senco pc dc ds sgt mash itu icu mri ct ecg "
                       "ekg bp covid english british god council school police".split())


def words(text: str) -> list[str]:
    return [m.group(0).strip("'’-") for m in _WORD.finditer(text)]


def content_tokens(text: str) -> set[str]:
    out: set[str] = set()
    for w in words(text):
        low = w.lower()
        if not low or low in STOPWORDS or low in _NUMBER_WORDS or low.replace("'", "’") in STOPWORDS:
            continue
        if low.endswith("n't") or low in {"not", "no", "never"}:
            continue  # negations are compared separately
        if any(ch.isdigit() for ch in low):
            continue  # numbers are compared separately
        out.add(stem(low))
    return out


def numbers(text: str) -> set[str]:
    found: set[str] = set()
    for w in words(text):
        low = w.lower()
        if low in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[low])
        elif low[0].isdigit():
            n = low.replace(",", "")
            n = re.sub(r"(st|nd|rd|th)$", "", n)
            found.add(n.rstrip(".0") if "." in n and n.endswith(".0") else n)
    # 4pm / 3:30 / £640 come through as digits already; times "4:30" also count their hour
    for m in re.finditer(r"\b(\d{1,2}):(\d{2})\b", text):
        found.add(m.group(1))
    return found


def _calendar(text: str) -> set[str]:
    return {w.lower() for w in words(text) if w.lower() in _CALENDAR}


@cache
def _negation_pattern() -> re.Pattern[str]:
    words_ = [w for w in lexicons.cues().get("negations", []) if w != "n't"]
    return re.compile(lexicons.phrase_pattern(words_).pattern + r"|n['’]t\b", re.I)


def is_negated(text: str) -> bool:
    return bool(_negation_pattern().search(text))


def name_candidates(text: str) -> set[str]:
    """Capitalised words that could be people's names (not sentence-initial common words)."""
    out: set[str] = set()
    for sent in re.split(r"(?<=[.!?:;])\s+|\"", text):
        toks = words(sent)
        for i, tok in enumerate(toks):
            if not tok[:1].isupper() or tok.isupper() and len(tok) <= 4:
                continue
            low = tok.lower()
            if low in STOPWORDS or low in _NOT_NAMES or low in _CALENDAR or low in _NUMBER_WORDS:
                continue
            if i == 0 and low in _COMMON_INITIAL:
                continue
            out.add(tok.replace("’", "'").removesuffix("'s"))
    return out


_COMMON_INITIAL = frozenset("""
agreed asked both child children dad father grandmother grandfather her his husband mother mum nan no parent
parents partner patient plan school she sister son daughter teacher worker brother aunt uncle family home
police social housing rent there they this he we it the a an on in at worried concerns concern next review
discussed explained reported spoke visited said wife baby carer neighbour friend doctor gp nurse officer
""".split())


class Evidence(BaseModel):
    """The cited segments, prepared once per statement."""

    text: str
    tokens: set[str]
    numbers: set[str]
    calendar: set[str]
    medicines: set[str]
    names: set[str]  # lower-case words of the cited text plus the speakers' names, roles and relationships
    concepts: set[str]
    segments: list[Segment]
    before: dict[int, list[Segment]] = {}  # segment id -> the lines just before it (what "he" may point back to)


def gather_evidence(segments: list[Segment], cast: Cast, transcript: Transcript | None = None) -> Evidence:
    text = " ".join(s.text for s in segments)
    who: list[str] = []
    for s in segments:
        person = cast.by_speaker(s.speaker)
        who.append(s.speaker)
        if person is not None:
            # Not the relationship: "mother of Kai" would let "Kai feels low" pass on the mother's words.
            who.extend([person.name, person.role])
    who_text = " ".join(who)
    return Evidence(
        text=text,
        tokens=content_tokens(text) | content_tokens(who_text),
        numbers=numbers(text),
        calendar=_calendar(text),
        medicines=medicines_in(text),
        names={w.lower() for w in words(text + " " + who_text)},
        concepts=lexicons.high_risk().concepts_in(text),
        segments=segments,
        before={s.id: _lines_before(transcript, s.id) for s in segments} if transcript is not None else {},
    )


CONTEXT_LINES = 3


def _lines_before(transcript: Transcript, segment_id: int) -> list[Segment]:
    ids = [s.id for s in transcript.segments]
    at = ids.index(segment_id) if segment_id in ids else 0
    return transcript.segments[max(0, at - CONTEXT_LINES):at]


def support_score(statement_text: str, ev: Evidence) -> float:
    toks = content_tokens(statement_text)
    overlap = len(toks & ev.tokens) / len(toks) if toks else 0.0
    keys_total = 0
    keys_ok = 0
    capped = False
    for have, need in ((ev.numbers, numbers(statement_text)), (ev.calendar, _calendar(statement_text)),
                       (ev.medicines, medicines_in(statement_text))):
        keys_total += len(need)
        keys_ok += len(need & have)
        if need - have:
            capped = True  # a number, date or medicine not said in the cited segments
    score = overlap if keys_total == 0 else 0.5 * overlap + 0.5 * keys_ok / keys_total
    if capped:
        score = min(score, SUPPORT_THRESHOLD - 0.05)
    return round(score, 3)


def unknown_people(statement_text: str, ev: Evidence, cast: Cast) -> set[str]:
    known = {w.lower() for p in cast.people for w in words(f"{p.name} {p.role} {p.relationship} {p.speaker or ''}")}
    return {n for n in name_candidates(statement_text)
            if n.lower() not in known and n.lower() not in ev.names and stem(n) not in ev.tokens}


_ASKED = frozenset({"asked", "asks", "question", "questioned", "enquired", "wondered"})


def polarity_problem(statement_text: str, kind: str, ev: Evidence) -> bool:
    """True when the statement asserts what its evidence denies, denies what it affirms, or rests only on a
    question. Only answers to a cited question are judged, and only when the statement is on the question's
    topic (shares a content word with the question that the answer does not repeat)."""
    if kind == "quote":
        return False
    stmt_words = {w.lower() for w in words(statement_text)}
    if all(is_question(s.text) for s in ev.segments):
        return not (_ASKED & stmt_words)
    negated = is_negated(statement_text)
    stmt_toks = content_tokens(statement_text)
    for i, seg in enumerate(ev.segments):
        if is_question(seg.text):
            continue
        prev_q = next((q for q in reversed(ev.segments[:i]) if is_question(q.text)), None)
        if prev_q is None:
            continue
        names = {stem(n) for n in name_candidates(prev_q.text)}
        topic = content_tokens(prev_q.text) - content_tokens(seg.text) - names
        if not stmt_toks & topic:
            continue
        polarity = answer_polarity(seg.text)
        if (polarity == "denied" and not negated) or (polarity == "disclosed" and negated):
            return True
    return False


_ROLE_SYNONYMS = {"mother": "mum", "mum": "mother", "father": "dad", "dad": "father", "grandmother": "nan",
                  "nan": "grandmother"}
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|me|my|myself|mine)\b", re.I)
_THIRD_PERSON = re.compile(r"\b(?:he|she|him|her|his|hers|they|them|their|he's|she's|they're|himself|herself)\b",
                           re.I)


def misattributed(statement_text: str, ev: Evidence, cast: Cast) -> bool:
    """The first participant named in the statement is not a cited speaker, is not mentioned in the cited
    text, and every cited turn speaks only in the first person: the speaker's own state given to another."""
    named = [n for n in name_candidates(statement_text) if cast.by_name(n) or cast.by_speaker(n)]
    if not named:
        return False
    order = sorted(named, key=lambda n: statement_text.find(n))
    person = cast.by_name(order[0]) or cast.by_speaker(order[0])
    if person is None:
        return False
    speakers = {s.speaker for s in ev.segments}
    if person.speaker in speakers:
        return False
    roles = {p.role.lower() for p in (cast.by_speaker(sp) for sp in speakers) if p is not None and p.role}
    roles |= {_ROLE_SYNONYMS.get(r, r) for r in roles}
    m = re.search(rf"\b{re.escape(order[0])}['’]s\s+(\w+)", statement_text)
    if m and m.group(1).lower() in roles:  # "Kai's mother feels low" on the mother's words is right
        return False
    first = person.name.split()[0].lower()
    said = {w.lower().replace("’", "'").removesuffix("'s") for w in words(ev.text)}
    if first in said or (person.role and person.role.lower() in ev.text.lower()):
        return False
    turns = [s for s in ev.segments if not is_question(s.text)] or ev.segments
    return all(_FIRST_PERSON.search(s.text) and not _THIRD_PERSON.search(s.text) for s in turns)


_DESCRIBED_AS = re.compile(r"\bdescribed as\b", re.I)


def describer_described(text: str, ev: Evidence, cast: Cast) -> bool:
    """"Irene is a victim, described as young, white, thin" on Irene's own words: the person who gives a
    description is not the one described. Only the passive "described as" about someone who speaks in the
    cited lines, with no verb of saying between them ("Irene said the man was described as" is left alone)."""
    m = _DESCRIBED_AS.search(text)
    person = _actor_at_start(text, cast) if m else None
    if m is None or person is None or person.speaker not in {s.speaker for s in ev.segments}:
        return False
    return not any(w.lower() in _REPORTING for w in words(text[:m.start()]))


# A note may say what someone thought or guessed only when they did: the small model adds its own reading of
# the lines ("which may suggest a heart problem", "consistent with an adhesive allergy").
_INFERENCE = re.compile(r"\b(?:consistent with|suggest(?:s|ed|ing|ive)?|indicat(?:es|ed|ing|ive)|likely|probabl[ey]|"
                        r"possibl[ey]|(?:may|might|could) (?:be|have|indicate|mean)|a sign of|points? to)\b", re.I)
_HEDGED = re.compile(r"\b(?:think|thinks|thought|suggest\w*|indicat\w*|consistent|likely|probabl[ey]|possibl[ey]|"
                     r"maybe|perhaps|may|might|could|sounds? like|looks? like|seems?|sign|suspect\w*|wonder\w*|"
                     r"guess|reckon|query)\b", re.I)


def inference_unsaid(text: str, ev: Evidence) -> bool:
    """The statement infers or guesses ("suggests", "consistent with", "may be") where its lines neither guess
    nor infer anything: the model's reading, not what was said."""
    return bool(_INFERENCE.search(text)) and not _HEDGED.search(ev.text)


def high_risk_unsupported(text: str, ev: Evidence) -> set[str]:
    """High-risk concepts in the statement that its cited segments do not carry (as any synonym of the
    concept, or as the same word stem: "kicked" is supported by "kicking")."""
    hr = lexicons.high_risk()
    missing = hr.concepts_in(text) - ev.concepts
    out: set[str] = set()
    for concept in missing:
        pattern = hr._patterns[concept]
        stems = {stem(w) for m in pattern.finditer(text) for w in words(m.group(0))}
        if not stems or not stems <= ev.tokens:
            out.add(concept)
    return out


_ROLE_WORDS = {"mother": ["mother", "mum", "mom"], "father": ["father", "dad"], "child": ["child", "son", "daughter",
               "boy", "girl"], "patient": ["patient"], "social worker": ["social worker", "worker"]}


def referenced_people(text: str, cast: Cast) -> set[str]:
    """Participants a text refers to, by name (full or first) or by role word ("the child", "mum")."""
    found: set[str] = set()
    low = text.lower()
    for p in cast.people:
        parts = [p.name] + ([p.name.split()[0]] if " " in p.name else [])
        if any(re.search(rf"\b{re.escape(n)}\b", text) for n in parts if n):
            found.add(p.name)
            continue
        roles = _ROLE_WORDS.get(p.role.lower(), [p.role.lower()] if p.role else [])
        if any(re.search(rf"\b{re.escape(r)}\b", low) for r in roles if r):
            found.add(p.name)
    return found


def verify_statement(statement: Statement, transcript: Transcript, cast: Cast) -> Statement:
    flags = [f for f in statement.flags if f not in _OWN_FLAGS]
    segs = [transcript.segment(i) for i in statement.evidence]
    found = [s for s in segs if s is not None]
    if not statement.evidence or len(found) != len(statement.evidence):
        flags.append(FLAG_BAD_EVIDENCE)
    if not found:
        return statement.model_copy(update={"support": 0.0, "flags": _dedupe([*flags, FLAG_UNSUPPORTED])})
    ev = gather_evidence(found, cast, transcript)
    text = statement.text
    score = support_score(text, ev)
    if statement.kind == "quote" and _quoted_verbatim(text, ev.text):
        score = max(score, 1.0)
    if score < SUPPORT_THRESHOLD or (statement.kind != "quote" and inference_unsaid(text, ev)):
        flags.append(FLAG_UNSUPPORTED)
    if unknown_people(text, ev, cast):
        flags.append(FLAG_UNKNOWN_PERSON)
    elif misattributed(text, ev, cast) or describer_described(text, ev, cast):
        flags.append(FLAG_MISATTRIBUTED)
    if high_risk_unsupported(text, ev):
        flags.append(FLAG_HIGH_RISK)
    if polarity_problem(text, statement.kind, ev) or (statement.kind != "quote" and medicine_ruled_out(text, ev)):
        flags.append(FLAG_POLARITY)
    if statement.kind != "quote" and not agent_supported(text, ev, cast):
        flags.append(FLAG_AGENT)
    if statement.kind != "quote" and truncated(text):
        flags.append(FLAG_TRUNCATED)
    return statement.model_copy(update={"support": score, "flags": _dedupe(flags)})


# "instead" alone marks the medicine chosen ("doxycycline instead"); "instead of X" rules X out.
_RULED_OUT = re.compile(r"\b(?:won't|will not|wouldn't|not going to|don't want|shouldn't|stop(?:s|ped|ping)?|"
                        r"avoid(?:s|ed|ing)?|ruled out)\b", re.I)
_INSTEAD_OF = re.compile(r"\b(?:instead of|rather than)\s+([A-Za-z-]+)", re.I)
# A sentence's clauses: "He will give amoxicillin, but not penicillin" gives amoxicillin plainly although
# the sentence as a whole holds a "not".
_CLAUSE = re.compile(r"[,;:]|\b(?:but|however|although|whereas)\b", re.I)


def medicine_ruled_out(text: str, ev: Evidence) -> bool:
    """A medicine the sentence gives plainly, in a clause without a negation, that its lines rule out, stop or
    replace ("Normally I'd give amoxicillin, but that's a penicillin, so we won't use that. I'm going to give
    you doxycycline instead")."""
    named = medicines_in(text)
    ruled: set[str] = set()
    for seg in ev.segments if named else []:
        for sent in sentences(seg.text):
            if _RULED_OUT.search(sent):
                ruled |= medicines_in(sent) & named
            ruled |= {m.group(1).lower() for m in _INSTEAD_OF.finditer(sent)} & named
    return any(medicines_in(clause) & ruled and not (is_negated(clause) or _RULED_OUT.search(clause)
                                                  or _INSTEAD_OF.search(clause))
               for clause in _CLAUSE.split(text))


_OWN_FLAGS = {FLAG_BAD_EVIDENCE, FLAG_UNSUPPORTED, FLAG_UNKNOWN_PERSON, FLAG_HIGH_RISK, FLAG_POLARITY,
              FLAG_MISATTRIBUTED, FLAG_AGENT, FLAG_TRUNCATED}

_DANGLING = frozenset("a an the and or but to of with for from his their my your our".split())  # "her" can end one


def truncated(text: str) -> bool:
    """Cut off mid-sentence: no closing punctuation, or a last word that cannot end a sentence."""
    body = text.rstrip()
    if not body or body[-1] not in ".!?\"'”)":
        return True
    last = re.findall(r"[A-Za-z']+", body[-40:])
    return bool(last) and last[-1].lower() in _DANGLING


# --- who does what --------------------------------------------------------------------------------------------

_AUX = frozenset("will would shall should must can could may might has have had was were is are be been being did "
                 "does do also then now still just not never already going to used wants want needs need plans plan "
                 "'ll".split())
_REPORTING = frozenset("said says told tells explained explains reported reports described describes mentioned "
                       "mentions stated states confirmed confirms answered answers replied replies asked asks "
                       "added adds shared shares denied denies agreed agrees".split())
_SUBJECT_WINDOW = 4


def _actor_at_start(text: str, cast: Cast) -> Person | None:
    """The participant a sentence opens with ("Kerry will...", "Priya Shah will...", "Mum said..."); not one
    the sentence only opens with the possessive of ("Kerry's ex-partner...")."""
    low = text.lower()
    best: tuple[int, Person] | None = None
    for p in cast.people:
        forms = [p.name, p.name.split()[0]] if p.name.strip() else []
        forms += _ROLE_WORDS.get(p.role.lower(), [p.role.lower()] if p.role else [])
        for form in forms:
            m = re.match(rf"(?:the\s+)?{re.escape(form.lower())}\b(?!['’]s\b)", low)
            if m and (best is None or m.end() > best[0]):
                best = (m.end(), p)
    return best[1] if best else None


def _main_verb(text: str, person: Person) -> str | None:
    rest = re.sub(rf"^(?:the\s+)?(?:{re.escape(person.name)}|{re.escape(person.name.split()[0])}|"
                  rf"{re.escape(person.role or person.name)})(?:['’]s)?\s*", "", text, flags=re.I)
    for w in words(rest)[:6]:
        low = w.lower()
        if low not in _AUX and low.isalpha():
            return low
    return None


def _subject_of(seg: Segment, start: int, cast: Cast, addressees: set[str],
                before: Sequence[Segment] = ()) -> set[str] | None:
    """Who does the verb that starts at `start` in the segment: the speaker for I/we, the people spoken to for
    you, the person named; for he/she the last person named before it (in the line, else in the lines just
    before) who is not the speaker, else anyone but the speaker; for they anyone but the speaker. None when it
    cannot be told."""
    head = seg.text[:start]
    for m in reversed(list(_WORD.finditer(head))[-_SUBJECT_WINDOW:]):
        w = m.group(0).strip("'’-")
        low = w.lower().replace("’", "'")
        if low in ("i", "i'm", "i've", "i'll", "i'd", "we", "we'll", "we're", "we've"):
            return {seg.speaker}
        if low in ("you", "you'll", "you're", "you've"):
            return addressees
        others = {p.speaker or p.name for p in cast.people if p.speaker != seg.speaker} or None
        if low in ("he", "she", "he'll", "she'll", "he's", "she's", "he'd", "she'd"):
            texts = [x.text for x in before] + [head[:m.start()]]
            return _antecedent(texts, seg.speaker, cast) or others
        if low in ("they", "they'll", "they're"):
            return others
        person = cast.by_name(w) or next((p for p in cast.people if p.name.split()[0] == w), None)
        if person is not None:
            return {person.speaker or person.name}
        if w in name_candidates(seg.text):  # someone named who is not a participant ("my ex Dean came")
            return {w}
    return None


# A name used to speak to someone ("Tyler, can I ask you...", "Thank you, Tyler."), not about them.
_VOCATIVE_AFTER = re.compile(r"^\s*,")
_VOCATIVE_BEFORE = re.compile(r"(?:^|[.!?]\s+|\b(?:hi|hiya|hello|thanks|thank you|bye|love)\W*|,\s*)$", re.I)


def _antecedent(texts: Sequence[str], speaker: str, cast: Cast) -> set[str] | None:
    """The last person named in `texts` (read in order) who is not `speaker` and is not being spoken to."""
    for text in reversed(texts):
        found: list[tuple[int, str]] = []
        candidates = name_candidates(text)
        for m in _WORD.finditer(text):
            w = m.group(0).strip("'’-").removesuffix("'s").removesuffix("’s")
            person = cast.by_name(w) or next((p for p in cast.people if p.name.split()[0] == w), None)
            who = (person.speaker or person.name) if person is not None else (w if w in candidates else None)
            if who is None or who == speaker:
                continue
            after, ahead = text[m.end():], text[:m.start()]
            at_start = _VOCATIVE_BEFORE.search(ahead) is not None
            if at_start and (_VOCATIVE_AFTER.match(after) or re.match(r"^\s*[.!?]", after)):
                continue
            found.append((m.start(), who))
        if found:
            return {found[-1][1]}
    return None


_QUOTATION = re.compile(r"[^\"“:]{0,60}:\s*[\"“]")


def agent_supported(text: str, ev: Evidence, cast: Cast) -> bool:
    """"A will do X", "A did X to B", "A feels X" must rest on a line in which A is the one who acts: A says "I
    ..." with that verb, is named doing it, or is spoken to ("you'll ..."). A sentence that opens with no
    participant, or whose verb its lines do not use, is judged by who speaks or is named in them."""
    person = _actor_at_start(text, cast)
    if person is None:
        return True
    me = person.speaker or person.name
    speakers = {s.speaker for s in ev.segments}
    named = any(re.search(rf"\b{re.escape(person.name.split()[0])}\b", s.text) for s in ev.segments)
    verb = _main_verb(text, person)
    if verb in _REPORTING:
        # "Kerry said Tyler kicked the door": the reported clause's own agent is checked too.
        clause = re.search(rf"\b{verb}\b(?:\s+that)?[\s:,]+(.*)$", text, re.I)
        inner = clause.group(1) if clause else ""
        other = _actor_at_start(inner, cast) if inner else None
        # 'Priya asked Kerry: "Have you had any thoughts..."' quotes Kerry's words: no action of hers to check.
        quoted = _QUOTATION.match(inner) is not None
        if other is not None and other.name != person.name and not quoted and \
                _agent_contradicted(inner, other, ev, cast):
            return False
    if verb is None or verb in _REPORTING:
        return me in speakers or named or person.name == cast.worker
    subjects = _subjects(verb, ev, cast)
    if not subjects:
        return me in speakers or named
    return any(s is None or me in s for s in subjects)


def _subjects(verb: str, ev: Evidence, cast: Cast) -> list[set[str] | None]:
    """Who does `verb` wherever the cited lines use it (None: cannot be told)."""
    root = stem(verb)
    subjects: list[set[str] | None] = []
    for seg in ev.segments:
        addressees = {s.speaker for s in ev.segments if s.speaker != seg.speaker}
        for m in _WORD.finditer(seg.text):
            if stem(m.group(0)) == root and len(root) > 2:
                subjects.append(_subject_of(seg, m.start(), cast, addressees, ev.before.get(seg.id, [])))
    return subjects


def _agent_contradicted(clause: str, person: Person, ev: Evidence, cast: Cast) -> bool:
    """A reported clause ("... said Tyler kicked the door") whose verb the cited lines give, every time, to
    someone else: only positive evidence counts against it."""
    verb = _main_verb(clause, person)
    if verb is None or verb in _REPORTING:
        return False
    subjects = _subjects(verb, ev, cast)
    me = person.speaker or person.name
    return bool(subjects) and all(s is not None and me not in s for s in subjects)


def _quoted_verbatim(text: str, evidence_text: str) -> bool:
    quotes = re.findall(r"\"([^\"]{3,})\"", text)
    norm = " ".join(evidence_text.split()).lower()
    return bool(quotes) and all(" ".join(q.split()).lower().strip(" .") in norm for q in quotes)


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


_PLEASANTRY = re.compile(r"\b(?:thanks?|thank you|thanked|cheers|hello|hi|hiya|bye|goodbye|see you|take care|"
                         r"lovely|nice to (?:see|meet)|sorry|no worries|welcome|okay|ok|alright|"
                         r"helps? to have a plan)\b", re.I)


# "Helen asks if Graham still takes ramipril." reports a question and no answer; "Laura asked if Irene was
# hurt, and she said no." carries its answer, and "Priya asked if Jason was there, and it's been recorded as a
# domestic incident" a fact in its second clause: both are notes.
_ASKED_ONLY = re.compile(r"^(?:\S+\s+){1,3}(?:asks|asked|is asking|was asking|wonders|wondered|enquires|enquired)"
                         r"\s+(?:if|whether|about|how|what|when|where|who|why)\b", re.I)
_ANSWERED = re.compile(r"\b(?:said|says|answered|answers|replied|replies|confirmed|confirms|reported|reports|"
                       r"told|agreed|agrees|denied|denies|explained|explains|advised|advises|suggested|"
                       r"recommended)\b", re.I)


_SPEAKERS_WORDS = re.compile(r"\b(?:I|I'm|I've|I'll|I'd|me|my|myself|we|we're|we'll|us|our|you|you're|you'll|your)\b",
                             re.I)


def in_speakers_words(text: str) -> bool:
    """First or second person outside quotation marks: a line copied, not a third-person note."""
    return bool(_SPEAKERS_WORDS.search(re.sub(r'"[^"]*"|“[^”]*”', " ", text)))


def not_a_note(text: str) -> bool:
    """A question (asked, or reported with no answer), or a pleasantry with at most one other content word
    besides names ("Kerry said thank you, it helps to have a plan."): not a statement for a record."""
    if text.rstrip().rstrip("\"'”)").endswith("?"):
        return True
    if _ASKED_ONLY.search(text) and not _ANSWERED.search(text) and not re.search(r"[,;:]", text):
        return True
    if not _PLEASANTRY.search(text):
        return False
    rest = " ".join(w for w in words(_PLEASANTRY.sub(" ", text)) if w[:1].islower())
    return len(content_tokens(rest)) <= 1
