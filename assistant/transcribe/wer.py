"""Word error rate under one named normaliser, so every WER we report means the same thing.

Normaliser ``basic-en-v1``: lower-case; digits spelled out as English words ("23" -> "twenty three",
"1,500" -> "one thousand five hundred"); "%" -> "percent"; apostrophes dropped ("don't" -> "dont");
every other non-alphanumeric character becomes a space; whitespace collapsed. References are written
with numbers as spoken words, so both sides meet in the same form.
"""

from __future__ import annotations

import re

from assistant.text import number_words

NORMALISER = "basic-en-v1"

_DIGITS = "zero one two three four five six seven eight nine".split()


def _spell(match: re.Match[str]) -> str:
    digits = match.group(0).replace(",", "")
    if len(digits) > 12:
        return " ".join(_DIGITS[int(d)] for d in digits)
    return f" {number_words(int(digits))} "


def normalise(text: str) -> str:
    text = text.lower().replace("%", " percent ")
    text = re.sub(r"\d{1,3}(?:,\d{3})+|\d+", _spell, text)
    text = re.sub(r"['’`]", "", text)
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


def wer(reference: str, hypothesis: str) -> float:
    """WER of ``hypothesis`` against ``reference``, both normalised with `normalise`."""
    import jiwer

    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(jiwer.wer(ref, hyp))
