"""Case record types: what drafting produces, the store saves, the API returns and the evals score.

A stored record changes only through `assistant.records.service`; a person's edits are a `RecordPatch`
(`assistant.records.edits`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant.transcript import GivenFieldsOnly, Participant, Transcript

StatementKind = Literal["observed", "reported", "opinion", "action", "decision", "quote"]
SectionStatus = Literal["drafted", "not_discussed", "human_only"]
ReviewState = Literal["draft", "approved", "rejected"]

# Flags a statement can carry; any flag keeps it out of exports until a person keeps it.
FLAG_UNSUPPORTED = "unsupported"
FLAG_HIGH_RISK = "high_risk_unverified"
FLAG_UNKNOWN_PERSON = "unknown_person"
FLAG_POLARITY = "polarity_mismatch"
FLAG_BAD_EVIDENCE = "invalid_evidence"
FLAG_LEAVE_OUT_REQUEST = "leave_out_request"
FLAG_MISATTRIBUTED = "misattributed"
FLAG_AGENT = "agent_unverified"
FLAG_TRUNCATED = "truncated"


class Statement(BaseModel):
    id: str = ""
    text: str
    kind: StatementKind = "reported"
    attributed_to: str = ""
    evidence: list[int] = Field(default_factory=list)
    support: float | None = None
    flags: list[str] = Field(default_factory=list)
    edited_by_human: bool = False
    kept_by_human: bool = False
    due: str | None = Field(default=None, description="For actions: by when, as said in the transcript")

    @property
    def exportable(self) -> bool:
        return not self.flags or self.kept_by_human


class Section(BaseModel):
    id: str
    title: str
    status: SectionStatus = "not_discussed"
    statements: list[Statement] = Field(default_factory=list)


class RecordMeta(BaseModel):
    contact_date: str | None = None
    contact_type: str | None = None
    people_present: list[Participant] = Field(default_factory=list)
    consent: str | None = None
    subject: str | None = Field(default=None, description="Whom the record is about")


class Provenance(BaseModel):
    engine: Literal["llm", "extractive", "gold", "manual"] = "llm"
    asr_model: str | None = None
    llm_backend: str | None = None
    llm_model: str | None = None
    prompt_versions: dict[str, str] = Field(default_factory=dict)
    temperature: float | None = None
    seed: int | None = None
    created_at: datetime | None = None
    timings_s: dict[str, float] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class DraftingStats(GivenFieldsOnly):
    """What the drafting pipeline did: model calls and tokens, lines placed, statements kept. Records drafted
    by earlier pipelines carry other keys (`windows`...); they load and are saved back as they were."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failed_units: int = Field(default=0, description="lines whose model call failed, quoted instead")
    dropped_units: int = Field(default=0, description="lines the model's sentences left out, quoted instead")
    sections: dict[str, int] = Field(default_factory=dict, description="section id -> lines placed in it")
    units: int = 0
    placed: int = 0
    duplicates_removed: int = 0
    summary_method: str = Field(default="none", description="'statements' (verified statements, by code); "
                                "'llm' or 'extractive' in records drafted before 7 Dec 2026")
    summary_dropped: list[str] = Field(default_factory=list,
                                       description="the retired model summary's failed sentences (older records)")
    statements: int = 0
    flagged: int = 0
    findings: list[dict[str, Any]] = Field(
        default_factory=list, description="the detectors' findings, as `Finding.model_dump(exclude_defaults=True)`")


class RecordExtra(GivenFieldsOnly):
    """Diagnostics kept with a record; nothing here is shown to the worker or exported."""

    drafting: DraftingStats | None = None


class CaseRecord(BaseModel):
    id: str = ""
    owner: str = ""
    template_id: str
    template_version: str = "1"
    meta: RecordMeta = Field(default_factory=RecordMeta)
    transcript: Transcript
    sections: list[Section] = Field(default_factory=list)
    summary: str = ""
    summary_evidence: list[str] = Field(default_factory=list, description="Statement ids the summary rests on")
    provenance: Provenance = Field(default_factory=Provenance)
    state: ReviewState = "draft"
    approved_by: str | None = None
    approved_at: datetime | None = None
    version: int = 1
    flags: list[str] = Field(default_factory=list)
    extra: RecordExtra = Field(default_factory=RecordExtra)

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.sections if s.id == section_id), None)

    def statements(self) -> list[Statement]:
        return [st for sec in self.sections for st in sec.statements]
