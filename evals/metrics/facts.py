"""Fact-level metrics: fact recall and omissions (critical vs other), unsupported draft statements,
attribution and section-placement accuracy.

Gold facts come from a sample's `facts.json` where there is one; otherwise the gold note is split into
atomic statements (lines, then sentences, then clauses joined by ";"), headers dropped, and a statement
is *critical* when it names a medicine, a dose, an allergy or a safeguarding risk (see `is_critical`).

A gold fact is **matched** by a draft statement when their all-MiniLM-L6-v2 cosine similarity reaches
the threshold **and** the details agree exactly: every number, medicine and date in the fact appears in
the draft statement, and both are negated or neither is. A fact whose best similar statement fails a
detail check is a **correction** (the worker must fix it); a fact with no similar statement at all is an
**omission** (the worker must add it). Similarity alone would happily match "takes 20 mg" to
"takes 40 mg" or "denies chest pain" to "reports chest pain"; the exact checks are what make the match
mean "the fact is there and right".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from assistant import text as shared
from assistant.text import NUMBER_WORDS, snowball_stem, written_sentences

if TYPE_CHECKING:
    from assistant.records import CaseRecord
    from evals.metrics.semantic import Embedder

DEFAULT_THRESHOLD = 0.6  # cosine; MiniLM paraphrases of one clinical fact score ~0.6-0.9, topic neighbours ~0.3-0.5


class Fact(BaseModel):
    id: str
    text: str
    about: str = ""
    critical: bool = False
    statements: list[str] = Field(default_factory=list, description="gold statement ids this fact rests on")


# --- splitting notes into atomic statements ----------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[•*\-–]|\d+[.)])\s+")
_HEADER_LINE = re.compile(r"^[A-Z][A-Z0-9 &/,()'-]{1,60}:?$")


def _is_header(line: str) -> bool:
    words = line.split()
    if not words or len(words) > 7:
        return False
    if _HEADER_LINE.match(line) and any(c.isalpha() for c in line):
        return True
    return line.endswith(":") and len(words) <= 5


def atomic_statements(note: str) -> list[str]:
    """Split a note into short statements: lines, then sentences, then `;` clauses; headers dropped."""
    out: list[str] = []
    for raw in note.replace("\r", "\n").split("\n"):
        line = _BULLET.sub("", raw).strip()
        if not line or _is_header(line):
            continue
        for sent in written_sentences(line):
            for clause in sent.split("; "):
                clause = clause.strip(" ;")
                if len(re.findall(r"[A-Za-z0-9]+", clause)) >= 2:
                    out.append(clause)
    return out


# --- exact details: numbers, medicines, dates, negation ----------------------------------------------

_DRUG_STEMS = re.compile(
    r"\b[a-z]{3,}(?:pril|olol|sartan|statin|prazole|cillin|mycin|cycline|floxacin|dipine|xaban|gliptin|"
    r"gliflozin|triptan|tidine|oxetine|zepam|azolam|codone|olone|isone|afil|mab|nib|vir)\b"
)
_NUMBER_WORDS = {**NUMBER_WORDS, "twice": 2}
_NOT_COUNT_BEFORE = frozenset({"no", "any", "every", "some", "the", "this", "that", "which", "each", "anyone"})
_NOT_COUNT_AFTER = frozenset({"of", "another", "else", "thing", "day"})
# "may" is left out: in notes it is nearly always the verb.
_DATE_WORDS = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april june july
    august september october november december today tomorrow yesterday tonight weekend""".split()
)
_NEGATION = re.compile(
    r"\b(?:no|not|never|denies|denied|deny|denying|without|nil|none|nothing|negative|neither|nor|cannot|"
    r"absent|unable|declined|refused|unless|nobody)\b|n't\b",
    re.IGNORECASE,
)
_RISK = re.compile(
    r"allerg|anaphyla|suicid|self[- ]?harm|overdose|abuse|neglect|violen|assault|weapon|knife|police|"
    r"safeguard|eviction|arrears|bailiff|debt|domestic|chest pain|bleeding|unconscious|seizure|"
    r"\d+(?:\.\d+)?\s*(?:mg|mcg|micrograms?|milligrams?|ml|units?|g)\b",
    re.IGNORECASE,
)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:[.'/-][a-z0-9]+)*", text.lower())


_CLOCK_HOURS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_CLOCK_MINUTES = {"five": 5, "ten": 10, "quarter": 15, "twenty": 20, "twenty-five": 25, "twenty five": 25, "half": 30}
_CLOCK = re.compile(r"\b(twenty[- ]five|twenty|quarter|ten|five|half)\s+(past|to)\s+(\d{1,2}|"
                    + "|".join(_CLOCK_HOURS) + r")\b", re.I)
_DURATIONS = ((re.compile(r"\b(?:a\s+)?quarter of an hour\b", re.I), "15 minutes"),
              (re.compile(r"\bhalf an hour\b", re.I), "30 minutes"))


def spoken_times(text: str) -> str:
    """Clock times and durations as said, in figures: "twenty to ten" -> "9:40", "a quarter of an hour" ->
    "15 minutes", so that a note's "9:40pm" and a transcript's "about twenty to ten" agree."""
    for pattern, figure in _DURATIONS:
        text = pattern.sub(figure, text)

    def clock(m: re.Match[str]) -> str:
        minutes = _CLOCK_MINUTES[m.group(1).lower().replace("-", " ")]
        raw = m.group(3).lower()
        hour = int(raw) if raw.isdigit() else _CLOCK_HOURS[raw]
        if m.group(2).lower() == "to":
            hour, minutes = (hour - 1) or 12, 60 - minutes
        return f"{hour}:{minutes:02d}"

    return _CLOCK.sub(clock, text)


def numbers_in(text: str) -> set[str]:
    """Numbers written with digits or as words ("twenty five" = 25, "£1,240" = 1240, "3/7" kept whole)."""
    lower = spoken_times(text).lower().replace(",", "")
    found: set[str] = set()
    for m in re.finditer(r"(?<![a-z])\d+(?:\.\d+)?(?:/\d+)?", lower):  # not the 2 of "SpO2"
        tok = m.group(0)
        if "/" not in tok and "." in tok:
            tok = str(float(tok)).rstrip("0").rstrip(".")
        found.add(tok)
    words = re.findall(r"[a-z]+", lower)
    value: int | None = None
    for i, w in enumerate([*words, ""]):
        n = _NUMBER_WORDS.get(w)
        # "no one", "one of", "the one": not a count
        if w == "one" and (
            (i > 0 and words[i - 1] in _NOT_COUNT_BEFORE) or (i + 1 < len(words) and words[i + 1] in _NOT_COUNT_AFTER)
        ):
            n = None
        if n is None:
            if value is not None:
                found.add(str(value))
            value = None
        elif w in {"hundred", "thousand"}:
            value = (value or 1) * n
        else:
            value = (value or 0) + n
    return found


def medicines_in(text: str) -> set[str]:
    """The medicine lexicon's names, and words that end like a drug class (-pril, -statin, ...)."""
    found = shared.medicines_in(text)
    found |= {m.group(0) for m in _DRUG_STEMS.finditer(text.lower())}
    return found


def dates_in(text: str) -> set[str]:
    lower = spoken_times(text).lower()
    found = {w.removesuffix("s") if w.removesuffix("s") in _DATE_WORDS else w for w in _words(lower)}
    found &= _DATE_WORDS
    found |= set(re.findall(r"\b\d{1,2}(?:st|nd|rd|th)\b", lower))
    found |= set(re.findall(r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b", lower))
    # Clock times without am/pm: "9:40pm" in a note is "twenty to ten" in the transcript.
    found |= set(re.findall(r"\b\d{1,2}:\d{2}(?!\d)", lower))
    found |= {h + ampm for h, ampm in re.findall(r"(?<![:\d])\b(\d{1,2})\s?(am|pm)\b", lower)}
    return found


def is_negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def is_critical(text: str) -> bool:
    """Heuristic critical flag for split-out gold statements (facts.json marks its own)."""
    return bool(medicines_in(text) or _RISK.search(text))


_CORRECTION_NOTE = re.compile(r"\(not [^)]*\)", re.I)


def detail_mismatches(fact: str, statement: str, clause: str | None = None) -> list[str]:
    """What the statement gets wrong or leaves out about the fact's exact details (empty when it agrees).

    Numbers, medicines and dates may sit anywhere in the statement; negation is compared with `clause`
    (the part of the statement that matched the fact) when given, because a long statement can hold a
    "no" that belongs to another of its sentences."""
    problems = []
    for kind, fn in (("number", numbers_in), ("medicine", medicines_in), ("date", dates_in)):
        missing = fn(fact) - fn(statement)
        if missing:
            problems.append(f"{kind}: {', '.join(sorted(missing))}")
    # "(not £1,254)" in a fact records a self-correction; it does not make the fact a denial.
    said = clause if clause is not None else statement
    if is_negated(_CORRECTION_NOTE.sub("", fact)) != is_negated(_CORRECTION_NOTE.sub("", said)):
        problems.append("negation")
    return problems


# --- fact alignment -----------------------------------------------------------------------------------

FactStatus = Literal["matched", "correction", "omission"]


class FactMatch(BaseModel):
    fact_id: str
    fact: str
    critical: bool
    status: FactStatus
    draft: str | None = None
    similarity: float = 0.0
    mismatches: list[str] = Field(default_factory=list)


class FactAlignment(BaseModel):
    threshold: float
    source: Literal["facts.json", "gold note"]
    matches: list[FactMatch]

    def _count(self, status: FactStatus, critical: bool | None = None) -> int:
        return sum(1 for m in self.matches if m.status == status and (critical is None or m.critical == critical))

    @property
    def n_facts(self) -> int:
        return len(self.matches)

    @property
    def n_critical(self) -> int:
        return sum(1 for m in self.matches if m.critical)

    def recall(self, critical: bool | None = None) -> float | None:
        pool = [m for m in self.matches if critical is None or m.critical == critical]
        return None if not pool else sum(m.status == "matched" for m in pool) / len(pool)

    def summary(self) -> dict[str, float | int | None]:
        return {
            "fact_source": self.source,  # type: ignore[dict-item]
            "n_facts": self.n_facts,
            "n_critical_facts": self.n_critical,
            "fact_recall": self.recall(),
            "critical_fact_recall": self.recall(True),
            "other_fact_recall": self.recall(False),
            "omissions": self._count("omission"),
            "omissions_critical": self._count("omission", True),
            "omissions_other": self._count("omission", False),
            "corrections": self._count("correction"),
            "corrections_critical": self._count("correction", True),
            "corrections_other": self._count("correction", False),
        }


def facts_from_note(note: str) -> list[Fact]:
    return [Fact(id=f"g{i + 1}", text=t, critical=is_critical(t)) for i, t in enumerate(atomic_statements(note))]


def statement_pieces(statement: str) -> list[str]:
    """A statement and, when it is long, its sentences and clauses: a short fact inside a long quoted turn
    ("Gareth: 'And vitamin D, yeah, one a day.'") scores low against the whole turn but high against its
    own clause."""
    pieces = [statement]
    parts = [p for p in atomic_statements(statement) if p != statement]
    if len(parts) > 1 or (parts and len(parts[0]) < len(statement) - 3):
        pieces.extend(parts)
    unquoted = re.sub(r"^[^:\"]{1,60}:\s*", "", statement).strip().strip('"“”')
    if unquoted and unquoted != statement and unquoted not in pieces:
        pieces.append(unquoted)
    return pieces


LEXICAL_MIN_TOKENS = 3
# A part of a compound fact is short, and MiniLM scores it lower against a statement that says it.
PART_MARGIN = 0.15


# Abbreviations gold facts use for what a draft spells out.
_ABBREVIATIONS = {"ot": "occupational therapist", "dfg": "disabled facilities grant", "hv": "health visitor",
                  "dsl": "designated safeguarding lead", "bp": "blood pressure", "spo2": "oxygen saturation",
                  "rr": "respiratory rate", "abh": "actual bodily harm", "uc": "universal credit",
                  "idva": "independent domestic violence advocate", "pip": "personal independence payment"}


@lru_cache(maxsize=65536)
def lexical_tokens(text: str) -> frozenset[str]:
    """Content-word stems (Snowball) and numbers (`numbers_in`) of a text, abbreviations spelt out."""
    words = []
    for w in re.findall(r"[a-z][a-z0-9']*", text.lower()):
        words.extend(_ABBREVIATIONS.get(w, w).split())
    stems = {snowball_stem(w) for w in words if w not in _STOPWORDS and len(w) > 2 and w not in _NUMBER_WORDS}
    return frozenset(stems | numbers_in(text))


def lexical_coverage(fact: str, statement: str) -> float:
    """Share of the fact's content words and numbers that the statement says (0 for facts under 3 of them).

    MiniLM scores a short fact full of numbers low against the statement that says it ("Rent arrears of
    £1,386.40" vs "Kerry said she owes £1,386.40 in rent arrears": 0.56); its own words are a surer sign."""
    need = lexical_tokens(fact)
    if len(need) < LEXICAL_MIN_TOKENS:
        return 0.0
    return len(need & lexical_tokens(statement)) / len(need)


def similarity(texts: Sequence[str], statements: Sequence[str], embedder: Embedder):  # type: ignore[no-untyped-def]
    """(sim, best_piece, pieces): sim[i, j] is the best of the cosine similarity of text i to statement j or to
    any of its sentences and clauses, and the lexical coverage of text i by statement j; best_piece[i, j] is the
    index in `pieces` of the piece that scored best (the whole statement when coverage won)."""
    import numpy as np

    pieces: list[str] = []
    owner: list[int] = []
    whole: list[int] = []
    for j, st in enumerate(statements):
        whole.append(len(pieces))
        for piece in statement_pieces(st):
            owner.append(j)
            pieces.append(piece)
    sim = np.full((len(texts), len(statements)), -1.0, dtype="float32")
    best = np.zeros((len(texts), len(statements)), dtype="int64")
    if not texts or not statements:
        return sim, best, pieces
    piece_sim = embedder.similarity(list(texts), pieces)
    for k, j in enumerate(owner):
        better = piece_sim[:, k] > sim[:, j]
        sim[better, j] = piece_sim[better, k]
        best[better, j] = k
    for i, text in enumerate(texts):
        for j, st in enumerate(statements):
            # Ties in coverage (two statements that both say every word) go to the one more like the text.
            cov = lexical_coverage(text, st) - 0.01 * (1 - float(piece_sim[i, whole[j]]))
            if cov > sim[i, j]:
                sim[i, j] = cov
                best[i, j] = whole[j]
    return sim, best, pieces


_ASIDE = re.compile(r"\([^)]*\)")


def fact_clauses(fact: str) -> list[str]:
    """A fact's parts: facts.json joins separate things with "; " or ", " ("Stopped work in September; gave up
    driving in August"), and a draft may say them in separate statements. Bracketed asides stay with their
    part; a fact of one part has none."""
    asides: list[str] = []

    def hide(m: re.Match[str]) -> str:
        asides.append(m.group(0))
        return f"\x00{len(asides) - 1}\x00"

    parts = re.split(r";\s+|,\s+|:\s+", _ASIDE.sub(hide, fact))
    parts = [re.sub(r"\x00(\d+)\x00", lambda m: asides[int(m.group(1))], p).strip() for p in parts]
    return [p for p in parts if len(lexical_tokens(p)) >= 2] if len(parts) > 1 else []


def _polarity_agrees(text: str, said: Sequence[str]) -> bool:
    negated = is_negated(_CORRECTION_NOTE.sub("", text))
    return any(negated == is_negated(_CORRECTION_NOTE.sub("", t)) for t in said)


def align_facts(
    facts: Sequence[Fact],
    draft_statements: Sequence[str],
    embedder: Embedder,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    source: Literal["facts.json", "gold note"] = "facts.json",
) -> FactAlignment:
    """Match every gold fact to the draft statements (a draft statement may cover several facts, and a fact
    may be said across several statements).

    A statement is a candidate for a fact when it is similar (`similarity`) to the fact or to one of its
    parts (`fact_clauses`). The fact is matched by the first candidate whose numbers, medicines, dates and
    negation agree; failing that, by its candidates together, when every part of three or more content words
    has a similar statement that agrees with it on negation, and between them they carry every number,
    medicine and date of the fact. Otherwise it is a correction against the most similar candidate, or an
    omission when there is none."""
    texts: list[str] = []
    owner: list[int] = []
    for i, f in enumerate(facts):
        for t in [f.text, *fact_clauses(f.text)]:
            texts.append(t)
            owner.append(i)
    sim, best, pieces = similarity(texts, draft_statements, embedder)
    matches: list[FactMatch] = []
    for i, fact in enumerate(facts):
        base = {"fact_id": fact.id, "fact": fact.text, "critical": fact.critical}
        rows = [k for k, o in enumerate(owner) if o == i]
        if not draft_statements:
            matches.append(FactMatch(**base, status="omission"))
            continue
        score = sim[rows].max(axis=0)
        order = [int(j) for j in score.argsort()[::-1]]
        candidates = [j for j in order if score[j] >= threshold]
        if not candidates:
            matches.append(FactMatch(**base, status="omission", draft=draft_statements[order[0]],
                                     similarity=float(score[order[0]])))
            continue
        found = {j: detail_mismatches(fact.text, draft_statements[j], pieces[best[rows[0], j]]) for j in candidates}
        agreeing = next((j for j in candidates if not found[j]), None)
        if agreeing is not None:
            matches.append(FactMatch(**base, status="matched", draft=draft_statements[agreeing],
                                     similarity=float(score[agreeing])))
            continue
        if _said_across(fact.text, rows, candidates, sim, best, pieces, draft_statements, threshold):
            matches.append(FactMatch(**base, status="matched", similarity=float(score[candidates[0]]),
                                     draft=" / ".join(draft_statements[j] for j in candidates)))
            continue
        top = candidates[0]
        matches.append(FactMatch(**base, status="correction", draft=draft_statements[top],
                                 similarity=float(score[top]), mismatches=found[top]))
    return FactAlignment(threshold=threshold, source=source, matches=matches)


def _said_across(fact: str, rows: list[int], candidates: list[int], sim: Any, best: Any, pieces: Sequence[str],
                 statements: Sequence[str], threshold: float) -> bool:
    """Every part of the fact that has substance (three or more content words, or a number, medicine or date)
    is said by the statements nearly as similar to that part or to the whole fact as a candidate must be:
    between them they carry the part's details, and one of them agrees with it on negation."""
    whole = rows[0]
    parts = list(zip(rows[1:], fact_clauses(fact), strict=True)) or [(whole, fact)]
    for k, part in parts:
        has_detail = bool(numbers_in(part) or medicines_in(part) or dates_in(part))
        if len(lexical_tokens(part)) < LEXICAL_MIN_TOKENS and not has_detail:
            continue
        near = threshold - PART_MARGIN
        saying = [j for j in range(len(statements)) if sim[k, j] >= near or sim[whole, j] >= near]
        if not saying:
            return False
        together = " ".join(statements[j] for j in saying)
        if [m for m in detail_mismatches(part, together, "") if m != "negation"]:
            return False
        if not _polarity_agrees(part, [t for j in saying for t in (pieces[best[k, j]], statements[j])]):
            return False
    return True


# --- source grounding: is a draft statement supported by the transcript? ------------------------------

# Fact matching's own list, not assistant.text's: it also drops the words every note uses to report ("reports",
# "states", "noted"), and the published harness-2 scores were computed with exactly this list.
_STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from into onto about as is are was were be been being
    am do does did has have had having he she it they them his her its their theirs him i me my we our you
    your yours this that these those there here who whom whose which what when where why how all any both
    each few more most other some such only own same so than too very can will just should would could may
    might must shall also not no nor patient patients reports reported report states stated says said
    notes noted today currently well per""".split()
)
_UNIT_SYNONYMS = {
    "mg": "milligram",
    "mcg": "microgram",
    "ml": "milliliter",
    "kg": "kilogram",
    "bp": "pressure",
    "yo": "year",
    "yr": "year",
    "yrs": "year",
    "hx": "history",
    "pt": "patient",
    "wk": "week",
    "wks": "week",
    "hr": "hour",
    "hrs": "hour",
    "min": "minute",
    "mins": "minute",
}


@cache
def _whisper_norm() -> object:
    from evals.metrics.vendor.whisper_english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def _stem(word: str) -> str:
    """Source grounding's light suffix stripping (harness 2 is scored with it; Snowball would change scores)."""
    word = _UNIT_SYNONYMS.get(word, word)
    for suffix in ("ing", "ies", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


@lru_cache(maxsize=65536)
def _content(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(content word stems, numbers) after Whisper normalisation (digits for number words, US spelling)."""
    norm = _whisper_norm()(text)  # type: ignore[operator]
    tokens = norm.split()
    numbers = frozenset(t for t in tokens if re.fullmatch(r"\d+(?:\.\d+)?", t))
    words = frozenset(_stem(t) for t in tokens if t not in _STOPWORDS and not t.isdigit() and len(t) > 2)
    return words, numbers


class TranscriptIndex:
    """Content words and numbers of a transcript, built once per item."""

    def __init__(self, transcript_text: str) -> None:
        self.words, self.numbers = _content(transcript_text)


def support_score(statement: str, index: TranscriptIndex) -> float:
    """Share of the statement's content words found in the transcript; 0 if any number is not there.

    Mirrors the drafting support check (numbers and >= 50% of content words present), applied against
    the whole transcript because an external note cites no segments.
    """
    words, numbers = _content(statement)
    if numbers - index.numbers:
        return 0.0
    if not words:
        return 1.0
    return len(words & index.words) / len(words)


SupportMethod = Literal["auto", "drafting", "local"]


def _drafting_scorer(transcript_text: str) -> tuple[str, Callable[[str], float], float]:
    """The drafting pipeline's own support score, over the whole transcript."""
    from assistant.drafting import verify
    from assistant.drafting.participants import Cast
    from assistant.transcript import parse_text

    ev = verify.gather_evidence(parse_text(transcript_text).segments, Cast())

    def score(text: str) -> float:
        return float(verify.support_score(text, ev))

    threshold = verify.SUPPORT_THRESHOLD
    label = f"assistant.drafting.verify.support_score over the whole transcript (threshold {threshold:g})"
    return label, score, threshold


def unsupported_statements(
    statements: Iterable[str], transcript_text: str, *, method: SupportMethod = "auto", min_support: float = 0.5
) -> tuple[str, list[tuple[str, float]]]:
    """(method used, [(statement, score)]) for draft statements not grounded in the transcript.

    `auto` and `drafting` use the drafting pipeline's support score (the same check the product runs, but
    against the whole transcript rather than the cited segments); `local` the content-word/number overlap
    above.
    """
    statements = list(statements)
    if method in ("auto", "drafting"):
        label, score_fn, threshold = _drafting_scorer(transcript_text)
        scored = [(st, score_fn(st)) for st in statements]
        return label, [(st, sc) for st, sc in scored if sc < threshold]
    index = TranscriptIndex(transcript_text)
    out = []
    for st in statements:
        score = support_score(st, index)
        if score < min_support:
            out.append((st, score))
    return f"evals local content-word/number overlap (threshold {min_support:g})", out


# --- agreement with a gold CaseRecord ------------------------------------------------------------------

_TITLES = frozenset({"dr", "mr", "mrs", "ms", "miss", "mx", "prof", "doctor", "nurse", "pc", "sgt"})


def same_person(a: str, b: str) -> bool:
    """Names agree when one's words (titles dropped) are contained in the other's ("Leanne" ~ "Leanne Price")."""
    ta = {w for w in re.findall(r"[a-z']+", a.lower()) if w not in _TITLES}
    tb = {w for w in re.findall(r"[a-z']+", b.lower()) if w not in _TITLES}
    if not ta or not tb:
        return a.strip().lower() == b.strip().lower()
    return ta <= tb or tb <= ta


class RecordAgreement(BaseModel):
    n_draft_statements: int
    n_aligned: int = Field(description="draft statements with a gold statement at or above the threshold")
    attribution_correct: int
    section_correct: int
    attribution_accuracy: float | None
    section_accuracy: float | None
    pairs: list[dict[str, str | float | bool]] = Field(default_factory=list)


def record_agreement(
    draft: CaseRecord, gold: CaseRecord, embedder: Embedder, *, threshold: float = DEFAULT_THRESHOLD
) -> RecordAgreement:
    """Match each draft statement to its most similar gold statement, then compare who and where."""
    d_items = [(sec.id, st) for sec in draft.sections for st in sec.statements if st.text.strip()]
    g_items = [(sec.id, st) for sec in gold.sections for st in sec.statements if st.text.strip()]
    if not d_items or not g_items:
        return RecordAgreement(
            n_draft_statements=len(d_items),
            n_aligned=0,
            attribution_correct=0,
            section_correct=0,
            attribution_accuracy=None,
            section_accuracy=None,
        )
    sim = embedder.similarity([st.text for _, st in d_items], [st.text for _, st in g_items])
    pairs: list[dict[str, str | float | bool]] = []
    for i, (d_sec, d_st) in enumerate(d_items):
        j = int(sim[i].argmax())
        if sim[i, j] < threshold:
            continue
        g_sec, g_st = g_items[j]
        pairs.append(
            {
                "draft": d_st.text,
                "gold": g_st.text,
                "similarity": float(sim[i, j]),
                "draft_who": d_st.attributed_to,
                "gold_who": g_st.attributed_to,
                "draft_section": d_sec,
                "gold_section": g_sec,
                "attribution_ok": same_person(d_st.attributed_to, g_st.attributed_to),
                "section_ok": d_sec == g_sec,
            }
        )
    n = len(pairs)
    attr = sum(bool(p["attribution_ok"]) for p in pairs)
    sect = sum(bool(p["section_ok"]) for p in pairs)
    return RecordAgreement(
        n_draft_statements=len(d_items),
        n_aligned=n,
        attribution_correct=attr,
        section_correct=sect,
        attribution_accuracy=attr / n if n else None,
        section_accuracy=sect / n if n else None,
        pairs=pairs,
    )
