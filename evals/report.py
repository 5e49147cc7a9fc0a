"""report.md with tables and matplotlib PNG charts for one run folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.metrics.time_saved import OPERATIONS, TimeConstants, describe_constants

_HEADLINE = (
    ("rouge1", "ROUGE-1"),
    ("rouge2", "ROUGE-2"),
    ("rougeLsum", "ROUGE-L (rougeLsum)"),
    ("rougeL", "rougeL (plain)"),
    ("semantic_f1", "semantic F1 (ours, MiniLM)"),
    ("fact_recall", "fact recall"),
    ("critical_fact_recall", "critical fact recall"),
    ("omissions_critical", "critical omissions / note"),
    ("omissions_other", "other omissions / note"),
    ("corrections", "corrections / note"),
    ("unsupported_rate", "unsupported-statement rate"),
    ("attribution_accuracy", "attribution accuracy"),
    ("section_accuracy", "section placement accuracy"),
    ("words_ratio", "draft words / gold words"),
    ("draft_statements", "draft statements / note"),
    ("share_verbatim", "share of statements verbatim"),
    ("share_first_person", "share of statements in the first person"),
    ("share_question", "share of statements that are questions"),
    ("share_pleasantry", "share of statements that are pleasantries"),
    ("time_saved_s", "time saved / note (s)"),
    ("time_saved_fraction", "time saved / note (share of manual)"),
    ("time_saved_v1_s", "time saved / note, first model (s, superseded)"),
)
_OPERATION_COUNTS = {
    "read": ("draft_words", "words"),
    "decide": ("review.draft_statements", "statements"),
    "move": ("review.moves", "moves"),
    "rewrite": ("review.rewrites", "rewrites"),
    "fix": ("review.fixes", "details"),
    "delete": ("review.deletions", "deletions"),
    "type_missing": ("review.missing", "statements"),
}


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _save(fig: Any, out: Path, name: str, title: str) -> tuple[str, str]:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name, title


def _grouped_bars(ax: Any, groups: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], width: float) -> None:
    """One bar per series in each group, the group's label under the middle of its bars."""
    for n, (label, values) in enumerate(series):
        ax.bar([i + n * width for i in range(len(groups))], values, width, label=label)
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(groups))])
    ax.set_xticklabels(groups)
    ax.set_ylabel("x100")


def _charts(out: Path, summary: dict[str, Any], results: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")

    ok = [r for r in results if r.get("status") == "ok"]
    if not ok:
        return []
    made = [_metrics_chart(out, ok)]
    aci = summary.get("aci_rouge")
    if aci:
        made.append(_divisions_chart(out, aci))
    ts = summary.get("time_saved")
    if ts:
        made.append(_time_saved_chart(out, ts, ok))
        made.extend(_effort_chart(out, ok))
    if aci and summary.get("published_aci"):
        made.append(_published_chart(out, aci, summary["published_aci"]))
    return made


def _metrics_chart(out: Path, ok: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """Per-note metric distributions."""
    import matplotlib.pyplot as plt

    dist = (("rouge1", "R-1"), ("rouge2", "R-2"), ("rougeLsum", "R-Lsum"), ("semantic_f1", "semantic F1"))
    fact = (("fact_recall", "fact recall"), ("critical_fact_recall", "critical recall"),
            ("unsupported_rate", "unsupported"))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    data = [[r["metrics"][k] for r in ok if isinstance(r["metrics"].get(k), int | float)] for k, _ in dist]
    axes[0].boxplot(data, tick_labels=[lab for _, lab in dist])
    axes[0].set_title("Per-note scores (x100)")
    data = [[100 * r["metrics"][k] for r in ok if isinstance(r["metrics"].get(k), int | float)] for k, _ in fact]
    keep = [(d, lab) for d, (_, lab) in zip(data, fact, strict=True) if d]
    if keep:
        axes[1].boxplot([d for d, _ in keep], tick_labels=[lab for _, lab in keep])
    axes[1].set_title("Fact-level (%)")
    return _save(fig, out, "metrics.png", "Per-note metric distributions")


def _divisions_chart(out: Path, aci: dict[str, Any]) -> tuple[str, str]:
    """ROUGE per ACI section divider division."""
    import matplotlib.pyplot as plt

    divisions = [k for k in aci if k.startswith("division-")]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    series = [(label, [aci[d][key] for d in divisions])
              for key, label in (("rouge1", "R-1"), ("rouge2", "R-2"), ("rougeLsum", "R-Lsum"))]
    _grouped_bars(ax, [d.removeprefix("division-") for d in divisions], series, 0.25)
    ax.set_title("ROUGE by ACI division")
    ax.legend()
    return _save(fig, out, "divisions.png", "ROUGE per ACI-Bench division")


def _time_saved_chart(out: Path, ts: dict[str, Any], ok: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """Time saved per note, with the band of medians across the sensitivity grid."""
    import matplotlib.pyplot as plt

    saved = [r["metrics"]["time_saved_s"] / 60 for r in ok if "time_saved_s" in r["metrics"]]
    grid = [g["median_saved_s"] / 60 for g in ts["grid"]]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.hist(saved, bins=min(20, max(5, len(saved))), color="#4c72b0", alpha=0.8)
    ax.axvspan(min(grid), max(grid), color="orange", alpha=0.25, label="median across sensitivity grid")
    ax.axvline(ts["median_saved_s"] / 60, color="black", linestyle="--", label="median (default constants)")
    ax.set_xlabel("estimated minutes saved per note")
    ax.set_ylabel("notes")
    ax.legend(fontsize=8)
    return _save(fig, out, "time_saved.png", "Estimated time saved per note")


def _published_chart(out: Path, aci: dict[str, Any], published: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """This run's full-note ROUGE beside the published ACI-Bench rows."""
    import matplotlib.pyplot as plt

    rows = [("this run", aci["ALL"])] + [(p["system"] + f" [{p['split']}]", p) for p in published]
    keys = (("rouge1", "R-1"), ("rouge2", "R-2"), ("rougeLsum", "R-L (Lsum)"))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    _grouped_bars(ax, [lab for _, lab in keys], [(label, [vals[k] for k, _ in keys]) for label, vals in rows],
                  0.8 / len(rows))
    ax.set_title("Full-note ROUGE: this run vs published (different splits)")
    ax.legend(fontsize=8)
    return _save(fig, out, "published.png", "This run against published ACI-Bench results")


def _effort_chart(out: Path, ok: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Review time per note, stacked by operation, against the manual time."""
    import matplotlib.pyplot as plt

    rows = [r for r in ok if "time_manual_s" in r["metrics"]]
    if not rows:
        return []
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.6))
    left = [0.0] * len(rows)
    for op in OPERATIONS:
        vals = [r["metrics"].get(f"time.{op}_s", 0.0) / 60 for r in rows]
        ax.barh(range(len(rows)), vals, left=left, label=op.replace("_", " "))
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.scatter([r["metrics"]["time_manual_s"] / 60 for r in rows], range(len(rows)), marker="|", s=200,
               color="black", label="writing by hand", zorder=3)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r["id"] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("estimated minutes per note")
    ax.set_title("Review effort by operation")
    ax.legend(fontsize=7, ncol=4, loc="lower right")
    return [_save(fig, out, "review_effort.png", "Review effort per note, by operation, against writing by hand")]


def _effort_tables(ts: dict[str, Any], ok: Sequence[dict[str, Any]]) -> list[str]:
    lines = ["By operation (mean per note):", "", "| operation | count | seconds | share of review |",
             "|---|---|---|---|"]
    total = sum(ts["mean_by_operation"].values()) or 1.0
    for op in OPERATIONS:
        key, unit = _OPERATION_COUNTS[op]
        counts = [r["metrics"][key] for r in ok if isinstance(r["metrics"].get(key), int | float)]
        count = f"{sum(counts) / len(counts):.1f} {unit}" if counts else "-"
        secs = ts["mean_by_operation"][op]
        lines.append(f"| {op.replace('_', ' ')} | {count} | {secs:.0f} | {100 * secs / total:.0f}% |")
    named = []
    for r in ok:
        review = r.get("review") or {}
        for c in review.get("corrections", []):
            if c.get("critical"):
                named.append(f"- {r['id']}: correct ({'; '.join(c['details'])}): {c['gold']}")
        for m in review.get("missing", []):
            if m.get("critical"):
                named.append(f"- {r['id']}: missing: {m['gold']}")
    if named:
        lines += ["", "Critical corrections and missing critical statements:", "", *named]
    return [*lines, ""]


def render_markdown(
    summary: dict[str, Any], results: Sequence[dict[str, Any]], charts: Sequence[tuple[str, str]] = ()
) -> str:
    ok = [r for r in results if r.get("status") == "ok"]
    lines = [*_header_lines(summary), *_score_lines(summary)]
    if summary.get("aci_rouge"):
        lines += _aci_lines(summary["aci_rouge"], summary.get("published_aci", []))
    if summary.get("time_saved"):
        lines += _time_saved_lines(summary["time_saved"], ok)
    if summary.get("timings_s"):
        lines += _timing_lines(summary["timings_s"], summary.get("peak_rss_mb", {}))
    if charts:
        lines += ["## Charts", ""] + [f"![{title}]({name})" for name, title in charts] + [""]
    if ok:
        lines += _item_lines(ok)
    return "\n".join(lines) + "\n"


def _header_lines(summary: dict[str, Any]) -> list[str]:
    run = summary.get("run", {})
    lines = [f"# Evaluation: {run.get('dataset', '?')} ({run.get('engine', '?')})", ""]
    items = summary.get("items", {})
    lines.append(
        f"Items: {items.get('ok', 0)} scored, {items.get('failed', 0)} failed of {items.get('total', 0)}"
        + (f" ({items.get('resumed')} resumed from an earlier run)" if items.get("resumed") else "")
        + "."
    )
    if items.get("failed_ids"):
        lines.append(f"Failed: {', '.join(items['failed_ids'])} (see results.jsonl `error`).")
    for note in summary.get("notes", []):
        lines.append(f"Note: {note}")
    git = summary.get("git") or {}
    models = summary.get("models") or {}
    return lines + [
        "",
        f"Commit {git.get('commit') or '?'}{' (uncommitted changes)' if git.get('dirty') else ''}; "
        f"LLM {', '.join(models.get('llm_model', [])) or '-'}; embedder {models.get('embedder', '-')}.",
        "",
    ]


def _score_lines(summary: dict[str, Any]) -> list[str]:
    lines = ["## Scores", "", "| metric | mean | median | IQR | n |", "|---|---|---|---|---|"]
    metrics = summary.get("metrics", {})
    for key, label in _HEADLINE:
        m = metrics.get(key)
        if m:
            lines.append(
                f"| {label} | {_fmt(m['mean'])} | {_fmt(m['median'])} | {_fmt(m['q1'])}–{_fmt(m['q3'])} | {m['n']} |"
            )
    conv = summary.get("conventions", {})
    return lines + [
        "",
        f"Units: {conv.get('units', '')}. ROUGE: {conv.get('rouge', '')}. Semantic: "
        f"{conv.get('semantic', '')}. Facts: {conv.get('fact_match', '')}. Support: "
        f"{'; '.join(conv.get('support', [])) or '-'}.",
        "",
    ]


def _aci_lines(aci: dict[str, Any], published: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "## ACI-Bench style ROUGE (set means x100)",
        "",
        "| part | ROUGE-1 | ROUGE-2 | ROUGE-L (rougeLsum) | rougeL |",
        "|---|---|---|---|---|",
    ]
    for part, v in aci.items():
        if isinstance(v, dict):
            lines.append(
                f"| {part} | {v['rouge1']:.2f} | {v['rouge2']:.2f} | {v['rougeLsum']:.2f} | {v['rougeL']:.2f} |"
            )
    lines += [
        "",
        "Published for comparison (a different split, so not a like-for-like comparison):",
        "",
        "| system | split | ROUGE-1 | ROUGE-2 | ROUGE-L |",
        "|---|---|---|---|---|",
    ]
    for p in published:
        lines.append(f"| {p['system']} | {p['split']} | {p['rouge1']:.2f} | {p['rouge2']:.2f} | {p['rougeLsum']:.2f} |")
    return [*lines, ""]


def _time_saved_lines(ts: dict[str, Any], ok: Sequence[dict[str, Any]]) -> list[str]:
    k = TimeConstants.model_validate(ts["constants"])
    read_speeds = sorted({g["read_wpm"] for g in ts["grid"]})
    lines = [
        "## Estimated time saved",
        "",
        describe_constants(k),
        "",
        f"Median {ts['median_saved_s'] / 60:.1f} min saved per note (IQR {ts['iqr_saved_s'][0] / 60:.1f}–"
        f"{ts['iqr_saved_s'][1] / 60:.1f}), {_pct(ts.get('median_saved_fraction'))} of the manual time; manual "
        f"{ts['median_manual_s'] / 60:.1f} min vs review {ts['median_review_s'] / 60:.1f} min; about "
        f"{ts['hours_per_worker_week']:.1f} hours per worker per week at {k.notes_per_week:g} notes a week. "
        "This is an estimate from a keystroke-level model, not a measurement.",
        "",
        *_effort_tables(ts, ok),
        "Sensitivity (median minutes saved per note):",
        "",
        "| compose wpm \\ read wpm | " + " | ".join(f"{r:g}" for r in read_speeds) + " |",
        "|---|" + "---|" * len(read_speeds),
    ]
    for compose in sorted({g["compose_wpm"] for g in ts["grid"]}):
        cells = sorted((g for g in ts["grid"] if g["compose_wpm"] == compose), key=lambda g: g["read_wpm"])
        lines.append(f"| {compose:g} | " + " | ".join(f"{g['median_saved_s'] / 60:.1f}" for g in cells) + " |")
    return [*lines, ""]


def _timing_lines(timings: dict[str, Any], peak: dict[str, Any]) -> list[str]:
    lines = ["## Timing and memory", "", "| stage | median s | mean s | n |", "|---|---|---|---|"]
    for stage, t in timings.items():
        lines.append(f"| {stage} | {t['median']:.2f} | {t['mean']:.2f} | {t['n']} |")
    return lines + [
        "",
        f"Peak RSS: harness {peak.get('self', 0):.0f} MB, child processes (embedded LLM server) "
        f"{peak.get('children', 0):.0f} MB.",
        "",
    ]


def _item_lines(ok: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "## Per item",
        "",
        "| id | R-1 | R-Lsum | fact recall | critical omissions | unsupported | statements | words ÷ gold | "
        "not note-like | saved (min) | saved (%) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in ok:
        m = r["metrics"]
        n = m.get("draft_statements") or 0
        styled = sum((m.get(f"share_{s}") or 0) for s in ("verbatim", "first_person", "question", "pleasantry"))
        lines.append(
            f"| {r['id']} | {_fmt(m.get('rouge1'), 1)} | {_fmt(m.get('rougeLsum'), 1)} | "
            f"{_fmt(m.get('fact_recall'))} | {_fmt(m.get('omissions_critical'))} | "
            f"{_fmt(m.get('unsupported'))} | {n} | {_fmt(m.get('words_ratio'))} | "
            f"{_fmt(min(styled, 1.0) if n else None)} | {_fmt((m.get('time_saved_s') or 0) / 60, 1)} | "
            f"{_pct(m.get('time_saved_fraction'))} |"
        )
    return lines


def write_report(out: Path, summary: dict[str, Any], results: Sequence[dict[str, Any]]) -> Path:
    charts = _charts(out, summary, results)
    path = out / "report.md"
    path.write_text(render_markdown(summary, results, charts), encoding="utf-8")
    return path
