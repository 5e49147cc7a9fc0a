"""Templates: the record templates a job can draft into."""

from __future__ import annotations

from fastapi import APIRouter

from assistant.api.schemas import TemplateOut
from assistant.templates import all_templates

router = APIRouter(prefix="/api")


@router.get("/templates", response_model=list[TemplateOut])
def list_templates() -> list[TemplateOut]:
    return [TemplateOut(id=t.id, version=t.version, title=t.title, domain=t.domain,
                        sections=[{"id": s.id, "title": s.title, "mode": s.mode} for s in t.sections])
            for t in all_templates().values()]
