"""Transcript types and the parser for typed or pasted text.

A transcript is the one canonical input to drafting: numbered segments, each with a speaker label.
Segment ids are stable integer indexes, so records can cite them.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_serializer,
)

from assistant.text import written_sentences

TRANSCRIPT_FLAGS = ("truncated", "no_speech", "too_short")


class Participant(BaseModel):
    name: str
    role: str = ""
    relationship: str = ""


class NameSuggestion(BaseModel):
    """A name offered for a diarised voice, for the worker to confirm; never applied by itself."""

    name: str
    reason: str = Field(description="introduced (the voice said its name), addressed (the turn before called "
                        "this voice by name) or present (named present and not yet placed)")
    count: int = 1


class Segment(BaseModel):
    id: int
    speaker: str = "unknown"
    start: float | None = None
    end: float | None = None
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


class GivenFieldsOnly(BaseModel):
    """Serialises only the keys it was given: a block written by an older or another engine round-trips as
    stored, and a field this engine leaves out (no diarisation, no audio file) stays out of the JSON."""

    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}


class DroppedSegment(GivenFieldsOnly):
    """A segment the transcriber dropped (no speech, a stock phrase, bleed), kept so the decision can be audited."""

    start: float | None = None
    end: float | None = None
    speaker: str | None = None
    text: str = ""
    reason: str = ""
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


class DiarisationInfo(GivenFieldsOnly):
    """The diariser's model and settings (`Diariser.describe()`) and how many voices it was told and found."""

    engine: str | None = None
    model: str | None = None
    vad: str | None = None
    window_s: float | None = None
    hop_s: float | None = None
    linkage: str | None = None
    threshold: float | None = None
    max_speakers: int | None = None
    speakers_expected: int | None = None
    speakers_found: int | None = None


class LanguageDetected(GivenFieldsOnly):
    language: str | None = None
    probability: float | None = None


class AsrInfo(GivenFieldsOnly):
    """The speech-to-text model, its settings and what it decided, as stored with the transcript.

    Every field is optional because records written by earlier versions carry fewer keys."""

    engine: str | None = None
    engine_version: str | None = None
    ctranslate2_version: str | None = None
    model: str | None = None
    model_id: str | None = None
    device: str | None = None
    compute_type: str | None = None
    cpu_threads: int | None = None
    language: str | None = None
    beam_size: int | None = None
    vad_filter: bool | None = None
    condition_on_previous_text: bool | None = None
    word_timestamps: bool | None = None
    sample_rate: int | None = None
    diarisation: DiarisationInfo | None = None
    language_detected: LanguageDetected | None = None
    channel_mode: str | None = None
    language_probability: float | None = None
    dropped_segments: list[DroppedSegment] = Field(default_factory=list)
    crosstalk_gate: dict[str, float] | None = None
    input_format: str | None = None
    input_codec: str | None = None
    input_channels: int | None = None
    input_sample_rate: int | None = None
    declared_duration: float | None = None
    decode_errors: int | None = None


class Transcript(BaseModel):
    id: str = ""
    source: str = Field(default="", description="sha256 of the audio or text this came from")
    language: str | None = None
    duration: float | None = None
    segments: list[Segment] = Field(default_factory=list)
    participants: list[Participant] = Field(default_factory=list)
    asr: AsrInfo | None = Field(default=None, description="ASR model and settings; None for typed text")
    flags: list[str] = Field(default_factory=list)
    contact_date: str | None = Field(
        default=None,
        description="When the conversation took place, as given: a `Date:` header in typed notes, or the "
        "recording's own creation time (e.g. `14 March 2026`); None when nothing says (never guessed)",
    )
    speaker_names: dict[str, str] = Field(
        default_factory=dict,
        description="Diarised speaker label (speaker_1...) -> the person's name, as the worker mapped them; "
        "segments already carry the names",
    )
    speaker_suggestions: dict[str, list[NameSuggestion]] = Field(
        default_factory=dict,
        description="Diarised speaker label -> names the worker may confirm, best first "
        "(assistant.diarise.names); suggestions only, the segments keep their labels",
    )

    @field_validator("asr", mode="before")
    @classmethod
    def _no_asr(cls, value: Any) -> Any:
        return value or None  # stored records write typed text's missing ASR block as {}

    @field_serializer("asr", mode="wrap")
    def _asr_json(self, value: AsrInfo | None, handler: SerializerFunctionWrapHandler) -> Any:
        return handler(value) if value is not None else {}  # the stored and API shape for typed text

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)

    @property
    def word_count(self) -> int:
        return sum(len(s.text.split()) for s in self.segments)

    def segment(self, seg_id: int) -> Segment | None:
        if 0 <= seg_id < len(self.segments) and self.segments[seg_id].id == seg_id:
            return self.segments[seg_id]
        return next((s for s in self.segments if s.id == seg_id), None)

    def speakers(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.segments:
            seen.setdefault(s.speaker, None)
        return list(seen)


# --- parsing typed text -------------------------------------------------------------------------

_PRESENT = re.compile(r"^\s*(present|participants|attendees)\s*:\s*(.+)$", re.I)
_DATE = re.compile(r"^\s*(?:date|date of (?:visit|contact|meeting|consultation)|visit date)\s*:\s*(\S.{0,59})$", re.I)
_TAG_LINE = re.compile(r"^\s*\[(?P<who>[A-Za-z][\w .'-]{0,40})\]\s*(?P<text>.*)$")
_NAME_LINE = re.compile(
    r"^\s*(?P<who>[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,3}|[a-z]+)\s*(?:\([^)]{0,60}\))?\s*:\s+(?P<text>\S.*)$")
_PRESENT_SPLIT = re.compile(r"[\n\r]|[,;](?![^()]*\))")
_PERSON = re.compile(r"^(?P<name>[^()]+?)\s*(?:\((?P<role>[^()]*)\))?$")
_MAX_SEGMENT_WORDS = 60


def present_parts(value: str) -> list[str]:
    """The entries of a `Present:` list: commas, semicolons and newlines separate people, except inside a role's
    brackets ("Sam (carer; paid)"); a trailing full stop is dropped."""
    parts = (p.strip().rstrip(".").strip() for p in _PRESENT_SPLIT.split(value.replace("\r\n", "\n")))
    return [p for p in parts if p]


def parse_person(part: str) -> Participant | None:
    """`Name`, `Name (role)` or `Name (role, relationship)`; None when the brackets are not like that."""
    m = _PERSON.match(part.strip())
    if m is None:
        return None
    role, _, rel = (m["role"] or "").partition(",")
    return Participant(name=" ".join(m["name"].split()), role=" ".join(role.split()),
                       relationship=" ".join(rel.split()))


def parse_present(value: str) -> list[Participant]:
    """`A (role), B (role, relationship)` -> participants; entries that are not like that are skipped."""
    return [p for p in map(parse_person, present_parts(value)) if p is not None]


def split_turn(text: str, max_words: int = _MAX_SEGMENT_WORDS) -> list[str]:
    """Split a long turn into pieces of whole sentences; short turns stay whole."""
    text = " ".join(text.split())
    if len(text.split()) <= max_words:
        return [text] if text else []
    pieces: list[str] = []
    buf = ""
    for sent in written_sentences(text):
        candidate = f"{buf} {sent}".strip()
        if buf and len(candidate.split()) > max_words // 2:
            pieces.append(buf)
            buf = sent
        else:
            buf = candidate
    if buf:
        pieces.append(buf)
    return pieces


def _speaker_label(raw: str) -> str:
    raw = raw.strip()
    if raw.islower():
        return raw.capitalize() if raw in {"doctor", "patient", "nurse", "clinician"} else raw
    return raw


def parse_text(text: str, *, author: str = "author", source_id: str | None = None) -> Transcript:
    """Parse typed or pasted text into a Transcript.

    Accepts `Name: utterance` lines, `[doctor]`/`[patient]` tags (ACI-Bench), `Doctor:`/`Patient:` lines
    (PriMock57), optional `Present: A (role), B (role)` and `Date: 14 March 2026` header lines before the
    first turn, and untagged paragraphs (one author).
    """
    participants: list[Participant] = []
    contact_date: str | None = None
    turns: list[tuple[str, str]] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    tagged = sum(1 for ln in lines if _TAG_LINE.match(ln) or _NAME_LINE.match(ln))
    nonblank = sum(1 for ln in lines if ln.strip())
    # A few accidental "Note: ..." lines in prose do not make it a dialogue.
    dialogue = nonblank > 0 and tagged / nonblank >= 0.5
    paragraph: list[str] = []

    def flush_paragraph() -> None:
        if paragraph:
            turns.append((author, " ".join(paragraph)))
            paragraph.clear()

    for line in lines:
        if not line.strip():
            flush_paragraph()
            continue
        m = _PRESENT.match(line)
        if m and not participants:
            participants = parse_present(m.group(2))
            continue
        m = _DATE.match(line)
        if m and contact_date is None and not turns and not paragraph:
            contact_date = m.group(1).strip()
            continue
        if dialogue:
            m = _TAG_LINE.match(line) or _NAME_LINE.match(line)
            if m:
                turns.append((_speaker_label(m.group("who")), m.group("text").strip()))
            elif turns:
                who, said = turns[-1]
                turns[-1] = (who, f"{said} {line.strip()}")
            else:
                turns.append((author, line.strip()))
        else:
            paragraph.append(line.strip())
    flush_paragraph()

    segments: list[Segment] = []
    for who, said in turns:
        for piece in split_turn(said):
            segments.append(Segment(id=len(segments), speaker=who, text=piece))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Transcript(
        id=source_id or digest[:16], source=digest, segments=segments, participants=participants,
        contact_date=contact_date,
    )
