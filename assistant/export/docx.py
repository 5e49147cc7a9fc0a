"""Word (.docx) export with python-docx: title block, summary, template sections as headings, statements
with citation markers, the template notice and the provenance line."""

from __future__ import annotations

import io

from assistant.export import (
    citation,
    clean,
    export_notice,
    exportable_statements,
    present_line,
    provenance_line,
    record_title,
    summary_with_citations,
)
from assistant.records import CaseRecord


def build_docx(record: CaseRecord):  # -> docx.document.Document (python-docx has no public type alias)
    from docx import Document
    from docx.shared import Pt, RGBColor

    doc = Document()
    doc.core_properties.title = clean(record_title(record))[:255]
    doc.core_properties.comments = clean(provenance_line(record))
    doc.add_heading(clean(record_title(record)), level=0)
    notice = export_notice(record)
    if notice:
        para = doc.add_paragraph()
        run = para.add_run(clean(notice))
        run.bold = True
        run.font.color.rgb = RGBColor(0xA0, 0x00, 0x00)
    table_rows = [("Record", f"{record.id} (template {record.template_id} v{record.template_version})")]
    if record.meta.contact_date:
        table_rows.append(("Date", record.meta.contact_date))
    if record.meta.people_present:
        table_rows.append(("Present", present_line(record)))
    table_rows.append(("Status", provenance_line(record)))
    table = doc.add_table(rows=0, cols=2)
    for key, value in table_rows:
        cells = table.add_row().cells
        cells[0].text = clean(key)
        cells[1].text = clean(value)
    if record.summary:
        doc.add_heading("Summary", level=1)
        doc.add_paragraph(clean(summary_with_citations(record)))
    for section in record.sections:
        doc.add_heading(clean(section.title), level=1)
        if section.status == "human_only":
            doc.add_paragraph().add_run("To be completed by the worker.").italic = True
            continue
        statements = exportable_statements(section)
        if not statements:
            doc.add_paragraph().add_run("Not discussed.").italic = True
            continue
        for st in statements:
            para = doc.add_paragraph(style="List Bullet")
            para.add_run(clean(st.text))
            if st.attributed_to and st.kind != "quote":
                para.add_run(clean(f" — {st.attributed_to}")).italic = True
            if st.evidence:
                marker = para.add_run(f" {citation(st)}")
                marker.font.size = Pt(8)
                marker.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    doc.add_paragraph()
    footer = doc.add_paragraph().add_run(clean(provenance_line(record)))
    footer.italic = True
    for sec in doc.sections:
        sec.footer.paragraphs[0].text = clean(provenance_line(record))
    return doc


def render_docx(record: CaseRecord) -> bytes:
    buf = io.BytesIO()
    build_docx(record).save(buf)
    return buf.getvalue()
