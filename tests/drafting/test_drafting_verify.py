"""Deterministic verification: support, names, high-risk terms, polarity, attribution. No model."""

from __future__ import annotations

import pytest

from assistant.drafting.participants import identify_participants
from assistant.drafting.verify import FLAG_MISATTRIBUTED, gather_evidence, support_score, verify_statement
from assistant.records import (
    FLAG_BAD_EVIDENCE,
    FLAG_HIGH_RISK,
    FLAG_POLARITY,
    FLAG_UNKNOWN_PERSON,
    FLAG_UNSUPPORTED,
    Statement,
)
from assistant.templates import get_template
from assistant.transcript import Transcript, parse_text

VISIT = parse_text(
    "Present: Sam (social worker), Leanne (mother), Kai (child, son of Leanne)\n"
    "Sam: Have you had any thoughts of harming yourself?\n"
    "Leanne: No, nothing like that.\n"
    "Sam: How have you been feeling?\n"
    "Leanne: I've been feeling really low since Christmas. My sister Donna helps with the school run.\n"
    "Sam: Is the rent OK?\n"
    "Leanne: We're £640 behind and the police came round on Thursday. He's been fighting at school.\n"
    "Sam: Is he taking his medicine?\n"
    "Leanne: Yes, melatonin 2mg at night.\n"
)
CAST = identify_participants(VISIT, get_template("sc_contact_note"))


def check(text: str, evidence: list[int], kind: str = "reported") -> Statement:
    return verify_statement(Statement(text=text, evidence=evidence, kind=kind), VISIT, CAST)  # type: ignore[arg-type]


def test_well_supported_statements_carry_no_flags() -> None:
    for text, ev in [
        ("Leanne has been feeling low since Christmas.", [3]),
        ("Leanne's sister Donna helps with the school run.", [3]),
        ("Leanne is £640 behind on the rent and the police came round on Thursday.", [5]),
        ("Leanne said Kai takes melatonin 2mg at night.", [6, 7]),
    ]:
        st = check(text, ev)
        assert st.flags == [], (text, st.flags, st.support)
        assert st.support is not None and st.support >= 0.5


@pytest.mark.parametrize("text, ev", [
    ("Leanne is £600 behind on the rent.", [5]),  # wrong number
    ("Leanne said Kai takes sertraline 2mg at night.", [6, 7]),  # wrong medicine
    ("Leanne is behind on the rent since Friday.", [5]),  # a day not said
    ("Leanne enjoys gardening and cooking with friends.", [3]),  # drifted away from the line
])
def test_weak_or_contradicted_support_is_unsupported(text: str, ev: list[int]) -> None:
    assert FLAG_UNSUPPORTED in check(text, ev).flags


def test_missing_evidence_id_is_flagged() -> None:
    st = check("Leanne has been feeling low.", [3, 99])
    assert FLAG_BAD_EVIDENCE in st.flags
    assert FLAG_UNSUPPORTED in check("Leanne has been feeling low.", []).flags


def test_person_not_present_and_not_cited_is_flagged() -> None:
    assert FLAG_UNKNOWN_PERSON in check("Leanne's sister Marie helps with the school run.", [3]).flags
    assert FLAG_UNKNOWN_PERSON not in check("Leanne's sister Donna helps with the school run.", [3]).flags


def test_high_risk_term_without_support_is_flagged() -> None:
    st = check("Leanne has been feeling low and has been self-harming.", [3])
    assert FLAG_HIGH_RISK in st.flags
    assert FLAG_HIGH_RISK in check("Kai was hit with a knife at school.", [5]).flags
    # police is in the cited segment: no high-risk flag
    assert FLAG_HIGH_RISK not in check("The police came round on Thursday.", [5]).flags


def test_denied_screen_cannot_become_a_disclosure() -> None:
    assert FLAG_POLARITY in check("Leanne has had thoughts of harming herself.", [0, 1]).flags
    denial = check("Leanne said she has had no thoughts of harming herself.", [0, 1])
    assert FLAG_POLARITY not in denial.flags and FLAG_HIGH_RISK not in denial.flags


def test_a_bare_question_is_not_a_fact() -> None:
    assert FLAG_POLARITY in check("Leanne has thoughts of harming herself.", [0]).flags
    assert FLAG_POLARITY not in check("Sam asked Leanne about thoughts of harming herself.", [0]).flags


def test_speaker_state_given_to_someone_else_is_misattributed() -> None:
    assert FLAG_MISATTRIBUTED in check("Kai has been feeling really low since Christmas.", [3]).flags
    assert FLAG_MISATTRIBUTED not in check("Kai's mother has been feeling low since Christmas.", [3]).flags
    # "He's been fighting" is about someone else: attributing it to Kai is allowed
    assert FLAG_MISATTRIBUTED not in check("Kai has been fighting at school.", [5]).flags


def test_support_score_counts_content_words_and_numbers() -> None:
    ev = gather_evidence([VISIT.segments[5]], CAST)
    assert support_score("Leanne is £640 behind.", ev) == 1.0
    assert support_score("Leanne is £641 behind.", ev) < 0.5


def test_verification_is_idempotent() -> None:
    once = check("Leanne has been feeling low and has been self-harming.", [3])
    twice = verify_statement(once, VISIT, CAST)
    assert twice.flags == once.flags


AGENTS = parse_text(
    "Present: Priya (social worker), Kerry (mother)\n"
    "Kerry: My ex-partner Dean came round on Saturday and he hit me in the face.\n"
    "Priya: I'm going to make a referral to the IDVA service today.\n"
    "Kerry: I'll ring the housing office on Monday.\n"
    "Priya: Thank you, it helps to have a plan.\n"
)
AGENT_CAST = identify_participants(AGENTS, get_template("sc_contact_note"))


def flags_for(text: str, ev: list[int], transcript: Transcript, kind: str = "reported",
              template: str = "sc_contact_note") -> list[str]:
    cast = identify_participants(transcript, get_template(template))
    return verify_statement(Statement(text=text, evidence=ev, kind=kind), transcript, cast).flags  # type: ignore[arg-type]


def agent_flagged(text: str, ev: list[int], transcript: Transcript = AGENTS, kind: str = "action") -> bool:
    from assistant.drafting.verify import FLAG_AGENT

    return FLAG_AGENT in flags_for(text, ev, transcript, kind)


def test_an_action_rests_on_a_line_in_which_its_agent_acts() -> None:
    assert agent_flagged("Kerry will make a referral to the IDVA service today.", [1])  # the worker's
    assert not agent_flagged("Priya will make a referral to the IDVA service today.", [1])
    assert not agent_flagged("Kerry will ring the housing office on Monday.", [2])
    assert agent_flagged("Priya will ring the housing office on Monday.", [2])


def test_violence_by_someone_else_is_not_written_as_the_speakers() -> None:
    from assistant.drafting.verify import FLAG_AGENT

    st = verify_statement(Statement(text="Kerry hit Dean in the face on Saturday.", evidence=[0], kind="reported"),
                          AGENTS, AGENT_CAST)
    assert FLAG_AGENT in st.flags
    said = verify_statement(Statement(text="Kerry said Priya came round on Saturday.", evidence=[0],
                                      kind="reported"), AGENTS, AGENT_CAST)
    assert FLAG_AGENT in said.flags  # the reported clause's agent is checked too
    fine = verify_statement(Statement(text="Kerry said Dean hit her in the face on Saturday.", evidence=[0],
                                      kind="reported"), AGENTS, AGENT_CAST)
    assert FLAG_AGENT not in fine.flags


PRONOUNS = parse_text(
    "Present: Priya (social worker), Kerry (mother), Tyler (child, son of Kerry)\n"
    "Priya: The police say they attended at 23:20 and Jason wasn't there.\n"
    "Kerry: Standard risk. He kicked my door in and it's standard.\n"
    "Priya: Tyler, can I ask you something? Do you remember that night?\n"
    "Tyler: Yeah. Mum rang the police. She was crying.\n"
    "Kerry: Tyler woke up. He came and sat on the stairs with me.\n"
)


def test_he_and_she_point_back_to_the_last_person_named_not_to_whoever_is_present() -> None:
    # "He kicked my door in" follows a line that names Jason: Tyler, who is present, did not do it.
    assert agent_flagged("Kerry said Tyler kicked her door in.", [1], PRONOUNS, "reported")
    assert not agent_flagged("Kerry said Jason kicked her door in.", [1], PRONOUNS, "reported")
    # A name used to speak to someone is not what "he" points back to; "He came" follows "Tyler woke up".
    assert not agent_flagged("Tyler came and sat on the stairs with Kerry.", [4], PRONOUNS, "reported")
    assert agent_flagged("Priya came and sat on the stairs with Kerry.", [4], PRONOUNS, "reported")


def test_a_screen_written_by_code_quotes_the_answer_and_is_not_an_action_to_check() -> None:
    visit = parse_text("Present: Priya (social worker), Kerry (mother)\n"
                       "Priya: I have to ask you this, Kerry, and I ask everyone. Have you had any thoughts of harming "
                       "yourself?\n"
                       "Kerry: No. No, nothing like that. I've had no thoughts of harming myself.\n")
    screen = ('Priya asked Kerry: "Have you had any thoughts of harming yourself?" Kerry said no: '
              '"No. No, nothing like that. I\'ve had no thoughts of harming myself."')
    assert not agent_flagged(screen, [0, 1], visit, "reported")


def test_the_person_who_gives_a_description_is_not_the_one_described() -> None:
    visit = parse_text("Present: Laura (police officer), Irene (victim)\n"
                       "Laura: Can you describe him?\n"
                       "Irene: Young. Eighteen, twenty. White, thin. A grey top with the hood up.\n")
    assert FLAG_MISATTRIBUTED in flags_for("Irene is a victim, described as young (18-20), white, thin.", [1], visit)
    assert FLAG_MISATTRIBUTED not in flags_for("Irene described the man as young (18-20), white and thin.", [1], visit)
    assert FLAG_MISATTRIBUTED not in flags_for("Irene said the man was described as young and thin.", [1], visit)


def test_questions_and_pleasantries_are_not_notes() -> None:
    from assistant.drafting.verify import not_a_note

    assert not_a_note("Has Dean been in touch since Saturday?")
    assert not_a_note("Kerry said thank you, it helps to have a plan.")
    assert not not_a_note("Kerry will ring the housing office on Monday.")
    # A question reported without its answer is still a question; with its answer it is a note.
    assert not_a_note("Helen asks if Graham is still taking both ramipril and atorvastatin.")
    assert not_a_note("Mark Ellison asks how Shannon is doing.")
    assert not not_a_note("Priya asked if Jason was there when the police arrived at 23:20, and it's been recorded "
                          "as a domestic incident with standard risk.")
    assert not not_a_note("Laura asked if Irene was hurt and needed an ambulance, but she said no.")
    assert not not_a_note("Graham asked about driving and Helen advised him not to drive for work.")


def test_a_sentence_cut_off_mid_way_is_flagged_truncated() -> None:
    from assistant.drafting.verify import FLAG_TRUNCATED

    def flags(text: str) -> list[str]:
        return verify_statement(Statement(text=text, evidence=[2], kind="action"), AGENTS, AGENT_CAST).flags

    assert FLAG_TRUNCATED in flags("Kerry will ring the housing office on")
    assert FLAG_TRUNCATED in flags("Kerry will ring the housing offi")
    assert FLAG_TRUNCATED not in flags("Kerry will ring the housing office on Monday.")


def test_a_medicine_the_line_rules_out_is_not_a_plan() -> None:
    t = parse_text(
        "Present: Helen (GP), Graham (patient)\n"
        "Graham: I come up in a rash with penicillin.\n"
        "Helen: Normally I'd give amoxicillin, but that's a penicillin, so we won't use that. I'm going to give "
        "you doxycycline instead, 100 milligrams once a day.\n")

    def flags(text: str) -> list[str]:
        return flags_for(text, [1], t, "decision", "clin_consult_note")

    assert FLAG_POLARITY in flags("Helen will give Graham amoxicillin.")
    assert FLAG_POLARITY not in flags("Helen will not give amoxicillin because Graham is allergic to penicillin.")
    assert FLAG_POLARITY not in flags("Helen will give Graham doxycycline, 100 milligrams once a day.")
    # A "not" elsewhere in the sentence does not excuse the medicine it gives plainly.
    assert FLAG_POLARITY in flags("Helen will give amoxicillin, but not penicillin because it is a different type.")
    assert FLAG_POLARITY not in flags("Amoxicillin was avoided because of the penicillin allergy.")
    assert FLAG_POLARITY not in flags("Doxycycline was given instead of amoxicillin.")


def test_an_inference_nobody_made_is_unsupported() -> None:
    visit = parse_text(
        "Present: Aisha Rahman (district nurse), Frank Whitaker (patient)\n"
        "Frank: I can't get my breath lying flat, I wake up gasping.\n"
        "Aisha: I think that could be fluid building up, so I'll ask the GP to see you today.\n"
        "Frank: I'm allergic to Elastoplast, it brings me out in a rash.\n")
    assert FLAG_UNSUPPORTED in flags_for("Frank wakes up gasping when lying flat, which may suggest a heart problem.",
                                         [0], visit, template="clin_consult_note")
    assert FLAG_UNSUPPORTED in flags_for(
        "Frank's rash is consistent with an adhesive allergy.", [2], visit, template="clin_consult_note")
    # The worker's own hedged reading may be written as hers; a plain account stays supported.
    assert FLAG_UNSUPPORTED not in flags_for(
        "Aisha said the breathlessness could be fluid building up.", [0, 1], visit, template="clin_consult_note")
    assert FLAG_UNSUPPORTED not in flags_for(
        "Frank said he is allergic to Elastoplast, which gives him a rash.", [2], visit, template="clin_consult_note")
