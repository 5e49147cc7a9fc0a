"""Per-user isolation: for every route in the OpenAPI spec with an object id, another user gets 404."""

from __future__ import annotations

from api_helpers import Client, insert_record
from sqlalchemy import select

from assistant.store.tables import Job, Recording


def test_every_object_route_is_404_for_another_user(alice: Client, bob: Client) -> None:
    rid = insert_record(alice)
    db = alice.http.app.state.db  # type: ignore[attr-defined]
    with db.session() as s:
        job = s.scalar(select(Job).where(Job.record_id == rid))
        rec = Recording(owner_id=job.owner_id, filename="a.wav", path="/nonexistent/a.wav", format="wav", size=1,
                        sha256="0" * 64)
        s.add(rec)
        s.flush()
        ids = {"record_id": rid, "job_id": job.id, "recording_id": rec.id}

    spec = alice.get("/openapi.json").json()
    bodies = {"patch": {"remove": ["s1"]}, "post": {"reviewer": "Bob"}, "put": {"speaker_1": "Bob"}}
    checked = 0
    for path, methods in spec["paths"].items():
        if "{" not in path:
            continue
        url = path.format(**ids)
        for method in methods:
            kwargs = {"json": bodies[method]} if method in bodies else {}
            r = getattr(bob, method)(url, **kwargs)
            assert r.status_code == 404, f"{method.upper()} {path} gave {r.status_code} to another user"
            assert r.json()["error"] == "not_found"
            checked += 1
    assert checked >= 10
    # ...and nothing changed for the owner.
    assert alice.get(f"/api/records/{rid}").json()["state"] == "draft"
    assert alice.get(f"/api/jobs/{ids['job_id']}").status_code == 200


def test_no_token_is_401_when_tokens_are_required(alice: Client) -> None:
    r = alice.http.get("/api/templates")
    assert r.status_code == 200  # templates are public metadata
    r = alice.http.post("/api/notes", json={"text": "x", "template": "sc_contact_note"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = alice.http.get("/api/jobs/abc", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
