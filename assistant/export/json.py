"""JSON export: the record itself (the public contract), flagged statements included with their flags,
plus one `export_status` key saying whether it is an approved record or a draft (consumers that parse it
as a `CaseRecord` ignore the extra key)."""

from __future__ import annotations

import json

from assistant.export import clean, provenance_line
from assistant.records import CaseRecord


def render_json(record: CaseRecord, *, indent: int = 2) -> str:
    data = {"export_status": provenance_line(record), **record.model_dump(mode="json")}
    return clean(json.dumps(data, indent=indent, ensure_ascii=False))
