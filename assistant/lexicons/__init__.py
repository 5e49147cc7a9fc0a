"""Lexicons as data: high-risk terms with synonyms, cue words, section hints, role words.

The YAML files in this folder are the configuration; code only compiles them into matchers. A deployment can
point `ASSISTANT_LEXICON_DIR` at a folder with its own copies (same file names) to extend them.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, PrivateAttr

LEXICON_DIR = Path(__file__).parent


def lexicon_dir() -> Path:
    return Path(os.environ.get("ASSISTANT_LEXICON_DIR") or LEXICON_DIR)


@cache
def _load(name: str, directory: Path) -> dict[str, Any]:
    path = directory / f"{name}.yaml"
    if not path.is_file():  # a custom dir may override only some files
        path = LEXICON_DIR / f"{name}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"lexicon {path} must be a mapping")
    return data


def load(name: str) -> dict[str, Any]:
    return _load(name, lexicon_dir())


def phrase_pattern(phrases: list[str] | tuple[str, ...]) -> re.Pattern[str]:
    """One case-insensitive regex matching any phrase on word boundaries (longest first)."""
    return _phrase_pattern(tuple(str(p) for p in phrases))


@cache
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alts = sorted({p.strip().lower() for p in phrases if p and p.strip()}, key=len, reverse=True)
    body = "|".join(re.escape(a).replace(r"\ ", r"[\s-]+") for a in alts) or r"(?!x)x"
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.I)


class HighRiskLexicon(BaseModel):
    version: str = "1"
    concepts: dict[str, list[str]] = Field(default_factory=dict)
    _patterns: dict[str, re.Pattern[str]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        self._patterns = {c: phrase_pattern(words) for c, words in self.concepts.items()}

    def concepts_in(self, text: str) -> set[str]:
        return {c for c, pat in self._patterns.items() if pat.search(text)}


@cache
def high_risk() -> HighRiskLexicon:
    return HighRiskLexicon.model_validate(load("high_risk"))


@cache
def cues() -> dict[str, Any]:
    return load("cues")


@cache
def roles() -> dict[str, list[str]]:
    return load("roles").get("groups", {})
