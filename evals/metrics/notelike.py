"""Is a draft statement written like a note? Verbatim quotes, first person, questions and pleasantries.

A record a worker can sign is short third-person statements. A draft that copies the conversation line by
line reads like the transcript: the worker's questions, "thank you, that helps", the speaker's own "I".
These checks are plain text rules, so they can be read and argued with:

- **verbatim**: at least 80% of the statement's words (an "X said:" lead-in and quotation marks removed)
  occur in one transcript segment in runs of two or more words in the same order;
- **first person**: I / me / my / we / our outside quotation marks;
- **question**: the statement ends with a question mark (a quoted question included);
- **pleasantry**: greetings, thanks and small talk with at most two other content words.

A statement the gold record itself writes as a quote is not charged for being one (see `review.py`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

VERBATIM_OVERLAP = 0.8
MIN_VERBATIM_WORDS = 4
STYLES: tuple[str, ...] = ("verbatim", "first_person", "question", "pleasantry")

_LEAD_IN = re.compile(r"^[^:\"“”]{1,60}:\s*")
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
_FIRST_PERSON = re.compile(r"\bI(?:'m|'ve|'d|'ll|’m|’ve|’d|’ll)?\b|(?i:\b(?:me|my|mine|myself|we|we're|we've|we'll|"
                           r"our|ours|ourselves)\b)|\bus\b")
_PLEASANTRY = re.compile(
    r"\b(?:thanks?|thank you|cheers|hello|hi|hiya|hey|bye|goodbye|see you|take care|nice to (?:see|meet)|lovely|"
    r"you're welcome|no worries|no problem|sorry|morning|afternoon|evening|okay|ok|alright|all right|great|"
    r"brilliant|perfect|bless)\b",
    re.I,
)
_FILLER = frozenset(
    """a an the and or but so of to in on at for with it it's is was be been are am i you he she we they me my your
    his her our their this that there here just really very well yeah yes no oh um uh right okay ok then now too
    said says say asked told thanks thank hello hi hiya bye goodbye see take care nice lovely cheers welcome sorry
    morning afternoon evening alright great brilliant perfect bless again much do does did have has had will would
    can could helps help""".split()
)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9£]+(?:['’.,][a-z0-9]+)*", text.lower())


def spoken_part(text: str) -> str:
    """The statement without an "X said:" lead-in and without quotation marks."""
    return _LEAD_IN.sub("", text.strip()).replace('"', " ").replace("“", " ").replace("”", " ").strip()


def is_verbatim(text: str, segments: Sequence[str]) -> bool:
    toks = words(spoken_part(text))
    if len(toks) < MIN_VERBATIM_WORDS:
        return False
    need = set(toks)
    for seg in segments:
        seg_toks = words(seg)
        if len(need & set(seg_toks)) < VERBATIM_OVERLAP * len(need):
            continue  # cheap rejection before aligning
        blocks = SequenceMatcher(None, toks, seg_toks, autojunk=False).get_matching_blocks()
        if sum(b.size for b in blocks if b.size >= 2) >= VERBATIM_OVERLAP * len(toks):
            return True
    return False


def is_first_person(text: str) -> bool:
    return bool(_FIRST_PERSON.search(_QUOTED.sub(" ", text)))


def is_question(text: str) -> bool:
    return text.rstrip().rstrip("\"'”’)").rstrip().endswith("?")


def is_pleasantry(text: str) -> bool:
    spoken = spoken_part(text)
    if not _PLEASANTRY.search(spoken):
        return False
    rest = [w for w in words(_PLEASANTRY.sub(" ", spoken)) if w not in _FILLER]
    return len(rest) <= 2


def styles(text: str, segments: Sequence[str]) -> list[str]:
    """Which of STYLES the statement shows (empty: note-like)."""
    found = []
    if is_verbatim(text, segments):
        found.append("verbatim")
    if is_first_person(text):
        found.append("first_person")
    if is_question(text):
        found.append("question")
    if is_pleasantry(text):
        found.append("pleasantry")
    return found
