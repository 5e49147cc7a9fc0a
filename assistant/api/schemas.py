"""Request and response bodies of the API (the record itself is `CaseRecord`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from assistant.records import StatementKind

# C0/C1 controls other than tab and newlines, NUL (PostgreSQL cannot store it), lone surrogates, the
# replacement character (text that was not valid UTF-8), noncharacters, and bidi overrides/isolates that make
# displayed text differ from stored text ("Trojan source").
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffd\ufffe\uffff"
                        "\u202a-\u202e\u2066-\u2069]")


def _clean_text(value: str) -> str:
    if _BAD_CHARS.search(value):
        raise ValueError("contains control characters or text that is not valid UTF-8")
    return value


Text = Annotated[str, AfterValidator(_clean_text)]


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
    text: Text = Field(min_length=1, max_length=200_000)
    template: Text = Field(default="sc_contact_note", max_length=60)
    engine: Literal["llm", "extractive"] = "llm"


class StatementEdit(BaseModel):
    id: Text = Field(max_length=20)
    text: Text | None = Field(default=None, min_length=1, max_length=2000)
    kind: StatementKind | None = None
    attributed_to: Text | None = Field(default=None, max_length=200)


class StatementAdd(BaseModel):
    section: Text = Field(max_length=60)
    text: Text = Field(min_length=1, max_length=2000)
    kind: StatementKind = "observed"
    attributed_to: Text = Field(default="", max_length=200)
    evidence: list[int] = Field(default_factory=list, max_length=50)


class RecordPatch(BaseModel):
    edit: list[StatementEdit] = Field(default_factory=list, max_length=500)
    add: list[StatementAdd] = Field(default_factory=list, max_length=100)
    remove: list[Annotated[Text, Field(max_length=20)]] = Field(default_factory=list, max_length=500)
    keep: list[Annotated[Text, Field(max_length=20)]] = Field(default_factory=list, max_length=500,
                                                              description="Flagged statements a person keeps")
    summary: Text | None = Field(default=None, max_length=10_000)
    author: Text | None = Field(default=None, max_length=200)


class Approve(BaseModel):
    reviewer: Text = Field(min_length=1, max_length=200)


class Reject(BaseModel):
    reviewer: Text = Field(default="", max_length=200)
    reason: Text = Field(default="", max_length=2000)


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
