"""Request and response bodies of the API (the record itself is `CaseRecord`, a person's edits `RecordPatch`)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, RootModel, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from assistant.diarise.base import SPEAKER_LABEL
from assistant.records.edits import BAD_CHARS, RecordPatch, StatementAdd, StatementEdit, Text, clean_text
from assistant.transcript import Participant, parse_person, present_parts

__all__ = ["BAD_CHARS", "SPEAKER_LABEL", "RecordPatch", "StatementAdd", "StatementEdit", "Text"]


class Accepted(BaseModel):
    job_id: str
    recording_id: str | None = None


class PresentPerson(Participant):
    """One of the people present, as given with an upload: a transcript's participant."""


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
    if len(value) > MAX_PRESENT_CHARS or BAD_CHARS.search(value):
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


def _blank_is_default(value: Any) -> Any:
    """An empty form field counts as one left out (browsers send every field of a form)."""
    return None if value == "" else value


def known_template(value: Any) -> str:
    """A template's id; ValueError (its message lists the known ids) when there is no such template."""
    from assistant.templates import TemplateError, all_templates, get_template

    try:
        if isinstance(value, str):
            return get_template(value).id
    except TemplateError:
        pass
    # Never echo the submitted value: error bodies carry no user text (issue 8).
    raise ValueError(f"unknown template; known: {', '.join(sorted(all_templates()))}")


def _template_field(value: Any) -> str:
    return known_template(_blank_is_default(value) or "sc_contact_note")


class UploadForm(BaseModel):
    """An audio upload: a multipart form with the recording and what is known about the visit."""

    # The one definition of the upload's fields: the route validates the received parts with it and documents
    # its request body from it. The route streams the body to disk itself (assistant.api.uploads), since
    # FastAPI's form parsing spools file parts with no size cap; `file` is then the received file's path.

    file: Annotated[Path, WithJsonSchema({"type": "string", "format": "binary",
                                          "description": "wav, mp3, m4a/mp4, ogg/opus, flac or webm"})]
    template: Annotated[str, BeforeValidator(_template_field)] = Field(
        default="sc_contact_note", max_length=60, description="template id (default sc_contact_note)")
    engine: Annotated[Literal["llm", "extractive"], BeforeValidator(_blank_is_default)] = "llm"
    consent: Annotated[Annotated[Text, Field(max_length=200)] | SkipJsonSchema[None],
                       BeforeValidator(_blank_is_default)] = None
    speakers: Annotated[Annotated[int, Field(ge=1, le=MAX_SPEAKERS)] | SkipJsonSchema[None],
                        BeforeValidator(parse_speakers)] = Field(
        default=None, description="how many people speak (a single-channel recording is then diarised)")
    present: Annotated[list[PresentPerson], BeforeValidator(parse_present),
                       WithJsonSchema({"type": "string", "maxLength": MAX_PRESENT_CHARS})] = Field(
        default_factory=list, description="people present, separated by commas or newlines, each optionally "
        f"with a role in brackets: 'Priya Shah (social worker)'; at most {MAX_PRESENT}")

    # A field's error, for people and never echoing the input; fields not named here say what their
    # validator said.
    ERRORS: ClassVar[dict[str, str]] = {
        "file": "the form has no 'file' part",
        "engine": "engine must be 'llm' or 'extractive'",
        "consent": "consent must be at most 200 characters of plain text",
    }


def _speaker_name(value: str) -> str:
    name = " ".join(value.split())
    if SPEAKER_LABEL.match(name.lower()):
        raise ValueError("a name cannot be a speaker label")
    return name


SpeakerName = Annotated[str, Field(max_length=MAX_NAME, pattern=r"^[^\r\n]*$"), AfterValidator(clean_text),
                        AfterValidator(_speaker_name)]


class SpeakerNames(RootModel[dict[Annotated[str, Field(max_length=20)], SpeakerName]]):
    """Diariser label -> the person's name, e.g. `{"speaker_1": "Kerry Price"}`. An empty name puts the
    label back; labels left out keep the name they have."""

    root: dict[Annotated[str, Field(max_length=20)], SpeakerName] = Field(min_length=1, max_length=50)


class NotesIn(BaseModel):
    text: Text = Field(min_length=1, max_length=200_000)
    template: Text = Field(default="sc_contact_note", max_length=60)
    engine: Literal["llm", "extractive"] = "llm"


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
