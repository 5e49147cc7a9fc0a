"""API routes. Every object belongs to its owner; anyone else gets 404, never 403 (no existence leak)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy import Table, bindparam, select

from assistant.api.auth import current_user
from assistant.api.errors import ApiError
from assistant.api.schemas import (
    _BAD_CHARS,
    SPEAKER_LABEL,
    Accepted,
    Approve,
    Deleted,
    JobEvent,
    JobOut,
    NotesIn,
    PresentPerson,
    RecordPatch,
    Reject,
    SpeakerNames,
    TemplateOut,
    VersionOut,
    parse_present,
    parse_speakers,
)
from assistant.api.uploads import discard, receive_upload
from assistant.audit import append as audit
from assistant.audit import sha256_bytes, sha256_json
from assistant.blobs import file_sha256
from assistant.diarise.merge import apply_speaker_names
from assistant.jobs.reaper import describe
from assistant.records import FLAG_HIGH_RISK, CaseRecord, Statement
from assistant.store.db import WriterBusy
from assistant.store.tables import Job, Record, Recording, RecordVersion, new_id
from assistant.templates import TemplateError, all_templates, get_template
from assistant.transcript import Participant, Transcript

router = APIRouter(prefix="/api")
User = Annotated[str, Depends(current_user)]

_RECORDINGS: Table = Recording.__table__  # type: ignore[assignment]
_JOBS: Table = Job.__table__  # type: ignore[assignment]

# Uploads up to this size are checked and stored on the event loop in the embedded deployment (see
# upload_recording): FFmpeg's header parsing, the hash and a copy between filesystems grow with the file.
QUICK_ACCEPT_BYTES = 4 * 1024 * 1024
# A quick upload whose commit meets another writer (a job's progress, another API process's upload) tries again
# on the loop after these pauses, ~15 ms in all (a commit holds the lock for about a millisecond), before it
# takes a worker-thread trip. With two API processes a quarter of a burst's commits met another writer, and a
# trip costs the burst far more than the wait (see upload_recording).
WRITER_RETRY_PAUSES_S = (0.0005, 0.001, 0.002, 0.004, 0.008)

EXPORT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "md": "text/markdown; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
    "fhir": "application/fhir+json",
}


def _template_or_422(template_id: str) -> str:
    try:
        return get_template(template_id).id
    except TemplateError:
        # Never echo the submitted value: error bodies carry no user text (issue 8).
        raise ApiError(422, "unknown_template", f"unknown template; known: {', '.join(sorted(all_templates()))}"
                       ) from None


def _job_out(job: Any) -> JobOut:
    return JobOut(id=job.id, state=job.state, stage=job.stage, progress=job.progress, error=job.error,  # type: ignore[arg-type]
                  record_id=job.record_id, recording_id=job.recording_id, template=job.template_id,
                  speakers=job.speakers, present=[PresentPerson.model_validate(p) for p in job.present or []],
                  history=[JobEvent(at=e.get("at", ""), text=describe(e)) for e in job.history or []],
                  created_at=job.created_at, updated_at=job.updated_at)


_JOB_BY_ID = select(_JOBS).where(_JOBS.c.id == bindparam("job_id"))


def _read_job(db: Any, job_id: str, owner: str) -> JobOut:
    """A job's status, read with one prebuilt Core statement: a third of the ORM's cost, and polls are the most
    frequent request."""
    with db.engine.connect() as conn:
        job = conn.execute(_JOB_BY_ID, {"job_id": job_id}).first() if len(job_id) <= 64 else None
    if job is None or job.owner_id != owner:
        raise ApiError(404, "not_found", "no such job")
    return _job_out(job)


def _owned(session: Any, model: type, obj_id: str, owner: str) -> Any:
    obj = session.get(model, obj_id) if len(obj_id) <= 64 else None
    if obj is None or obj.owner_id != owner:
        raise ApiError(404, "not_found", f"no such {model.__tablename__[:-1]}")
    return obj


# -- recordings -----------------------------------------------------------------------------------


@router.post("/recordings", status_code=202, response_model=Accepted,
             responses={413: {}, 415: {}, 422: {}, 507: {}})
async def upload_recording(request: Request, user: User) -> Accepted:
    """Upload audio (multipart field `file`; optional `template`, `consent`, `engine`, `speakers` (1-20: how
    many people speak, so a single-channel recording is diarised) and `present` (the people present, separated
    by commas or newlines, each optionally with a role in brackets: `Priya Shah (social worker)`))."""
    app = request.app.state
    settings = app.settings
    uploads = settings.data_dir / "uploads"
    try:
        upload = await receive_upload(request, uploads / "tmp", settings.max_upload_bytes)
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            raise ApiError(507, "insufficient_storage", "the server's disk is full; nothing was saved") from None
        raise
    try:
        if upload.file_path is None:
            raise ApiError(422, "invalid_request", "the form has no 'file' part")
        template_id = _template_or_422(upload.fields.get("template") or "sc_contact_note")
        engine = upload.fields.get("engine") or "llm"
        if engine not in ("llm", "extractive"):
            raise ApiError(422, "invalid_request", "engine must be 'llm' or 'extractive'")
        consent = upload.fields.get("consent") or None
        if consent is not None and (len(consent) > 200 or _BAD_CHARS.search(consent)):
            raise ApiError(422, "invalid_request", "consent must be at most 200 characters of plain text")
        try:
            speakers = parse_speakers(upload.fields.get("speakers"))
            present = [p.model_dump() for p in parse_present(upload.fields.get("present"))]
        except ValueError as exc:  # our own messages: they never echo the submitted text
            raise ApiError(422, "invalid_request", str(exc)) from None
        upload.filename = _BAD_CHARS.sub("_", upload.filename)  # shown in the page; stored in a text column
        rec_id = new_id()

        def moved(info: dict[str, Any]) -> dict[str, Any]:
            """The checked upload's SHA-256, and the move into the store. Through the BlobStore: workers on
            other machines read the upload from the same shared store."""
            info["sha256"] = file_sha256(upload.file_path)
            upload.file_path = Path(app.blobs.put_file(upload.file_path, f"uploads/{rec_id}.{info['format']}"))
            return info

        def committed(info: dict[str, Any], wait: bool) -> str:
            """The recording and job rows with the audit entry; returns the job id."""
            job_id = new_id()
            with app.db.session(wait=wait) as s:
                # Core inserts on the tables, statements built once: a fraction of the ORM's cost.
                s.execute(_RECORDINGS.insert(), dict(
                    id=rec_id, owner_id=user, filename=upload.filename or "recording", path=str(upload.file_path),
                    format=info["format"], size=upload.size, sha256=info["sha256"], duration=info.get("duration"),
                    consent=consent))
                s.execute(_JOBS.insert(), dict(
                    id=job_id, owner_id=user, kind="audio", template_id=template_id, engine=engine,
                    recording_id=rec_id, speakers=speakers, present=present or None))
                audit(s, user, "upload", objects={"recording": rec_id, "job": job_id}, input_sha256=info["sha256"])
            return job_id

        # A small upload in the embedded deployment (SQLite and files on this machine) is checked and stored
        # on the event loop: ~2.4 ms of work, bounded by its size (QUICK_ACCEPT_BYTES). A worker thread costs
        # a burst of uploads far more than that work: each thread waits for the GIL at every one of its ~50
        # system calls (interleaved runs: burst p95 358-453 ms that way, 208-350 ms this way). A bigger file,
        # a remote store or database, a file that must be decoded to find its length, and a commit that still
        # meets another writer after the pauses of WRITER_RETRY_PAUSES_S take one trip to a worker thread.
        job_id = None
        if app.quick_accept and upload.size <= QUICK_ACCEPT_BYTES:
            info = app.inspect_audio(upload.file_path, find_duration=False)
            if info["duration"] is not None:
                moved(info)
                for pause in (*WRITER_RETRY_PAUSES_S, None):
                    try:
                        job_id = committed(info, wait=False)
                        break
                    except WriterBusy:
                        if pause is None:  # still busy: the rows wait their turn in a thread; the file is in place
                            job_id = await run_in_threadpool(committed, info, True)
                        else:
                            await asyncio.sleep(pause)
        if job_id is None:
            job_id = await run_in_threadpool(lambda: committed(moved(app.inspect_audio(upload.file_path)), True))
    except OSError as exc:
        discard(upload)
        if exc.errno == 28:  # ENOSPC while moving the upload into the store
            raise ApiError(507, "insufficient_storage", "the server's disk is full; nothing was saved") from None
        raise
    except BaseException:
        discard(upload)
        raise
    app.queue.submit(job_id)
    return Accepted(job_id=job_id, recording_id=rec_id)


@router.delete("/recordings/{recording_id}", response_model=Deleted)
def delete_recording(recording_id: str, request: Request, user: User) -> Deleted:
    with request.app.state.db.session() as s:
        rec = _owned(s, Recording, recording_id, user)
        ref = rec.path
        for job in s.scalars(select(Job).where(Job.recording_id == rec.id)):
            job.recording_id = None
        s.delete(rec)
        audit(s, user, "delete", objects={"recording": recording_id})
    request.app.state.blobs.delete(ref)
    return Deleted(deleted=recording_id)


# -- typed notes ----------------------------------------------------------------------------------


@router.post("/notes", status_code=202, response_model=Accepted, responses={422: {}})
async def submit_notes(request: Request, user: User) -> Accepted:
    """Typed or pasted rough notes: JSON `{text, template}` or a form with the same fields."""
    ctype = request.headers.get("content-type", "")
    try:
        if ctype.startswith("application/json"):
            body = await request.body()
            if len(body) > 1_000_000:
                raise ApiError(413, "too_large", "notes are limited to 1 MB")
            notes = NotesIn.model_validate_json(body)
        elif ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            async with request.form(max_files=0, max_fields=8, max_part_size=1_000_000) as form:
                notes = NotesIn.model_validate({k: v for k, v in form.items() if isinstance(v, str)})
        else:
            raise ApiError(415, "unsupported_media_type", "send JSON or a form with 'text' and 'template'")
    except ValidationError as exc:
        parts = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
        raise ApiError(422, "invalid_request", "; ".join(parts)) from None
    template_id = _template_or_422(notes.template)
    with request.app.state.db.session() as s:
        job = Job(owner_id=user, kind="notes", template_id=template_id, engine=notes.engine,
                  input_text=notes.text)
        s.add(job)
        s.flush()
        job_id = job.id
        audit(s, user, "upload", objects={"job": job_id}, input_sha256=sha256_bytes(notes.text.encode("utf-8")))
    request.app.state.queue.submit(job_id)
    return Accepted(job_id=job_id)


# -- jobs -----------------------------------------------------------------------------------------


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(job_id: str, request: Request, user: User) -> JobOut:
    db = request.app.state.db
    # The most frequent request (progress polls). On SQLite the read costs less than a worker-thread trip, and
    # in WAL mode it never waits for a writer.
    return _read_job(db, job_id, user) if db.embedded else await run_in_threadpool(_read_job, db, job_id, user)


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def job_events(job_id: str, request: Request, user: User) -> StreamingResponse:
    """Server-sent events: one `job` event per change, ending when the job is done or failed."""
    db = request.app.state.db
    first = await run_in_threadpool(_read_job, db, job_id, user)  # 404 before the stream starts

    async def stream() -> Any:
        last = None
        job = first
        while True:
            payload = job.model_dump_json()
            if payload != last:
                yield f"event: job\ndata: {payload}\n\n"
                last = payload
            if job.state in ("done", "failed") or await request.is_disconnected():
                return
            await asyncio.sleep(0.5)
            job = await run_in_threadpool(_read_job, db, job_id, user)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# -- records --------------------------------------------------------------------------------------


def _load(row: Record) -> CaseRecord:
    return CaseRecord.model_validate(row.data)


@router.get("/records/{record_id}", response_model=CaseRecord)
def get_record(record_id: str, request: Request, user: User) -> CaseRecord:
    with request.app.state.db.session() as s:
        return _load(_owned(s, Record, record_id, user))


def _apply_patch(record: CaseRecord, patch: RecordPatch) -> list[str]:
    changes: list[str] = []
    by_id: dict[str, Statement] = {st.id: st for st in record.statements()}
    for ref in [*(e.id for e in patch.edit), *patch.remove, *patch.keep]:
        if ref not in by_id:
            raise ApiError(422, "unknown_statement", "a statement id in the request is not in this record")
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
    used = {st.id for st in record.statements()}
    for add in patch.add:
        sec = record.section(add.section)
        if sec is None:  # human_only sections are the worker's to write, so adding there is allowed
            raise ApiError(422, "unknown_section", "a section id in the request is not in this record")
        valid = {seg.id for seg in record.transcript.segments}
        if any(i not in valid for i in add.evidence):
            raise ApiError(422, "invalid_evidence", "evidence must be ids of this record's transcript segments")
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
    if patch.summary is not None:
        record.summary = patch.summary
        changes.append("summary")
    return changes


@router.patch("/records/{record_id}", response_model=CaseRecord, responses={409: {}, 422: {}})
def patch_record(record_id: str, patch: RecordPatch, request: Request, user: User) -> CaseRecord:
    """Edit, add, remove or keep statements; each change makes a new version with source `manual`."""
    with request.app.state.db.session() as s:
        row = _editable(s, record_id, user)
        record = _load(row)
        changes = _apply_patch(record, patch)
        if changes:
            _save_manual_version(s, row, record, user, author=patch.author, note=", ".join(changes))
        return record


def _editable(s: Any, record_id: str, user: str) -> Record:
    row = _owned(s, Record, record_id, user)
    if row.state == "approved":
        raise ApiError(409, "approved", "an approved record is locked; reject it to reopen it for edits")
    return row


def _save_manual_version(s: Any, row: Record, record: CaseRecord, user: str, *, author: str | None,
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


def _original_transcript(s: Any, row: Record, record: CaseRecord) -> Transcript:
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
    roles = {p.name: p for p in [*after.participants, *record.meta.people_present]}
    still = set(after.speakers()) | {p.name for p in after.participants}
    present: dict[str, Participant] = {}
    for p in record.meta.people_present:
        if p.name in moved:
            for name in moved[p.name]:
                present.setdefault(name, roles.get(name) or Participant(name=name))
            if p.name not in still:
                continue
        present.setdefault(p.name, p)
    record.meta.people_present = list(present.values())
    if record.meta.subject in moved:
        record.meta.subject = single(record.meta.subject) or record.meta.subject


_LABEL_IN_TEXT = re.compile(r"(?<![\w])speaker_[1-9][0-9]{0,2}(?![\w])")


@router.put("/records/{record_id}/speakers", response_model=CaseRecord, responses={409: {}, 422: {}})
def name_speakers(record_id: str, names: SpeakerNames, request: Request, user: User) -> CaseRecord:
    """Name the diariser's speakers: `{"speaker_1": "Kerry Price", ...}`. The transcript's segments, the
    statements' attribution and the people present follow; an empty name puts the label back. Each change
    makes a new version with source `manual`."""
    with request.app.state.db.session() as s:
        row = _editable(s, record_id, user)
        record = _load(row)
        base = _original_transcript(s, row, record)
        labels = [who for who in base.speakers() if SPEAKER_LABEL.match(who)]
        if any(label not in labels for label in names.root):
            # The submitted keys are not echoed (error bodies carry no user text); the record's labels are ours.
            raise ApiError(422, "unknown_speaker", "a speaker label in the request is not in this record's "
                           f"transcript; its labels: {', '.join(labels) or 'none (it was not diarised)'}")
        mapping = {**{k: v for k, v in record.transcript.speaker_names.items() if k in labels}, **names.root}
        try:
            named = apply_speaker_names(base, mapping, [*record.transcript.participants,
                                                        *record.meta.people_present])
        except ValueError:
            raise ApiError(422, "unknown_speaker", "a speaker label in the request is not in this record's "
                           "transcript") from None
        if named == record.transcript:
            return record
        _rename_people(record, record.transcript, named)
        record.transcript = named
        _save_manual_version(s, row, record, user, author=None,
                             note=f"speaker names: {', '.join(sorted(names.root))}")
        return record


@router.get("/records/{record_id}/versions", response_model=list[VersionOut])
def record_versions(record_id: str, request: Request, user: User) -> list[VersionOut]:
    with request.app.state.db.session() as s:
        row = _owned(s, Record, record_id, user)
        rows = s.scalars(select(RecordVersion).where(RecordVersion.record_id == row.id)
                         .order_by(RecordVersion.version)).all()
        return [VersionOut(version=v.version, source=v.source, author=v.author, note=v.note,  # type: ignore[arg-type]
                           created_at=v.created_at) for v in rows]


@router.post("/records/{record_id}/approve", response_model=CaseRecord, responses={409: {}})
def approve_record(record_id: str, body: Approve, request: Request, user: User) -> CaseRecord:
    with request.app.state.db.session() as s:
        row = _owned(s, Record, record_id, user)
        record = _load(row)
        blocking = [st.id for st in record.statements() if FLAG_HIGH_RISK in st.flags and not st.kept_by_human]
        if blocking:
            raise ApiError(409, "unverified_high_risk",
                           f"keep (confirm) or remove the high-risk statements without evidence first: "
                           f"{', '.join(blocking)}")
        record.state, record.approved_by, record.approved_at = "approved", body.reviewer, datetime.now(UTC)
        row.data, row.state = record.model_dump(mode="json"), "approved"
        audit(s, user, "approve", objects={"record": row.id, "version": str(row.version)},
              output_sha256=sha256_json(row.data))
        return record


@router.post("/records/{record_id}/reject", response_model=CaseRecord)
def reject_record(record_id: str, request: Request, user: User, body: Reject | None = None) -> CaseRecord:
    with request.app.state.db.session() as s:
        row = _owned(s, Record, record_id, user)
        record = _load(row)
        record.state, record.approved_by, record.approved_at = "rejected", None, None
        row.data, row.state = record.model_dump(mode="json"), "rejected"
        audit(s, user, "reject", objects={"record": row.id, "version": str(row.version)})
        return record


@router.get("/records/{record_id}/export", response_class=Response,
            responses={200: {"content": {t: {} for t in EXPORT_TYPES.values()}}, 422: {}})
def export_record(
    record_id: str, request: Request, user: User,
    format: Literal["docx", "md", "txt", "json", "fhir"] = "docx",
) -> Response:
    with request.app.state.db.session() as s:
        record = _load(_owned(s, Record, record_id, user))
    from assistant.export import render

    try:
        body = render(record, format)
    except ValueError as exc:
        raise ApiError(422, "export_unavailable", str(exc)) from None
    with request.app.state.db.session() as s:
        audit(s, user, "export", objects={"record": record_id, "version": str(record.version), "format": format},
              input_sha256=sha256_json(record), output_sha256=sha256_bytes(body if isinstance(body, bytes)
                                                                            else str(body).encode("utf-8")))
    name = f"record-{record_id[:8]}.{ 'json' if format == 'fhir' else format}"
    return Response(body, media_type=EXPORT_TYPES[format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.delete("/records/{record_id}", response_model=Deleted)
def delete_record(record_id: str, request: Request, user: User) -> Deleted:
    with request.app.state.db.session() as s:
        row = _owned(s, Record, record_id, user)
        for v in s.scalars(select(RecordVersion).where(RecordVersion.record_id == row.id)):
            s.delete(v)
        for job in s.scalars(select(Job).where(Job.record_id == row.id)):
            job.transcript = None
        s.delete(row)
        audit(s, user, "delete", objects={"record": record_id})
    return Deleted(deleted=record_id)


@router.get("/templates", response_model=list[TemplateOut])
def list_templates() -> list[TemplateOut]:
    return [TemplateOut(id=t.id, version=t.version, title=t.title, domain=t.domain,
                        sections=[{"id": s.id, "title": s.title, "mode": s.mode} for s in t.sections])
            for t in all_templates().values()]

