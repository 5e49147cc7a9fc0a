"""Text helpers that drafting, transcription and evaluation share: sentences, number words, stopwords, stems
and medicine names. One copy of each, so that a fix reaches every caller.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from assistant import lexicons

# --- sentences -----------------------------------------------------------------------------------------

# A stop ends a sentence only before a space or the end: "£1,386.40" and "leanne.hart@example.co.uk" are one.
_SPOKEN = re.compile(r"(?:[^.!?]|[.!?]+(?=[^\s.!?\"')]))+(?:[.!?]+[\"')]*|$)")
# Written text also needs a capital, digit, quote, bracket or bullet after the stop, so that abbreviations
# ("p.o. daily", "?UTI. also") and lower-cased dialogue (ACI-Bench) are not cut.
_WRITTEN_BREAK = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9•-])")


def sentences(text: str) -> list[str]:
    """Spoken sentences: every stop (with its closing quotes) before a space ends one."""
    return [s.strip() for s in _SPOKEN.findall(text) if s.strip()]


def written_sentences(text: str) -> list[str]:
    """Sentences of written or capitalised text: a stop ends one only before a capital, digit or opening mark."""
    return [s.strip() for s in _WRITTEN_BREAK.split(text) if s.strip()]


# --- number words --------------------------------------------------------------------------------------

NUMBER_WORDS: dict[str, int] = {
    **{w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                  "fourteen fifteen sixteen seventeen eighteen nineteen".split())},
    **{w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)},
    "hundred": 100,
    "thousand": 1000,
}


def number_words(n: int) -> str:
    """A whole number as plain English words without "and", commas or hyphens ("one hundred five")."""
    from num2words import num2words

    return " ".join(w for w in re.split(r"[\s,-]+", num2words(n)) if w != "and")


def words_to_number(text: str) -> int | None:
    """'one thousand three hundred and eighty-six' -> 1386; None when there is no number word. Other words
    are skipped, and "a" counts one when it leads ("a hundred")."""
    total = current = 0
    seen = False
    for w in re.findall(r"[a-z]+", text.lower()):
        if w == "a":
            current += 1 if not seen else 0
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w == "thousand":
            total += max(current, 1) * 1000
            current = 0
        elif w in NUMBER_WORDS:
            current += NUMBER_WORDS[w]
        else:
            continue
        seen = True
    return total + current if seen else None


# --- stopwords and stems -------------------------------------------------------------------------------

# English function words, then the verbs of reporting, fillers and titles that say nothing about a case.
STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself
him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't
my myself nor of off on once only or other ought our ours ourselves out over own same shan't she she'd she'll
she's should shouldn't so some such than that that's the their theirs them themselves then there there's these
they they'd they'll they're they've this those through to too under until up very was wasn't we we'd we'll
we're we've were weren't what what's when when's where where's which while who who's whom why why's with won't
would wouldn't you you'd you'll you're you've your yours yourself yourselves
said says say told tell tells reported reports stated states explained explains mentioned mentions asked asks
confirmed confirms described describes noted notes added adds shared shares discussed discusses advised advises
replied replies answered answers informed informs indicated indicates expressed expresses explain report
just really also well yeah yes okay ok oh um uh like bit lot quite still got get gets getting going went
thing things something anything everything know think thinks one
mr mrs ms miss dr
""".split())


def stem(word: str) -> str:
    """A light English stem for matching words across a statement and its sources: possessive, then one of
    -ies/-ing/-ed/-es/-s/-ly when enough of the word is left."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    for suffix, min_len in (("ies", 4), ("ing", 5), ("ed", 4), ("es", 4), ("s", 3), ("ly", 5)):
        if w.endswith(suffix) and len(w) - len(suffix) >= min_len - 1:
            return w[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return w


def snowball_stem(word: str) -> str:
    """The Snowball (Porter 2) English stem, for the evaluation's matching of notes written by other people."""
    return _snowball().stemWord(word)


@cache
def _snowball() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


# --- medicines -----------------------------------------------------------------------------------------


def medicine_names() -> list[str]:
    """The medicine lexicon (`lexicons/medicines.yaml`, which a deployment may extend)."""
    return [str(m) for m in lexicons.load("medicines").get("medicines", [])]


@cache
def _medicine_pattern() -> re.Pattern[str]:
    return lexicons.phrase_pattern(medicine_names())


def medicines_in(text: str) -> set[str]:
    """Medicine names in `text`, lower-cased, multi-word names whole ("sodium valproate")."""
    return {m.group(0).lower() for m in _medicine_pattern().finditer(text)}
