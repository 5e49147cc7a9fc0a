"""Records: reading, editing, naming speakers, versions, approval, export and deletion. The decisions are
the records service's (`assistant.records.service`); these routes hold the HTTP side."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from assistant.api.routes.common import User
from assistant.api.schemas import Approve, Deleted, RecordPatch, Reject, SpeakerNames, VersionOut
from assistant.records import CaseRecord
from assistant.records import service as records
from assistant.records.service import EXPORT_TYPES, ExportFormat

router = APIRouter(prefix="/api")


@router.get("/records/{record_id}", response_model=CaseRecord)
def get_record(record_id: str, request: Request, user: User) -> CaseRecord:
    with request.app.state.db.session() as s:
        return records.read(s, record_id, user)


@router.patch("/records/{record_id}", response_model=CaseRecord, responses={409: {}, 422: {}})
def patch_record(record_id: str, patch: RecordPatch, request: Request, user: User) -> CaseRecord:
    """Edit, add, remove or keep statements; each change makes a new version with source `manual`."""
    with request.app.state.db.session() as s:
        return records.edit(s, record_id, user, patch)


@router.put("/records/{record_id}/speakers", response_model=CaseRecord, responses={409: {}, 422: {}})
def name_speakers(record_id: str, names: SpeakerNames, request: Request, user: User) -> CaseRecord:
    """Name the diariser's speakers: `{"speaker_1": "Kerry Price", ...}`. The transcript's segments, the
    statements' attribution and the people present follow; an empty name puts the label back. Each change
    makes a new version with source `manual`."""
    with request.app.state.db.session() as s:
        return records.name_speakers(s, record_id, user, names.root)


@router.get("/records/{record_id}/versions", response_model=list[VersionOut])
def record_versions(record_id: str, request: Request, user: User) -> list[VersionOut]:
    with request.app.state.db.session() as s:
        return [VersionOut(version=v.version, source=v.source, author=v.author, note=v.note,  # type: ignore[arg-type]
                           created_at=v.created_at) for v in records.versions(s, record_id, user)]


@router.post("/records/{record_id}/approve", response_model=CaseRecord, responses={409: {}})
def approve_record(record_id: str, body: Approve, request: Request, user: User) -> CaseRecord:
    with request.app.state.db.session() as s:
        return records.approve(s, record_id, user, body.reviewer)


@router.post("/records/{record_id}/reject", response_model=CaseRecord)
def reject_record(record_id: str, request: Request, user: User, body: Reject | None = None) -> CaseRecord:
    with request.app.state.db.session() as s:
        return records.reject(s, record_id, user)


@router.get("/records/{record_id}/export", response_class=Response,
            responses={200: {"content": {t: {} for t in EXPORT_TYPES.values()}}, 422: {}})
def export_record(record_id: str, request: Request, user: User, format: ExportFormat = "docx") -> Response:
    out = records.export(request.app.state.db, record_id, user, format)
    return Response(out.body, media_type=out.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{out.filename}"'})


@router.delete("/records/{record_id}", response_model=Deleted)
def delete_record(record_id: str, request: Request, user: User) -> Deleted:
    with request.app.state.db.session() as s:
        records.delete(s, record_id, user)
    return Deleted(deleted=record_id)
