"""Records through the API: read, edit (versions), keep/remove flagged statements, approve, export."""

from __future__ import annotations

import io

from api_helpers import Client, insert_record


def test_patch_creates_manual_versions(alice: Client) -> None:
    rid = insert_record(alice)
    r = alice.patch(f"/api/records/{rid}", json={"edit": [{"id": "s1", "text": "Leanne said police attended."}],
                                                  "author": "Jo Smith"})
    assert r.status_code == 200, r.text
    rec = r.json()
    st = rec["sections"][0]["statements"][0]
    assert st["text"] == "Leanne said police attended." and st["edited_by_human"] is True
    r = alice.patch(f"/api/records/{rid}", json={"add": [{"section": "actions", "text": "Next visit 3 April.",
                                                          "kind": "decision", "evidence": [4]}]})
    assert r.status_code == 200
    versions = alice.get(f"/api/records/{rid}/versions").json()
    assert [(v["version"], v["source"]) for v in versions] == [(1, "ai"), (2, "manual"), (3, "manual")]
    assert versions[1]["author"] == "Jo Smith"


def test_patch_rejects_unknown_statements_and_evidence(alice: Client) -> None:
    rid = insert_record(alice)
    assert alice.patch(f"/api/records/{rid}", json={"remove": ["nope"]}).status_code == 422
    bad = alice.patch(f"/api/records/{rid}", json={"add": [{"section": "actions", "text": "x", "evidence": [99]}]})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_evidence"
    assert len(alice.get(f"/api/records/{rid}/versions").json()) == 1, "a refused edit makes no version"


def test_approval_blocked_by_unverified_high_risk_until_kept_or_removed(alice: Client) -> None:
    rid = insert_record(alice)
    r = alice.post(f"/api/records/{rid}/approve", json={"reviewer": "Jo Smith"})
    assert r.status_code == 409 and "s2" in r.json()["detail"]
    assert alice.patch(f"/api/records/{rid}", json={"remove": ["s2"]}).status_code == 200
    r = alice.post(f"/api/records/{rid}/approve", json={"reviewer": "Jo Smith"})
    assert r.status_code == 200
    rec = r.json()
    assert rec["state"] == "approved" and rec["approved_by"] == "Jo Smith" and rec["approved_at"]
    # Approved records are locked until rejected.
    assert alice.patch(f"/api/records/{rid}", json={"remove": ["s1"]}).status_code == 409
    assert alice.post(f"/api/records/{rid}/reject", json={"reason": "wrong family"}).json()["state"] == "rejected"


def test_approve_needs_a_reviewer_name(alice: Client) -> None:
    rid = insert_record(alice)
    r = alice.post(f"/api/records/{rid}/approve", json={"reviewer": ""})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


def test_exports_say_draft_before_approval_and_reviewer_after(alice: Client) -> None:
    import docx

    rid = insert_record(alice)
    for fmt in ("md", "txt", "json"):
        body = alice.get(f"/api/records/{rid}/export", params={"format": fmt}).text
        assert "DRAFT — not approved" in body, fmt
        if fmt != "json":  # the JSON export is the whole record, flags included
            assert "self-harm" not in body, "a flagged statement nobody kept must not be exported"
    alice.patch(f"/api/records/{rid}", json={"remove": ["s2"]})
    alice.post(f"/api/records/{rid}/approve", json={"reviewer": "Jo Smith"})
    r = alice.get(f"/api/records/{rid}/export", params={"format": "docx"})
    assert r.status_code == 200
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs)
    assert "reviewed by Jo Smith" in text and "DRAFT — not approved" not in text
    assert "police came out in March" in text


def test_delete_record_removes_row_and_versions(alice: Client) -> None:
    rid = insert_record(alice)
    assert alice.delete(f"/api/records/{rid}").status_code == 200
    assert alice.get(f"/api/records/{rid}").status_code == 404
    assert alice.get(f"/api/records/{rid}/versions").status_code == 404
