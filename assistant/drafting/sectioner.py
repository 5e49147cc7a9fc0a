"""Sectioning in code, before any generation: which section of the template each line of the conversation feeds.

The small model is reliable at local tasks and poor at global ones: deciding where each
line of a whole visit belongs is global, so code decides it, and the model later writes each section from that
section's own lines only.

A *unit* is one segment, with the question it answers when it answers one (the question's words are context and
evidence, never a fact). Greetings, thanks and bare questions are units too: they go to no section.

Each unit is scored against each generated section of the template from:
- the speaker's group (worker, subject, family, professional) and the section's `speakers` (a hard rule: a
  mother's words never become the child's views), its statement kinds and the unit's action/observation cues;
- MiniLM similarity to the section's title, guidance and cue words (all held in the template file);
- MiniLM similarity to *exemplars*: the lines the samples' gold records file under that section, from other
  conversations only (a conversation that is a version of a sample never sees that sample's lines);
- where the section sits in the template against where the line sits in the conversation.

Two logistic regressions combine them: one says whether the unit is worth recording at all, the other which
section it belongs to. Their weights and the exemplars are `sectioner.json`, trained on the samples' gold labels
by `python -m assistant.drafting.sectioner train` and checked current by the tests; `assistant eval sectioner`
reports the leave-one-sample-out accuracy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from assistant import lexicons
from assistant.drafting.detectors import REDACTED, Finding, is_question
from assistant.drafting.participants import Cast, Group
from assistant.templates import SectionSpec, Template
from assistant.text import medicines_in, sentences
from assistant.transcript import Transcript

if TYPE_CHECKING:
    import numpy as np

    from assistant.embeddings import Encoder

MODEL_FILE = Path(__file__).with_name("sectioner.json")
GROUPS: tuple[Group, ...] = ("worker", "subject", "family", "professional", "other")
# Kinds of finding that always make a line worth recording (they are checked present after synthesis).
REQUIRED_FINDINGS = frozenset({"money", "police", "harm", "screen", "leave_out", "injection", "date", "phone", "dose"})
# Below this relevance a line goes to no section. 0.5 (the regression's own midpoint) dropped recordable lines
# whose best section was right (docs/drafting.md); chatter is screened out separately.
RELEVANCE_THRESHOLD = 0.3
# A conversation shares this share of its lines (at cosine >= SAME_LINE) with a sample: it is a version of it.
SAME_LINE = 0.9
SAME_CONVERSATION = 0.3
NEIGHBOURS = 10
MIN_WORKER_CONTENT = 4

_ACTION = re.compile(r"\b(?:will|i'll|we'll|you'll|she'll|he'll|they'll|going to|gonna|agreed|let me|i can|"
                     r"i'm going|arrange|refer|book|ring|chase|send)\b", re.I)
_OBSERVATION = re.compile(r"\b(?:i can see|i see|i noticed|i saw|looks?|looking|nice and|tidy|clean|messy|smells?)\b",
                          re.I)
_PLEASANTRY = re.compile(r"\b(?:thanks?|thank you|cheers|hello|hi|hiya|welcome|bye|goodbye|see you|take care|lovely|"
                         r"nice to (?:see|meet)|sorry|no worries|you're welcome)\b", re.I)


class Unit(BaseModel):
    """One line of the conversation as the sectioner sees it."""

    key: int = Field(description="the segment whose words these are")
    segment_ids: list[int] = Field(description="evidence: the question it answers (if any), then its own segment")
    question_id: int | None = None
    asker: str = Field(default="", description="who asked the question it answers")
    speaker: str
    name: str
    group: Group
    text: str
    question: str = ""
    findings: list[str] = Field(default_factory=list)
    chatter: bool = False


class Placement(BaseModel):
    unit: Unit
    section: str | None
    relevance: float = Field(description="probability that the line is worth recording")
    scores: dict[str, float] = Field(default_factory=dict, description="probability per section")


# --- units -------------------------------------------------------------------------------------------------


def _content_words(text: str) -> list[str]:
    from assistant.drafting.verify import content_tokens

    return sorted(content_tokens(text))


def _told(text: str) -> str:
    """The sentences of a turn that are not questions."""
    return " ".join(s for s in sentences(text) if not s.rstrip("\"')").endswith("?"))


def build_units(transcript: Transcript, cast: Cast, findings: Sequence[Finding], texts: dict[int, str]) -> list[Unit]:
    """One unit per segment. A reply carries the question before it (another speaker's) as context; a worker's
    bare question is its own unit only as chatter, since a question is never a fact."""
    kinds: dict[int, list[str]] = {}
    for f in findings:
        kinds.setdefault(f.segment_id, []).append(f.kind)
    segs = transcript.segments
    units: list[Unit] = []
    for i, seg in enumerate(segs):
        text = texts.get(seg.id, seg.text).replace(REDACTED, " ").strip()
        prev = segs[i - 1] if i else None
        asked = prev is not None and prev.speaker != seg.speaker and is_question(prev.text)
        found = kinds.get(seg.id, [])
        bare_question = is_question(seg.text) and len(_content_words(_told(seg.text))) < MIN_WORKER_CONTENT
        # A worker's bare question is context for its reply, whatever it mentions: its facts are the reply's.
        chatter = (bare_question and cast.group_of(seg.speaker) == "worker") or (not found and (
            len(_content_words(text)) < 2
            or (bool(_PLEASANTRY.search(text)) and len(_content_words(_PLEASANTRY.sub(" ", text))) < 3)))
        units.append(Unit(
            key=seg.id, segment_ids=[prev.id, seg.id] if asked and prev is not None else [seg.id],
            question_id=prev.id if asked and prev is not None else None,
            asker=cast.name_of(prev.speaker) if asked and prev is not None else "", speaker=seg.speaker,
            name=cast.name_of(seg.speaker), group=cast.group_of(seg.speaker), text=text,
            question=(texts.get(prev.id, prev.text) if asked and prev is not None else ""), findings=found,
            chatter=chatter,
        ))
    return units


def unit_text(u: Unit) -> str:
    return f"{u.question} {u.text}".strip() if u.question else u.text


# --- features ----------------------------------------------------------------------------------------------

SECTION_FEATURES: tuple[str, ...] = (
    "desc_sim", "desc_rel", "question_rel", "cues", "speaker_only", "worker_observed", "action_cue",
    "observation_cue", "position_gap", "reply_reported", "worker_action", "other_action", "prev_rel", "next_rel",
    "exemplar_sim", "exemplar_share", "has_exemplars", "finding_home",
)
RELEVANCE_FEATURES: tuple[str, ...] = (
    "content_words", "chatter", "question", "reply", "worker", "subject", "family", "professional", "finding",
    "best_desc_rel", "exemplar_none_share", "edge",
)


def section_description(spec: SectionSpec) -> str:
    return f"{spec.title}. {spec.guidance} {' '.join(spec.cues)}".strip()


class Exemplar(BaseModel):
    text: str
    section: str | None
    template: str
    conversation: str


def _fingerprint(transcript: Transcript) -> str:
    return hashlib.sha256("\n".join(s.text for s in transcript.segments).encode()).hexdigest()[:16]


class _Context(BaseModel):
    """What the features of one conversation need, computed once."""

    model_config = {"arbitrary_types_allowed": True}

    units: list[Unit]
    specs: list[SectionSpec]
    unit_sim: Any  # units x sections: similarity to the section's description
    question_sim: Any
    has_exemplars: bool
    exemplar_top: Any  # units x sections: mean similarity of the 3 most similar exemplars of the section
    exemplar_share: Any  # units x sections: share of the unit's nearest exemplars that are the section's
    none_share: Any  # units: share of the nearest exemplars that no gold statement cites


def _context(units: list[Unit], template: Template, encoder: Encoder, exemplars: Sequence[Exemplar],
             vectors: np.ndarray | None = None) -> _Context:
    """`vectors`: the exemplars' embeddings, row for row, when already at hand (see `exemplar_vectors`)."""
    import numpy as np

    specs = template.generated_sections
    n, m = len(units), len(specs)
    vec_u = encoder.encode([unit_text(u) for u in units])
    vec_q = encoder.encode([u.question for u in units])
    vec_d = encoder.encode([section_description(s) for s in specs])
    rows = [k for k, e in enumerate(exemplars) if e.template == template.id]
    own = [exemplars[k] for k in rows]
    top, share, none = np.zeros((n, m)), np.zeros((n, m)), np.full(n, 0.5)
    if own and n:
        vec_e = vectors[rows] if vectors is not None else encoder.encode([e.text for e in own])
        sim = encoder.encode([u.text for u in units]) @ vec_e.T
        own, sim = _other_conversations(own, sim)
    if own and n:
        labels = np.array([e.section or "" for e in own])
        nearest = np.argsort(-sim, axis=1)[:, :NEIGHBOURS]
        near_labels = labels[nearest]
        none = (near_labels == "").mean(axis=1)
        for j, spec in enumerate(specs):
            mask = labels == spec.id
            if mask.any():
                top[:, j] = np.sort(sim[:, mask], axis=1)[:, -3:].mean(axis=1)
            share[:, j] = (near_labels == spec.id).mean(axis=1)
    return _Context(units=units, specs=specs, unit_sim=vec_u @ vec_d.T, question_sim=vec_q @ vec_d.T,
                    has_exemplars=bool(own), exemplar_top=top, exemplar_share=share, none_share=none)


def _other_conversations(exemplars: list[Exemplar], sim: np.ndarray) -> tuple[list[Exemplar], np.ndarray]:
    """Drop the exemplars of any conversation this one is a version of (the same sample, or its recording)."""
    import numpy as np

    if sim.shape[0] == 0:
        return exemplars, sim
    drop = set()
    for conv in {e.conversation for e in exemplars}:
        cols = [k for k, e in enumerate(exemplars) if e.conversation == conv]
        if float(np.mean(sim[:, cols].max(axis=1) >= SAME_LINE)) >= SAME_CONVERSATION:
            drop.add(conv)
    keep = [k for k, e in enumerate(exemplars) if e.conversation not in drop]
    return [exemplars[k] for k in keep], sim[:, keep]


def _relative(row: np.ndarray, j: int) -> float:
    return float(row[j] - row.max()) if row.size else 0.0


def section_features(ctx: _Context, i: int, j: int) -> list[float]:
    u, spec = ctx.units[i], ctx.specs[j]
    kinds = spec.kinds or []
    n, m = len(ctx.units), len(ctx.specs)
    cues = lexicons.phrase_pattern(spec.cues) if spec.cues else None
    observed_only = "observed" in kinds and "action" not in kinds
    return [
        float(ctx.unit_sim[i, j]),
        _relative(ctx.unit_sim[i], j),
        _relative(ctx.question_sim[i], j) if u.question else 0.0,
        min(len(cues.findall(u.text)), 3) / 3 if cues else 0.0,
        float(spec.speakers == [u.group]),
        float(u.group == "worker" and observed_only),
        float(bool(_ACTION.search(u.text)) and "action" in kinds),
        float(bool(_OBSERVATION.search(u.text)) and u.group == "worker" and "observed" in kinds),
        abs(i / max(n, 1) - j / max(m, 1)),
        float(bool(u.question) and u.group != "worker" and "reported" in kinds),
        float(u.group == "worker" and "action" in kinds),
        float(u.group != "worker" and "action" in kinds),
        _relative(ctx.unit_sim[i - 1], j) if i else 0.0,
        _relative(ctx.unit_sim[i + 1], j) if i + 1 < n else 0.0,
        float(ctx.exemplar_top[i, j]),
        float(ctx.exemplar_share[i, j]),
        float(ctx.has_exemplars),
        float(bool(set(u.findings) & set(spec.findings))),
    ]


def relevance_features(ctx: _Context, i: int) -> list[float]:
    import numpy as np

    u = ctx.units[i]
    n = len(ctx.units)
    return [
        float(np.log1p(len(_content_words(u.text)))),
        float(u.chatter),
        float(is_question(u.text)),
        float(bool(u.question)),
        *(float(u.group == g) for g in ("worker", "subject", "family", "professional")),
        float(bool(u.findings)),
        float(ctx.unit_sim[i].max() - ctx.unit_sim.max(axis=1).mean()) if ctx.specs else 0.0,
        float(ctx.none_share[i]),
        float(min(i, n - 1 - i) < 3),
    ]


def allowed(spec: SectionSpec, unit: Unit) -> bool:
    return not spec.speakers or unit.group in spec.speakers


# --- the trained model ---------------------------------------------------------------------------------------


class Weights(BaseModel):
    coef: list[float]
    intercept: float

    def probability(self, features: Sequence[float]) -> float:
        import math

        z = self.intercept + sum(w * x for w, x in zip(self.coef, features, strict=True))
        return 1 / (1 + math.exp(-max(min(z, 40.0), -40.0)))


class SectionerModel(BaseModel):
    version: str = "1"
    section_features: list[str]
    relevance_features: list[str]
    section: Weights
    relevance: Weights
    threshold: float = Field(description="relevance below this: no section")
    trained_on: str = Field(default="", description="training_fingerprint() of the samples and templates it was fit on")
    exemplars: list[Exemplar]


def exemplar_vectors(model: SectionerModel, encoder: Encoder, cache_dir: Path | None) -> np.ndarray:
    """The exemplars' embeddings, computed once per machine and kept beside the assembled models (about a
    thousand lines: seconds on 2 cores, which a draft should not pay every time)."""
    import numpy as np

    key = hashlib.sha256(("\n".join(e.text for e in model.exemplars) + encoder.model_dir).encode()).hexdigest()[:16]
    path = cache_dir / f"sectioner-exemplars-{key}.npy" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            vectors = np.load(path)
            if vectors.shape[0] == len(model.exemplars):
                return vectors
        except (OSError, ValueError):
            pass  # unreadable: computed again below
    vectors = encoder.encode([e.text for e in model.exemplars]).astype("float32")
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache: computed again next time
    return vectors


@cache
def load_model(path: Path = MODEL_FILE) -> SectionerModel:
    model = SectionerModel.model_validate_json(path.read_text(encoding="utf-8"))
    if (tuple(model.section_features), tuple(model.relevance_features)) != (SECTION_FEATURES, RELEVANCE_FEATURES):
        raise ValueError(f"{path.name} was trained with other features; run python -m assistant.drafting.sectioner "
                         "train")
    return model


def place(units: list[Unit], template: Template, encoder: Encoder, model: SectionerModel | None = None, *,
          cache_dir: Path | None = None) -> list[Placement]:
    """Each unit's section (None: not worth recording), with the probabilities behind it. `cache_dir` keeps the
    exemplars' embeddings between processes."""
    model = model or load_model()
    ctx = _context(units, template, encoder, model.exemplars, exemplar_vectors(model, encoder, cache_dir))
    out = []
    for i, u in enumerate(units):
        scores = {spec.id: model.section.probability(section_features(ctx, i, j))
                  for j, spec in enumerate(ctx.specs) if allowed(spec, u)}
        relevance = model.relevance.probability(relevance_features(ctx, i))
        required = bool(set(u.findings) & REQUIRED_FINDINGS) or bool(medicines_in(u.text))
        keep = bool(scores) and (relevance >= model.threshold or required)
        section = max(scores, key=lambda k: scores[k]) if keep else None
        if u.chatter and not (set(u.findings) & REQUIRED_FINDINGS and not is_question(u.text)):
            section = None
        out.append(Placement(unit=u, section=section, relevance=round(relevance, 4),
                             scores={k: round(v, 4) for k, v in scores.items()}))
    return out


# --- training on the samples' gold labels ---------------------------------------------------------------------


class LabelledConversation(BaseModel):
    sample: str
    template: str
    fingerprint: str
    units: list[Unit]
    labels: list[list[str]]  # per unit: the gold sections citing its own segment (empty: none)


def labelled_samples(samples_dir: Path) -> list[LabelledConversation]:
    """Units of every sample with a gold record, each labelled with the section of the gold statements that cite
    its own segment (or, for a question's reply, its question)."""
    from assistant.drafting.detectors import detect, redacted_texts
    from assistant.drafting.participants import identify_participants
    from assistant.records import CaseRecord
    from assistant.templates import get_template
    from assistant.transcript import parse_text

    out = []
    for folder in sorted(p for p in samples_dir.iterdir() if (p / "gold.json").is_file()):
        transcript_file = folder / "transcript.txt"
        if not transcript_file.is_file():
            continue
        gold = CaseRecord.model_validate_json((folder / "gold.json").read_text(encoding="utf-8"))
        if not gold.statements():
            continue
        template = get_template(gold.template_id)
        transcript = parse_text(transcript_file.read_text(encoding="utf-8"))
        cast = identify_participants(transcript, template)
        findings = detect(transcript, cast)
        units = build_units(transcript, cast, findings, redacted_texts(transcript, findings))
        cited: dict[int, list[str]] = {}
        for sec in gold.sections:
            for st in sec.statements:
                for sid in st.evidence:
                    if sec.id not in cited.setdefault(sid, []):
                        cited[sid].append(sec.id)
        # A question cited only beside its reply is the reply's context, not a line of its own.
        context = {u.question_id for u in units if u.question_id is not None and cited.get(u.key)}
        labels = [[] if (u.chatter and u.key in context) else cited.get(u.key, []) for u in units]
        out.append(LabelledConversation(sample=folder.name, template=template.id,
                                        fingerprint=_fingerprint(transcript), units=units, labels=labels))
    return out


def training_fingerprint(samples_dir: Path) -> str:
    """What a trained model depends on: the samples' gold records and transcripts, the templates (their
    descriptions and cues are features) and the feature lists. A committed model whose fingerprint differs is
    stale."""
    from assistant.templates import TEMPLATES_DIR

    h = hashlib.sha256("\n".join(SECTION_FEATURES + RELEVANCE_FEATURES).encode())
    files = [f for p in sorted(samples_dir.iterdir()) if (p / "gold.json").is_file()
             for f in (p / "gold.json", p / "transcript.txt") if f.is_file()]
    for f in files + sorted(TEMPLATES_DIR.glob("*.yaml")):
        h.update(f"{f.parent.name}/{f.name}".encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _exemplars(data: Sequence[LabelledConversation]) -> list[Exemplar]:
    return [Exemplar(text=u.text, section=lab[0] if lab else None, template=c.template, conversation=c.fingerprint)
            for c in data for u, lab in zip(c.units, c.labels, strict=True) if not u.chatter or lab]


def _feature_rows(conv: LabelledConversation, exemplars: Sequence[Exemplar], encoder: Encoder
                  ) -> tuple[list[list[float]], list[int], list[int], list[list[float]], list[int]]:
    """(section rows, section labels, row's unit index, relevance rows, relevance labels) for one conversation,
    its features computed against the exemplars of the *other* conversations only."""
    from assistant.templates import get_template

    template = get_template(conv.template)
    others = [e for e in exemplars if e.conversation != conv.fingerprint]
    ctx = _context(conv.units, template, encoder, others)
    rows, ys, owner, rel_rows, rel_ys = [], [], [], [], []
    for i, (u, lab) in enumerate(zip(conv.units, conv.labels, strict=True)):
        rel_rows.append(relevance_features(ctx, i))
        rel_ys.append(int(bool(lab)))
        if not lab:
            continue
        for j, spec in enumerate(ctx.specs):
            if allowed(spec, u):
                rows.append(section_features(ctx, i, j))
                ys.append(int(spec.id in lab))
                owner.append(i)
    return rows, ys, owner, rel_rows, rel_ys


def _fit(rows: list[list[float]], ys: list[int]) -> Weights:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced").fit(rows, ys)
    return Weights(coef=[round(float(c), 6) for c in lr.coef_[0]], intercept=round(float(lr.intercept_[0]), 6))


def train(samples_dir: Path, encoder: Encoder, *, holdout: str | None = None) -> SectionerModel:
    """Fit both regressions on every sample (but `holdout`); exemplars are the same samples' lines."""
    data = [c for c in labelled_samples(samples_dir) if c.sample != holdout]
    exemplars = _exemplars(data)
    rows: list[list[float]] = []
    ys: list[int] = []
    rel_rows: list[list[float]] = []
    rel_ys: list[int] = []
    for conv in data:
        r, y, _, rr, ry = _feature_rows(conv, exemplars, encoder)
        rows += r
        ys += y
        rel_rows += rr
        rel_ys += ry
    return SectionerModel(section_features=list(SECTION_FEATURES), relevance_features=list(RELEVANCE_FEATURES),
                          section=_fit(rows, ys), relevance=_fit(rel_rows, rel_ys), threshold=RELEVANCE_THRESHOLD,
                          trained_on=training_fingerprint(samples_dir), exemplars=exemplars)


class SectionerScore(BaseModel):
    sample: str
    template: str
    cited_units: int
    cited_correct: int = Field(description="cited lines given one of their gold sections")
    cited_placed: int = Field(description="cited lines whose best-scoring section is one of their gold sections")
    units: int
    units_correct: int = Field(description="section right, or rightly none")

    @property
    def cited_accuracy(self) -> float:
        return self.cited_correct / self.cited_units if self.cited_units else 0.0

    @property
    def accuracy(self) -> float:
        return self.units_correct / self.units if self.units else 0.0


def leave_one_out(samples_dir: Path, encoder: Encoder, only: Sequence[str] = ()) -> list[SectionerScore]:
    """Each sample (or each of `only`) sectioned by a model trained on the others: never scored on what it
    trained on."""
    from assistant.templates import get_template

    data = labelled_samples(samples_dir)
    scores = []
    for conv in data:
        if only and conv.sample not in only:
            continue
        model = train(samples_dir, encoder, holdout=conv.sample)
        placed = place(conv.units, get_template(conv.template), encoder, model)
        pairs = list(zip(placed, conv.labels, strict=True))
        best = [max(p.scores, key=lambda k: p.scores[k]) if p.scores else None for p in placed]
        scores.append(SectionerScore(
            sample=conv.sample, template=conv.template, cited_units=sum(bool(lab) for _, lab in pairs),
            cited_correct=sum(bool(lab) and p.section in lab for p, lab in pairs),
            cited_placed=sum(bool(lab) and b in lab for b, (_, lab) in zip(best, pairs, strict=True)),
            units=len(pairs), units_correct=sum((p.section in lab) if lab else p.section is None for p, lab in pairs)))
    return scores


def write_model(model: SectionerModel, path: Path = MODEL_FILE) -> None:
    path.write_text(json.dumps(model.model_dump(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":  # python -m assistant.drafting.sectioner train [SAMPLES_DIR]
    import sys

    from assistant.config import REPO_ROOT
    from assistant.embeddings import get_encoder

    if len(sys.argv) < 2 or sys.argv[1] != "train":
        raise SystemExit("usage: python -m assistant.drafting.sectioner train [SAMPLES_DIR]")
    folder = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO_ROOT / "samples"
    write_model(train(folder, get_encoder()))
    print(f"wrote {MODEL_FILE}")
