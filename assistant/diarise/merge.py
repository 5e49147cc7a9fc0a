"""Merging speaker turns into Whisper's segments, and naming the anonymous speakers.

A Whisper segment can run across a change of speaker (a short answer, an interruption), so segments are
split where the speaker changes, using Whisper's word timestamps: each word goes to the turn it overlaps
most.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from assistant.diarise.base import SpeakerTurn
from assistant.transcript import Participant, Transcript


class Word(BaseModel):
    start: float
    end: float
    text: str  # as Whisper gives it, usually with a leading space


class Piece(BaseModel):
    """Part of one Whisper segment spoken by one speaker."""

    speaker: str
    start: float
    end: float
    text: str


def should_diarise(settings: Any, channel_mode: str, speakers: int | None) -> bool:
    """Whether the transcription stage diarises: never for a mic per person (the channels are the
    speakers), never when the caller says one person speaks, otherwise always (unless switched off):
    a one-microphone recording of a visit is the common case, and the count is estimated when unknown."""
    return channel_mode != "per_channel" and settings.diarisation.mode != "off" and speakers != 1


class TurnIndex:
    """Speaker lookup by time over sorted, non-overlapping turns."""

    def __init__(self, turns: Sequence[SpeakerTurn]) -> None:
        self.turns = sorted(turns, key=lambda t: t.start)
        self.starts = [t.start for t in self.turns]

    def speaker(self, start: float, end: float) -> str | None:
        """The speaker of the turn that overlaps [start, end] most; the nearest turn when none does."""
        if not self.turns:
            return None
        i = bisect.bisect_right(self.starts, end)
        best, best_overlap = None, 0.0
        j = i - 1
        while j >= 0:
            turn = self.turns[j]
            overlap = min(end, turn.end) - max(start, turn.start)
            if overlap > best_overlap:
                best, best_overlap = turn.speaker, overlap
            if turn.end < start - 30.0:  # turns are short; nothing further back can overlap
                break
            j -= 1
        if best is not None:
            return best
        mid = (start + end) / 2
        candidates = [self.turns[k] for k in (i - 1, i) if 0 <= k < len(self.turns)]
        return min(candidates, key=lambda t: min(abs(mid - t.start), abs(mid - t.end))).speaker


def assign_words(words: Sequence[Word], turns: Sequence[SpeakerTurn] | TurnIndex) -> list[str | None]:
    index = turns if isinstance(turns, TurnIndex) else TurnIndex(turns)
    return [index.speaker(w.start, max(w.end, w.start + 0.01)) for w in words]


def split_by_speaker(
    start: float,
    end: float,
    text: str,
    words: Sequence[Word],
    turns: Sequence[SpeakerTurn] | TurnIndex,
    default: str = "unknown",
) -> list[Piece]:
    """One segment as pieces of consecutive words by the same speaker (the whole segment by overlap
    when Whisper gave no words)."""
    index = turns if isinstance(turns, TurnIndex) else TurnIndex(turns)
    if not words:
        return [Piece(speaker=index.speaker(start, end) or default, start=start, end=end, text=text)]
    labels = assign_words(words, index)
    pieces: list[Piece] = []
    for word, label in zip(words, labels, strict=True):
        who = label or default
        if pieces and pieces[-1].speaker == who:
            last = pieces[-1]
            last.end, last.text = word.end, last.text + word.text
        else:
            pieces.append(Piece(speaker=who, start=word.start, end=word.end, text=word.text))
    for piece in pieces:
        piece.text = piece.text.strip()
    return [p for p in pieces if p.text]


def split_by_speaker_segment(words: Sequence[Word], turns: Sequence[SpeakerTurn] | TurnIndex) -> list[Piece]:
    """Consecutive words (one run of a Whisper segment) as pieces by speaker."""
    if not words:
        return []
    text = "".join(w.text for w in words)
    return split_by_speaker(words[0].start, words[-1].end, text, words, turns)


def apply_speaker_names(
    transcript: Transcript, mapping: dict[str, str], participants: Sequence[Participant] = ()
) -> Transcript:
    """A copy with diariser labels (`speaker_1`...) replaced by people's names, as the worker mapped them.

    The mapping is kept on the transcript (`speaker_names`, label -> name) so the review page can show and
    change it; re-mapping starts from the original labels. Each named person is added to `participants`
    (with the role from ``participants`` when given) so drafting attributes statements to them."""
    original = {name: label for label, name in transcript.speaker_names.items()}
    current_labels = {original.get(s.speaker, s.speaker) for s in transcript.segments}
    unknown = sorted(set(mapping) - current_labels)
    if unknown:
        raise ValueError(f"no such speaker label: {', '.join(unknown)}")
    names = {label: name.strip() for label, name in {**transcript.speaker_names, **mapping}.items() if name.strip()}
    out = transcript.model_copy(deep=True)
    for seg in out.segments:
        label = original.get(seg.speaker, seg.speaker)
        seg.speaker = names.get(label, label)
    out.speaker_names = names
    known = {p.name: p for p in out.participants}
    given = {p.name: p for p in participants}
    for name in names.values():
        if name not in known:
            out.participants.append(given.get(name, Participant(name=name)))
            known[name] = out.participants[-1]
    return out
