"""Markdown export: headings per section, statements as bullets with citation markers [7]."""

from __future__ import annotations

import re

from assistant import export
from assistant.records import CaseRecord

# Characters that would turn transcript words into markup (emphasis, links, code, tables) when the file is
# rendered; `<` opens raw HTML, which most renderers pass through, so it becomes an entity.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _md(text: str) -> str:
    """Text as literal Markdown: what someone said never becomes a link, an image, a script or a table."""
    flat = export.clean(text).replace("\n", " ").strip()
    return _MD_SPECIAL.sub(r"\\\1", flat).replace("<", "&lt;")


def render_markdown(record: CaseRecord) -> str:
    out: list[str] = [f"# {_md(export.record_title(record))}", ""]
    notice = export.export_notice(record)
    if notice:
        out += [f"> **{_md(notice)}**", ""]
    meta = []
    if record.meta.contact_date:
        meta.append(f"- **Date:** {_md(record.meta.contact_date)}")
    if record.meta.people_present:
        meta.append(f"- **Present:** {_md(export.present_line(record))}")
    meta.append(f"- **Record:** {record.id} (template {record.template_id} v{record.template_version})")
    out += [*meta, ""]
    if record.summary:
        cites = f" _(from {', '.join(record.summary_evidence)})_" if record.summary_evidence else ""
        out += ["## Summary", "", _md(record.summary) + cites, ""]
    for section in record.sections:
        out += [f"## {_md(section.title)}", ""]
        if section.status == "human_only":
            out += ["_To be completed by the worker._", ""]
            continue
        statements = export.exportable_statements(section)
        if not statements:
            out += ["_Not discussed._", ""]
            continue
        for st in statements:
            who = f" — {_md(st.attributed_to)}" if st.attributed_to and st.kind != "quote" else ""
            out.append(f"- {_md(st.text)}{who} {export.citation(st)}".rstrip())
        out.append("")
    out += ["---", f"_{export.provenance_line(record)}_", ""]
    return "\n".join(out)
