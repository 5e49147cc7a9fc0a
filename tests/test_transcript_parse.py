"""parse_text on each input style the drafting pipeline accepts."""

from __future__ import annotations

import pytest

from assistant.transcript import parse_text


def test_name_lines_with_present_header() -> None:
    t = parse_text("Present: Sam Reid (social worker), Leanne Hart (mother, mother of Kai)\n"
                   "Sam: Hello Leanne.\nLeanne: Hi. Come in.\n")
    assert [p.name for p in t.participants] == ["Sam Reid", "Leanne Hart"]
    assert t.participants[1].role == "mother" and t.participants[1].relationship == "mother of Kai"
    assert [(s.id, s.speaker, s.text) for s in t.segments] == [(0, "Sam", "Hello Leanne."),
                                                               (1, "Leanne", "Hi. Come in.")]


def test_aci_bench_bracket_tags() -> None:
    t = parse_text("[doctor] hi , how are you ?\n[patient] my knee hurts .\n[doctor] okay .")
    assert [s.speaker for s in t.segments] == ["Doctor", "Patient", "Doctor"]
    assert t.segments[1].text == "my knee hurts ."


def test_primock_doctor_patient_lines() -> None:
    t = parse_text("Doctor: Good morning, what can I do for you?\nPatient: I've had a cough for a week.\n")
    assert [s.speaker for s in t.segments] == ["Doctor", "Patient"]
    assert t.segments[1].text.startswith("I've had a cough")


def test_untagged_paragraphs_are_one_author() -> None:
    t = parse_text("Visited the family at home.\nMum said she was tired.\n\nKai was at school.", author="worker")
    assert {s.speaker for s in t.segments} == {"worker"}
    assert len(t.segments) == 2


def test_long_turns_split_into_sentence_segments_with_stable_ids() -> None:
    long_turn = " ".join(f"This is sentence number {i} of a long answer." for i in range(20))
    t = parse_text(f"Sam: Tell me more.\nLeanne: {long_turn}\n")
    assert len(t.segments) > 3
    assert [s.id for s in t.segments] == list(range(len(t.segments)))
    assert all(s.speaker == "Leanne" for s in t.segments[1:])
    again = parse_text(f"Sam: Tell me more.\nLeanne: {long_turn}\n")
    assert [s.text for s in again.segments] == [s.text for s in t.segments] and again.id == t.id


def test_date_header_gives_the_contact_date_and_is_not_a_turn() -> None:
    t = parse_text("Date: 14 March 2026\nPresent: Jo (social worker), Sam (father)\nJo: How are things?\n"
                   "Sam: Better, thanks.\n")
    assert t.contact_date == "14 March 2026"
    assert [s.speaker for s in t.segments] == ["Jo", "Sam"]
    assert parse_text("Jo: Hello.\nSam: Date: tomorrow?\n").contact_date is None
    # Only a header: a "Date:" line after the conversation has started is what someone said.
    late = parse_text("Jo: Hello there.\nDate: 1 May 2026\n")
    assert late.contact_date is None


def test_present_grammar_is_shared_with_the_upload_form() -> None:
    from assistant.api.schemas import parse_present as upload_present
    from assistant.transcript import parse_present

    value = "Priya  Shah (social worker)\nLeanne Hart (mother, mother of Kai); Sam (carer; paid), Jo."
    people = parse_present(value)
    assert [(p.name, p.role, p.relationship) for p in people] == [
        ("Priya Shah", "social worker", ""), ("Leanne Hart", "mother", "mother of Kai"),
        ("Sam", "carer; paid", ""), ("Jo", "", "")]
    assert [p.model_dump() for p in upload_present(value)] == [p.model_dump() for p in people]
    # A line of typed notes skips what it cannot read; the upload form refuses it.
    assert [p.name for p in parse_present("Priya) Shah, Jo")] == ["Jo"]
    with pytest.raises(ValueError, match="role in brackets"):
        upload_present("Priya) Shah, Jo")
