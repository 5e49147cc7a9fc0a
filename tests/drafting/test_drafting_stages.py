"""Participants, merge, sections and the synthesis helpers: the typed stages around the model. No model."""

from __future__ import annotations

from helpers_drafting import fixture_transcript

from assistant.drafting.findings import Candidate
from assistant.drafting.merge import merge_candidates
from assistant.drafting.participants import identify_participants
from assistant.drafting.sectioner import Unit, allowed
from assistant.drafting.sections import build_sections
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


def _unit(group: str, key: int = 0, text: str = "something said") -> Unit:
    return Unit(key=key, segment_ids=[key], speaker="A", name="A", group=group, text=text)  # type: ignore[arg-type]


def test_a_mothers_words_can_never_be_filed_as_the_childs_views() -> None:
    template = get_template("sc_contact_note")
    spec = {s.id: s for s in template.sections}
    assert not allowed(spec["views_subject"], _unit("family"))
    assert not allowed(spec["views_family"], _unit("subject"))
    assert allowed(spec["observations"], _unit("worker"))
    assert spec["analysis"] not in template.generated_sections  # human_only: never written by the model


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


def test_a_quote_another_quote_of_the_same_line_contains_is_a_repeat() -> None:
    def quote(text: str, ev: list[int], source: str = "extractive", flags: list[str] | None = None) -> Candidate:
        return Candidate(section="views_family", source=source,  # type: ignore[arg-type]
                         statement=Statement(text=text, evidence=ev, kind="quote", flags=flags or []))

    whole = quote('Kerry Walsh said: "Yeah, they came, ten, fifteen minutes? He\'d gone by then. They took a '
                  'statement off me and said they\'d go round to his mum\'s."', [30], "detector")
    part = quote('Kerry Walsh: "They took a statement off me and said they\'d go round to his mum\'s."', [29, 30])
    amount = quote('Kerry Walsh said: "So £400 by the 31st."', [30], "detector")
    request = quote('Kerry Walsh asked for something to be left out: "Just put they took a statement."', [30],
                    "detector", ["leave_out_request"])
    elsewhere = quote('Kerry Walsh: "They took a statement off me."', [12])
    kept, removed = merge_candidates([part, whole, amount, request, elsewhere])
    # The part goes; a different amount, a flagged request and the same words on another line stay.
    assert [c.statement.text for c in kept] == [elsewhere.statement.text, whole.statement.text,
                                                amount.statement.text, request.statement.text] and removed == 1


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


def test_sentences_are_tidied_and_a_cut_one_keeps_no_stop() -> None:
    from assistant.drafting.synthesis import SENTENCE_MAX_CHARS, clean

    assert clean("- leanne feels low since Christmas") == "Leanne feels low since Christmas."
    assert clean('  "Kai is 9."  ') == "Kai is 9."
    assert clean("") == ""
    cut = "word " * 60
    assert not clean(cut[:SENTENCE_MAX_CHARS]).endswith(".")


def test_lines_go_to_the_model_in_small_ordered_batches() -> None:
    from assistant.drafting.synthesis import MAX_LINES_PER_CALL, _batches, max_sentences

    units = [_unit("family", key=i) for i in range(14)]
    batches = _batches(units)
    assert all(len(b) <= MAX_LINES_PER_CALL for b in batches)
    assert [u.key for b in batches for u in b] == list(range(14))
    assert max(len(b) for b in batches) - min(len(b) for b in batches) <= 1  # balanced, no runt batch
    assert max_sentences(1) == 1 and max_sentences(6) < 6


def test_people_referred_to_by_name_or_role() -> None:
    from assistant.drafting.verify import referenced_people

    cast = identify_participants(fixture_transcript("attribution_visit.txt"), get_template("sc_contact_note"))
    assert referenced_people("The child's sister helps.", cast) == {"Kai Hart"}
    assert referenced_people("Leanne's mum helps.", cast) == {"Leanne Hart"}
    assert referenced_people("Sam Reid will ring the school.", cast) == {"Sam Reid"}


def test_a_sentence_the_model_left_in_the_speakers_words_is_kept_as_their_quote() -> None:
    from assistant.drafting.synthesis import as_note

    t = fixture_transcript("attribution_visit.txt")
    template = get_template("sc_contact_note")
    cast = identify_participants(t, template)
    spec = template.section("actions")
    assert spec is not None
    unit = Unit(key=14, segment_ids=[14], speaker="Leanne", name="Leanne Hart", group="family",
                text="Yes, I'll ring the surgery tomorrow morning.")
    copied = as_note("Leanne said I'll ring the surgery tomorrow morning.", [unit], spec, cast, [])
    assert copied.kind == "quote" and copied.text == 'Leanne Hart said: "Yes, I\'ll ring the surgery tomorrow morning."'
    # A rewording in the second person quotes the line it rewords, as said and by whom: never the model's words.
    worker = Unit(key=13, segment_ids=[13], speaker="Sam", name="Sam Reid", group="worker",
                  text="I'll leave you with the form and ring the school on Monday.")
    second = as_note("He will leave you with the form.", [unit, worker], spec, cast, [])
    assert second.kind == "quote" and second.attributed_to == "Sam Reid" and second.evidence == [13]
    assert second.text == 'Sam Reid said: "I\'ll leave you with the form and ring the school on Monday."'
    note = as_note("Leanne will ring the surgery tomorrow morning.", [unit], spec, cast, [])
    assert note.kind == "action" and note.attributed_to == "Leanne Hart" and note.evidence == [14]


def test_a_statement_is_attributed_to_its_source_not_to_whom_it_is_about() -> None:
    from assistant.drafting.synthesis import actor

    cast = identify_participants(fixture_transcript("attribution_visit.txt"), get_template("sc_contact_note"))
    worker = Unit(key=3, segment_ids=[3], speaker="Sam", name="Sam Reid", group="worker",
                  text="Kai looks well and his room is tidy.")
    mother = Unit(key=4, segment_ids=[4], speaker="Leanne", name="Leanne Hart", group="family",
                  text="Kai's been sleeping badly since the move.")
    # The worker's observation about the child stays the worker's: Kai is named but does not speak.
    assert actor("Kai Hart looked well and his room was tidy.", [worker], cast) == "Sam Reid"
    # The mother's account of the child is hers.
    assert actor("Kai Hart has slept badly since the move.", [mother], cast) == "Leanne Hart"
    # Of several speakers, the one the sentence names first.
    assert actor("Sam Reid asked and Leanne Hart said Kai sleeps badly.", [worker, mother], cast) == "Sam Reid"
    assert actor("Leanne Hart said Kai sleeps badly.", [worker, mother], cast) == "Leanne Hart"
    # No speaker named: the first who is not the worker.
    assert actor("Sleep has been poor since the move.", [worker, mother], cast) == "Leanne Hart"


def test_an_empty_chief_complaint_is_opened_by_an_early_history_line() -> None:
    from assistant.drafting.pipeline import by_section
    from assistant.drafting.sectioner import Placement

    template = get_template("clin_consult_note")
    cough = Unit(key=2, segment_ids=[1, 2], speaker="patient", name="Patient", group="subject",
                 text="I've had a cough for two weeks.")
    later = Unit(key=4, segment_ids=[4], speaker="patient", name="Patient", group="subject",
                 text="It's worse at night.")
    greeting = Unit(key=0, segment_ids=[0], speaker="doctor", name="Doctor", group="worker",
                    text="Come in, what can I do for you today?")
    placed = by_section([Placement(unit=greeting, section="hpi", relevance=0.9),
                         Placement(unit=cough, section="hpi", relevance=0.9),
                         Placement(unit=later, section="hpi", relevance=0.9)], template)
    # The patient's own first line states the complaint, not the doctor's opening.
    assert [u.key for u in placed["chief_complaint"]] == [2] and [u.key for u in placed["hpi"]] == [0, 2, 4]
    # A chief complaint the sectioner found is kept as it is.
    stated = cough.model_copy(update={"key": 1, "segment_ids": [1]})
    placed = by_section([Placement(unit=stated, section="chief_complaint", relevance=0.9),
                         Placement(unit=later, section="hpi", relevance=0.9)], template)
    assert [u.key for u in placed["chief_complaint"]] == [1]
    # The greeting at the door is not the complaint: of the first few lines, the one scored most like it.
    door = Unit(key=1, segment_ids=[0, 1], speaker="patient", name="Patient", group="subject",
                text="Come in, love. I'm in the chair. Don't mind the mess.")
    breath = later.model_copy(update={"key": 3, "text": "I can't get my breath lying flat, I wake up gasping."})
    placed = by_section([Placement(unit=door, section="hpi", relevance=0.9, scores={"chief_complaint": 0.65}),
                         Placement(unit=breath, section="hpi", relevance=0.9, scores={"chief_complaint": 0.78}),
                         Placement(unit=later, section="hpi", relevance=0.9, scores={"chief_complaint": 0.2})],
                        template)
    assert [u.key for u in placed["chief_complaint"]] == [3]
    # A line placed nowhere opens nothing, in a template without `opened_by` too.
    assert not any(by_section([Placement(unit=door, section=None, relevance=0.2)], template).values())
    assert not any(by_section([Placement(unit=door, section=None, relevance=0.2)],
                              get_template("sc_contact_note")).values())
    # On a near tie the earlier line opens it.
    placed = by_section([Placement(unit=cough, section="hpi", relevance=0.9, scores={"chief_complaint": 0.58}),
                         Placement(unit=later, section="hpi", relevance=0.9, scores={"chief_complaint": 0.59})],
                        template)
    assert [u.key for u in placed["chief_complaint"]] == [2]


def test_a_line_copied_in_the_first_or_second_person_is_told_from_a_note() -> None:
    from assistant.drafting.verify import in_speakers_words

    assert in_speakers_words("This is the planned visit, and I also wanted to talk about the police notification.")
    assert in_speakers_words("If that ever changed, you know you can call the GP.")
    assert not in_speakers_words("Priya Shah visited to talk about the police notification.")
    assert not in_speakers_words('Kerry said: "I rang 999."')


def test_a_line_the_models_sentences_left_out_is_quoted_back() -> None:
    from assistant.drafting.synthesis import dropped

    rent = _unit("family", 1, "When I changed jobs in January my Universal Credit got stopped for six weeks.")
    sister = _unit("family", 2, "My sister Donna does the school run on Tuesdays and Thursdays.")
    fine = _unit("family", 3, "Yeah, fine, it's all fine.")
    asked = _unit("worker", 4, "And your sister Donna, does she still do the school run on Tuesdays?")
    written = ["Leanne's Universal Credit was stopped for six weeks after she changed jobs in January."]
    # The school run is in none of the sentences: the line is quoted. Next to no content, or a question: not.
    assert dropped([rent, sister, fine, asked], written) == [sister]
    assert dropped([rent, sister], [*written, "Leanne's sister Donna does the school run twice a week."]) == []
    assert dropped([rent], ["Leanne changed jobs in January."]) == []  # half of it kept: the sentence stands
    assert dropped([rent], []) == [rent]


def test_a_dropped_line_is_quoted_back_trimmed_to_what_was_left_out() -> None:
    from assistant.drafting.synthesis import lost_part

    said = ("My sister Donna does the school run on Tuesdays. She's been brilliant. "
            "The rent went up to nine hundred in April and I'm behind now. Anyway, that's that.")
    written = ["Leanne's sister Donna does the school run on Tuesdays."]
    # Only the rent sentence carries what the model left out; the gap before it is marked.
    assert lost_part(said, written) == "The rent went up to nine hundred in April and I'm behind now."
    both = ["Leanne's sister Donna does the school run on Tuesdays and has been brilliant."]
    assert lost_part("The rent went up in April. I'm behind with the council tax too. Donna's brilliant.",
                     both) == "The rent went up in April. I'm behind with the council tax too."
    assert lost_part("Donna does the school run. Fine. The rent went up in April, I'm behind with it.",
                     []) == "Donna does the school run. … The rent went up in April, I'm behind with it."
    # A question is never quoted back; a loss spread thin keeps each sentence that lost a word.
    assert lost_part("Can you tell me what's changed since the hospital? I've got the discharge letter.",
                     []) == "I've got the discharge letter."
    assert lost_part("What's changed since the hospital discharge? Thanks, Rachel, see you Thursday.", []) == ""
    assert lost_part("Donna runs. Kids walk. Rent rises.", ["Donna."]) == "Kids walk. Rent rises."


def test_the_summary_does_not_repeat_itself() -> None:
    from assistant.drafting.summary import summarise
    from assistant.records import Section

    def sec(sid: str, title: str, *texts: str) -> Section:
        return Section(id=sid, title=title, statements=[
            Statement(id=f"{sid}{i}", text=t, kind="reported", attributed_to="Graham Pearce", evidence=[i])
            for i, t in enumerate(texts)])

    sections = [sec("chief_complaint", "Chief complaint",
                    "Graham Pearce reports a persistent cough for 6 days, with hot and cold shivering."),
                sec("hpi", "History",
                    "Graham Pearce reports a cough for six days, with greeny yellow phlegm and hot and cold shivering.",
                    "Graham takes ramipril 5 milligrams in the morning."),
                sec("assessment_plan", "Plan", "Helen will give Graham doxycycline for a chest infection.")]
    cites = summarise(sections, min_words=200).cites
    assert "hpi0" not in cites and {"chief_complaint0", "hpi1", "assessment_plan0"} <= set(cites)
