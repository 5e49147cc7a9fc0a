"""The time-saved model on a worked example."""

from __future__ import annotations

import pytest

from evals.metrics.time_saved import EditCounts, TimeConstants, describe_constants, estimate, iqr, summarise


def test_worked_example() -> None:
    # A 190-word gold note; a 238-word draft missing 2 facts (10 words), 1 wrong fact (6 words retyped),
    # 3 unsupported statements to delete.
    counts = EditCounts(
        gold_words=190, draft_words=238, omissions=2, omitted_words=10, corrections=1, corrected_words=6, unsupported=3
    )
    e = estimate(counts)
    assert e.manual_s == pytest.approx(600.0)  # 190 / 19 wpm = 10 min
    assert e.read_s == pytest.approx(60.0)  # 238 / 238 wpm = 1 min
    assert e.fix_s == pytest.approx(3 * 2.45)  # (2 omissions + 1 correction) x (1.35 s think + 1.1 s point)
    assert e.type_s == pytest.approx(16 / 33 * 60)  # 29.09 s
    assert e.delete_s == pytest.approx(4.5)
    assert e.assist_s == pytest.approx(60 + 7.35 + 16 / 33 * 60 + 4.5)  # 100.94 s
    assert e.saved_s == pytest.approx(600 - 100.9409, abs=1e-3)
    assert e.saved_fraction == pytest.approx(0.8318, abs=1e-4)


def test_constants_are_printed() -> None:
    text = describe_constants()
    for needle in ("19 wpm", "238 wpm", "2.45 s per fix", "33 wpm", "1.5 s per deleted span", "20 notes"):
        assert needle in text


def test_summary_median_iqr_grid_and_weekly_hours() -> None:
    notes = [
        EditCounts(gold_words=190, draft_words=238),  # saves 600 - 60 = 540 s
        EditCounts(gold_words=95, draft_words=119),  # saves 300 - 30 = 270 s
        EditCounts(gold_words=38, draft_words=238, omissions=4, omitted_words=33),  # 120 - (60 + 9.8 + 60) = -9.8
    ]
    s = summarise(notes, TimeConstants(notes_per_week=30))
    assert s is not None and s.n == 3
    assert s.median_saved_s == pytest.approx(270.0)
    assert s.iqr_saved_s == pytest.approx((130.1, 405.0))  # inclusive quartiles of (-9.8, 270, 540)
    assert s.hours_per_worker_week == pytest.approx(270 * 30 / 3600)
    cells = {(g["compose_wpm"], g["read_wpm"]): g["median_saved_s"] for g in s.grid}
    assert set(cells) == {(c, r) for c in (19.0, 33.0) for r in (183.0, 238.0, 300.0)}
    assert cells[(19.0, 238.0)] == pytest.approx(270.0)
    # faster composition shrinks the saving; faster reading grows it
    assert cells[(33.0, 238.0)] < cells[(19.0, 238.0)] < cells[(19.0, 300.0)]
    assert cells[(19.0, 183.0)] == pytest.approx(95 / 19 * 60 - 119 / 183 * 60)
    assert summarise([]) is None


def test_iqr_edges() -> None:
    assert iqr([5.0]) == (5.0, 5.0)
    assert iqr([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)
