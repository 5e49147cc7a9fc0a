"""Names for the diariser's anonymous voices, offered to the worker (never applied by themselves).

Three kinds of evidence, strongest first: a voice introducing itself ("I'm Jo Smith from children's
services"), the turn before calling this voice by name ("How have you been, Leanne?"), and the people
present who are not yet placed. Only `apply_speaker_names`, on the worker's say-so, renames segments.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from assistant.transcript import NameSuggestion, Participant, Transcript

_LABEL = re.compile(r"^speaker_[0-9]+$")  # the diariser's labels (assistant.diarise.speaker_label)
_NAME = r"(?P<name>[A-Z][a-z'\-]+(?: [A-Z][a-z'\-]+)?)"
# "my name is" is unambiguous; "I'm"/"this is" need a name we were told of, or "from ..." after it.
_MY_NAME = re.compile(r"\bmy name(?: is|'s)\s+" + _NAME)
_I_AM = re.compile(r"\b(?:I'm|I am|this is|it's)\s+" + _NAME + r"(?P<tail>\s+from\b)?")
_VOCATIVE_START = re.compile(r"^(?:(?:hi|hello|hiya|morning|thanks|thank you|okay|right|so|and)[,!]?\s+)?"
                             + _NAME + r"\s*[,?!]")
_VOCATIVE_END = re.compile(r",\s*" + _NAME + r"\s*[?!.]*\s*$")
# Capitalised words that sit where a name would but are not one.
_NOT_NAMES = frozenset(
    "I Okay OK Yes No Right So Well Thanks Thank Sorry Hello Hi Just Not Really Sure Fine Good Great "
    "Doctor Nurse Mum Dad Sir Madam Everyone Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split())


def _known(present: Sequence[Participant]) -> dict[str, str]:
    """Each present person's full name and each part of it (lower case) -> the full name."""
    out: dict[str, str] = {}
    for p in present:
        out.setdefault(p.name.lower(), p.name)
        for part in p.name.split():
            if len(part) > 1:
                out.setdefault(part.lower(), p.name)
    return out


def _resolve(name: str, known: dict[str, str], *, need_known: bool) -> str | None:
    full = known.get(name.lower()) or known.get(name.split()[0].lower())
    if full:
        return full
    if need_known or name.split()[0] in _NOT_NAMES:
        return None
    return name


def suggest_names(transcript: Transcript, present: Sequence[Participant] = ()) -> dict[str, list[NameSuggestion]]:
    """Diariser label -> suggested names, best first. Empty when the transcript has no diarised voices."""
    people = [*transcript.participants, *[p for p in present if p.name not in {q.name for q in
                                                                                transcript.participants}]]
    known = _known(people)
    labels = [s.speaker for s in transcript.segments if _LABEL.match(s.speaker)]
    votes: dict[str, Counter[tuple[str, str]]] = {label: Counter() for label in dict.fromkeys(labels)}
    for i, seg in enumerate(transcript.segments):
        if seg.speaker not in votes:
            continue
        m = _MY_NAME.search(seg.text)
        name = _resolve(m["name"], known, need_known=False) if m else None
        if name is None and (m := _I_AM.search(seg.text)):
            name = _resolve(m["name"], known, need_known=not m["tail"])
        if name:
            votes[seg.speaker][(name, "introduced")] += 1
        prev = transcript.segments[i - 1] if i else None
        if prev is not None and prev.speaker != seg.speaker:
            for pattern in (_VOCATIVE_START, _VOCATIVE_END):
                if (m := pattern.search(prev.text)) and (name := _resolve(m["name"], known, need_known=False)):
                    votes[seg.speaker][(name, "addressed")] += 1
    strength = {"introduced": 2, "addressed": 1}
    out: dict[str, list[NameSuggestion]] = {}
    placed: set[str] = set()
    for label, counter in votes.items():
        best: dict[str, NameSuggestion] = {}
        for (name, reason), n in counter.items():
            old = best.get(name)
            if old is None or strength[reason] > strength[old.reason]:
                best[name] = NameSuggestion(name=name, reason=reason, count=n + (old.count if old else 0))
            else:
                old.count += n
        ranked = sorted(best.values(), key=lambda s: (-strength[s.reason], -s.count, s.name))
        out[label] = ranked
        placed.update(s.name for s in ranked[:1])
    unplaced = [p.name for p in people if p.name not in placed]
    for ranked in out.values():
        if not ranked:
            ranked.extend(NameSuggestion(name=name, reason="present") for name in unplaced)
    return {label: ranked for label, ranked in out.items() if ranked}


def with_present(transcript: Transcript, present: Sequence[Participant]) -> Transcript:
    """The transcript with the people present among its participants (drafting knows their names and roles)
    and its voices' name suggestions worked out again with them."""
    known = {p.name for p in transcript.participants}
    participants = [*transcript.participants, *[p for p in present if p.name not in known]]
    out = transcript.model_copy(update={"participants": participants})
    out.speaker_suggestions = suggest_names(out)
    return out
