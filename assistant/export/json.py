"""JSON export: the record itself (the public contract), flagged statements included with their flags."""

from __future__ import annotations

from assistant.export import clean
from assistant.records import CaseRecord


def render_json(record: CaseRecord, *, indent: int = 2) -> str:
    return clean(record.model_dump_json(indent=indent))
