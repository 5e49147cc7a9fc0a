"""Word error rate under one named normaliser, so every WER we report means the same thing.

Normaliser ``basic-en-v1``: lower-case; digits spelled out as English words ("23" -> "twenty three",
"1,500" -> "one thousand five hundred"); "%" -> "percent"; apostrophes dropped ("don't" -> "dont");
every other non-alphanumeric character becomes a space; whitespace collapsed. References are written
with numbers as spoken words, so both sides meet in the same form.
"""

from __future__ import annotations

import re

NORMALISER = "basic-en-v1"

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand"), (100, "hundred"))


def number_words(n: int) -> str:
    """0..999,999,999,999 as plain English words, without "and" ("one hundred five")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    for value, name in _SCALES:
        if n >= value:
            high, rest = divmod(n, value)
            return f"{number_words(high)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise ValueError(n)  # pragma: no cover


def _spell(match: re.Match[str]) -> str:
    digits = match.group(0).replace(",", "")
    if len(digits) > 12:
        return " ".join(_ONES[int(d)] for d in digits)
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
