"""Every export opens: .docx re-read with python-docx, FHIR has R4's required fields, flagged statements stay
out until kept, the provenance line and the template notice are always there, XML-invalid characters go."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime

import pytest

from assistant.export import FORMATS, clean, provenance_line, render
from assistant.export.fhir import FHIRExportError, document_reference
from assistant.export.markdown import render_markdown
from assistant.export.text import render_text
from assistant.records import FLAG_HIGH_RISK, CaseRecord, RecordMeta, Section, Statement
from assistant.templates import get_template
from assistant.transcript import Participant, parse_text

TRANSCRIPT = parse_text("Doctor: What brings you in?\nPatient: My knee hurts.\n")


def make_record(template_id: str, **kw: object) -> CaseRecord:
    template = get_template(template_id)
    sections = []
    for i, spec in enumerate(template.sections):
        if spec.mode == "human_only":
            sections.append(Section(id=spec.id, title=spec.title, status="human_only"))
        elif i == 0:
            sections.append(Section(id=spec.id, title=spec.title, status="drafted", statements=[
                Statement(id="s1", text="Knee pain for two weeks\x0b.", kind="reported", attributed_to="Patient",
                          evidence=[1], support=1.0),
                Statement(id="s2", text="Patient reports suicidal thoughts.", kind="reported",
                          attributed_to="Patient", evidence=[1], support=0.2, flags=[FLAG_HIGH_RISK]),
            ]))
        else:
            sections.append(Section(id=spec.id, title=spec.title, status="not_discussed"))
    return CaseRecord(id="rec1", template_id=template_id, transcript=TRANSCRIPT, sections=sections,
                      summary="Knee pain.", summary_evidence=["s1"],
                      meta=RecordMeta(people_present=[Participant(name="Patient", role="patient")], subject="Patient"),
                      **kw)  # type: ignore[arg-type]


def test_docx_opens_with_sections_citations_and_provenance() -> None:
    from docx import Document

    data = render(make_record("police_incident_notes"), "docx")
    doc = Document(io.BytesIO(data))
    text = "\n".join(p.text for p in doc.paragraphs)
    for spec in get_template("police_incident_notes").sections:
        assert spec.title in text
    assert "Knee pain for two weeks. — Patient [1]" in text
    assert "suicidal" not in text  # flagged and not kept: left out
    assert "NOT A WITNESS STATEMENT" in text
    assert "DRAFT — not approved. AI-assisted draft — not reviewed" in text
    assert doc.sections[0].footer.paragraphs[0].text == "DRAFT — not approved. AI-assisted draft — not reviewed"


def test_kept_flagged_statement_is_exported_and_approval_changes_the_provenance_line() -> None:
    record = make_record("sc_contact_note", state="approved", approved_by="Sam Reid",
                         approved_at=datetime(2026, 3, 14, tzinfo=UTC))
    record.sections[0].statements[1].kept_by_human = True
    md = render_markdown(record)
    assert "suicidal" in md
    assert provenance_line(record) == "AI-assisted draft, reviewed by Sam Reid on 14 March 2026"
    assert "AI-assisted draft, reviewed by Sam Reid on 14 March 2026" in md


def test_markdown_and_text_mark_not_discussed_and_human_only() -> None:
    record = make_record("sc_contact_note")
    md = render_markdown(record)
    assert "## Worker's analysis\n\n_To be completed by the worker._" in md
    assert "_Not discussed._" in md and "[1]" in md
    txt = render_text(record)
    assert "WORKER'S ANALYSIS\n[To be completed by the worker]" in txt
    assert "Not discussed." in txt and "[1]" not in txt
    assert txt.rstrip().endswith("DRAFT — not approved. AI-assisted draft — not reviewed")


def test_consult_note_text_uses_aci_headers_and_skips_empty_sections() -> None:
    txt = render_text(make_record("clin_consult_note"))
    assert txt.startswith("CHIEF COMPLAINT\n\nKnee pain for two weeks.\n")
    assert "HISTORY OF PRESENT ILLNESS" not in txt  # not discussed: left out, as in ACI-Bench notes
    assert "suicidal" not in txt
    assert "**" not in txt


def test_fhir_document_reference_has_r4_required_fields() -> None:
    resource = json.loads(render(make_record("clin_consult_note"), "fhir"))
    assert resource["resourceType"] == "DocumentReference"
    assert resource["status"] in {"current", "superseded", "entered-in-error"}
    assert resource["docStatus"] == "preliminary"
    coding = resource["type"]["coding"][0]
    assert coding == {"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}
    attachment = resource["content"][0]["attachment"]
    assert attachment["contentType"].startswith("text/plain")
    decoded = base64.b64decode(attachment["data"]).decode("utf-8")
    assert decoded.startswith("CHIEF COMPLAINT") and "\x0b" not in decoded
    datetime.fromisoformat(resource["date"])


def test_fhir_refuses_non_clinical_templates() -> None:
    with pytest.raises(FHIRExportError):
        document_reference(make_record("sc_contact_note"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_without_xml_invalid_characters(fmt: str) -> None:
    record = make_record("clin_consult_note")
    data = render(record, fmt)
    assert data
    if fmt != "docx":
        text = data.decode("utf-8")
        assert "\x0b" not in text
    if fmt == "json":
        assert CaseRecord.model_validate_json(data).sections[0].statements[1].flags == [FLAG_HIGH_RISK]


def test_clean_strips_control_characters_but_keeps_text() -> None:
    assert clean("a\x00b\x1fc\td\ne\ufffe") == "abc\td\ne"


def test_markdown_keeps_spoken_text_literal() -> None:
    """A transcript can hold anything: in the Markdown export it stays text, never HTML, links or emphasis."""
    record = make_record("sc_contact_note")
    record.sections[0].statements[0].text = (
        "Said <img src=x onerror=alert(1)> and <script>x()</script> then [click](javascript:alert(1)) *now* _a_ | b")
    md = render_markdown(record)
    line = next(x for x in md.splitlines() if "onerror" in x)
    assert "<img" not in md and "<script" not in md
    assert "&lt;img src=x onerror=alert(1)> and &lt;script>x()&lt;/script>" in line
    assert "\\[click\\](javascript:alert(1)) \\*now\\* \\_a\\_ \\| b" in line
    assert line.endswith("— Patient [1]")  # our own citation marker is not escaped
