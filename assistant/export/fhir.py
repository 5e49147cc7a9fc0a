"""FHIR R4 DocumentReference for clinical templates (those with a LOINC `fhir_type`).

Required by R4: `status` and `content[].attachment`; we also send `docStatus` (preliminary until approved),
`type` coded in LOINC, `date`, `description` and the plain-text note as base64 `attachment.data` with its
`contentType`, so an EHR can file it as a draft document.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from assistant.export import clean, provenance_line, template_for
from assistant.export.text import render_text
from assistant.records import CaseRecord

LOINC = "http://loinc.org"
LOINC_DISPLAY = {"11488-4": "Consult note", "34108-1": "Outpatient Note", "34133-9": "Summary of episode note"}


class FHIRExportError(ValueError):
    pass


def document_reference(record: CaseRecord) -> dict[str, Any]:
    template = template_for(record)
    if template is None or not template.fhir_type:
        raise FHIRExportError(f"template {record.template_id!r} is not clinical (no LOINC document type); "
                              "FHIR export is for clinical templates")
    text = render_text(record)
    created = record.provenance.created_at or datetime.now(UTC)
    approved = record.state == "approved"
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": record.id or None,
        "status": "current",
        "docStatus": "final" if approved else "preliminary",
        "type": {
            "coding": [{"system": LOINC, "code": template.fhir_type,
                        "display": LOINC_DISPLAY.get(template.fhir_type, template.title)}],
            "text": template.title,
        },
        "date": created.isoformat(),
        "description": clean(provenance_line(record)),
        "content": [{
            "attachment": {
                "contentType": "text/plain; charset=utf-8",
                "language": "en-GB",
                "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                "title": clean(template.title),
                "creation": created.isoformat(),
            }
        }],
    }
    if record.meta.subject:
        resource["subject"] = {"display": clean(record.meta.subject)}
    if approved and record.approved_by:
        resource["authenticator"] = {"display": clean(record.approved_by)}
    return {k: v for k, v in resource.items() if v is not None}


def render_fhir(record: CaseRecord) -> str:
    return json.dumps(document_reference(record), indent=2, ensure_ascii=False)
