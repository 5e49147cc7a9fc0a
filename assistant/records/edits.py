"""What a person may change in a record (`RecordPatch`), and the plain-text rule every typed field follows."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from assistant.records import StatementKind

# C0/C1 controls other than tab and newlines, NUL (PostgreSQL cannot store it), lone surrogates, the
# replacement character (text that was not valid UTF-8), noncharacters, and bidi overrides/isolates that make
# displayed text differ from stored text ("Trojan source").
BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffd\ufffe\uffff"
                       "\u202a-\u202e\u2066-\u2069]")


def clean_text(value: str) -> str:
    if BAD_CHARS.search(value):
        raise ValueError("contains control characters or text that is not valid UTF-8")
    return value


Text = Annotated[str, AfterValidator(clean_text)]


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
