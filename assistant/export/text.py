"""Plain text, ready to paste into a case-management system (Mosaic, Liquidlogic, EMIS, SystmOne).

Templates whose sections carry a `header` (the GP consultation note) are rendered ACI-Bench style: the
header in capitals on its own line, then one statement per line, so notes can be scored like ACI-Bench.
No citation markers by default (they do not belong in a pasted note); the provenance line is always last.
"""

from __future__ import annotations

from assistant.export import (
    citation,
    clean,
    export_notice,
    exportable_statements,
    header_of,
    present_line,
    provenance_line,
    record_title,
)
from assistant.records import CaseRecord


def render_text(record: CaseRecord, *, citations: bool = False, provenance: bool = True) -> str:
    aci_style = any(header_of(record, s) for s in record.sections)
    lines: list[str] = []
    if not aci_style:
        lines.append(record_title(record).upper())
        if record.meta.contact_date:
            lines.append(f"Date: {record.meta.contact_date}")
        if record.meta.people_present:
            lines.append(f"Present: {present_line(record)}")
        lines.append("")
    notice = export_notice(record)
    if notice:
        lines += [notice, ""]
    if record.summary and not aci_style:
        lines += ["SUMMARY", record.summary, ""]
    for section in record.sections:
        header = header_of(record, section) or section.title.upper()
        statements = exportable_statements(section)
        if section.status == "human_only":
            if aci_style:
                continue
            lines += [header, "[To be completed by the worker]", ""]
            continue
        if not statements:
            if aci_style:
                continue  # ACI-Bench notes leave out what was not discussed
            lines += [header, "Not discussed.", ""]
            continue
        lines.append(header)
        lines.append("")
        for st in statements:
            marker = f" {citation(st)}" if citations and st.evidence else ""
            lines.append(f"{st.text}{marker}")
        lines.append("")
    if provenance:
        lines.append(provenance_line(record))
    return clean("\n".join(lines).strip() + "\n")
