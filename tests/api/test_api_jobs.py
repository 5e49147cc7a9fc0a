"""Job status: the poll and the server-sent events read the same row, and only for its owner."""

from __future__ import annotations

import json

from api_helpers import Client, sample_record
from sqlalchemy import select
from support import save_finished_record

from assistant.store.tables import Job, User


def _finished_job(client: Client) -> tuple[str, str]:
    db = client.http.app.state.db  # type: ignore[attr-defined]
    with db.session() as s:
        user_id = s.scalar(select(User.id).where(User.name == "alice"))  # the `alice` fixture's user
        record_id = save_finished_record(s, user_id, sample_record())
        job_id = s.scalar(select(Job.id).where(Job.record_id == record_id))
    return job_id, record_id


def test_poll_and_events_give_the_owner_the_job_and_others_404(alice: Client, bob: Client) -> None:
    job_id, record_id = _finished_job(alice)
    polled = alice.get(f"/api/jobs/{job_id}")
    assert polled.status_code == 200
    assert polled.json()["state"] == "done" and polled.json()["record_id"] == record_id

    events = alice.get(f"/api/jobs/{job_id}/events")
    assert events.status_code == 200 and events.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in events.text.split("\n\n") if f]
    assert len(frames) == 1 and frames[0].startswith("event: job\ndata: ")  # done: one event, then the end
    assert json.loads(frames[0].split("data: ", 1)[1]) == polled.json()

    for path in (f"/api/jobs/{job_id}", f"/api/jobs/{job_id}/events", "/api/jobs/" + "f" * 65):
        r = bob.get(path)
        assert r.status_code == 404 and r.json()["error"] == "not_found", path
