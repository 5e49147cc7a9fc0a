"""Exports of a case record: .docx, Markdown, plain text, JSON and FHIR R4 DocumentReference.

Every export carries the provenance line ("DRAFT — not approved. AI-assisted draft — not reviewed" until
approved) and the template's notice; statements carrying a flag that no person has kept are left out (JSON
excepted: it is the full record). Text is stripped of characters XML cannot hold.
"""

from __future__ import annotations

import re

from assistant.records import CaseRecord, Section, Statement
from assistant.templates import Template, TemplateError, get_template

FORMATS = ("json", "docx", "md", "txt", "fhir")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """Remove characters that are invalid in XML 1.0 (they corrupt .docx and FHIR XML)."""
    return _XML_INVALID.sub("", text or "")


NOT_APPROVED = "DRAFT — not approved. AI-assisted draft — not reviewed"


def provenance_line(record: CaseRecord) -> str:
    if record.state == "approved" and record.approved_by:
        when = record.approved_at.strftime("%d %B %Y") if record.approved_at else "an unrecorded date"
        return f"AI-assisted draft, reviewed by {clean(record.approved_by)} on {when}"
    return NOT_APPROVED


def template_for(record: CaseRecord) -> Template | None:
    try:
        return get_template(record.template_id)
    except TemplateError:
        return None


def exportable_statements(section: Section) -> list[Statement]:
    return [st for st in section.statements if st.exportable]


def citation(statement: Statement) -> str:
    return f"[{', '.join(str(i) for i in statement.evidence)}]" if statement.evidence else ""


def record_title(record: CaseRecord) -> str:
    template = template_for(record)
    return template.title if template else record.template_id


def export_notice(record: CaseRecord) -> str:
    template = template_for(record)
    return " ".join(template.export_notice.split()) if template and template.export_notice else ""


def present_line(record: CaseRecord) -> str:
    people = []
    for p in record.meta.people_present:
        # "mother" + "mother of Kai" -> "mother of Kai"
        parts = [p.relationship] if p.role and p.relationship.startswith(p.role) else [p.role, p.relationship]
        extra = ", ".join(x for x in parts if x)
        people.append(f"{p.name} ({extra})" if extra else p.name)
    return "; ".join(people)


def header_of(record: CaseRecord, section: Section) -> str | None:
    template = template_for(record)
    spec = template.section(section.id) if template else None
    return spec.header if spec else None


def summary_with_citations(record: CaseRecord) -> str:
    if not record.summary:
        return ""
    if not record.summary_evidence:
        return record.summary
    return f"{record.summary} (from {', '.join(record.summary_evidence)})"


def render(record: CaseRecord, fmt: str) -> bytes:
    """One export as bytes: fmt in json, docx, md, txt, fhir."""
    if fmt == "json":
        from assistant.export.json import render_json

        return render_json(record).encode("utf-8")
    if fmt == "docx":
        from assistant.export.docx import render_docx

        return render_docx(record)
    if fmt == "md":
        from assistant.export.markdown import render_markdown

        return render_markdown(record).encode("utf-8")
    if fmt == "txt":
        from assistant.export.text import render_text

        return render_text(record).encode("utf-8")
    if fmt == "fhir":
        from assistant.export.fhir import render_fhir

        return render_fhir(record).encode("utf-8")
    raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")


SUFFIX = {"json": ".json", "docx": ".docx", "md": ".md", "txt": ".txt", "fhir": ".fhir.json"}
