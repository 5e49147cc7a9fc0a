"""Word and character error rates under a *named* normaliser, and recall of domain terms.

The normaliser moves WER more than many model changes do (Whisper large-v3 on PriMock57 reads ~12% under
a Whisper-style normaliser and ~18% under PriMock57's own), so every number we report carries the name
of the normaliser that produced it:

- ``primock57``: PriMock57's official `preprocess_text` (babylonhealth/primock57, scripts/utils.py): strip
  the transcript tags, lower-case, ``-`` -> space, keep only ``[a-z ']``.
- ``whisper``: OpenAI Whisper's `EnglishTextNormalizer` (ported in `vendor/whisper_english.py`): contractions
  expanded, numbers to digits, British -> American spelling, fillers (um, uh, hmm) removed.
- ``omi``: Omi Health's leaderboard normaliser (Omi-Health/medical-STT-eval, evaluate/text_normalizer.py
  + wer_calculator.py): Whisper's, but "oh" stays a word, then a post map (okay->ok, yeah->yes, mum->mom,
  alright->all right, ...), then lower-case and strip every non-word character.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache, lru_cache
from typing import Literal

from pydantic import BaseModel, Field

from assistant.text import medicine_names

NormaliserName = Literal["primock57", "whisper", "omi"]
NORMALISERS: tuple[NormaliserName, ...] = ("primock57", "whisper", "omi")

# PriMock57 reference-transcript tags (scripts/utils.py, strip_transcript_tags).
_PRIMOCK_TAGS = ("<UNSURE>", "</UNSURE>", "<UNIN/>", "<INAUDIBLE_SPEECH/>")

# Omi's word map, applied after the Whisper-style steps (evaluate/text_normalizer.py, POST_WORD_MAP).
# "bye bye" is in their map too but can never fire on single words; it is kept for fidelity.
_OMI_POST_WORD_MAP = {
    "okay": "ok",
    "k": "ok",
    "mum": "mom",
    "mummy": "mommy",
    "ohh": "oh",
    "ohhh": "oh",
    "ahh": "ah",
    "ahhh": "ah",
    "yeah": "yes",
    "yep": "yes",
    "yea": "yes",
    "yah": "yes",
    "nope": "no",
    "nah": "no",
    "kinda": "kind of",
    "sorta": "sort of",
    "dunno": "do not know",
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "got to",
    "goodbye": "bye",
    "bye bye": "bye",
    "alright": "all right",
}


@lru_cache(maxsize=2048)  # references are scored against several systems
def normalise_primock57(text: str) -> str:
    """PriMock57's `preprocess_text`, line for line."""
    for tag in _PRIMOCK_TAGS:
        text = text.replace(tag, "")
    text = re.sub(r"\s+", " ", text).strip()
    text = text.lower()
    text = text.replace("-", " ")
    text = re.sub(r"[^a-z ']+", "", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip()


@cache
def _whisper() -> Callable[[str], str]:
    from evals.metrics.vendor.whisper_english import EnglishTextNormalizer

    return EnglishTextNormalizer()


@cache
def _omi() -> Callable[[str], str]:
    from evals.metrics.vendor.whisper_english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    numbers = norm.standardize_numbers
    # Omi's fix: in conversation "oh" is an interjection, not the digit zero.
    numbers.zeros = {"o", "zero"}
    numbers.decimals = {*numbers.ones, *numbers.tens, *numbers.zeros}
    numbers.words.discard("oh")
    return norm


@lru_cache(maxsize=2048)
def normalise_whisper(text: str) -> str:
    return _whisper()(text).strip()


@lru_cache(maxsize=2048)
def normalise_omi(text: str) -> str:
    text = _omi()(text)
    text = " ".join(_OMI_POST_WORD_MAP.get(w, w) for w in text.split())
    # Their WER function normalises once more: lower-case and drop every non-word character.
    text = re.sub(r"\s+", " ", text.replace("\n", " "))
    text = re.sub(r"[^\w\s]", "", text.lower())
    return " ".join(text.split())


def normaliser(name: NormaliserName) -> Callable[[str], str]:
    funcs: dict[str, Callable[[str], str]] = {
        "primock57": normalise_primock57,
        "whisper": normalise_whisper,
        "omi": normalise_omi,
    }
    if name not in funcs:
        raise ValueError(f"unknown normaliser {name!r}; known: {', '.join(NORMALISERS)}")
    return funcs[name]


class ErrorRates(BaseModel):
    normaliser: str
    wer: float = Field(description="word error rate, 0..1 (can exceed 1 with many insertions)")
    cer: float
    substitutions: int
    deletions: int
    insertions: int
    hits: int
    ref_words: int
    hyp_words: int


def error_rates(reference: str, hypothesis: str, norm: NormaliserName = "whisper") -> ErrorRates:
    """WER and CER of one file after normalising both sides with the named normaliser."""
    import jiwer

    fn = normaliser(norm)
    ref, hyp = fn(reference), fn(hypothesis)
    ref_words, hyp_words = len(ref.split()), len(hyp.split())
    if ref_words == 0 or hyp_words == 0:
        # jiwer refuses an empty reference; by the usual convention every word on the other side is an error
        # (and nothing against nothing is no error).
        errors = float(ref_words + hyp_words > 0)
        return ErrorRates(normaliser=norm, wer=errors, cer=errors, substitutions=0, deletions=ref_words,
                          insertions=hyp_words, hits=0, ref_words=ref_words, hyp_words=hyp_words)
    from rapidfuzz.distance import Levenshtein  # jiwer's own backend; CER without building an alignment

    words = jiwer.process_words(ref, hyp)
    return ErrorRates(
        normaliser=norm,
        wer=words.wer,
        cer=Levenshtein.distance(ref, hyp) / len(ref),
        substitutions=words.substitutions,
        deletions=words.deletions,
        insertions=words.insertions,
        hits=words.hits,
        ref_words=ref_words,
        hyp_words=hyp_words,
    )


# --- domain terms ---------------------------------------------------------------------------------

# Words whose mis-recognition changes a record: the medicine lexicon (`assistant.text.medicine_names`) and
# these clinical, social-care and safeguarding terms.
CARE_TERMS: tuple[str, ...] = (
    "inhaler",
    "antihistamine",
    "antibiotics",
    "contraceptive",
    "allergy",
    "allergic",
    "asthma",
    "diabetes",
    "hypertension",
    "migraine",
    "gastroenteritis",
    "diarrhoea",
    "vomiting",
    "temperature",
    "fever",
    "blood pressure",
    "safeguarding",
    "self-harm",
    "suicide",
    "suicidal",
    "overdose",
    "police",
    "domestic abuse",
    "neglect",
    "carer",
    "care plan",
    "care act",
    "eligibility",
    "advocate",
    "capacity",
    "consent",
    "referral",
    "benefits",
    "universal credit",
    "arrears",
    "eviction",
    "tenancy",
    "housing",
    "foster",
    "social worker",
    "occupational therapist",
    "district nurse",
    "dementia",
    "falls",
    "mobility",
    "pressure sore",
    "respite",
)


def domain_terms() -> tuple[str, ...]:
    return (*medicine_names(), *CARE_TERMS)


def domain_terms_in(text: str, terms: Iterable[str] | None = None) -> list[str]:
    """Terms (normalised the PriMock57 way, so hyphens and case do not matter) that occur in `text`."""
    norm = f" {normalise_primock57(text)} "
    found = []
    for term in domain_terms() if terms is None else terms:
        t = normalise_primock57(term)
        if t and f" {t} " in norm:
            found.append(t)
    return sorted(set(found))


class TermRecall(BaseModel):
    terms_in_reference: list[str]
    missed: list[str]
    recall: float | None = Field(description="None when the reference holds no domain term")


def domain_term_recall(reference: str, hypothesis: str, terms: Sequence[str] | None = None) -> TermRecall:
    """Share of the domain terms present in the reference that the hypothesis also contains.

    American/British spellings are treated alike (diarrhoea = diarrhea) by mapping both sides through
    Whisper's spelling table first, so a correct ASR output in the other spelling is not a miss.
    """
    spell = _spelling()
    ref_terms = domain_terms_in(spell(reference), [spell(normalise_primock57(t)) for t in terms or domain_terms()])
    hyp = f" {spell(normalise_primock57(hypothesis))} "
    missed = [t for t in ref_terms if f" {t} " not in hyp]
    recall = None if not ref_terms else 1 - len(missed) / len(ref_terms)
    return TermRecall(terms_in_reference=ref_terms, missed=missed, recall=recall)


@cache
def _spelling() -> Callable[[str], str]:
    from evals.metrics.vendor.whisper_english import EnglishSpellingNormalizer

    table = EnglishSpellingNormalizer()

    def spell(text: str) -> str:
        return table(normalise_primock57(text))

    return spell
