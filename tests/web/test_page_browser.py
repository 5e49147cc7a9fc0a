"""The page in a real headless Chromium: upload, wait for the record, click a statement and see its
evidence, approve with a name, download the .docx."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import docx
import pytest
from support import require
from web_helpers import live_server

from assistant.config import Settings
from assistant.jobs.stages import Engines

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.mark.slow
def test_upload_review_approve_download_in_chromium(
    session_settings: Settings, real_engines: Engines, dialogue_wav: Path, tmp_path: Path
) -> None:
    require(Path(CHROMIUM).exists(), "Debian chromium at /usr/bin/chromium (make test installs it)")
    from playwright.sync_api import sync_playwright

    settings = session_settings.model_copy(update={"data_dir": tmp_path / "data"})

    with live_server(settings, real_engines) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
        page.goto(base)
        page.wait_for_selector("#template option[value=sc_contact_note]", state="attached")
        page.select_option("#template", "sc_contact_note")
        # Quotes-only drafting keeps this browser test to the page's behaviour; the LLM path is covered
        # end to end through the API in test_end_to_end.py.
        page.select_option("#engine", "extractive")
        page.set_input_files("#file", str(dialogue_wav))
        page.click("#upload-btn")
        page.wait_for_selector("#record:not([hidden])", timeout=300_000)
        assert float(page.eval_on_selector("#upload-progress", "e => e.value")) == 1.0

        statements = page.locator(".statement")
        assert statements.count() > 0
        # Click the first statement that cites evidence; exactly its segments light up.
        target = None
        for i in range(statements.count()):
            if "cites [" in statements.nth(i).inner_text():
                target = statements.nth(i)
                break
        assert target is not None, "no statement with evidence on the page"
        target.locator(".text").click()
        cited = {int(x) for x in target.locator(".meta").inner_text().split("cites ")[1].replace("[", "")
                 .replace("]", "").split()}
        lit = {int(x) for x in page.eval_on_selector_all("#transcript li.evidence",
                                                         "els => els.map(e => e.dataset.segment)")}
        assert lit == cited and lit
        page.screenshot(path=str(tmp_path / "record.png"), full_page=True)

        # Model text is shown as text: no element was created from transcript or statement content.
        assert page.locator("#sections script, #transcript script").count() == 0

        # Flagged statements must be kept or removed before approval.
        while page.locator(".statement.flagged button:has-text('Keep')").count():
            page.locator(".statement.flagged button:has-text('Keep')").first.click()
            page.wait_for_timeout(300)
        page.fill("#reviewer", "Jo Smith")
        page.click("#approve-btn")
        page.wait_for_function("document.getElementById('record-state').textContent.startsWith('Approved by Jo Smith')")

        with page.expect_download() as info:
            page.click("#dl-docx")
        path = tmp_path / "record.docx"
        info.value.save_as(path)
        text = "\n".join(p.text for p in docx.Document(io.BytesIO(path.read_bytes())).paragraphs)
        assert "reviewed by Jo Smith" in text
        page.screenshot(path=str(tmp_path / "approved.png"), full_page=True)
        browser.close()
