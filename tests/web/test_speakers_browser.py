"""The page's "who said what" parts in a real headless Chromium, from a record seeded in the database (no
Whisper, no LLM): the upload form's optional people present and number of speakers, and the review view's
"Who is speaking?" panel naming the diariser's voices."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import require
from test_page_browser import CHROMIUM, CHROMIUM_ARGS
from web_helpers import insert_record, live_server

from assistant.config import Settings
from assistant.records import CaseRecord, RecordMeta, Section, Statement
from assistant.transcript import Participant, Segment, Transcript

PRIYA = Participant(name="Priya Shah", role="social worker")
LEANNE = Participant(name="Leanne Hart", role="mother")


def _diarised_record() -> CaseRecord:
    said = [("speaker_1", "How have things been since my last visit?"),
            ("speaker_2", "Better. The rent arrears are down to two hundred pounds."),
            ("speaker_1", "That is good news.")]
    transcript = Transcript(id="t1", source="0" * 64, participants=[PRIYA, LEANNE], asr={"model": "base"},
                            segments=[Segment(id=i, speaker=who, start=4.0 * i, end=4.0 * i + 3, text=text)
                                      for i, (who, text) in enumerate(said)])
    return CaseRecord(
        template_id="sc_contact_note", transcript=transcript,
        meta=RecordMeta(people_present=[PRIYA, LEANNE, Participant(name="speaker_1"), Participant(name="speaker_2")]),
        sections=[Section(id="views_family", title="Views of family and carers", status="drafted", statements=[
            Statement(id="s1", text="The rent arrears are down to £200.", kind="reported",
                      attributed_to="speaker_2", evidence=[1], support=0.9)])],
        summary="Rent arrears are down.",
    )


def _browser(pw):  # type: ignore[no-untyped-def]
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@pytest.fixture
def page_settings(settings: Settings) -> Settings:
    require(Path(CHROMIUM).exists(), "Debian chromium at /usr/bin/chromium (make test installs it)")
    return settings


def test_who_is_speaking_panel_names_the_voices(page_settings: Settings) -> None:
    from playwright.sync_api import sync_playwright

    rid = insert_record(page_settings, _diarised_record())
    with live_server(page_settings) as base, sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{base}/#record={rid}")
        page.wait_for_selector("#speakers-panel:not([hidden])")
        # One labelled box per voice, offering the people present (not the labels) as suggestions.
        first, second = page.get_by_label("Speaker 1", exact=True), page.get_by_label("Speaker 2", exact=True)
        assert first.input_value() == "" and second.get_attribute("list") == "present-names"
        assert page.eval_on_selector_all("#present-names option", "els => els.map(e => e.value)") == [
            "Priya Shah", "Leanne Hart"]
        assert "How have things been" in page.inner_text("#speaker-fields")  # what each voice said first
        first.fill("Priya Shah")
        second.fill("Leanne Hart")
        page.get_by_role("button", name="Save", exact=True).click()
        page.wait_for_function("document.querySelector('#transcript .who').textContent.startsWith('Priya Shah')")
        whos = page.eval_on_selector_all("#transcript .who", "els => els.map(e => e.textContent)")
        assert whos == ["Priya Shah: ", "Leanne Hart: ", "Priya Shah: "]
        assert "Leanne Hart" in page.inner_text(".statement .meta")
        # Re-rendered from the saved record: the boxes show the names, and the panel stays for corrections.
        assert page.get_by_label("Speaker 2", exact=True).input_value() == "Leanne Hart"
        assert page.is_hidden("#error")
        # A record whose speakers are people already (typed notes) has no panel.
        plain = _diarised_record()
        for seg, who in zip(plain.transcript.segments, ["Priya Shah", "Leanne Hart", "Priya Shah"], strict=True):
            seg.speaker = who
        plain_id = insert_record(page_settings, plain)
        page.goto(f"{base}/#record={plain_id}")
        page.reload()
        page.wait_for_selector("#record:not([hidden])")
        assert page.is_hidden("#speakers-panel")
        browser.close()


def test_upload_form_sends_people_present_and_speakers_only_when_given(page_settings: Settings) -> None:
    from playwright.sync_api import sync_playwright

    sent: list[str] = []
    with live_server(page_settings) as base, sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page()

        def capture(route):  # type: ignore[no-untyped-def]
            # The upload never reaches the server (no Whisper here): only what the page would send matters.
            sent.append(route.request.post_data_buffer.decode("utf-8", "replace"))
            route.fulfill(status=422, json={"error": "invalid_request", "detail": "stopped by the test"})

        page.route("**/api/recordings", capture)
        page.goto(base)
        page.wait_for_selector("#template option[value=sc_contact_note]", state="attached")
        page.set_input_files("#file", {"name": "a.wav", "mimeType": "audio/wav", "buffer": b"RIFF0000WAVE"})
        page.get_by_label("People present (optional)").fill("Priya Shah (social worker)\nLeanne Hart (mother)")
        page.get_by_label("Number of speakers (optional)").fill("2")
        with page.expect_response("**/api/recordings"):
            page.click("#upload-btn")
        page.get_by_label("People present (optional)").fill("")
        page.get_by_label("Number of speakers (optional)").fill("")
        with page.expect_response("**/api/recordings"):
            page.click("#upload-btn")
        page.wait_for_function("document.getElementById('error').textContent.includes('stopped by the test')")
        browser.close()
    assert len(sent) == 2
    # Multipart form encoding sends the textarea's line breaks as CRLF; the API accepts either.
    assert 'name="present"\r\n\r\nPriya Shah (social worker)\r\nLeanne Hart (mother)\r\n' in sent[0]
    assert 'name="speakers"\r\n\r\n2\r\n' in sent[0]
    assert 'name="present"' not in sent[1] and 'name="speakers"' not in sent[1]
