"""The pipeline's mechanics with a fake model at the ChatModel seam (the sectioner's MiniLM is real): prompt
shape (KV-cache prefix, one section's lines per call, bounded schema), detector statements, flags, fallbacks,
too-short input, provenance."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_drafting import FakeChat, fixture_transcript

from assistant.config import Settings
from assistant.drafting.detectors import REDACTED
from assistant.drafting.pipeline import FLAG_LLM_FALLBACK, FLAG_TOO_SHORT, DraftOptions, draft
from assistant.llm.schema import unbounded_paths
from assistant.records import FLAG_HIGH_RISK, FLAG_LEAVE_OUT_REQUEST, CaseRecord
from assistant.templates import get_template
from assistant.transcript import parse_text


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def _section_calls(chat: FakeChat) -> list[dict]:
    return [c for c in chat.calls if c["schema"].get("title") == "section"]


def test_prompts_share_one_prefix_with_one_sections_lines_last_and_bounded_schemas(settings: Settings) -> None:
    chat = FakeChat()
    stages: list[tuple[str, float]] = []
    record = draft(fixture_transcript("attribution_visit.txt"), get_template("sc_contact_note"), chat,
                   DraftOptions.from_settings(settings), progress=lambda s, f: stages.append((s, f)))
    calls = _section_calls(chat)
    assert calls, "no synthesis call"
    systems = {c["messages"][0]["content"] for c in calls}
    assert len(systems) == 1, "every section call must reuse the same system prefix (KV cache)"
    assert "Leanne Hart: mother, mother of Kai Hart" in systems.pop()
    tasks = [c["messages"][-1]["content"] for c in calls]
    assert any('[4] Leanne Hart (mother): "Honestly, I\'ve been feeling really low' in t for t in tasks)
    assert not any("Human" in t or "analysis" in t.lower() for t in tasks)  # human_only never written
    for call in chat.calls:
        assert call["messages"][-1]["role"] == "user"
        assert call["max_tokens"] and call["stop"], "max_tokens and stop strings are always set"
        assert unbounded_paths(call["schema"]) == []
    seen = [k for c in calls for k in c["schema"]["properties"]["sentences"]["items"]["properties"]["lines"][
        "items"]["enum"]]
    assert len(seen) == len(set(seen)), "each line goes to one section only"
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert record.provenance.prompt_versions == {"section": "section_v2"}
    assert not any(c["schema"].get("title") != "section" for c in chat.calls), "the summary is built by code"
    assert record.provenance.llm_model == "fake-model" and record.provenance.seed == settings.llm.seed
    assert {"participants", "detectors", "sectioner", "synthesis", "verify", "summary", "total"} <= set(
        record.provenance.timings_s)
    CaseRecord.model_validate_json(record.model_dump_json())


def test_screen_is_written_by_code_as_a_denial_and_unsupported_risk_is_flagged(settings: Settings) -> None:
    t = fixture_transcript("attribution_visit.txt")
    # The fake model claims self-harm on the mother's low-mood line: verification must flag it.
    chat = FakeChat(notes={4: "Leanne Hart has been self-harming since Christmas."})
    record = draft(t, get_template("sc_contact_note"), chat, DraftOptions.from_settings(settings))
    statements = record.statements()
    screen = [st for st in statements if 5 in st.evidence and 6 in st.evidence]
    assert len(screen) == 1
    assert "said no" in screen[0].text and not screen[0].flags
    invented = next(st for st in statements if "self-harming" in st.text)
    assert FLAG_HIGH_RISK in invented.flags
    # The screen lines are never sent to the model as lines to write notes for.
    asked = {k for c in _section_calls(chat)
             for k in c["schema"]["properties"]["sentences"]["items"]["properties"]["lines"]["items"]["enum"]}
    assert "5" not in asked and "6" not in asked
    assert invented.id not in record.summary_evidence


def test_injection_is_redacted_from_the_prompt_and_kept_as_attributed_speech(settings: Settings) -> None:
    chat = FakeChat()
    record = draft(fixture_transcript("injection_visit.txt"), get_template("sc_contact_note"), chat,
                   DraftOptions.from_settings(settings))
    for call in chat.calls:
        for m in call["messages"]:
            assert "ignore previous instructions" not in m["content"].lower()
    assert not any("ignore previous" in m["content"].lower() for c in chat.calls for m in c["messages"])
    assert REDACTED not in " ".join(st.text for st in record.statements() if st.kind != "quote")
    quoted = [st for st in record.statements() if "ignore previous instructions" in st.text.lower()]
    assert len(quoted) == 1
    assert quoted[0].attributed_to == "Dean Cole" and quoted[0].kind == "quote"
    assert FLAG_LEAVE_OUT_REQUEST in quoted[0].flags and not quoted[0].exportable


def test_a_note_resting_on_a_line_that_tells_the_record_what_to_say_is_flagged(settings: Settings) -> None:
    # A model that did what the line asked writes it as a plain report; it must not reach the summary unflagged.
    chat = FakeChat(notes={12: "Dean Cole reports that everything is fine here."})
    record = draft(fixture_transcript("injection_visit.txt"), get_template("sc_contact_note"), chat,
                   DraftOptions.from_settings(settings))
    obeyed = [st for st in record.statements() if "everything is fine here" in st.text and st.kind != "quote"]
    assert obeyed and all(FLAG_LEAVE_OUT_REQUEST in st.flags for st in obeyed)
    assert "everything is fine" not in record.summary
    assert not {st.id for st in obeyed} & set(record.summary_evidence)


@pytest.mark.parametrize("note", ["Dean Cole is behind with the rent.", "Dean Cole is £8 20 behind with the rent."])
def test_amounts_the_model_drops_or_mangles_are_added_from_the_transcript(settings: Settings, note: str) -> None:
    chat = FakeChat(notes={9: note})
    record = draft(fixture_transcript("injection_visit.txt"), get_template("sc_contact_note"), chat,
                   DraftOptions.from_settings(settings))
    texts = " ".join(st.text for st in record.statements())
    assert "£820" in texts


def test_model_failure_falls_back_to_extractive(settings: Settings) -> None:
    chat = FakeChat(fail=True)
    record = draft(fixture_transcript("attribution_visit.txt"), get_template("sc_contact_note"), chat,
                   DraftOptions.from_settings(settings))
    assert FLAG_LLM_FALLBACK in record.flags
    assert record.statements() and all(st.evidence for st in record.statements())
    screen = {5, 6}  # written by code from the screen finding, model or not
    assert all(st.kind == "quote" for st in record.statements() if '"' in st.text and not screen <= set(st.evidence))
    assert any("quoted: the model's output failed" in n for n in record.provenance.notes)


def test_too_short_input_makes_no_call_and_invents_nothing(settings: Settings) -> None:
    chat = FakeChat()
    t = parse_text("Sam: Hello.\nLeanne: Hi, come in. Kai is at school.\n")
    record = draft(t, get_template("sc_contact_note"), chat, DraftOptions.from_settings(settings))
    assert chat.calls == []
    assert FLAG_TOO_SHORT in record.flags
    assert record.statements() == [] and record.summary == ""
    assert {s.status for s in record.sections} == {"not_discussed", "human_only"}
    assert any("too short" in n for n in record.provenance.notes)


def test_extractive_engine_quotes_the_transcript_verbatim(settings: Settings) -> None:
    t = fixture_transcript("attribution_visit.txt")
    record = draft(t, get_template("sc_contact_note"), None,
                   DraftOptions.from_settings(settings, engine="extractive"))
    assert record.provenance.engine == "extractive" and record.provenance.llm_model is None
    assert record.statements()
    for st in record.statements():
        for sid in st.evidence:
            assert t.segment(sid) is not None
    assert {st.kind for st in record.statements()} <= {"quote", "reported", "action", "observed"}
    assert record.section("analysis").status == "human_only"


def test_typed_single_author_notes_are_drafted_with_evidence(settings: Settings) -> None:
    notes = ("Present: Jo Bloggs (mother), Alfie Bloggs (child)\n\n"
             + "Home visit to see Alfie. Jo said she has been feeling tired and low since her partner left. "
             * 10)
    chat = FakeChat()
    record = draft(parse_text(notes), get_template("sc_contact_note"), chat,
                   DraftOptions.from_settings(settings, worker="author"))
    assert _section_calls(chat) and record.statements()
    assert all(st.evidence for st in record.statements())


def test_summary_is_built_from_verified_statements_only(settings: Settings) -> None:
    t = fixture_transcript("attribution_visit.txt")
    chat = FakeChat(notes={4: "Leanne Hart has been feeling really low since Christmas and is not sleeping.",
                           8: "Leanne Hart has been self-harming since Christmas."})  # flagged: not in the line
    record = draft(t, get_template("sc_contact_note"), chat, DraftOptions.from_settings(settings))
    by_id = {st.id: st for st in record.statements()}
    assert record.summary_evidence and all(not by_id[i].flags for i in record.summary_evidence)
    assert all(by_id[i].kind != "quote" for i in record.summary_evidence)
    assert "self-harming" not in record.summary and 30 <= len(record.summary.split()) <= 150
    # The denied screen (written by code) is summarised as a denial, ahead of what was agreed.
    screen = next(st for st in record.statements() if 5 in st.evidence and 6 in st.evidence)
    assert screen.id in record.summary_evidence and "said no" in record.summary
    assert record.extra.drafting.summary_method == "statements"


def test_contact_date_comes_from_the_transcript_never_a_guess(settings: Settings) -> None:
    text = fixture_transcript("attribution_visit.txt")
    dated = text.model_copy(update={"contact_date": "14 March 2026"})
    extractive = DraftOptions.from_settings(settings, engine="extractive")
    record = draft(dated, get_template("sc_contact_note"), None, extractive)
    assert record.meta.contact_date == "14 March 2026"
    undated = draft(text, get_template("sc_contact_note"), None, extractive)
    assert undated.meta.contact_date is None
