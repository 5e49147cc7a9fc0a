"""Recordings: the audio upload that starts a job, and deleting a recording."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy import Table, select

from assistant.api.errors import ApiError
from assistant.api.routes.common import User, owned
from assistant.api.schemas import BAD_CHARS, Accepted, Deleted, UploadForm
from assistant.api.uploads import ParsedUpload, discard, receive_upload
from assistant.audit import append as audit
from assistant.store.blobs import file_sha256
from assistant.store.tables import Job, Recording, new_id

router = APIRouter(prefix="/api")

_RECORDINGS: Table = Recording.__table__  # type: ignore[assignment]
_JOBS: Table = Job.__table__  # type: ignore[assignment]

# Uploads up to this size are checked and stored on the event loop in the embedded deployment (see _store):
# FFmpeg's header parsing, the hash and a copy between filesystems grow with the file.
QUICK_ACCEPT_BYTES = 4 * 1024 * 1024

_DISK_FULL = "the server's disk is full; nothing was saved"
_FORM_SCHEMA = UploadForm.model_json_schema()


@router.post("/recordings", status_code=202, response_model=Accepted, responses={413: {}, 415: {}, 422: {}, 507: {}},
             openapi_extra={"requestBody": {"required": True,
                                            "content": {"multipart/form-data": {"schema": _FORM_SCHEMA}}}})
async def upload_recording(request: Request, user: User) -> Accepted:
    """Upload audio to transcribe and draft: a multipart form with the fields below."""
    app = request.app.state
    settings = app.settings
    try:
        upload = await receive_upload(request, settings.data_dir / "uploads" / "tmp", settings.limits.max_upload_bytes)
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            raise ApiError(507, "insufficient_storage", _DISK_FULL) from None
        raise
    try:
        form = _checked(upload)
        upload.filename = BAD_CHARS.sub("_", upload.filename)  # shown in the page; stored in a text column
        rec_id = new_id()
        job_id = await _store(app, user, upload, form, rec_id)
    except OSError as exc:
        discard(upload)
        if exc.errno == 28:  # ENOSPC while moving the upload into the store
            raise ApiError(507, "insufficient_storage", _DISK_FULL) from None
        raise
    except BaseException:
        discard(upload)
        raise
    app.queue.submit(job_id)
    return Accepted(job_id=job_id, recording_id=rec_id)


def _checked(upload: ParsedUpload) -> UploadForm:
    """The upload's parts as an `UploadForm`; the first field in error is a 422 that never echoes its value."""
    parts: dict[str, Any] = dict(upload.fields)
    if upload.file_path is not None:
        parts["file"] = upload.file_path
    try:
        return UploadForm.model_validate(parts)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        detail = UploadForm.ERRORS.get(name) or str((first.get("ctx") or {}).get("error") or first["msg"])
        raise ApiError(422, "unknown_template" if name == "template" else "invalid_request", detail) from None


async def _store(app: Any, user: str, upload: ParsedUpload, form: UploadForm, rec_id: str) -> str:
    """Check the audio, move it into the store and commit its recording and job rows; returns the job id.

    A small upload in the embedded deployment (SQLite and files on this machine) is checked and stored on
    the event loop: its work is bounded by its size (QUICK_ACCEPT_BYTES) and costs less than a worker-thread
    trip, which in a burst of uploads waits for the GIL at each of its system calls (README, "Speed"). A
    commit that meets a job's write waits for it in SQLite's busy handler, as briefly as that write lasts. A
    bigger file, a remote store or database and a file that must be decoded to find its length take one trip
    to a worker thread."""

    def moved(info: dict[str, Any]) -> dict[str, Any]:
        """The checked upload's SHA-256, and the move into the store. Through the BlobStore: workers on
        other machines read the upload from the same shared store."""
        info["sha256"] = file_sha256(upload.file_path)  # type: ignore[arg-type]
        upload.file_path = Path(app.blobs.put_file(upload.file_path, f"uploads/{rec_id}.{info['format']}"))
        return info

    def committed(info: dict[str, Any]) -> str:
        """The recording and job rows with the audit entry; returns the job id."""
        job_id = new_id()
        with app.db.session() as s:
            # Core inserts on the tables, statements built once: a fraction of the ORM's cost.
            s.execute(_RECORDINGS.insert(), dict(
                id=rec_id, owner_id=user, filename=upload.filename or "recording", path=str(upload.file_path),
                format=info["format"], size=upload.size, sha256=info["sha256"], duration=info.get("duration"),
                consent=form.consent))
            s.execute(_JOBS.insert(), dict(
                id=job_id, owner_id=user, kind="audio", template_id=form.template, engine=form.engine,
                recording_id=rec_id, speakers=form.speakers,
                present=[p.model_dump() for p in form.present] or None))
            audit(s, user, "upload", objects={"recording": rec_id, "job": job_id}, input_sha256=info["sha256"])
        return job_id

    if app.quick_accept and upload.size <= QUICK_ACCEPT_BYTES:
        info = app.inspect_audio(upload.file_path, find_duration=False)
        if info["duration"] is not None:
            return committed(moved(info))
    return await run_in_threadpool(lambda: committed(moved(app.inspect_audio(upload.file_path))))


@router.delete("/recordings/{recording_id}", response_model=Deleted)
def delete_recording(recording_id: str, request: Request, user: User) -> Deleted:
    with request.app.state.db.session() as s:
        rec = owned(s, Recording, recording_id, user)
        ref = rec.path
        for job in s.scalars(select(Job).where(Job.recording_id == rec.id)):
            job.recording_id = None
        s.delete(rec)
        audit(s, user, "delete", objects={"recording": recording_id})
    request.app.state.blobs.delete(ref)
    return Deleted(deleted=recording_id)
