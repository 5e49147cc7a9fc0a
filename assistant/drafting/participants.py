"""Stage 1: who is present, their roles, relationships and group (worker / subject / family / professional).

Attribution errors are the small model's worst failure, so the cast is settled in code before any prompt:
from the `Present:` header, the speaker labels and the caller, never guessed by the model.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from assistant import lexicons
from assistant.templates import Template
from assistant.transcript import Participant, Transcript

Group = Literal["worker", "subject", "family", "professional", "other"]


class Person(BaseModel):
    name: str
    role: str = ""
    relationship: str = ""
    group: Group = "other"
    speaker: str | None = Field(default=None, description="Speaker label used in the transcript, if they spoke")

    @property
    def label(self) -> str:
        """`Leanne (mother)` — how the person appears in prompts."""
        return f"{self.name} ({self.role})" if self.role else self.name


class Cast(BaseModel):
    people: list[Person] = Field(default_factory=list)
    worker: str | None = None  # name of the person writing the record
    subjects: list[str] = Field(default_factory=list)  # names of whom the record is about

    def by_speaker(self, speaker: str) -> Person | None:
        return next((p for p in self.people if p.speaker == speaker), None)

    def by_name(self, name: str) -> Person | None:
        return next((p for p in self.people if p.name == name), None)

    def name_of(self, speaker: str) -> str:
        person = self.by_speaker(speaker)
        return person.name if person else speaker

    def group_of(self, speaker: str) -> Group:
        person = self.by_speaker(speaker)
        return person.group if person else "other"

    def names(self) -> list[str]:
        return [p.name for p in self.people]

    @property
    def single_author(self) -> bool:
        return sum(1 for p in self.people if p.speaker) <= 1

    def describe(self) -> str:
        """The participants block of the system prompt."""
        lines = []
        for p in self.people:
            bits = [p.role] if p.role else []
            if p.relationship and p.relationship != p.role:
                bits.append(p.relationship)
            if p.name == self.worker:
                bits.append("the worker writing this record")
            elif p.name in self.subjects:
                bits.append("the person this record is about")
            if not p.speaker:
                bits.append("did not speak")
            lines.append(f"- {p.name}: {', '.join(bits) or 'role not stated'}")
        return "\n".join(lines)


_CHILD_WORDS = ("child", "son", "daughter", "baby", "infant", "teenager", "pupil", "young person", "boy", "girl")


def _role_group(role: str, subject_role: str = "") -> Group:
    """The group a role belongs to. A son or daughter is the subject of a children's record, but family in an
    adult's, a tenant's or a patient's: there the subject is the person the template names."""
    text = role.lower()
    if subject_role and re.search(rf"\b{re.escape(subject_role.lower())}\b", text):
        return "subject"
    child_record = subject_role.lower() in ("", "child", "young person")
    if not child_record and lexicons.phrase_pattern(list(_CHILD_WORDS)).search(text):
        return "family"
    for group in ("worker", "subject", "professional", "family"):
        if lexicons.phrase_pattern(lexicons.roles().get(group, [])).search(text):
            return group  # type: ignore[return-value]
    return "other"


_GENERIC_LABELS = {"doctor": "doctor", "patient": "patient", "nurse": "nurse", "clinician": "clinician",
                   "author": "author", "interviewer": "worker", "officer": "officer"}


def _match_speaker(participants: list[Participant], label: str) -> Participant | None:
    low = label.lower().strip()
    for p in participants:
        if p.name.lower() == low:
            return p
    for p in participants:  # "Leanne" speaking, "Leanne Smith" present; or "Mum" labelled by role
        first = p.name.lower().split()[0] if p.name.strip() else ""
        if first == low or low in {p.role.lower(), p.relationship.lower()}:
            return p
    return None


def _question_ratio(transcript: Transcript, speaker: str) -> float:
    turns = [s for s in transcript.segments if s.speaker == speaker]
    if not turns:
        return 0.0
    return sum(1 for s in turns if s.text.rstrip().endswith("?")) / len(turns)


def identify_participants(
    transcript: Transcript,
    template: Template,
    *,
    extra: list[Participant] | None = None,
    worker: str | None = None,
) -> Cast:
    """Build the cast: declared participants (header, caller), then any other speaker label, each with a
    group; the worker is the caller's choice, else the first worker-role person, else the main questioner."""
    declared = list(transcript.participants) + list(extra or [])
    people: dict[str, Person] = {}
    for p in declared:
        if p.name not in people:
            people[p.name] = Person(name=p.name, role=p.role, relationship=p.relationship,
                                    group=_role_group(f"{p.role} {p.relationship}", template.subject_role))
    for label in transcript.speakers():
        match = _match_speaker(declared, label)
        if match is not None:
            people[match.name].speaker = label
            continue
        role = _GENERIC_LABELS.get(label.lower(), "")
        if label.lower() == "author":
            role = ""
        people[label] = Person(name=label, role=role, group=_role_group(role or label, template.subject_role),
                               speaker=label)
        if label.lower() == "author":
            people[label].group = "worker"

    cast = Cast(people=list(people.values()))
    subject_words = {template.subject_role.lower()} if template.subject_role else set()
    workers = [p for p in cast.people if p.group == "worker"]
    chosen = next((p for p in cast.people if worker and p.name == worker), None)
    if chosen is None and workers:
        chosen = next((p for p in workers if p.speaker), workers[0])
    if chosen is None:
        speakers = [p for p in cast.people if p.speaker]
        if len(speakers) >= 2:
            chosen = max(speakers, key=lambda p: _question_ratio(transcript, p.speaker or ""))
    if chosen is not None:
        chosen.group = "worker"
        cast.worker = chosen.name
    for p in cast.people:  # a second professional in the room is a source, not the author
        if p.group == "worker" and p is not chosen:
            p.group = "professional"
    _children_of_subjects(cast)
    cast.subjects = [p.name for p in cast.people if p.group == "subject"]
    if not cast.subjects and subject_words:
        cast.subjects = [p.name for p in cast.people if any(w in p.role.lower() for w in subject_words)]
    if not cast.subjects and not cast.single_author:
        # Two-party conversations (doctor/patient, officer/witness): the other speaker is the subject.
        others = [p for p in cast.people if p.speaker and p.name != cast.worker and p.group == "other"]
        if len(others) == 1:
            others[0].group = "subject"
            cast.subjects = [others[0].name]
    _fill_relationships(cast)
    return cast


def _children_of_subjects(cast: Cast) -> None:
    """"Debbie (daughter, Stan's daughter)" beside "Stan (service user)": the subject's child is family."""
    subjects = [p for p in cast.people if p.group == "subject"]
    for p in subjects:
        text = f"{p.role} {p.relationship}"
        if not lexicons.phrase_pattern(list(_CHILD_WORDS)).search(text):
            continue
        for other in subjects:
            first = other.name.split()[0] if other.name.strip() else ""
            if other is not p and first and re.search(rf"\b{re.escape(first)}\b", text):
                p.group = "family"
                break


_KIN = re.compile(r"\b(mother|mum|father|dad|parent|step\w+|grand\w+|aunt\w*|uncle|sister|brother|carer|"
                  r"foster carer|guardian)\b", re.I)


def _fill_relationships(cast: Cast) -> None:
    """`mother` of the only subject becomes `mother of Kai`, so prompts state whose mother she is."""
    if len(cast.subjects) != 1:
        return
    subject = cast.subjects[0]
    for p in cast.people:
        if p.group == "family" and not p.relationship and _KIN.search(p.role) and " of " not in p.role:
            p.relationship = f"{p.role} of {subject}"
