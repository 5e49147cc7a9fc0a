"""The ACI-Bench section divider on notes with and without headers, quirks included."""

from __future__ import annotations

from evals.metrics.divisions import (
    DIVISIONS,
    EMPTY,
    LINEBREAK_TOKEN,
    aci_division_texts,
    divide_note,
    divide_note_spans,
)

NOTE = """CHIEF COMPLAINT

Cough.

HISTORY OF PRESENT ILLNESS

Two weeks of cough.

REVIEW OF SYSTEMS

Denies fever.

PHYSICAL EXAMINATION

Wheeze bilaterally.

RESULTS

Oxygen saturation 97%.

ASSESSMENT AND PLAN

Asthma flare. Prednisolone 40 mg daily."""


def test_headed_note_splits_into_four_divisions_in_order() -> None:
    spans = divide_note_spans(NOTE)
    assert [d for d, _, _ in spans] == list(DIVISIONS)
    parts = divide_note(NOTE, faithful=False)
    # the first subjective block (CHIEF COMPLAINT) runs on to the exam header, absorbing HPI and ROS
    assert parts["subjective"].startswith("CHIEF COMPLAINT") and "Denies fever." in parts["subjective"]
    assert parts["objective_exam"].startswith("PHYSICAL EXAMINATION") and "Wheeze" in parts["objective_exam"]
    assert parts["objective_results"].startswith("RESULTS")
    assert parts["assessment_and_plan"].endswith("Prednisolone 40 mg daily.")
    # the divisions tile the note exactly
    assert "".join(parts[d] for d in DIVISIONS) == NOTE


def test_note_without_headers_is_all_subjective() -> None:
    text = "Patient has a cough.\nNo fever.\nWill review."
    parts = divide_note(text, faithful=False)
    assert parts["subjective"] == text
    assert all(parts[d] == EMPTY for d in DIVISIONS[1:])


def test_faithful_mode_keeps_the_lf1_round_trip() -> None:
    parts = divide_note("HPI: cough\nfor two weeks")
    assert parts["subjective"] == f"HPI: cough{LINEBREAK_TOKEN}for two weeks"
    # and input already in __lf1__ form is read back with real newlines first
    assert divide_note(f"cough{LINEBREAK_TOKEN}ASSESSMENT AND PLAN{LINEBREAK_TOKEN}rest", faithful=False) == {
        "subjective": "cough\n",
        "objective_exam": EMPTY,
        "objective_results": EMPTY,
        "assessment_and_plan": "ASSESSMENT AND PLAN\nrest",
    }


def test_colon_headers_case_insensitive_and_bare_on_their_own_line() -> None:
    text = "Subjective: sore throat\nExam:\nred tonsils\nAssessment\ntonsillitis\nplan: penicillin"
    parts = divide_note(text, faithful=False)
    assert parts["subjective"] == "Subjective: sore throat\n"
    assert parts["objective_exam"] == "Exam:\nred tonsils\n"
    # "Assessment" without its colon counts only when alone on the line; "plan:" starts another A&P
    # block, which the first A&P block absorbs
    assert parts["assessment_and_plan"] == "Assessment\ntonsillitis\nplan: penicillin"


def test_uppercase_impression_is_assessment_but_lowercase_is_not() -> None:
    upper = divide_note("RESULTS\nX-ray clear.\nIMPRESSION\nViral illness.", faithful=False)
    assert upper["objective_results"] == "RESULTS\nX-ray clear.\n"
    assert upper["assessment_and_plan"] == "IMPRESSION\nViral illness."
    lower = divide_note("RESULTS\nX-ray clear.\nimpression\nViral illness.", faithful=False)
    assert lower["assessment_and_plan"] == EMPTY
    assert lower["objective_results"].endswith("impression\nViral illness.")


def test_only_first_block_per_division_kept() -> None:
    text = "PHYSICAL EXAM\nwheeze\nASSESSMENT AND PLAN\nasthma\nPHYSICAL EXAM\nrepeat exam"
    parts = divide_note(text, faithful=False)
    assert parts["objective_exam"] == "PHYSICAL EXAM\nwheeze\n"
    assert parts["assessment_and_plan"] == "ASSESSMENT AND PLAN\nasthma\nPHYSICAL EXAM\nrepeat exam"
    assert parts["subjective"] == EMPTY


def test_single_letter_a_or_p_line_is_a_header() -> None:
    # 'a:' and 'p:' headers also match without the colon when alone on a line (a quirk kept on purpose)
    parts = divide_note("cough\nA\nasthma", faithful=False)
    assert parts["assessment_and_plan"] == "A\nasthma"


def test_prose_line_starting_with_a_header_word_is_a_header() -> None:
    # the original's `.*` after a header: "Results were normal." opens objective_results
    parts = divide_note("Cough.\nResults were normal.", faithful=False)
    assert parts["objective_results"] == "Results were normal."


def test_set_level_missing_column_becomes_empty_string() -> None:
    refs = [NOTE, NOTE]
    preds = ["cough and wheeze", "asthma"]  # no prediction has any header
    texts = aci_division_texts(refs, preds)
    assert texts["objective_exam"][1] == ["", ""]  # whole column absent -> '' (not #####EMPTY#####)
    assert texts["subjective"][1] == ["cough and wheeze", "asthma"]
    mixed = aci_division_texts(refs, ["PHYSICAL EXAM\nwheeze", "asthma"])
    assert mixed["objective_exam"][1] == ["PHYSICAL EXAM__lf1__wheeze", EMPTY]
