"""The records service on a real SQLite store: the AI's first version, a person's edits and speaker names as new
versions, approval and its high-risk guard, rejection, export, deletion, ownership, and the audit log of each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from assistant.audit import verify
from assistant.config import Settings
from assistant.records import FLAG_HIGH_RISK, CaseRecord, RecordMeta, Section, Statement
from assistant.records import service as records
from assistant.records.edits import RecordPatch, StatementAdd, StatementEdit
from assistant.records.service import RecordError
from assistant.store.db import Database
from assistant.store.tables import AuditEntry, Job, Record, RecordVersion, User
from assistant.transcript import Participant, Segment, Transcript, parse_text

VISIT = """Present: Jo Smith (social worker), Leanne Hart (mother)
Jo Smith: How have things been since my last visit?
Leanne Hart: Better. The police came out in March after an argument with my ex.
Jo Smith: I will refer you to the family support service by Friday.
"""


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    with database.session() as s:
        s.add_all([User(id=name, name=name, token_hash=name[0] * 64) for name in ("alice", "bob")])
    yield database
    database.dispose()


def _record(transcript: Transcript | None = None, *, flagged: bool = True) -> CaseRecord:
    return CaseRecord(
        template_id="sc_contact_note",
        transcript=transcript or parse_text(VISIT),
        sections=[
            Section(id="views_family", title="Views of family and carers", status="drafted", statements=[
                Statement(id="s1", text="Leanne said the police came out in March.", kind="reported",
                          attributed_to="Leanne Hart", evidence=[1], support=0.9),
                Statement(id="s2", text="Leanne has thoughts of self-harm.", kind="reported",
                          attributed_to="Leanne Hart", evidence=[1], support=0.1,
                          flags=[FLAG_HIGH_RISK] if flagged else []),
            ]),
            Section(id="actions", title="Actions agreed", status="not_discussed"),
            Section(id="analysis", title="Worker's analysis", status="human_only"),
        ],
        summary="Leanne reported a police call-out in March.",
    )


def _drafted(db: Database, record: CaseRecord | None = None, owner: str = "alice") -> str:
    with db.session() as s:
        job = Job(owner_id=owner, kind="notes", template_id="sc_contact_note", state="running")
        s.add(job)
        s.flush()
        return records.save_drafted(s, job, record or _record()).id


def _actions(db: Database) -> list[str]:
    with db.session() as s:
        return [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def _versions(db: Database, record_id: str) -> list[tuple[int, str, str]]:
    with db.session() as s:
        return [(v.version, v.source, v.author) for v in records.versions(s, record_id, "alice")]


def test_the_ai_draft_is_version_1_owned_by_the_jobs_owner(db: Database) -> None:
    rid = _drafted(db)
    with db.session() as s:
        row = s.get(Record, rid)
        assert (row.owner_id, row.version, row.state) == ("alice", 1, "draft")
        stored = records.read(s, rid, "alice")
    assert (stored.id, stored.owner) == (rid, "alice")
    assert _versions(db, rid) == [(1, "ai", "assistant")]
    assert _actions(db) == ["draft"]


def test_an_edit_makes_a_manual_version_and_a_patch_that_changes_nothing_does_not(db: Database) -> None:
    rid = _drafted(db)
    patch = RecordPatch(edit=[StatementEdit(id="s1", text="Leanne said the police came in March.")],
                        add=[StatementAdd(section="actions", text="Jo will refer Leanne by Friday.", kind="action",
                                          attributed_to="Jo Smith", evidence=[2])],
                        remove=["s2"], summary="A police call-out in March.", author="Jo Smith")
    with db.session() as s:
        edited = records.edit(s, rid, "alice", patch)
    assert edited.version == 2 and edited.summary == "A police call-out in March."
    assert [st.id for st in edited.statements()] == ["s1", "m2"]
    assert edited.statements()[0].edited_by_human and edited.section("actions").status == "drafted"  # type: ignore[union-attr]
    with db.session() as s:
        assert records.read(s, rid, "alice") == edited
        note = s.scalar(select(RecordVersion.note).where(RecordVersion.version == 2))
    assert note == "edit s1, remove s2, add m2, summary"
    with db.session() as s:
        records.edit(s, rid, "alice", RecordPatch())
    assert _versions(db, rid) == [(1, "ai", "assistant"), (2, "manual", "Jo Smith")]
    assert _actions(db) == ["draft", "edit"]


@pytest.mark.parametrize(("patch", "error"), [
    (RecordPatch(keep=["nope"]), "unknown_statement"),
    (RecordPatch(add=[StatementAdd(section="nope", text="x")]), "unknown_section"),
    (RecordPatch(add=[StatementAdd(section="actions", text="x", evidence=[99])]), "invalid_evidence"),
])
def test_a_bad_patch_is_refused_and_changes_nothing(db: Database, patch: RecordPatch, error: str) -> None:
    rid = _drafted(db)
    with pytest.raises(RecordError) as caught, db.session() as s:
        records.edit(s, rid, "alice", patch)
    assert (caught.value.status, caught.value.error) == (422, error)
    assert _versions(db, rid) == [(1, "ai", "assistant")]


def test_approval_waits_for_a_person_to_keep_an_unverified_high_risk_statement(db: Database) -> None:
    rid = _drafted(db)
    with pytest.raises(RecordError) as caught, db.session() as s:
        records.approve(s, rid, "alice", "Jo Smith")
    assert (caught.value.status, caught.value.error) == (409, "unverified_high_risk") and "s2" in caught.value.detail
    with db.session() as s:
        records.edit(s, rid, "alice", RecordPatch(keep=["s2"]))
    with db.session() as s:
        approved = records.approve(s, rid, "alice", "Jo Smith")
    assert (approved.state, approved.approved_by) == ("approved", "Jo Smith") and approved.approved_at is not None
    # Approved is locked until rejected; rejecting reopens it as a draft for edits.
    with pytest.raises(RecordError) as caught, db.session() as s:
        records.edit(s, rid, "alice", RecordPatch(remove=["s1"]))
    assert (caught.value.status, caught.value.error) == (409, "approved")
    with db.session() as s:
        rejected = records.reject(s, rid, "alice")
    assert (rejected.state, rejected.approved_by, rejected.approved_at) == ("rejected", None, None)
    with db.session() as s:
        assert records.edit(s, rid, "alice", RecordPatch(remove=["s1"])).state == "draft"
    assert _actions(db) == ["draft", "edit", "approve", "reject", "edit"]


def test_export_renders_audits_and_refuses_what_may_not_leave(db: Database) -> None:
    rid = _drafted(db, _record(flagged=False))
    out = records.export(db, rid, "alice", "md")
    assert out.media_type == "text/markdown; charset=utf-8" and out.filename == f"record-{rid[:8]}.md"
    assert b"police came out in March" in out.body
    with pytest.raises(RecordError) as caught:  # a social care note has no clinical document type
        records.export(db, rid, "alice", "fhir")
    assert (caught.value.status, caught.value.error) == (422, "export_unavailable")
    assert _actions(db) == ["draft", "export"]


def test_a_record_is_someone_elses_only_as_not_found(db: Database) -> None:
    rid = _drafted(db)
    for call in (lambda s: records.read(s, rid, "bob"), lambda s: records.approve(s, rid, "bob", "Bob"),
                 lambda s: records.delete(s, rid, "bob"), lambda s: records.read(s, "x" * 65, "alice")):
        with pytest.raises(RecordError) as caught, db.session() as s:
            call(s)
        assert (caught.value.status, caught.value.error) == (404, "not_found")
    with pytest.raises(RecordError):
        records.export(db, rid, "bob", "txt")


def test_delete_removes_the_versions_and_the_jobs_transcript(db: Database) -> None:
    rid = _drafted(db)
    with db.session() as s:
        job = s.scalar(select(Job))
        job.record_id, job.transcript = rid, {"segments": []}
    with db.session() as s:
        records.delete(s, rid, "alice")
    with db.session() as s:
        assert s.get(Record, rid) is None and s.scalars(select(RecordVersion)).all() == []
        assert s.scalar(select(Job)).transcript is None
    assert _actions(db)[-1] == "delete"
    with db.session() as s:
        assert verify(s).ok


def _diarised() -> Transcript:
    lines = [("speaker_1", "How have things been?"), ("speaker_2", "Better, thanks. The police came in March."),
             ("speaker_1", "I will refer you by Friday."), ("speaker_3", "She is doing well.")]
    return Transcript(id="t", source="s", segments=[Segment(id=i, speaker=who, text=text)
                                                    for i, (who, text) in enumerate(lines)])


def test_naming_speakers_renames_the_record_and_starts_again_from_the_original_labels(db: Database) -> None:
    record = _record(_diarised())
    record.sections[0].statements[0].attributed_to = "speaker_2"
    record.sections[0].statements[0].text = "speaker_2 said the police came in March."
    record.summary = "speaker_2 reported a police call-out; speaker_20 is no label of this record."
    record.meta = RecordMeta(people_present=[Participant(name="speaker_1"), Participant(name="speaker_2")],
                             subject="speaker_2")
    rid = _drafted(db, record)
    with db.session() as s:
        named = records.name_speakers(s, rid, "alice", {"speaker_1": "Jo Smith", "speaker_2": "Leanne Hart"})
    first = named.sections[0].statements[0]
    assert (first.attributed_to, first.text) == ("Leanne Hart", "Leanne Hart said the police came in March.")
    assert named.summary.startswith("Leanne Hart reported") and "speaker_20" in named.summary
    assert [p.name for p in named.meta.people_present] == ["Jo Smith", "Leanne Hart"]
    assert named.meta.subject == "Leanne Hart" and named.version == 2
    # Two labels given one name, then told apart again: the original labels decide who said what.
    with db.session() as s:
        records.name_speakers(s, rid, "alice", {"speaker_3": "Leanne Hart"})
    with db.session() as s:
        apart = records.name_speakers(s, rid, "alice", {"speaker_3": "Kerry Price"})
    assert [g.speaker for g in apart.transcript.segments] == ["Jo Smith", "Leanne Hart", "Jo Smith", "Kerry Price"]
    assert apart.sections[0].statements[0].attributed_to == "Leanne Hart"
    # The same names again change nothing, so make no version.
    with db.session() as s:
        records.name_speakers(s, rid, "alice", {"speaker_3": "Kerry Price"})
    assert [v for v, _, _ in _versions(db, rid)] == [1, 2, 3, 4]


def test_naming_a_label_the_record_does_not_have_is_refused_with_its_labels(db: Database) -> None:
    rid = _drafted(db, _record(_diarised()))
    with pytest.raises(RecordError) as caught, db.session() as s:
        records.name_speakers(s, rid, "alice", {"speaker_9": "Jo Smith"})
    assert caught.value.error == "unknown_speaker" and "speaker_1, speaker_2, speaker_3" in caught.value.detail
    assert "speaker_9" not in caught.value.detail
