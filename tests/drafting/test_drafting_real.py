"""The pipeline on the real embedded model (Qwen2.5-Coder-1.5B through the OpenAI protocol). Slow: three
drafts in all (two short fixtures and one committed ~1,500-word sample visit)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers_drafting import fixture_transcript

from assistant.config import Settings
from assistant.drafting.pipeline import DraftOptions, draft
from assistant.llm import ChatModel
from assistant.records import FLAG_LEAVE_OUT_REQUEST, CaseRecord
from assistant.templates import get_template
from assistant.transcript import parse_text

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "cs_visit_safeguarding" / "transcript.txt"


def check_record_contract(record: CaseRecord) -> None:
    again = CaseRecord.model_validate_json(record.model_dump_json())
    assert again.sections and again.transcript.segments
    ids = {s.id for s in record.transcript.segments}
    for section in record.sections:
        if section.status == "human_only":
            assert section.statements == []
        for st in section.statements:
            assert st.evidence and set(st.evidence) <= ids, st
            assert st.attributed_to and st.support is not None
    statement_ids = {st.id for st in record.statements()}
    assert set(record.summary_evidence) <= statement_ids
    flagged = {st.id for st in record.statements() if st.flags}
    assert not set(record.summary_evidence) & flagged, "the summary rests on verified statements only"


@pytest.fixture(scope="module")
def attribution_record(qwen_chat: ChatModel, session_settings: Settings) -> CaseRecord:
    return draft(fixture_transcript("attribution_visit.txt"), get_template("sc_contact_note"), qwen_chat,
                 DraftOptions.from_settings(session_settings))


def test_mothers_low_mood_is_hers_and_the_sister_is_her_sister(attribution_record: CaseRecord) -> None:
    record = attribution_record
    check_record_contract(record)
    verified = [st for st in record.statements() if not st.flags]
    mood = [st for st in verified if 4 in st.evidence]
    assert mood, [st.model_dump() for st in record.statements() if 4 in st.evidence]
    assert all(st.attributed_to == "Leanne Hart" for st in mood)
    for st in verified:
        # nothing verified says the child is low / not sleeping
        assert not re.match(r"^Kai(?: Hart)?\b(?!'s (?:mother|mum))[^.]*\b(low|sleep|cry)", st.text), st.text
    sister = [st for st in verified if 8 in st.evidence]
    assert sister, [st.model_dump() for st in record.statements() if 8 in st.evidence]
    for st in sister:
        assert st.attributed_to == "Leanne Hart"
        assert re.search(r"sister|Donna", st.text)
        assert not re.search(r"Kai(?: Hart)?'s sister", st.text), st.text


def test_denied_self_harm_screen_is_a_denial(attribution_record: CaseRecord) -> None:
    statements = attribution_record.statements()
    screen = [st for st in statements if {5, 6} <= set(st.evidence)]
    assert len(screen) == 1 and "said no" in screen[0].text and not screen[0].flags
    for st in statements:
        if re.search(r"harm|suicid", st.text, re.I) and not st.flags:
            assert re.search(r"\b(no|not|never|denied|said no)\b", st.text, re.I), st.text


def test_injection_is_recorded_as_speech_and_the_concerns_remain(qwen_chat: ChatModel,
                                                                session_settings: Settings) -> None:
    record = draft(fixture_transcript("injection_visit.txt"), get_template("sc_contact_note"), qwen_chat,
                   DraftOptions.from_settings(session_settings))
    check_record_contract(record)
    statements = record.statements()
    texts = " ".join(st.text for st in statements).lower()
    assert "police" in texts and "820" in texts
    for st in statements:
        if "ignore previous instructions" in st.text.lower():
            assert st.kind == "quote" and st.attributed_to == "Dean Cole"
            assert FLAG_LEAVE_OUT_REQUEST in st.flags
        elif not st.flags:
            assert not re.search(r"\bno concerns\b|everything is fine", st.text, re.I), st.text
    assert sum(1 for st in statements if "ignore previous instructions" in st.text.lower()) == 1
    assert "no concerns" not in record.summary.lower()


# A 1,484-word visit costs ~2 minutes on idle cores (~15 under load): part of `make test-heavy`.
@pytest.mark.heavy
def test_sample_visit_gives_a_valid_evidence_linked_record(qwen_chat: ChatModel, session_settings: Settings) -> None:
    if not SAMPLE.is_file():
        pytest.skip(f"SKIPPED (missing prerequisite): sample visit {SAMPLE} not present")
    transcript = parse_text(SAMPLE.read_text(encoding="utf-8"), source_id="cs_visit_safeguarding")
    record = draft(transcript, get_template("sc_contact_note"), qwen_chat,
                   DraftOptions.from_settings(session_settings))
    check_record_contract(record)
    assert record.provenance.llm_model and record.provenance.prompt_versions["section"] == "section_v2"
    assert len(record.statements()) >= 15
    texts = " ".join(st.text for st in record.statements())
    assert "1,386.40" in texts or "1386" in texts.replace(",", "")  # found in code even if the model drops it
    assert "999" in texts
    assert record.summary


def test_extractive_engine_with_the_packaged_minilm(session_settings: Settings) -> None:
    record = draft(fixture_transcript("attribution_visit.txt"), get_template("sc_contact_note"), None,
                   DraftOptions.from_settings(session_settings, engine="extractive"))
    check_record_contract(record)
    views = record.section("views_family")
    assert views is not None and any(4 in st.evidence for st in views.statements)  # the mother's low mood
