"""Participants, windows, merge and sections: the typed stages around the model. No model."""

from __future__ import annotations

from helpers_drafting import fixture_transcript

from assistant.drafting.extract import Candidate, allowed_sections
from assistant.drafting.merge import merge_candidates
from assistant.drafting.participants import identify_participants
from assistant.drafting.sections import build_sections
from assistant.drafting.windows import estimate_tokens, make_windows
from assistant.records import Statement
from assistant.templates import get_template
from assistant.transcript import Participant, parse_text


def test_cast_from_present_line_with_groups_and_relationships() -> None:
    t = fixture_transcript("attribution_visit.txt")
    cast = identify_participants(t, get_template("sc_contact_note"))
    assert cast.worker == "Sam Reid"
    assert cast.subjects == ["Kai Hart"]
    leanne = cast.by_speaker("Leanne")
    assert leanne is not None and leanne.name == "Leanne Hart" and leanne.group == "family"
    assert leanne.relationship == "mother of Kai Hart"
    text = cast.describe()
    assert "Leanne Hart: mother, mother of Kai Hart" in text and "the worker writing this record" in text


def test_cast_for_unlabelled_clinical_dialogue_and_typed_notes() -> None:
    t = parse_text("[doctor] Hello, what brings you in today?\n[patient] My knee has hurt for two weeks.\n")
    cast = identify_participants(t, get_template("clin_consult_note"))
    assert cast.worker == "Doctor" and cast.subjects == ["Patient"]
    notes = parse_text("Visited the family at home. Mum said she was tired.")
    cast = identify_participants(notes, get_template("sc_contact_note"),
                                 extra=[Participant(name="Jo", role="mother")])
    assert cast.single_author and cast.worker == "author"


def test_a_mothers_words_can_never_be_filed_as_the_childs_views() -> None:
    template = get_template("sc_contact_note")
    assert "views_subject" not in allowed_sections(template, "family", single_author=False)
    assert "views_family" not in allowed_sections(template, "subject", single_author=False)
    assert "observations" in allowed_sections(template, "worker", single_author=False)
    assert "analysis" not in allowed_sections(template, "worker", single_author=True)  # human_only


def test_windows_split_on_segment_boundaries_with_overlap() -> None:
    lines = [f"[{i}] A: " + "word " * 40 for i in range(60)]
    t = parse_text("\n".join(f"A: {'word ' * 40}" for _ in range(60)))
    windows = make_windows(t, lines, max_tokens=600, overlap_tokens=60)
    assert len(windows) > 1
    assert all(w.tokens <= 600 + estimate_tokens(lines[0]) for w in windows)
    covered = {i for w in windows for i in w.segment_ids}
    assert covered == set(range(60))
    assert set(windows[0].segment_ids) & set(windows[1].segment_ids)  # overlap keeps a question with its answer
    for w in windows:
        assert w.segment_ids == sorted(w.segment_ids)
    one = make_windows(t, lines[:5], max_tokens=4000)
    assert len(one) == 1


def _cand(text: str, section: str, ev: list[int], source: str = "llm") -> Candidate:
    return Candidate(section=section, statement=Statement(text=text, evidence=ev), source=source)  # type: ignore[arg-type]


def test_merge_removes_repeats_but_keeps_distinct_facts() -> None:
    cands = [
        _cand("Leanne has been feeling low since Christmas.", "views_family", [3]),
        _cand("Leanne has been feeling low since Christmas.", "views_family", [5]),
        _cand("Leanne has been feeling very low since Christmas!", "views_family", [3]),
        _cand("Leanne is £640 behind on rent.", "risks_strengths", [5]),
        _cand("Leanne is £650 behind on rent.", "risks_strengths", [6]),
    ]
    kept, removed = merge_candidates(cands)
    assert removed == 2
    assert [c.statement.text for c in kept] == ["Leanne has been feeling low since Christmas.",
                                                "Leanne is £640 behind on rent.", "Leanne is £650 behind on rent."]


def test_sections_never_fill_human_only_and_mark_empty_as_not_discussed() -> None:
    template = get_template("sc_contact_note")
    cands = [_cand("Sam thinks the risk is high.", "analysis", [1]),
             _cand("Sam saw a tidy kitchen.", "observations", [2])]
    sections, notes = build_sections(template, cands)
    by_id = {s.id: s for s in sections}
    assert by_id["analysis"].status == "human_only" and by_id["analysis"].statements == []
    assert any("human-only" in n for n in notes)
    assert by_id["observations"].status == "drafted"
    assert by_id["observations"].statements[0].id == "s1"
    assert by_id["purpose"].status == "not_discussed"
    assert [s.id for s in sections] == [s.id for s in template.sections]


def test_notes_are_cleaned_and_empty_ones_dropped() -> None:
    from assistant.drafting.detectors import REDACTED
    from assistant.drafting.extract import clean_note

    assert clean_note("leanne feels low since Christmas", "Leanne") == "Leanne feels low since Christmas."
    assert clean_note("I've been feeling low.", "Leanne") == 'Leanne said: "I\'ve been feeling low."'
    for empty in ("-", "N/A", "£400.", "Yes.", f"- {REDACTED}", "nothing to record"):
        assert clean_note(empty, "Leanne") == "", empty


def test_batches_fit_the_room_left_in_the_context() -> None:
    from assistant.drafting.extract import BATCH_SIZE, Unit, pack_batches

    units = [Unit(key=str(i), segment_ids=[i], speaker="A", name="A", group="family", sections=["x"])
             for i in range(20)]
    texts = {i: "word " * 50 for i in range(20)}
    small = pack_batches(units, texts, room=500)
    assert all(1 <= len(b) < 5 for b in small) and sum(len(b) for b in small) == 20
    large = pack_batches(units, texts, room=100_000)
    assert [len(b) for b in large] == [BATCH_SIZE, BATCH_SIZE, 20 - 2 * BATCH_SIZE]


def test_people_referred_to_by_name_or_role() -> None:
    from assistant.drafting.verify import referenced_people

    cast = identify_participants(fixture_transcript("attribution_visit.txt"), get_template("sc_contact_note"))
    assert referenced_people("The child's sister helps.", cast) == {"Kai Hart"}
    assert referenced_people("Leanne's mum helps.", cast) == {"Leanne Hart"}
    assert referenced_people("Sam Reid will ring the school.", cast) == {"Sam Reid"}
