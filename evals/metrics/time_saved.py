"""Estimated time saved per note: writing the note by hand against reading and fixing the draft.

    T_manual = W_gold / 19 wpm                                  (composition typing)
    T_assist = W_draft / 238 wpm                                (silent reading, Brysbaert 2019)
             + fixes x 2.45 s                                   (keystroke-level model: 1.35 s mental
                                                                 preparation + 1.1 s pointing)
             + added words / 33 wpm                             (transcription typing)
             + deleted spans x 1.5 s                            (select and delete)

The edits come from the fact alignment, never from raw edit distance to an independent gold note
(which is ~87% even for GPT-4 on ACI-Bench and would only measure paraphrase):

- each **omission** (gold fact with no similar draft statement): 1 fix (decide and point to where it
  goes) + the fact's words typed;
- each **correction** (similar statement with a wrong number / medicine / date / negation): 1 fix + the
  fact's words retyped;
- each **unsupported statement** (draft statement not grounded in the transcript): 1 deleted span.

It is an estimate under stated assumptions, reported as a median with its IQR and a sensitivity grid
over the two speeds that matter most (composition 19/33 wpm, reading 183/238/300 wpm).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from statistics import median, quantiles

from pydantic import BaseModel, Field


class TimeConstants(BaseModel):
    compose_wpm: float = Field(default=19.0, description="composing a note from memory/notes")
    read_wpm: float = Field(default=238.0, description="silent reading of non-fiction (Brysbaert 2019)")
    fix_s: float = Field(default=2.45, description="per fix: 1.35 s mental preparation + 1.1 s point (KLM)")
    type_wpm: float = Field(default=33.0, description="typing added words (transcription typing)")
    delete_span_s: float = Field(default=1.5, description="per deleted span: select and delete")
    notes_per_week: float = Field(default=20.0, description="stated assumption for hours per worker per week")


COMPOSE_GRID: tuple[float, ...] = (19.0, 33.0)
READ_GRID: tuple[float, ...] = (183.0, 238.0, 300.0)


def word_count(text: str) -> int:
    return len(re.findall(r"\S+", text))


class EditCounts(BaseModel):
    gold_words: int
    draft_words: int
    omissions: int = 0
    omitted_words: int = 0
    corrections: int = 0
    corrected_words: int = 0
    unsupported: int = 0


class TimeEstimate(BaseModel):
    manual_s: float
    assist_s: float
    read_s: float
    fix_s: float
    type_s: float
    delete_s: float
    saved_s: float
    saved_fraction: float | None


def estimate(counts: EditCounts, k: TimeConstants | None = None) -> TimeEstimate:
    k = k or TimeConstants()
    manual = counts.gold_words / k.compose_wpm * 60
    read = counts.draft_words / k.read_wpm * 60
    fixes = (counts.omissions + counts.corrections) * k.fix_s
    typed = (counts.omitted_words + counts.corrected_words) / k.type_wpm * 60
    deleted = counts.unsupported * k.delete_span_s
    assist = read + fixes + typed + deleted
    return TimeEstimate(
        manual_s=manual,
        assist_s=assist,
        read_s=read,
        fix_s=fixes,
        type_s=typed,
        delete_s=deleted,
        saved_s=manual - assist,
        saved_fraction=(manual - assist) / manual if manual > 0 else None,
    )


def iqr(values: Sequence[float]) -> tuple[float, float]:
    """(25th, 75th) percentiles, inclusive method; a single value is its own IQR."""
    if not values:
        return (float("nan"), float("nan"))
    if len(values) == 1:
        return (values[0], values[0])
    q = quantiles(values, n=4, method="inclusive")
    return (q[0], q[2])


class TimeSummary(BaseModel):
    constants: TimeConstants
    n: int
    median_saved_s: float
    iqr_saved_s: tuple[float, float]
    median_saved_fraction: float | None
    median_manual_s: float
    median_assist_s: float
    hours_per_worker_week: float = Field(description="median saved per note x notes_per_week / 3600 (estimate)")
    grid: list[dict[str, float]] = Field(description="median saved seconds per (compose_wpm, read_wpm)")


def summarise(counts: Sequence[EditCounts], k: TimeConstants | None = None) -> TimeSummary | None:
    k = k or TimeConstants()
    if not counts:
        return None
    ests = [estimate(c, k) for c in counts]
    saved = [e.saved_s for e in ests]
    fractions = [e.saved_fraction for e in ests if e.saved_fraction is not None]
    grid = []
    for compose in COMPOSE_GRID:
        for read in READ_GRID:
            kk = k.model_copy(update={"compose_wpm": compose, "read_wpm": read})
            grid.append(
                {
                    "compose_wpm": compose,
                    "read_wpm": read,
                    "median_saved_s": median(estimate(c, kk).saved_s for c in counts),
                }
            )
    med = median(saved)
    return TimeSummary(
        constants=k,
        n=len(ests),
        median_saved_s=med,
        iqr_saved_s=iqr(saved),
        median_saved_fraction=median(fractions) if fractions else None,
        median_manual_s=median(e.manual_s for e in ests),
        median_assist_s=median(e.assist_s for e in ests),
        hours_per_worker_week=med * k.notes_per_week / 3600,
        grid=grid,
    )


def describe_constants(k: TimeConstants | None = None) -> str:
    """The constants as printed at the top of every time-saved table."""
    k = k or TimeConstants()
    return (
        f"T_manual = W_gold / {k.compose_wpm:g} wpm; T_assist = W_draft / {k.read_wpm:g} wpm + "
        f"{k.fix_s:g} s per fix + added words / {k.type_wpm:g} wpm + {k.delete_span_s:g} s per deleted span; "
        f"hours per worker per week assume {k.notes_per_week:g} notes a week (an estimate)."
    )
