"""Recording templates: data files (YAML) in this folder; adding one needs no code."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

TEMPLATES_DIR = Path(__file__).parent


class SectionSpec(BaseModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    title: str
    guidance: str = ""
    mode: Literal["generated", "human_only"] = "generated"
    kinds: list[str] = Field(default_factory=list, description="Statement kinds that belong here")
    header: str | None = Field(default=None, description="Header used when rendering (e.g. ACI-Bench style)")
    cues: list[str] = Field(default_factory=list, description="Words and phrases that point to this section")
    speakers: list[Literal["worker", "subject", "family", "professional", "other"]] = Field(
        default_factory=list,
        description="Speaker groups whose words may be the evidence of this section (empty: anyone)",
    )
    findings: list[Literal["money", "date", "phone", "dose", "police", "harm", "screen", "leave_out", "injection"]] = (
        Field(default_factory=list, description="Detector findings that go here when their line has no section")
    )
    opened_by: str | None = Field(
        default=None,
        description="A section whose first line also opens this one when the sectioner leaves it empty "
                    "(a consultation's first history line states its chief complaint)",
    )


class Template(BaseModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    version: str
    title: str
    domain: Literal["social_care", "health", "police", "housing", "meeting"]
    description: str = ""
    subject_role: str = Field(default="", description="Role of the person the record is about")
    export_notice: str = Field(default="", description="Printed on every export (e.g. not a witness statement)")
    fhir_type: str | None = Field(default=None, description="LOINC document type for FHIR export, if clinical")
    style: str = Field(default="", description="How the record's sentences are written (told to the model)")
    sections: list[SectionSpec]

    @model_validator(mode="after")
    def _opened_by_is_a_generated_section(self) -> Template:
        generated = {s.id for s in self.generated_sections}
        for s in self.sections:
            if s.opened_by is not None and (s.opened_by not in generated or s.opened_by == s.id):
                raise ValueError(f"section {s.id!r}: opened_by {s.opened_by!r} is not another generated section")
        return self

    def section(self, section_id: str) -> SectionSpec | None:
        return next((s for s in self.sections if s.id == section_id), None)

    @property
    def generated_sections(self) -> list[SectionSpec]:
        return [s for s in self.sections if s.mode == "generated"]


class TemplateError(ValueError):
    pass


def load_template_file(path: Path) -> Template:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        template = Template.model_validate(data)
    except (yaml.YAMLError, ValidationError, OSError) as exc:
        raise TemplateError(f"{path.name}: invalid template: {exc}") from exc
    ids = [s.id for s in template.sections]
    if len(set(ids)) != len(ids):
        raise TemplateError(f"{path.name}: duplicate section ids")
    if template.id != path.stem:
        raise TemplateError(f"{path.name}: id {template.id!r} does not match the file name")
    return template


@cache
def all_templates(directory: Path = TEMPLATES_DIR) -> dict[str, Template]:
    return {p.stem: load_template_file(p) for p in sorted(directory.glob("*.yaml"))}


def get_template(template_id: str) -> Template:
    templates = all_templates()
    if template_id not in templates:
        raise TemplateError(f"unknown template {template_id!r}; known: {', '.join(templates)}")
    return templates[template_id]
