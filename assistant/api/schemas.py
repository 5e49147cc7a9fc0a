"""Request and response bodies of the API (the record itself is `CaseRecord`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, RootModel

from assistant.records import StatementKind
from assistant.transcript import parse_person, present_parts

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


class PresentPerson(BaseModel):
    """One of the people present, as given with an upload."""

    name: str
    role: str = ""
    relationship: str = ""


class JobEvent(BaseModel):
    """Something that happened to a job on the way, e.g. "worker lost at transcribing, resumed by w2@host"."""
    at: str
    text: str


class JobOut(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed"]
    stage: str
    progress: float
    error: str | None
    record_id: str | None
    recording_id: str | None
    template: str
    speakers: int | None = None
    present: list[PresentPerson] = Field(default_factory=list)
    history: list[JobEvent] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


# -- who was there: the upload's `speakers` and `present` fields, and naming the diariser's labels -----

MAX_SPEAKERS = 20
MAX_PRESENT = 20
MAX_PRESENT_CHARS = 2000
MAX_NAME = 100
# The diariser's anonymous labels (assistant.diarise.speaker_label).
SPEAKER_LABEL = re.compile(r"^speaker_[1-9][0-9]{0,2}$")


def parse_speakers(value: str | None) -> int | None:
    """The upload's `speakers` field: None when absent or blank; ValueError (a message for people) when it
    is not a whole number from 1 to MAX_SPEAKERS."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= MAX_SPEAKERS:
        raise ValueError(f"speakers must be a whole number from 1 to {MAX_SPEAKERS}")
    return int(text)


def parse_present(value: str | None) -> list[PresentPerson]:
    """The upload's `present` field, in the grammar of a transcript's `Present:` line (`parse_person`): names
    separated by commas or newlines, each optionally followed by a role in brackets (`Priya Shah (social
    worker), Leanne Hart (mother)`). Exact repeats count once. ValueError (a message for people, never echoing
    the input) when it is not that."""
    if value is None or not value.strip():
        return []
    if len(value) > MAX_PRESENT_CHARS or _BAD_CHARS.search(value):
        raise ValueError(f"present must be at most {MAX_PRESENT_CHARS} characters of plain text")
    people: dict[str, PresentPerson] = {}
    for part in present_parts(value):
        person = parse_person(part)
        if person is None:
            raise ValueError("each person present is a name, optionally followed by a role in brackets, "
                             "e.g. 'Priya Shah (social worker)'")
        name, role = person.name, person.role
        if len(name) > MAX_NAME or len(role) > MAX_NAME or len(person.relationship) > MAX_NAME:
            raise ValueError(f"names and roles of people present are at most {MAX_NAME} characters each")
        if not any(ch.isalpha() for ch in name):
            raise ValueError("each person present needs a name with at least one letter")
        if SPEAKER_LABEL.match(name.lower()):
            raise ValueError("a person present cannot be named like a speaker label (speaker_1)")
        people.setdefault(name, PresentPerson(**person.model_dump()))
    if len(people) > MAX_PRESENT:
        raise ValueError(f"at most {MAX_PRESENT} people present")
    return list(people.values())


def _speaker_name(value: str) -> str:
    name = " ".join(value.split())
    if SPEAKER_LABEL.match(name.lower()):
        raise ValueError("a name cannot be a speaker label")
    return name


SpeakerName = Annotated[str, Field(max_length=MAX_NAME, pattern=r"^[^\r\n]*$"), AfterValidator(_clean_text),
                        AfterValidator(_speaker_name)]


class SpeakerNames(RootModel[dict[Annotated[str, Field(max_length=20)], SpeakerName]]):
    """Diariser label -> the person's name, e.g. `{"speaker_1": "Kerry Price"}`. An empty name puts the
    label back; labels left out keep the name they have."""

    root: dict[Annotated[str, Field(max_length=20)], SpeakerName] = Field(min_length=1, max_length=50)


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
