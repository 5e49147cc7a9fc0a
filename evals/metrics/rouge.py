"""ROUGE exactly as ACI-Bench reports it (Yim et al. 2023, evaluation/evaluate_fullnote.py).

- `rouge-score` 0.1.2 (Google's reimplementation of ROUGE-1.5.5), ``use_stemmer=False``, default
  tokeniser (lower-case, non-alphanumerics to spaces): what HF `evaluate.load('rouge')` runs underneath;
- F1 (``fmeasure``) per note, scored as ``scorer.score(target=gold, prediction=draft)``;
- the set score is the mean of per-note F1, reported ×100;
- the paper's "ROUGE-L" is **rougeLsum**, summary-level LCS over sentences split on newlines, so notes
  must keep their line breaks. Plain rougeL (one LCS over the whole note) is much lower on long notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from statistics import mean
from typing import Any

from pydantic import BaseModel

ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@cache
def _scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=False)


def rouge_pair(gold: str, draft: str) -> dict[str, float]:
    """F1 of each ROUGE type for one note, 0..1."""
    scores = _scorer().score(gold, draft)
    return {k: float(scores[k].fmeasure) for k in ROUGE_TYPES}


class RougeSet(BaseModel):
    n: int
    per_note: list[dict[str, float]]  # 0..1, as rouge-score returns them
    mean_x100: dict[str, float]  # the published form


def rouge_set(golds: Sequence[str], drafts: Sequence[str]) -> RougeSet:
    if len(golds) != len(drafts):
        raise ValueError(f"{len(golds)} gold notes but {len(drafts)} drafts")
    per_note = [rouge_pair(g, d) for g, d in zip(golds, drafts, strict=True)]
    means = {k: 100 * mean(p[k] for p in per_note) if per_note else 0.0 for k in ROUGE_TYPES}
    return RougeSet(n=len(per_note), per_note=per_note, mean_x100=means)


def aci_rouge_report(golds: Sequence[str], drafts: Sequence[str], *, faithful: bool = True) -> dict[str, Any]:
    """Full-note and per-division ROUGE for a set, keyed like evaluate_fullnote.py's JSON
    (``ALL``, ``division-subjective``, ...), means ×100."""
    from evals.metrics.divisions import aci_division_texts

    report: dict[str, Any] = {"num_test": len(golds), "ALL": rouge_set(golds, drafts).mean_x100}
    for division, (refs, preds) in aci_division_texts(golds, drafts, faithful=faithful).items():
        report[f"division-{division}"] = rouge_set(refs, preds).mean_x100
    return report
