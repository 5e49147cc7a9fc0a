"""Typed or pasted notes: the text that starts a job, instead of a recording."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError

from assistant.api.errors import ApiError
from assistant.api.routes.common import User
from assistant.api.schemas import Accepted, NotesIn, known_template
from assistant.audit import append as audit
from assistant.audit import sha256_bytes
from assistant.store.tables import Job

router = APIRouter(prefix="/api")

MAX_NOTES_BYTES = 1_000_000
_SCHEMA = NotesIn.model_json_schema()


@router.post("/notes", status_code=202, response_model=Accepted, responses={422: {}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": _SCHEMA}, "application/x-www-form-urlencoded": {"schema": _SCHEMA}}}})
async def submit_notes(request: Request, user: User) -> Accepted:
    """Typed or pasted rough notes: JSON `{text, template}` or a form with the same fields."""
    notes = await _read_notes(request)
    try:
        template_id = known_template(notes.template)
    except ValueError as exc:
        raise ApiError(422, "unknown_template", str(exc)) from None
    with request.app.state.db.session() as s:
        job = Job(owner_id=user, kind="notes", template_id=template_id, engine=notes.engine,
                  input_text=notes.text)
        s.add(job)
        s.flush()
        job_id = job.id
        audit(s, user, "upload", objects={"job": job_id}, input_sha256=sha256_bytes(notes.text.encode("utf-8")))
    request.app.state.queue.submit(job_id)
    return Accepted(job_id=job_id)


async def _read_notes(request: Request) -> NotesIn:
    ctype = request.headers.get("content-type", "")
    try:
        if ctype.startswith("application/json"):
            body = await request.body()
            if len(body) > MAX_NOTES_BYTES:
                raise ApiError(413, "too_large", "notes are limited to 1 MB")
            return NotesIn.model_validate_json(body)
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            async with request.form(max_files=0, max_fields=8, max_part_size=MAX_NOTES_BYTES) as form:
                return NotesIn.model_validate({k: v for k, v in form.items() if isinstance(v, str)})
        raise ApiError(415, "unsupported_media_type", "send JSON or a form with 'text' and 'template'")
    except ValidationError as exc:
        parts = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
        raise ApiError(422, "invalid_request", "; ".join(parts)) from None
