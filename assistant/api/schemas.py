"""Request and response bodies of the API (the record itself is `CaseRecord`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from assistant.records import StatementKind


class Accepted(BaseModel):
    job_id: str
    recording_id: str | None = None


class JobOut(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed"]
    stage: str
    progress: float
    error: str | None
    record_id: str | None
    recording_id: str | None
    template: str
    created_at: datetime
    updated_at: datetime


class NotesIn(BaseModel):
    text: str = Field(min_length=1, max_length=200_000)
    template: str = Field(default="sc_contact_note", max_length=60)
    engine: Literal["llm", "extractive"] = "llm"


class StatementEdit(BaseModel):
    id: str = Field(max_length=20)
    text: str | None = Field(default=None, min_length=1, max_length=2000)
    kind: StatementKind | None = None
    attributed_to: str | None = Field(default=None, max_length=200)


class StatementAdd(BaseModel):
    section: str = Field(max_length=60)
    text: str = Field(min_length=1, max_length=2000)
    kind: StatementKind = "observed"
    attributed_to: str = Field(default="", max_length=200)
    evidence: list[int] = Field(default_factory=list, max_length=50)


class RecordPatch(BaseModel):
    edit: list[StatementEdit] = Field(default_factory=list, max_length=500)
    add: list[StatementAdd] = Field(default_factory=list, max_length=100)
    remove: list[str] = Field(default_factory=list, max_length=500)
    keep: list[str] = Field(default_factory=list, max_length=500, description="Flagged statements a person keeps")
    summary: str | None = Field(default=None, max_length=10_000)
    author: str | None = Field(default=None, max_length=200)


class Approve(BaseModel):
    reviewer: str = Field(min_length=1, max_length=200)


class Reject(BaseModel):
    reviewer: str = Field(default="", max_length=200)
    reason: str = Field(default="", max_length=2000)


class VersionOut(BaseModel):
    version: int
    source: Literal["ai", "manual"]
    author: str
    note: str
    created_at: datetime


class TemplateOut(BaseModel):
    id: str
    version: str
    title: str
    domain: str
    sections: list[dict]


class Deleted(BaseModel):
    deleted: str
