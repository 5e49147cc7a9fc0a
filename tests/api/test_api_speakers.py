"""Who said what through the API: the upload's `speakers` and `present` fields, and naming the diariser's
speaker labels on a record (`PUT /api/records/{id}/speakers`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_helpers import Client, insert_record, sample_record, tone_wav
from sqlalchemy import func, select

from assistant.records import CaseRecord, RecordMeta, Section, Statement
from assistant.store.tables import AuditEntry, Job, Recording
from assistant.transcript import Participant, Segment, Transcript


def _upload(client: Client, **fields: str):  # type: ignore[no-untyped-def]
    return client.post("/api/recordings", files={"file": ("a.wav", tone_wav(), "audio/wav")}, data=fields)


# -- upload fields --------------------------------------------------------------------------------


def test_speakers_and_present_are_stored_on_the_job(alice: Client) -> None:
    r = _upload(alice, speakers="3", present="Priya Shah (social worker)\nLeanne Hart (mother), Kai;  Jo  Bloggs ")
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    with alice.http.app.state.db.session() as s:  # type: ignore[attr-defined]
        job = s.get(Job, job_id)
        assert job.speakers == 3
        assert job.present == [{"name": "Priya Shah", "role": "social worker", "relationship": ""},
                               {"name": "Leanne Hart", "role": "mother", "relationship": ""},
                               {"name": "Kai", "role": "", "relationship": ""},
                               {"name": "Jo Bloggs", "role": "", "relationship": ""}]
    out = alice.get(f"/api/jobs/{job_id}").json()
    assert out["speakers"] == 3
    assert out["present"][0] == {"name": "Priya Shah", "role": "social worker", "relationship": ""}


def test_a_comma_in_the_brackets_gives_a_relationship_and_blank_fields_mean_not_given(alice: Client) -> None:
    r = _upload(alice, present="Sam Lee (carer, paid), Sam Lee (carer, paid)", speakers="")
    assert r.status_code == 202, r.text
    with alice.http.app.state.db.session() as s:  # type: ignore[attr-defined]
        job = s.get(Job, r.json()["job_id"])
        assert job.present == [{"name": "Sam Lee", "role": "carer", "relationship": "paid"}], \
            "as in a transcript's Present: line; an exact repeat counts once"
        assert job.speakers is None
    r = _upload(alice, present="  \n ", speakers=" ")
    assert r.status_code == 202
    with alice.http.app.state.db.session() as s:  # type: ignore[attr-defined]
        job = s.get(Job, r.json()["job_id"])
        assert job.present is None and job.speakers is None


@pytest.mark.parametrize("value", ["0", "21", "abc", "2.5", "-1", "1e1", "0003000"])
def test_bad_speakers_is_422_and_saves_nothing(alice: Client, app_settings, value: str) -> None:
    r = _upload(alice, speakers=value)
    assert r.status_code == 422, value
    assert r.json()["error"] == "invalid_request" and "from 1 to 20" in r.json()["detail"]
    _nothing_saved(alice, app_settings.data_dir)


@pytest.mark.parametrize(("value", "why"), [
    (", ".join(f"Person {chr(65 + i // 26)}{chr(97 + i % 26)}" for i in range(21)), "at most 20"),
    ("A" * 101, "at most 100"),
    ("Priya (social worker (lead))", "role in brackets"),
    ("Priya) Shah", "role in brackets"),
    ("1234", "letter"),
    ("speaker_2", "speaker label"),
    ("Priya\x00Shah", "plain text"),
    ("Priya \u202eShah", "plain text"),
    ("x, " * 700, "at most 2000"),
])
def test_bad_present_is_422_without_echoing_it(alice: Client, app_settings, value: str, why: str) -> None:
    r = _upload(alice, present=value)
    assert r.status_code == 422, value
    body = r.json()
    assert body["error"] == "invalid_request" and why in body["detail"]
    assert value not in body["detail"], "error bodies carry no user text"
    _nothing_saved(alice, app_settings.data_dir)


def _nothing_saved(client: Client, data_dir: Path) -> None:
    uploads = data_dir / "uploads"
    assert not [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else True
    with client.http.app.state.db.session() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(func.count()).select_from(Recording)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == 0


# -- naming the diariser's speakers ---------------------------------------------------------------

PRIYA = Participant(name="Priya Shah", role="social worker")
LEANNE = Participant(name="Leanne Hart", role="mother")


def diarised_record(labels: tuple[str, ...] = ("speaker_1", "speaker_2", "speaker_1", "speaker_2")) -> CaseRecord:
    """A record drafted from a diarised recording: anonymous labels in the transcript, the statements and
    the people present (as drafting leaves them), with the uploader's people present as participants."""
    said = ["How have things been since my last visit?", "Better. The rent arrears are down to two hundred pounds.",
            "Any thoughts of harming yourself?", "No, nothing like that."]
    segments = [Segment(id=i, speaker=who, start=i * 5.0, end=i * 5.0 + 4, text=said[i % 4])
                for i, who in enumerate(labels)]
    transcript = Transcript(id="t1", source="0" * 64, segments=segments, participants=[PRIYA, LEANNE],
                            asr={"model": "base", "diarisation": {"speakers_found": len(set(labels))}})
    return CaseRecord(
        template_id="sc_contact_note",
        transcript=transcript,
        meta=RecordMeta(people_present=[PRIYA, LEANNE, *(Participant(name=x) for x in sorted(set(labels)))],
                        subject="speaker_2"),
        sections=[
            Section(id="views_family", title="Views of family and carers", status="drafted", statements=[
                Statement(id="s1", text="speaker_2 said the rent arrears are down to £200.", kind="reported",
                          attributed_to="speaker_2", evidence=[1], support=0.9),
                Statement(id="s2", text="Denied thoughts of self-harm.", kind="reported",
                          attributed_to=labels[3], evidence=[3], support=0.8),
            ]),
            Section(id="actions", title="Actions agreed", status="drafted", statements=[
                Statement(id="s3", text="Asked about thoughts of self-harm.", kind="action",
                          attributed_to="speaker_1", evidence=[2], support=0.8),
            ]),
        ],
        summary="speaker_2 reported lower rent arrears; speaker_1 asked about her mood.",
    )


def _speakers(client: Client, rid: str, names: object):  # type: ignore[no-untyped-def]
    return client.request("PUT", f"/api/records/{rid}/speakers", json=names)


def test_naming_speakers_renames_transcript_statements_and_people_as_a_new_version(alice: Client) -> None:
    rid = insert_record(alice, diarised_record())
    r = _speakers(alice, rid, {"speaker_1": "Priya Shah", "speaker_2": " Leanne   Hart "})
    assert r.status_code == 200, r.text
    rec = r.json()
    t = rec["transcript"]
    assert [g["speaker"] for g in t["segments"]] == ["Priya Shah", "Leanne Hart", "Priya Shah", "Leanne Hart"]
    assert t["speaker_names"] == {"speaker_1": "Priya Shah", "speaker_2": "Leanne Hart"}
    assert [p["name"] for p in t["participants"]] == ["Priya Shah", "Leanne Hart"]
    by_id = {st["id"]: st for sec in rec["sections"] for st in sec["statements"]}
    assert by_id["s1"]["attributed_to"] == "Leanne Hart" and by_id["s2"]["attributed_to"] == "Leanne Hart"
    assert by_id["s3"]["attributed_to"] == "Priya Shah"
    assert by_id["s1"]["text"] == "Leanne Hart said the rent arrears are down to £200."
    assert rec["summary"] == "Leanne Hart reported lower rent arrears; Priya Shah asked about her mood."
    assert rec["meta"]["people_present"] == [{"name": "Priya Shah", "role": "social worker", "relationship": ""},
                                             {"name": "Leanne Hart", "role": "mother", "relationship": ""}]
    assert rec["meta"]["subject"] == "Leanne Hart"
    assert rec["version"] == 2 and rec["state"] == "draft"
    versions = alice.get(f"/api/records/{rid}/versions").json()
    assert [(v["version"], v["source"]) for v in versions] == [(1, "ai"), (2, "manual")]
    assert alice.get(f"/api/records/{rid}").json()["transcript"]["speaker_names"]["speaker_1"] == "Priya Shah"
    with alice.http.app.state.db.session() as s:  # type: ignore[attr-defined]
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last.action == "edit" and last.objects == {"record": rid, "version": "2"}
        assert "Priya" not in repr((last.objects, last.models, last.prompts)), "the audit log holds ids only"
    # The same names again change nothing, so make no version.
    again = _speakers(alice, rid, {"speaker_1": "Priya Shah"})
    assert again.status_code == 200 and again.json()["version"] == 2


def test_renaming_again_starts_from_the_labels(alice: Client) -> None:
    rid = insert_record(alice, diarised_record())
    _speakers(alice, rid, {"speaker_1": "Priya Shah", "speaker_2": "Leanne Hart"})
    rec = _speakers(alice, rid, {"speaker_2": "Kai Hart"}).json()
    assert [g["speaker"] for g in rec["transcript"]["segments"]] == ["Priya Shah", "Kai Hart", "Priya Shah",
                                                                      "Kai Hart"]
    assert {st["attributed_to"] for st in rec["sections"][0]["statements"]} == {"Kai Hart"}
    # Leanne was declared present, so she stays in the list although she no longer speaks.
    assert [p["name"] for p in rec["meta"]["people_present"]] == ["Priya Shah", "Kai Hart", "Leanne Hart"]
    # An empty name puts the label back.
    rec = _speakers(alice, rid, {"speaker_2": ""}).json()
    assert rec["transcript"]["segments"][1]["speaker"] == "speaker_2"
    assert rec["transcript"]["speaker_names"] == {"speaker_1": "Priya Shah"}
    assert rec["sections"][0]["statements"][0]["attributed_to"] == "speaker_2"
    assert rec["version"] == 4


def test_one_voice_split_in_two_can_be_joined_and_split_again(alice: Client) -> None:
    # The diariser heard Leanne as two voices (speaker_2 and speaker_3): both get her name, then one of them
    # turns out to be Kai after all; only that label's segments and the statement citing them move.
    rid = insert_record(alice, diarised_record(("speaker_1", "speaker_2", "speaker_1", "speaker_3")))
    rec = _speakers(alice, rid, {"speaker_2": "Leanne Hart", "speaker_3": "Leanne Hart"}).json()
    assert [g["speaker"] for g in rec["transcript"]["segments"]][1:] == ["Leanne Hart", "speaker_1", "Leanne Hart"]
    rec = _speakers(alice, rid, {"speaker_3": "Kai Hart"}).json()
    assert [g["speaker"] for g in rec["transcript"]["segments"]] == ["speaker_1", "Leanne Hart", "speaker_1",
                                                                      "Kai Hart"]
    by_id = {st["id"]: st for sec in rec["sections"] for st in sec["statements"]}
    assert by_id["s1"]["attributed_to"] == "Leanne Hart" and by_id["s2"]["attributed_to"] == "Kai Hart"


def test_unknown_labels_and_bad_names_are_422_and_change_nothing(alice: Client) -> None:
    rid = insert_record(alice, diarised_record())
    for body in ({"speaker_9": "Nobody"}, {"Priya Shah": "Kerry"}, {"speaker_1": "Priya", "speaker_7": "X"}):
        r = _speakers(alice, rid, body)
        assert r.status_code == 422 and r.json()["error"] == "unknown_speaker", body
        assert "speaker_1, speaker_2" in r.json()["detail"] and "Nobody" not in r.json()["detail"]
    for body in ({}, {"speaker_1": "speaker_2"}, {"speaker_1": "Priya\nShah"}, {"speaker_1": "x" * 101},
                 {"speaker_1": 3}, ["speaker_1"]):
        r = _speakers(alice, rid, body)
        assert r.status_code == 422 and r.json()["error"] == "invalid_request", body
    # A typed record has no diariser labels: its speakers are already people.
    typed = insert_record(alice, sample_record())
    r = _speakers(alice, typed, {"speaker_1": "Jo"})
    assert r.status_code == 422 and "not diarised" in r.json()["detail"]
    assert len(alice.get(f"/api/records/{rid}/versions").json()) == 1


def test_an_approved_record_is_409(alice: Client) -> None:
    rid = insert_record(alice, diarised_record())
    assert alice.post(f"/api/records/{rid}/approve", json={"reviewer": "Priya Shah"}).status_code == 200
    r = _speakers(alice, rid, {"speaker_1": "Priya Shah"})
    assert r.status_code == 409 and r.json()["error"] == "approved"
    alice.post(f"/api/records/{rid}/reject", json={})
    assert _speakers(alice, rid, {"speaker_1": "Priya Shah"}).json()["state"] == "draft"
