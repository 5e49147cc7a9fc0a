"""End to end with the real models: upload -> transcribe (Whisper) -> draft (embedded LLM) -> edit ->
approve -> export .docx, all through the HTTP API of a live server; and restart with a queued job."""

from __future__ import annotations

import io
import time
from pathlib import Path

import docx
import httpx
import pytest
from fastapi.testclient import TestClient
from web_helpers import dialogue_text, live_server, wait_for_job

from assistant.api.app import create_app
from assistant.config import Settings
from assistant.jobs.stages import Engines
from assistant.records import CaseRecord
from assistant.store.db import Database
from assistant.store.tables import Job


@pytest.mark.slow
def test_upload_to_approved_docx_with_real_models(
    session_settings: Settings, real_engines: Engines, dialogue_wav: Path, tmp_path: Path
) -> None:
    settings = session_settings.updated(data_dir=tmp_path / "data")
    with live_server(settings, real_engines) as base:
        started = time.monotonic()
        with dialogue_wav.open("rb") as fh:
            r = httpx.post(f"{base}/api/recordings", files={"file": ("visit.wav", fh, "audio/wav")},
                           data={"template": "sc_contact_note", "consent": "verbal"}, timeout=60)
        assert r.status_code == 202, r.text
        job = wait_for_job(base, r.json()["job_id"])
        assert job["state"] == "done", job
        elapsed = time.monotonic() - started
        record = CaseRecord.model_validate(httpx.get(f"{base}/api/records/{job['record_id']}").json())
        print(f"\nend-to-end upload->record: {elapsed:.1f} s for {record.transcript.duration or 0:.0f} s of audio")

        # The transcript is Whisper's, with timings; the record cites real segments.
        assert record.transcript.asr and record.transcript.segments[0].start is not None
        assert "kayleigh" in record.transcript.text.lower() or "school run" in record.transcript.text.lower()
        ids = {s.id for s in record.transcript.segments}
        statements = record.statements()
        assert statements and all(set(st.evidence) <= ids for st in statements)
        assert all(sec.statements == [] for sec in record.sections if sec.status == "human_only")

        first = statements[0]
        r = httpx.patch(f"{base}/api/records/{record.id}",
                        json={"edit": [{"id": first.id, "text": first.text + " (checked)"}], "author": "Jo Smith"})
        assert r.status_code == 200
        flagged = [st.id for st in statements if st.flags]
        if flagged:
            assert httpx.patch(f"{base}/api/records/{record.id}", json={"keep": flagged}).status_code == 200
        r = httpx.post(f"{base}/api/records/{record.id}/approve", json={"reviewer": "Jo Smith"})
        assert r.status_code == 200, r.text
        r = httpx.get(f"{base}/api/records/{record.id}/export", params={"format": "docx"})
        assert r.status_code == 200
        text = "\n".join(p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs)
        assert "reviewed by Jo Smith" in text and "(checked)" in text
        versions = httpx.get(f"{base}/api/records/{record.id}/versions").json()
        assert [v["source"] for v in versions][:2] == ["ai", "manual"]


def test_restart_runs_jobs_left_queued_or_running(settings: Settings) -> None:
    """A crash after the job row was committed: the next start-up re-queues it and it completes."""
    db = Database(settings)
    from assistant.api.auth import ensure_local_user

    owner = ensure_local_user(db)
    with db.session() as s:
        queued = Job(owner_id=owner, kind="notes", template_id="sc_contact_note", engine="extractive",
                     input_text=dialogue_text())
        running = Job(owner_id=owner, kind="notes", template_id="sc_contact_note", engine="extractive",
                      input_text=dialogue_text(), state="running", stage="drafting")
        s.add_all([queued, running])
        s.flush()
        ids = [queued.id, running.id]
    db.dispose()

    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 300
        states = {}
        while time.monotonic() < deadline:
            states = {i: client.get(f"/api/jobs/{i}").json() for i in ids}
            if all(j["state"] in ("done", "failed") for j in states.values()):
                break
            time.sleep(0.3)
        for job in states.values():
            assert job["state"] == "done", job
            assert client.get(f"/api/records/{job['record_id']}").status_code == 200
