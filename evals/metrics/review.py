"""What a reviewer must do to turn a draft into the gold record, statement by statement.

The draft's statements are aligned with the gold statements (the gold record's statements; for a gold note,
its atomic statements) by all-MiniLM-L6-v2 similarity, as the fact metrics are. Each gold statement is
*covered* by the draft statement most like it (at or above the threshold), preferring one whose details
agree when it is nearly as similar. Then, per draft statement:

- it covers nothing: **delete** it (a duplicate, small talk, a question, something gold does not record);
- it covers gold statements but is not note-like (verbatim, first person, a question or a pleasantry; see
  `notelike.py`) while gold writes them as notes: **rewrite** it, typing the gold statements' words;
- otherwise keep it, **fixing** each wrong detail (number, medicine, date, negation, person), and **move**
  it when it sits in a section none of its gold statements is in.

Every gold statement no draft statement covers is **missing**: the reviewer types it. Every draft statement
costs a **decision** and is **read**. `time_saved.py` turns these counts into seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from evals.metrics import notelike
from evals.metrics.facts import DEFAULT_THRESHOLD, detail_mismatches, same_person, similarity

if TYPE_CHECKING:
    from evals.metrics.semantic import Embedder

# An agreeing statement is preferred over the most similar one only when it is nearly as similar: otherwise a
# changed number in the statement that *is* the gold one would be hidden by a loosely related statement that
# happens to carry the right number.
AGREEING_MARGIN = 0.1
# At this similarity the draft statement is the gold one, whatever its details: a wrong detail is to be fixed.
SAME_STATEMENT = 0.9


def word_count(text: str) -> int:
    return len(text.split())


class NoteStatement(BaseModel):
    """One statement of a draft or gold note, with where it sits and whom it is about when known."""

    id: str
    text: str
    section: str | None = None
    who: str | None = None
    critical: bool = False
    quote_like: bool = Field(default=False, description="gold only: the gold record keeps it as a quote")


class Rewrite(BaseModel):
    draft: str
    styles: list[str]
    gold_ids: list[str]
    words: int = Field(description="words of the gold statements typed in its place")


class Correction(BaseModel):
    gold_id: str
    gold: str
    draft: str
    details: list[str]
    critical: bool


class Move(BaseModel):
    draft: str
    section: str
    to: list[str]


class Deletion(BaseModel):
    draft: str
    styles: list[str]


class Missing(BaseModel):
    gold_id: str
    gold: str
    critical: bool
    words: int


class ReviewPlan(BaseModel):
    """The operations, with what each one applies to (for report.md and for reading a bad draft)."""

    draft_statements: int
    gold_statements: int
    draft_words: int
    gold_words: int
    kept: int = 0
    moves: list[Move] = Field(default_factory=list)
    rewrites: list[Rewrite] = Field(default_factory=list)
    corrections: list[Correction] = Field(default_factory=list)
    deletions: list[Deletion] = Field(default_factory=list)
    missing: list[Missing] = Field(default_factory=list)
    style_counts: dict[str, int] = Field(default_factory=dict, description="draft statements per style")

    @property
    def fixes(self) -> int:
        return sum(len(c.details) for c in self.corrections)

    def counts(self) -> dict[str, int]:
        return {
            "draft_statements": self.draft_statements,
            "gold_statements": self.gold_statements,
            "kept": self.kept,
            "moves": len(self.moves),
            "rewrites": len(self.rewrites),
            "rewritten_words": sum(r.words for r in self.rewrites),
            "corrections": len(self.corrections),
            "corrections_critical": sum(c.critical for c in self.corrections),
            "fixes": self.fixes,
            "deletions": len(self.deletions),
            "missing": len(self.missing),
            "missing_critical": sum(m.critical for m in self.missing),
            "missing_words": sum(m.words for m in self.missing),
        }


def mismatches(gold: NoteStatement, draft: NoteStatement, clause: str | None = None) -> list[str]:
    """Details the draft statement gets wrong: numbers, medicines, dates, negation (facts.py), and the person."""
    found = detail_mismatches(gold.text, draft.text, clause)
    if gold.who and draft.who and not same_person(gold.who, draft.who):
        found.append(f"person: {draft.who} for {gold.who}")
    return found


def plan_review(
    draft: Sequence[NoteStatement],
    gold: Sequence[NoteStatement],
    segments: Sequence[str],
    embedder: Embedder,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> ReviewPlan:
    """The operations that turn `draft` into `gold`. `segments` are the transcript's texts (for verbatim)."""
    styles = [notelike.styles(d.text, segments) for d in draft]
    plan = ReviewPlan(
        draft_statements=len(draft),
        gold_statements=len(gold),
        draft_words=sum(word_count(d.text) for d in draft),
        gold_words=sum(word_count(g.text) for g in gold),
        style_counts={s: sum(s in st for st in styles) for s in notelike.STYLES},
    )
    cover: dict[int, int] = {}
    wrong: dict[int, list[str]] = {}
    if draft and gold:
        sim, best, pieces = similarity([g.text for g in gold], [d.text for d in draft], embedder)
        for i, g in enumerate(gold):
            order = [int(j) for j in sim[i].argsort()[::-1] if sim[i, j] >= threshold]
            if not order:
                continue
            found = {j: mismatches(g, draft[j], pieces[best[i, j]]) for j in order}
            top = order[0]
            agreeing = None
            if sim[i, top] < SAME_STATEMENT:
                agreeing = next((j for j in order if not found[j] and sim[i, j] >= sim[i, top] - AGREEING_MARGIN),
                                None)
            cover[i] = top if agreeing is None else agreeing
            wrong[i] = found[top] if agreeing is None else []
    covered_by: dict[int, list[int]] = {}
    for i, j in cover.items():
        covered_by.setdefault(j, []).append(i)

    for j, d in enumerate(draft):
        golds = covered_by.get(j)
        if not golds:
            plan.deletions.append(Deletion(draft=d.text, styles=styles[j]))
            continue
        if styles[j] and not all(gold[i].quote_like for i in golds):
            plan.rewrites.append(Rewrite(draft=d.text, styles=styles[j], gold_ids=[gold[i].id for i in golds],
                                         words=sum(word_count(gold[i].text) for i in golds)))
            continue  # retyped in its right place: nothing left to fix or move
        plan.kept += 1
        for i in golds:
            if wrong.get(i):
                plan.corrections.append(Correction(gold_id=gold[i].id, gold=gold[i].text, draft=d.text,
                                                   details=wrong[i], critical=gold[i].critical))
        homes = {gold[i].section for i in golds if gold[i].section}
        if d.section and homes and d.section not in homes:
            plan.moves.append(Move(draft=d.text, section=d.section, to=sorted(homes)))
    for i, g in enumerate(gold):
        if i not in cover:
            plan.missing.append(Missing(gold_id=g.id, gold=g.text, critical=g.critical, words=word_count(g.text)))
    return plan
