"""The review-effort time model on a worked example, and the note-likeness checks it rests on."""

from __future__ import annotations

import pytest

from evals.metrics import notelike
from evals.metrics.review import Correction, Deletion, Missing, Move, ReviewPlan, Rewrite
from evals.metrics.time_saved import (
    OPERATIONS,
    LegacyCounts,
    TimeConstants,
    describe_constants,
    estimate,
    iqr,
    legacy_saved_s,
    summarise,
)


def _plan(**kw: object) -> ReviewPlan:
    base: dict[str, object] = {"draft_statements": 10, "gold_statements": 12, "draft_words": 238, "gold_words": 190}
    base.update(kw)
    return ReviewPlan.model_validate(base)


def test_worked_example() -> None:
    plan = _plan(
        moves=[Move(draft="x", section="a", to=["b"])],
        rewrites=[Rewrite(draft="Kerry: I owe money", styles=["verbatim"], gold_ids=["s1"], words=11)],
        corrections=[Correction(gold_id="s2", gold="g", draft="d", details=["number: 4", "negation"], critical=True)],
        deletions=[Deletion(draft=f"junk {i}", styles=[]) for i in range(3)],
        missing=[Missing(gold_id="s3", gold="g", critical=False, words=10),
                 Missing(gold_id="s4", gold="g", critical=True, words=9)],
    )
    e = estimate(plan)
    select = 1.1 + 0.6  # point + triple click
    ops = e.by_operation
    assert ops["read"] == pytest.approx(60.0)  # 238 words at 238 wpm
    assert ops["decide"] == pytest.approx(10 * 1.35)
    assert ops["move"] == pytest.approx(select + 1.35 + 1.3 + 4 * 0.28)  # cut, think, place, paste
    assert ops["rewrite"] == pytest.approx(select + 0.28 + 1.35 + 11 / 33 * 60)
    assert ops["fix"] == pytest.approx(2 * (1.35 + 1.1 + 0.4 + 6 * 0.28))  # two details
    assert ops["delete"] == pytest.approx(3 * (select + 0.28))
    assert ops["type_missing"] == pytest.approx(2 * (1.35 + 1.3) + 19 / 19 * 60)
    assert e.manual_s == pytest.approx(600.0)  # 190 words at 19 wpm
    assert e.review_s == pytest.approx(sum(ops.values()))
    assert e.saved_s == pytest.approx(600.0 - e.review_s)
    assert e.saved_fraction == pytest.approx(e.saved_s / 600.0)
    assert list(ops) == list(OPERATIONS)


def test_empty_draft_saves_nothing() -> None:
    plan = _plan(draft_statements=0, draft_words=0, missing=[Missing(gold_id="s1", gold="g", critical=False,
                                                                     words=190)])
    e = estimate(plan)
    assert e.saved_s == pytest.approx(-(1.35 + 1.3))  # composing everything, plus placing it


def test_constants_are_printed() -> None:
    text = describe_constants()
    for needle in ("19 wpm", "238 wpm", "33 wpm", "Card, Moran & Newell (1980)", "20 notes"):
        assert needle in text


def test_summary_median_iqr_grid_and_weekly_hours() -> None:
    plans = [_plan(draft_statements=0, draft_words=238), _plan(draft_statements=0, draft_words=119,
                                                               gold_words=95),
             _plan(draft_statements=0, draft_words=238, gold_words=38)]
    s = summarise(plans, TimeConstants(notes_per_week=30))
    assert s is not None and s.n == 3
    assert s.median_saved_s == pytest.approx(270.0)  # 300 - 30
    assert s.iqr_saved_s == pytest.approx((165.0, 405.0))  # inclusive quartiles of (60, 270, 540)
    assert s.hours_per_worker_week == pytest.approx(270 * 30 / 3600)
    cells = {(g["compose_wpm"], g["read_wpm"]): g["median_saved_s"] for g in s.grid}
    assert set(cells) == {(c, r) for c in (19.0, 33.0) for r in (183.0, 238.0, 300.0)}
    assert cells[(33.0, 238.0)] < cells[(19.0, 238.0)] < cells[(19.0, 300.0)]
    assert s.mean_by_operation["read"] == pytest.approx((60 + 30 + 60) / 3)
    assert summarise([]) is None


def test_legacy_model_kept_for_comparison() -> None:
    c = LegacyCounts(gold_words=190, draft_words=238, omissions=2, omitted_words=10, corrections=1,
                     corrected_words=6, unsupported=3)
    assert legacy_saved_s(c) == pytest.approx(600 - (60 + 3 * 2.45 + 16 / 33 * 60 + 4.5))


def test_iqr_edges() -> None:
    assert iqr([5.0]) == (5.0, 5.0)
    assert iqr([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)


SEGMENTS = ["I owe one thousand pounds in rent and I can't sleep at night.", "Has he been in touch since?"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kerry said she owes rent arrears and is not sleeping.", []),
        ('Kerry said: "I owe one thousand pounds in rent."', ["verbatim"]),
        ("I owe one thousand pounds in rent.", ["verbatim", "first_person"]),
        ("We agreed to meet on Monday.", ["first_person"]),
        ('Priya asked: "Has he been in touch since?"', ["verbatim", "question"]),
        ("Has Jason been in touch?", ["question"]),
        ('Kerry said: "Okay. Thank you. It helps to have a plan."', ["pleasantry"]),
        ('Tyler said: "Thanks, see you."', ["pleasantry"]),
        ("Kerry thanked Priya for the referral to money advice and the food bank voucher.", []),
        ('Told it was standard risk, Kerry said: "I can\'t sleep at night."', ["verbatim"]),
    ],
)
def test_note_likeness(text: str, expected: list[str]) -> None:
    assert notelike.styles(text, SEGMENTS) == expected


def test_reordered_words_are_not_verbatim() -> None:
    # The same words in another order are a paraphrase, not a quote.
    assert not notelike.is_verbatim("There was much food in the kitchen.", ["there isn't much in the kitchen for food"])
