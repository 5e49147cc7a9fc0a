"""Fact recall, omissions, corrections, unsupported statements, attribution and section accuracy.

Uses the real packaged all-MiniLM-L6-v2 (loaded once per process by `get_embedder`)."""

from __future__ import annotations

import pytest

from assistant.records import CaseRecord, Section, Statement
from assistant.transcript import Transcript
from evals.metrics.facts import (
    Fact,
    align_facts,
    atomic_statements,
    dates_in,
    detail_mismatches,
    facts_from_note,
    is_critical,
    medicines_in,
    numbers_in,
    record_agreement,
    same_person,
    unsupported_statements,
)
from evals.metrics.semantic import Embedder, get_embedder, semantic_similarity, split_sentences


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder()


def test_detail_extractors() -> None:
    assert numbers_in("Lisinopril twenty milligrams twice a day; owes £1,240; 3/7 hx") >= {"20", "2", "1240", "3/7"}
    assert "1" not in numbers_in("no one else at home")
    assert medicines_in("Continue Lisinopril and start atorvastatin") == {"lisinopril", "atorvastatin"}
    assert dates_in("Review Thursday the 14th at 4pm") == {"thursday", "14th", "4pm"}
    assert "may" not in dates_in("She may need a referral")
    assert detail_mismatches("He denies chest pain.", "He reports chest pain.") == ["negation"]
    assert detail_mismatches("Metformin 500 mg twice daily.", "Metformin 1000 mg twice daily.") == ["number: 500"]
    assert detail_mismatches("Metformin 500 mg twice daily.", "Takes metformin 500 mg two times a day.") == []


def test_atomic_statements_drop_headers_and_split() -> None:
    note = "HISTORY OF PRESENT ILLNESS\n\n• Cough for 2 weeks. No fever; no chest pain.\nPlan:\nReview in 1 week."
    assert atomic_statements(note) == ["Cough for 2 weeks.", "No fever", "no chest pain.", "Review in 1 week."]
    facts = facts_from_note("Start amoxicillin 500 mg three times a day.\nHe enjoys walking.")
    assert [f.critical for f in facts] == [True, False]
    assert is_critical("She denied thoughts of self-harm.")


def test_alignment_matched_correction_omission(embedder: Embedder) -> None:
    facts = [
        Fact(id="f1", text="He has had a cough for about 2 weeks.", critical=False),
        Fact(id="f2", text="He denies chest pain.", critical=True),
        Fact(id="f3", text="Start prednisolone 40 mg once daily for 5 days.", critical=True),
        Fact(id="f4", text="His daughter will collect the prescription on Friday.", critical=False),
    ]
    draft = [
        "Cough for roughly two weeks.",
        "He reports chest pain.",  # polarity flipped -> correction
        "Start prednisolone 30 mg once daily for 5 days.",  # wrong dose -> correction
        "Oxygen saturation was 97%.",
    ]
    al = align_facts(facts, draft, embedder)
    status = {m.fact_id: m.status for m in al.matches}
    assert status == {"f1": "matched", "f2": "correction", "f3": "correction", "f4": "omission"}
    by_id = {m.fact_id: m for m in al.matches}
    assert by_id["f2"].mismatches == ["negation"]
    assert by_id["f3"].mismatches == ["number: 40"]
    s = al.summary()
    assert s["fact_recall"] == pytest.approx(0.25)
    assert s["critical_fact_recall"] == 0.0
    assert (s["omissions_critical"], s["omissions_other"], s["corrections_critical"]) == (0, 1, 2)
    # no draft at all: everything omitted
    assert align_facts(facts, [], embedder).recall() == 0.0


def test_unsupported_statements_against_the_transcript() -> None:
    transcript = (
        "[doctor] how is the cough ?\n[patient] about two weeks now , no fever .\n"
        "[doctor] i'll start prednisolone forty milligrams for five days ."
    )
    statements = [
        "Cough for 2 weeks without fever.",
        "Prednisolone 40 mg for 5 days.",
        "He smokes 20 cigarettes a day.",
        "Prednisolone 60 mg for 5 days.",
    ]
    for method in ("auto", "local"):
        used, flagged = unsupported_statements(statements, transcript, method=method)  # type: ignore[arg-type]
        assert [t for t, _ in flagged] == statements[2:], used


def test_semantic_similarity_is_sentence_level(embedder: Embedder) -> None:
    assert split_sentences("• Cough. No fever.\nReview in 1 week.") == ["Cough.", "No fever.", "Review in 1 week."]
    same = semantic_similarity("Cough for two weeks. No fever.", "Cough for two weeks. No fever.", embedder)
    assert same.f1 == pytest.approx(1.0, abs=1e-4)
    close = semantic_similarity("Cough for two weeks. No fever.", "Two weeks of coughing, afebrile.", embedder)
    far = semantic_similarity("Cough for two weeks. No fever.", "The rent is paid on Mondays.", embedder)
    assert far.f1 < close.f1 < 1.0
    assert semantic_similarity("", "anything", embedder).f1 == 0.0


def _record(statements: list[tuple[str, str, str]]) -> CaseRecord:
    sections: dict[str, list[Statement]] = {}
    for section, text, who in statements:
        sections.setdefault(section, []).append(Statement(text=text, attributed_to=who))
    return CaseRecord(
        template_id="sc_contact_note",
        transcript=Transcript(),
        sections=[Section(id=k, title=k, status="drafted", statements=v) for k, v in sections.items()],
    )


def test_attribution_and_section_accuracy(embedder: Embedder) -> None:
    gold = _record(
        [
            ("views", "Leanne said she has been feeling low for a month.", "Leanne Price"),
            ("child", "Mia said she likes her new school.", "Mia Price"),
            ("actions", "Sarah will refer Leanne to the housing support team by Friday.", "Sarah Okafor"),
        ]
    )
    draft = _record(
        [
            ("views", "Leanne has been feeling low for about a month.", "Mia"),  # wrong person
            ("views", "Mia likes her new school.", "Mia"),  # wrong section
            ("actions", "Sarah will refer Leanne to housing support by Friday.", "Sarah"),
            ("actions", "The weather was cold.", "Sarah"),  # aligns to nothing
        ]
    )
    agree = record_agreement(draft, gold, embedder)
    assert agree.n_draft_statements == 4 and agree.n_aligned == 3
    assert (agree.attribution_correct, agree.section_correct) == (2, 2)
    assert agree.attribution_accuracy == pytest.approx(2 / 3)
    assert same_person("Leanne", "Leanne Price") and same_person("Dr Patel", "Anil Patel")
    assert not same_person("Mia", "Leanne Price")
