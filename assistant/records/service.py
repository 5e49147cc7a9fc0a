"""The records service: every change to a stored case record goes through here, whoever makes it.

The drafting job saves the AI's first version; a person edits statements, names the diariser's speakers,
approves, rejects, exports or deletes. Each keeps the stored JSON, the version history, the review state and
the audit log in step. Functions take the caller's session, so a change commits with whatever else the
caller writes (the job's completion, for one). A record belongs to its owner: anyone else is told it does
not exist (404, never 403: no existence leak).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.audit import SYSTEM, sha256_bytes, sha256_json
from assistant.audit import append as audit
from assistant.diarise.base import SPEAKER_LABEL
from assistant.records import FLAG_HIGH_RISK, CaseRecord, Statement
from assistant.records.edits import RecordPatch
from assistant.store.db import Database
from assistant.store.tables import Job, Record, RecordVersion
from assistant.transcript import Participant, Transcript

ExportFormat = Literal["docx", "md", "txt", "json", "fhir"]
EXPORT_TYPES: dict[str, str] = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
    "fhir": "application/fhir+json",
}

# A diariser label quoted in prose: statement text and the summary follow a rename of these tokens only.
_LABEL_IN_TEXT = re.compile(r"(?<![\w])speaker_[1-9][0-9]{0,2}(?![\w])")


class RecordError(Exception):
    """A request the record's state or content refuses; `status` is the HTTP status the API answers with.
    The detail never echoes submitted text (error bodies carry no case text)."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


class Export(BaseModel):
    body: bytes
    media_type: str
    filename: str


# -- reading ----------------------------------------------------------------------------------------


def owned(s: Session, record_id: str, owner: str) -> Record:
    row = s.get(Record, record_id) if len(record_id) <= 64 else None
    if row is None or row.owner_id != owner:
        raise RecordError(404, "not_found", "no such record")
    return row


def load(row: Record) -> CaseRecord:
    return CaseRecord.model_validate(row.data)


def read(s: Session, record_id: str, owner: str) -> CaseRecord:
    return load(owned(s, record_id, owner))


def versions(s: Session, record_id: str, owner: str) -> list[RecordVersion]:
    row = owned(s, record_id, owner)
    return list(s.scalars(select(RecordVersion).where(RecordVersion.record_id == row.id)
                          .order_by(RecordVersion.version)).all())


# -- versions ---------------------------------------------------------------------------------------


def save_drafted(s: Session, job: Job, record: CaseRecord) -> Record:
    """The AI's draft as a new record: its row, version 1 (source `ai`) and the audit entry. Sets the
    record's id and owner."""
    row = Record(owner_id=job.owner_id, job_id=job.id, recording_id=job.recording_id,
                 template_id=record.template_id, state="draft", version=1, data={})
    s.add(row)
    s.flush()
    record.id, record.owner = row.id, job.owner_id
    data = record.model_dump(mode="json")
    row.data = data
    s.add(RecordVersion(record_id=row.id, version=1, source="ai", author="assistant", data=data))
    prov = record.provenance
    audit(s, SYSTEM, "draft", objects={"job": job.id, "record": row.id, "version": "1"},
          models={"asr": prov.asr_model, "llm": prov.llm_model, "engine": prov.engine},
          prompts=prov.prompt_versions, input_sha256=sha256_json(record.transcript), output_sha256=sha256_json(data))
    return row


def _editable(s: Session, record_id: str, owner: str) -> Record:
    row = owned(s, record_id, owner)
    if row.state == "approved":
        raise RecordError(409, "approved", "an approved record is locked; reject it to reopen it for edits")
    return row


def _save_manual_version(s: Session, row: Record, record: CaseRecord, user: str, *, author: str | None,
                         note: str) -> None:
    """A person's change: the next version (source `manual`), back to draft, with its audit entry."""
    record.version = row.version + 1
    record.state = "draft"
    data = record.model_dump(mode="json")
    row.data, row.version, row.state = data, record.version, "draft"
    s.add(RecordVersion(record_id=row.id, version=record.version, source="manual",
                        author=(author or "reviewer")[:200], note=note[:200], data=data))
    audit(s, user, "edit", objects={"record": row.id, "version": str(record.version)},
          output_sha256=sha256_json(data))


# -- a person's edits -------------------------------------------------------------------------------


def apply_patch(record: CaseRecord, patch: RecordPatch) -> list[str]:
    """Apply the patch to `record` in place; returns what changed, one short note each."""
    by_id: dict[str, Statement] = {st.id: st for st in record.statements()}
    for ref in [*(e.id for e in patch.edit), *patch.remove, *patch.keep]:
        if ref not in by_id:
            raise RecordError(422, "unknown_statement", "a statement id in the request is not in this record")
    changes: list[str] = []
    for e in patch.edit:
        st = by_id[e.id]
        for name in ("text", "kind", "attributed_to"):
            value = getattr(e, name)
            if value is not None and value != getattr(st, name):
                setattr(st, name, value)
                st.edited_by_human = True
        changes.append(f"edit {e.id}")
    for ref in patch.keep:
        by_id[ref].kept_by_human = True
        changes.append(f"keep {ref}")
    if patch.remove:
        gone = set(patch.remove)
        for sec in record.sections:
            sec.statements = [st for st in sec.statements if st.id not in gone]
        changes.extend(f"remove {r}" for r in patch.remove)
    changes.extend(_add_statements(record, patch))
    if patch.summary is not None:
        record.summary = patch.summary
        changes.append("summary")
    return changes


def _add_statements(record: CaseRecord, patch: RecordPatch) -> list[str]:
    changes: list[str] = []
    used = {st.id for st in record.statements()}
    valid = {seg.id for seg in record.transcript.segments}
    for add in patch.add:
        sec = record.section(add.section)
        if sec is None:  # human_only sections are the worker's to write, so adding there is allowed
            raise RecordError(422, "unknown_section", "a section id in the request is not in this record")
        if any(i not in valid for i in add.evidence):
            raise RecordError(422, "invalid_evidence", "evidence must be ids of this record's transcript segments")
        n = len(used) + 1
        while f"m{n}" in used:
            n += 1
        sid = f"m{n}"
        used.add(sid)
        sec.statements.append(Statement(id=sid, text=add.text, kind=add.kind, attributed_to=add.attributed_to,
                                        evidence=add.evidence, edited_by_human=True, kept_by_human=True))
        if sec.status == "not_discussed":
            sec.status = "drafted"  # human_only stays human_only: the worker wrote it
        changes.append(f"add {sid}")
    return changes


def edit(s: Session, record_id: str, owner: str, patch: RecordPatch) -> CaseRecord:
    """Edit, add, remove or keep statements; a patch that changes anything makes a new `manual` version."""
    row = _editable(s, record_id, owner)
    record = load(row)
    changes = apply_patch(record, patch)
    if changes:
        _save_manual_version(s, row, record, owner, author=patch.author, note=", ".join(changes))
    return record


# -- speaker names ----------------------------------------------------------------------------------


def name_speakers(s: Session, record_id: str, owner: str, names: Mapping[str, str]) -> CaseRecord:
    """Name the diariser's speakers (label -> name; an empty name puts the label back). The transcript, the
    statements' attribution and the people present follow; a change makes a new `manual` version."""
    row = _editable(s, record_id, owner)
    record = load(row)
    base = _original_transcript(s, row, record)
    labels = [who for who in base.speakers() if SPEAKER_LABEL.match(who)]
    if any(label not in labels for label in names):
        # The submitted keys are not echoed (error bodies carry no user text); the record's labels are ours.
        raise RecordError(422, "unknown_speaker", "a speaker label in the request is not in this record's "
                          f"transcript; its labels: {', '.join(labels) or 'none (it was not diarised)'}")
    mapping = {**{k: v for k, v in record.transcript.speaker_names.items() if k in labels}, **names}
    from assistant.diarise.merge import apply_speaker_names

    try:
        named = apply_speaker_names(base, mapping, [*record.transcript.participants, *record.meta.people_present])
    except ValueError:
        raise RecordError(422, "unknown_speaker", "a speaker label in the request is not in this record's "
                          "transcript") from None
    if named == record.transcript:
        return record
    _rename_people(record, record.transcript, named)
    record.transcript = named
    _save_manual_version(s, row, record, owner, author=None, note=f"speaker names: {', '.join(sorted(names))}")
    return record


def _original_transcript(s: Session, row: Record, record: CaseRecord) -> Transcript:
    """The transcript as transcription left it (version 1), whose segments still carry the diariser's labels.

    Naming starts from it rather than from the current copy: once two labels are given one name (the
    diariser split one voice in two), the current copy no longer says which segment had which label."""
    first = s.scalar(select(RecordVersion).where(RecordVersion.record_id == row.id, RecordVersion.version == 1))
    if first is not None:
        try:
            base = Transcript.model_validate((first.data or {}).get("transcript") or {})
        except ValidationError:
            base = None
        same = base is not None and [(g.id, g.text) for g in base.segments] == [
            (g.id, g.text) for g in record.transcript.segments]
        if base is not None and same:
            return base
    return record.transcript


def _renames(before: Transcript, after: Transcript) -> dict[str, dict[str, None]]:
    """Speaker before -> the speakers its segments have now (in order), for every speaker that changed."""
    targets: dict[str, dict[str, None]] = {}
    for old, new in zip(before.segments, after.segments, strict=True):
        targets.setdefault(old.speaker, {})[new.speaker] = None
    return {who: to for who, to in targets.items() if list(to) != [who]}


def _rename_people(record: CaseRecord, before: Transcript, after: Transcript) -> None:
    """Carry a change of speaker names from the transcript into the record: statements' `attributed_to`,
    diariser labels quoted in statement text and the summary, the people present and the subject."""
    moved = _renames(before, after)
    if not moved:
        return
    old_speaker = {g.id: g.speaker for g in before.segments}
    new_speaker = {g.id: g.speaker for g in after.segments}

    def single(who: str) -> str | None:
        to = list(moved.get(who, {}))
        return to[0] if len(to) == 1 else None

    for st in record.statements():
        if st.attributed_to in moved:
            # A name now split between people (one label renamed, another that shared its name not): the
            # statement's own evidence says whose words it rests on.
            cited = {new_speaker[i] for i in st.evidence if old_speaker.get(i) == st.attributed_to}
            st.attributed_to = cited.pop() if len(cited) == 1 else single(st.attributed_to) or st.attributed_to

    def relabel(text: str) -> str:
        # Only the diariser's own tokens: a name in prose ("Kerry said") may be anyone's and stays as written.
        return _LABEL_IN_TEXT.sub(lambda m: single(m[0]) or m[0], text)

    for st in record.statements():
        st.text = relabel(st.text)
    record.summary = relabel(record.summary)
    record.meta.people_present = _present_after(record.meta.people_present, moved, after)
    if record.meta.subject in moved:
        record.meta.subject = single(record.meta.subject) or record.meta.subject


def _present_after(present: list[Participant], moved: dict[str, dict[str, None]],
                   after: Transcript) -> list[Participant]:
    """The people present once renamed speakers take their new names; a name no segment or participant
    still has goes."""
    roles = {p.name: p for p in [*after.participants, *present]}
    still = set(after.speakers()) | {p.name for p in after.participants}
    out: dict[str, Participant] = {}
    for p in present:
        if p.name in moved:
            for name in moved[p.name]:
                out.setdefault(name, roles.get(name) or Participant(name=name))
            if p.name not in still:
                continue
        out.setdefault(p.name, p)
    return list(out.values())


# -- review -----------------------------------------------------------------------------------------


def approve(s: Session, record_id: str, owner: str, reviewer: str) -> CaseRecord:
    """Approve the current version; refused while a high-risk statement without evidence is neither kept
    (confirmed by a person) nor removed."""
    row = owned(s, record_id, owner)
    record = load(row)
    blocking = [st.id for st in record.statements() if FLAG_HIGH_RISK in st.flags and not st.kept_by_human]
    if blocking:
        raise RecordError(409, "unverified_high_risk", "keep (confirm) or remove the high-risk statements "
                          f"without evidence first: {', '.join(blocking)}")
    record.state, record.approved_by, record.approved_at = "approved", reviewer, datetime.now(UTC)
    row.data, row.state = record.model_dump(mode="json"), "approved"
    audit(s, owner, "approve", objects={"record": row.id, "version": str(row.version)},
          output_sha256=sha256_json(row.data))
    return record


def reject(s: Session, record_id: str, owner: str) -> CaseRecord:
    """Reject the record, which also reopens an approved one for edits."""
    row = owned(s, record_id, owner)
    record = load(row)
    record.state, record.approved_by, record.approved_at = "rejected", None, None
    row.data, row.state = record.model_dump(mode="json"), "rejected"
    audit(s, owner, "reject", objects={"record": row.id, "version": str(row.version)})
    return record


def export(db: Database, record_id: str, owner: str, fmt: ExportFormat) -> Export:
    """The record rendered as `fmt`, with its audit entry. Rendering runs between two short transactions, so
    no write lock is held while a document is built; the renderers refuse what may not be exported."""
    with db.session() as s:
        record = read(s, record_id, owner)
    from assistant.export import render

    try:
        body = render(record, fmt)
    except ValueError as exc:
        raise RecordError(422, "export_unavailable", str(exc)) from None
    with db.session() as s:
        audit(s, owner, "export", objects={"record": record_id, "version": str(record.version), "format": fmt},
              input_sha256=sha256_json(record), output_sha256=sha256_bytes(body))
    name = f"record-{record_id[:8]}.{'json' if fmt == 'fhir' else fmt}"
    return Export(body=body, media_type=EXPORT_TYPES[fmt], filename=name)


def delete(s: Session, record_id: str, owner: str) -> None:
    """The record and its versions; its job keeps its row but not the transcript."""
    row = owned(s, record_id, owner)
    for v in s.scalars(select(RecordVersion).where(RecordVersion.record_id == row.id)):
        s.delete(v)
    for job in s.scalars(select(Job).where(Job.record_id == row.id)):
        job.transcript = None
    s.delete(row)
    audit(s, owner, "delete", objects={"record": record_id})
