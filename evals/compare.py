"""`assistant eval compare RUN_A RUN_B`: paired, per-item differences between two evaluation runs.

A drafting strategy is accepted or rejected on this: the same items, drafted two ways and scored by the same
harness. For every metric both runs have, the per-item difference B - A, its mean with a bootstrap 95%
confidence interval (items resampled with replacement), and the items that got worse, by name. Items in only
one run are listed and left out; a run scored by an older harness is refused (re-run `eval run` on it to
re-score its stored drafts).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from statistics import mean
from typing import Any, Literal

from pydantic import BaseModel, Field

Direction = Literal["higher", "lower", "closer_to_1", "none"]

BOOTSTRAP_SAMPLES = 10_000
# Differences smaller than this (relative to the metric's scale) are ties, not items that got worse.
TIE = 1e-9

HEADLINE: tuple[str, ...] = (
    "section_accuracy", "fact_recall", "critical_fact_recall", "attribution_accuracy", "unsupported_rate",
    "words_ratio", "draft_statements", "share_verbatim", "share_question", "time_saved_s", "time_saved_fraction",
    "rouge1", "rougeLsum", "semantic_f1", "timings_s.draft",
)


def direction(metric: str) -> Direction:
    """Which way is better for a metric."""
    if metric == "words_ratio":
        return "closer_to_1"
    if metric in ("draft_statements", "draft_words", "n_facts", "n_critical_facts", "aligned_statements",
                  "time_manual_s", "review.draft_statements", "review.gold_statements", "review.kept",
                  "time_saved_v1_s") or metric.startswith("timings_s.score"):
        return "none"
    lower = ("unsupported", "omissions", "corrections", "share_", "review.", "time.", "time_review_s", "timings_s.")
    if metric.startswith(lower):
        return "lower"
    return "higher"


class RunError(ValueError):
    pass


class MetricDiff(BaseModel):
    metric: str
    direction: Direction
    n: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci95: tuple[float, float]
    worse: list[str] = Field(default_factory=list, description="item ids that got worse")
    better: list[str] = Field(default_factory=list)


class Comparison(BaseModel):
    run_a: str
    run_b: str
    paired: list[str]
    only_a: list[str]
    only_b: list[str]
    failed: dict[str, list[str]]
    metrics: list[MetricDiff]


def load_run(folder: Path) -> dict[str, dict[str, Any]]:
    """Item id -> its last result line; refuses a folder scored by an older harness (one line naming the field)."""
    from evals.runner import HARNESS_VERSION, _read_results

    path = folder / "results.jsonl"
    if not path.is_file():
        raise RunError(f"{folder}: no results.jsonl (not an evaluation run folder)")
    results = _read_results(path)
    if not results:
        raise RunError(f"{folder}: results.jsonl holds no items")
    for rid, r in results.items():
        if r.get("status") != "ok":
            continue
        if "harness" not in r:
            raise RunError(f"{folder}: item {rid} lacks the field 'harness' (scored by an older harness; run "
                           "`assistant eval run` with the same options to re-score it)")
        if r["harness"] != HARNESS_VERSION:
            raise RunError(f"{folder}: item {rid} has 'harness' {r['harness']}, not {HARNESS_VERSION}")
    return results


def item_values(result: dict[str, Any]) -> dict[str, float]:
    """Every numeric metric of one item, with its timings as `timings_s.<stage>`."""
    out = {k: float(v) for k, v in result.get("metrics", {}).items()
           if isinstance(v, int | float) and not isinstance(v, bool)}
    out.update({f"timings_s.{k}": float(v) for k, v in result.get("timings_s", {}).items()
                if isinstance(v, int | float)})
    return out


def bootstrap_ci(diffs: Sequence[float], samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean difference."""
    if len(diffs) == 1:
        return (diffs[0], diffs[0])
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(rng.choice(diffs) for _ in range(n)) / n for _ in range(samples))
    return (means[int(0.025 * samples)], means[min(samples - 1, int(0.975 * samples))])


def _worse(a: float, b: float, way: Direction) -> bool | None:
    """True when b is worse than a, False when better, None for a tie or no direction."""
    if way == "none":
        return None
    if way == "closer_to_1":
        a, b = abs(a - 1), abs(b - 1)
        way = "lower"
    scale = max(abs(a), abs(b), 1.0)
    if abs(b - a) <= TIE * scale:
        return None
    return (b < a) if way == "higher" else (b > a)


def compare_runs(folder_a: Path, folder_b: Path, *, samples: int = BOOTSTRAP_SAMPLES) -> Comparison:
    a, b = load_run(folder_a), load_run(folder_b)
    ok_a = {i for i, r in a.items() if r.get("status") == "ok"}
    ok_b = {i for i, r in b.items() if r.get("status") == "ok"}
    paired = [i for i in a if i in ok_a and i in ok_b]
    failed = {"a": sorted(set(a) - ok_a), "b": sorted(set(b) - ok_b)}
    values_a = {i: item_values(a[i]) for i in paired}
    values_b = {i: item_values(b[i]) for i in paired}
    names = sorted({k for i in paired for k in values_a[i]} & {k for i in paired for k in values_b[i]})
    diffs: list[MetricDiff] = []
    for name in names:
        ids = [i for i in paired if name in values_a[i] and name in values_b[i]]
        if not ids:
            continue
        xs = [values_a[i][name] for i in ids]
        ys = [values_b[i][name] for i in ids]
        d = [y - x for x, y in zip(xs, ys, strict=True)]
        way = direction(name)
        verdicts = {i: _worse(x, y, way) for i, x, y in zip(ids, xs, ys, strict=True)}
        diffs.append(MetricDiff(
            metric=name, direction=way, n=len(ids), mean_a=mean(xs), mean_b=mean(ys), mean_diff=mean(d),
            ci95=bootstrap_ci(d, samples), worse=[i for i, v in verdicts.items() if v is True],
            better=[i for i, v in verdicts.items() if v is False]))
    return Comparison(run_a=str(folder_a), run_b=str(folder_b), paired=paired,
                      only_a=sorted(set(a) - set(b)), only_b=sorted(set(b) - set(a)), failed=failed, metrics=diffs)


def _num(v: float) -> str:
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def render(cmp: Comparison, *, all_metrics: bool = False) -> str:
    lines = [f"# Paired comparison: B = {cmp.run_b} against A = {cmp.run_a}", "",
             f"{len(cmp.paired)} items paired. Differences are B - A, with a bootstrap 95% interval of the mean "
             f"({BOOTSTRAP_SAMPLES} resamples).", ""]
    if cmp.only_a or cmp.only_b:
        lines.append(f"Left out, in one run only: A {', '.join(cmp.only_a) or '-'}; B {', '.join(cmp.only_b) or '-'}.")
    if cmp.failed["a"] or cmp.failed["b"]:
        lines.append(f"Left out, failed: A {', '.join(cmp.failed['a']) or '-'}; B {', '.join(cmp.failed['b']) or '-'}.")
    lines += ["", "| metric | better | A mean | B mean | B - A | 95% CI | worse / better (items) |",
              "|---|---|---|---|---|---|---|"]
    by_name = {m.metric: m for m in cmp.metrics}
    shown = [by_name[k] for k in HEADLINE if k in by_name]
    if all_metrics:
        shown += [m for m in cmp.metrics if m.metric not in HEADLINE]
    for m in shown:
        way = {"higher": "higher", "lower": "lower", "closer_to_1": "closer to 1", "none": "-"}[m.direction]
        lines.append(f"| {m.metric} | {way} | {_num(m.mean_a)} | {_num(m.mean_b)} | {_num(m.mean_diff)} | "
                     f"{_num(m.ci95[0])} to {_num(m.ci95[1])} | {len(m.worse)} / {len(m.better)} |")
    lines += ["", "Items that got worse:", ""]
    for m in shown:
        if m.worse:
            lines.append(f"- {m.metric}: {', '.join(m.worse)}")
    return "\n".join(lines) + "\n"


def chart(cmp: Comparison, path: Path, a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> Path:
    """One row per headline metric: each item's difference as a dot, the mean and its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_name = {m.metric: m for m in cmp.metrics}
    shown = [by_name[k] for k in HEADLINE if k in by_name]
    fig, axes = plt.subplots(len(shown), 1, figsize=(7, 0.75 * len(shown) + 0.8), squeeze=False)
    for ax, m in zip(axes[:, 0], shown, strict=True):
        d = [item_values(b[i])[m.metric] - item_values(a[i])[m.metric] for i in cmp.paired
             if m.metric in item_values(a[i]) and m.metric in item_values(b[i])]
        colour = "grey"
        if m.direction != "none" and not (m.ci95[0] <= 0 <= m.ci95[1]):
            good = (m.mean_diff > 0) == (m.direction == "higher") if m.direction != "closer_to_1" else \
                abs(m.mean_b - 1) < abs(m.mean_a - 1)
            colour = "tab:green" if good else "tab:red"
        ax.scatter(d, [0] * len(d), s=12, alpha=0.5, color="tab:blue")
        ax.errorbar([m.mean_diff], [0], xerr=[[m.mean_diff - m.ci95[0]], [m.ci95[1] - m.mean_diff]], fmt="D",
                    color=colour, capsize=4)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks([])
        ax.set_ylabel(m.metric, rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("B - A per item (dots), mean and 95% interval (diamond)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(cmp: Comparison, out: Path, folder_a: Path, folder_b: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md = out / "compare.md"
    md.write_text(render(cmp, all_metrics=True) + "\n![paired differences](compare.png)\n", encoding="utf-8")
    js = out / "compare.json"
    js.write_text(json.dumps(cmp.model_dump(), indent=2), encoding="utf-8")
    png = chart(cmp, out / "compare.png", load_run(folder_a), load_run(folder_b))
    return [md, js, png]
