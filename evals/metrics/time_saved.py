"""Estimated time saved per note: writing the note by hand against reviewing the draft, operation by operation.

    T_manual = gold words / compose_wpm
    T_review = draft words / read_wpm                      read the draft
             + statements x M                              decide on each (keep, edit or delete)
             + moves x (select + cut + M + place + paste)  a statement in the wrong section
             + rewrites x (select + delete + M) + gold words / type_wpm
                                                           a quote, first-person line, question or pleasantry
                                                           that carries gold facts, retyped as a note
             + details x (M + P + double-click + chars x K) a wrong number, date, dose, negation or person
             + deletions x (select + delete)               a statement that matches nothing in gold
             + missing x (M + P + click) + gold words / compose_wpm
                                                           a gold statement the draft lacks, composed

The operations come from `review.plan_review` (the alignment of draft with gold statements), never from raw
edit distance. Operators are the keystroke-level model's (Card, Moran & Newell 1980): M 1.35 s mental
preparation, P 1.1 s pointing, B 0.1 s per mouse-button press or release, K 0.28 s per keystroke; selecting
a statement is P and a triple click. Speeds: composing 19 wpm and transcription typing 33 wpm (Karat et al.
1999, keyboard entry), silent reading 238 wpm (Brysbaert 2019). Section headers come from the template in
both cases, so manual time counts statement words only. Sources and the sensitivity grid: evals/README.md.

`legacy_saved_s` keeps the first model (reading + fixes + typed words + deletions, from the fact
alignment) so that the change in the published figures stays visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import mean, median, quantiles

from pydantic import BaseModel, Field

from evals.metrics.review import ReviewPlan

OPERATIONS: tuple[str, ...] = ("read", "decide", "move", "rewrite", "fix", "delete", "type_missing")


class TimeConstants(BaseModel):
    compose_wpm: float = Field(default=19.0, description="composing text (Karat et al. 1999, keyboard)")
    type_wpm: float = Field(default=33.0, description="transcription typing (Karat et al. 1999, keyboard)")
    read_wpm: float = Field(default=238.0, description="silent reading of non-fiction (Brysbaert 2019)")
    mental_s: float = Field(default=1.35, description="KLM M, mental preparation (Card, Moran & Newell 1980)")
    point_s: float = Field(default=1.1, description="KLM P, pointing with a mouse")
    button_s: float = Field(default=0.1, description="KLM B, one mouse-button press or release")
    keystroke_s: float = Field(default=0.28, description="KLM K, average skilled typist")
    detail_chars: float = Field(default=6.0, description="characters typed to fix one detail (stated assumption)")
    notes_per_week: float = Field(default=20.0, description="stated assumption for hours per worker per week")

    @property
    def select_s(self) -> float:
        """Point at a statement and triple-click it."""
        return self.point_s + 6 * self.button_s

    @property
    def place_s(self) -> float:
        """Point and click to put the cursor somewhere."""
        return self.point_s + 2 * self.button_s

    def words_s(self, words: float, wpm: float) -> float:
        return words / wpm * 60


COMPOSE_GRID: tuple[float, ...] = (19.0, 33.0)
READ_GRID: tuple[float, ...] = (183.0, 238.0, 300.0)


class TimeEstimate(BaseModel):
    manual_s: float
    review_s: float
    saved_s: float
    saved_fraction: float | None
    by_operation: dict[str, float] = Field(description="seconds per operation, OPERATIONS order")


def estimate(plan: ReviewPlan, k: TimeConstants | None = None) -> TimeEstimate:
    k = k or TimeConstants()
    fix_detail = k.mental_s + k.place_s + k.button_s * 2 + k.detail_chars * k.keystroke_s
    ops = {
        "read": k.words_s(plan.draft_words, k.read_wpm),
        "decide": plan.draft_statements * k.mental_s,
        "move": len(plan.moves) * (k.select_s + k.mental_s + k.place_s + 4 * k.keystroke_s),
        "rewrite": sum(k.select_s + k.keystroke_s + k.mental_s + k.words_s(r.words, k.type_wpm)
                       for r in plan.rewrites),
        "fix": plan.fixes * fix_detail,
        "delete": len(plan.deletions) * (k.select_s + k.keystroke_s),
        "type_missing": sum(k.mental_s + k.place_s + k.words_s(m.words, k.compose_wpm) for m in plan.missing),
    }
    manual = k.words_s(plan.gold_words, k.compose_wpm)
    review = sum(ops.values())
    return TimeEstimate(
        manual_s=manual,
        review_s=review,
        saved_s=manual - review,
        saved_fraction=(manual - review) / manual if manual > 0 else None,
        by_operation=ops,
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
    median_review_s: float
    mean_by_operation: dict[str, float] = Field(description="mean seconds per note spent on each operation")
    hours_per_worker_week: float = Field(description="median saved per note x notes_per_week / 3600 (estimate)")
    grid: list[dict[str, float]] = Field(description="median saved seconds per (compose_wpm, read_wpm)")


def summarise(plans: Sequence[ReviewPlan], k: TimeConstants | None = None) -> TimeSummary | None:
    k = k or TimeConstants()
    if not plans:
        return None
    ests = [estimate(p, k) for p in plans]
    saved = [e.saved_s for e in ests]
    fractions = [e.saved_fraction for e in ests if e.saved_fraction is not None]
    grid = []
    for compose in COMPOSE_GRID:
        for read in READ_GRID:
            kk = k.model_copy(update={"compose_wpm": compose, "read_wpm": read})
            grid.append({"compose_wpm": compose, "read_wpm": read,
                         "median_saved_s": median(estimate(p, kk).saved_s for p in plans)})
    med = median(saved)
    return TimeSummary(
        constants=k,
        n=len(ests),
        median_saved_s=med,
        iqr_saved_s=iqr(saved),
        median_saved_fraction=median(fractions) if fractions else None,
        median_manual_s=median(e.manual_s for e in ests),
        median_review_s=median(e.review_s for e in ests),
        mean_by_operation={op: mean(e.by_operation[op] for e in ests) for op in OPERATIONS},
        hours_per_worker_week=med * k.notes_per_week / 3600,
        grid=grid,
    )


def describe_constants(k: TimeConstants | None = None) -> str:
    """The model in one paragraph, printed at the top of every time-saved table."""
    k = k or TimeConstants()
    return (
        f"Manual = gold words / {k.compose_wpm:g} wpm (composing). Review = draft words / {k.read_wpm:g} wpm + "
        f"{k.mental_s:g} s to decide on each statement + {k.select_s + k.mental_s + k.place_s + 4 * k.keystroke_s:.2f}"
        f" s per move + a rewrite of each non-note-like statement (gold words at {k.type_wpm:g} wpm) + "
        f"{k.mental_s + k.place_s + 2 * k.button_s + k.detail_chars * k.keystroke_s:.2f} s per wrong detail + "
        f"{k.select_s + k.keystroke_s:.2f} s per deletion + each missing statement composed at {k.compose_wpm:g} wpm. "
        f"Keystroke-level operators from Card, Moran & Newell (1980); hours per worker per week assume "
        f"{k.notes_per_week:g} notes a week (an estimate)."
    )


# --- the first model, kept so the change in published figures is visible ------------------------------------


class LegacyCounts(BaseModel):
    """Inputs of the first time-saved model (superseded by the operations above)."""

    gold_words: int
    draft_words: int
    omissions: int = 0
    omitted_words: int = 0
    corrections: int = 0
    corrected_words: int = 0
    unsupported: int = 0


def legacy_saved_s(c: LegacyCounts) -> float:
    """W_gold / 19 wpm - (W_draft / 238 wpm + 2.45 s per fix + added words / 33 wpm + 1.5 s per deleted span)."""
    manual = c.gold_words / 19.0 * 60
    review = (c.draft_words / 238.0 * 60 + (c.omissions + c.corrections) * 2.45
              + (c.omitted_words + c.corrected_words) / 33.0 * 60 + c.unsupported * 1.5)
    return manual - review
