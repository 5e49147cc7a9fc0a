"""Templates are data: every file loads, and bad files give a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.templates import TemplateError, all_templates, get_template, load_template_file


def test_all_templates_load_with_human_only_judgement_sections() -> None:
    templates = all_templates()
    assert len(templates) >= 5
    assert get_template("sc_contact_note").section("analysis").mode == "human_only"
    assert get_template("asc_care_act_assessment").section("eligibility").mode == "human_only"
    headers = [s.header for s in get_template("clin_consult_note").sections]
    assert headers == ["CHIEF COMPLAINT", "HISTORY OF PRESENT ILLNESS", "REVIEW OF SYSTEMS",
                       "PHYSICAL EXAMINATION", "RESULTS", "ASSESSMENT AND PLAN"]
    assert "NOT A WITNESS STATEMENT" in get_template("police_incident_notes").export_notice


@pytest.mark.parametrize(
    "body, message",
    [
        ("id: bad\nversion: '1'\ntitle: t\ndomain: health\nsections: [{id: a, title: A}, {id: a, title: B}]",
         "duplicate"),
        ("id: bad\nversion: '1'\ntitle: t\ndomain: nowhere\nsections: []", "invalid template"),
        ("id: bad\nsections: [unclosed", "invalid template"),
        ("id: other\nversion: '1'\ntitle: t\ndomain: health\nsections: []", "does not match"),
        ("id: bad\nversion: '1'\ntitle: t\ndomain: health\nsections: [{id: a, title: A, opened_by: b}]",
         "opened_by 'b' is not another generated section"),
    ],
)
def test_bad_template_files_are_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(TemplateError, match=message):
        load_template_file(path)


def test_unknown_template_lists_known_ones() -> None:
    with pytest.raises(TemplateError, match="sc_contact_note"):
        get_template("nope")
