"""Who-said-what metrics: diarisation error rate (DER) and word-level diarisation error rate (WDER).

DER (NIST md-eval style, computed on 10 ms frames): (missed speech + false alarm + speaker confusion) /
reference speech, after the one-to-one mapping of hypothesis to reference speakers that maximises the
agreeing time (Hungarian). A collar (default 0.25 s) either side of every reference turn boundary is not
scored, as is customary: a human's boundary is itself uncertain by about that much. Overlapping speech is
not scored (the references here have none).

WDER (Shafey et al., 2019, "Joint speech recognition and speaker diarization via sequence transduction"):
the ASR words are aligned to the reference words (jiwer, after the `basic-en-v1` normaliser); among the
aligned words (correct and substituted), the fraction whose speaker is wrong under the best one-to-one
mapping of hypothesis to reference speakers. Inserted and deleted words are ASR errors, counted by WER.

References: `samples/<id>/audio_segments.json` (per-utterance speaker, start, end, text) or any list of
(start, end, speaker[, text]) turns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from assistant.transcribe.wer import NORMALISER, normalise

Turn = tuple[float, float, str]


class RefUtterance(BaseModel):
    start: float
    end: float
    speaker: str
    text: str = ""


class DerResult(BaseModel):
    der: float
    missed: float
    false_alarm: float
    confusion: float
    scored_seconds: float
    collar: float
    reference_speakers: int
    hypothesis_speakers: int
    mapping: dict[str, str]  # hypothesis label -> reference speaker


class WderResult(BaseModel):
    wder: float
    aligned_words: int  # correct + substituted
    wrong_speaker: int
    reference_words: int
    hypothesis_words: int
    mapping: dict[str, str]
    normaliser: str = NORMALISER


def load_reference(path: Path) -> list[RefUtterance]:
    """`audio_segments.json` (a samples/ audio reference) as utterances."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rows = data["segments"] if isinstance(data, dict) else data
    return [RefUtterance(start=r["start"], end=r["end"], speaker=r["speaker"], text=r.get("text", "")) for r in rows]


def _best_mapping(counts: np.ndarray) -> list[tuple[int, int]]:
    """(ref index, hyp index) pairs of the one-to-one mapping that maximises the agreeing mass."""
    from scipy.optimize import linear_sum_assignment

    if counts.size == 0:
        return []
    rows, cols = linear_sum_assignment(-counts)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if counts[r, c] > 0]


def der(reference: Sequence[Turn], hypothesis: Sequence[Turn], *, collar: float = 0.25, step: float = 0.01
        ) -> DerResult:
    """Diarisation error rate of ``hypothesis`` turns against ``reference`` turns (start, end, speaker)."""
    end = max([e for _, e, _ in reference] + [e for _, e, _ in hypothesis] + [0.0])
    n = int(np.ceil(end / step)) + 1
    ref_labels = sorted({s for *_, s in reference})
    hyp_labels = sorted({s for *_, s in hypothesis})
    ref = np.full(n, -1)
    hyp = np.full(n, -1)
    scored = np.ones(n, dtype=bool)
    for start, stop, who in reference:
        ref[int(round(start / step)):int(round(stop / step))] = ref_labels.index(who)
        for edge in (start, stop):
            scored[max(0, int(round((edge - collar) / step))):int(round((edge + collar) / step))] = False
    for start, stop, who in hypothesis:
        hyp[int(round(start / step)):int(round(stop / step))] = hyp_labels.index(who)
    ref, hyp = ref[scored], hyp[scored]
    speech = int((ref >= 0).sum())
    missed = int(((ref >= 0) & (hyp < 0)).sum())
    false_alarm = int(((ref < 0) & (hyp >= 0)).sum())
    both = (ref >= 0) & (hyp >= 0)
    counts = np.zeros((len(ref_labels), max(1, len(hyp_labels))))
    np.add.at(counts, (ref[both], hyp[both]), 1)
    pairs = _best_mapping(counts)
    agreeing = sum(counts[r, h] for r, h in pairs)
    confusion = int(both.sum() - agreeing)
    denom = max(speech, 1)
    return DerResult(
        der=(missed + false_alarm + confusion) / denom,
        missed=missed / denom,
        false_alarm=false_alarm / denom,
        confusion=confusion / denom,
        scored_seconds=round(speech * step, 2),
        collar=collar,
        reference_speakers=len(ref_labels),
        hypothesis_speakers=len(hyp_labels),
        mapping={hyp_labels[h]: ref_labels[r] for r, h in pairs},
    )


def _words(utterances: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(normalised words, speaker per word) of (speaker, text) utterances."""
    words: list[str] = []
    speakers: list[str] = []
    for who, text in utterances:
        for word in normalise(text).split():
            words.append(word)
            speakers.append(who)
    return words, speakers


def wder(reference: Sequence[tuple[str, str]], hypothesis: Sequence[tuple[str, str]]) -> WderResult:
    """Word-level diarisation error rate of ``hypothesis`` (speaker, text) segments in time order against
    ``reference`` (speaker, text) utterances in time order."""
    import jiwer

    ref_words, ref_spk = _words(reference)
    hyp_words, hyp_spk = _words(hypothesis)
    if not ref_words or not hyp_words:
        return WderResult(wder=0.0 if not ref_words else 1.0, aligned_words=0, wrong_speaker=0,
                          reference_words=len(ref_words), hypothesis_words=len(hyp_words), mapping={})
    out = jiwer.process_words(" ".join(ref_words), " ".join(hyp_words))
    pairs: list[tuple[str, str]] = []  # (ref speaker, hyp speaker) per aligned word
    for chunk in out.alignments[0]:
        if chunk.type in ("equal", "substitute"):
            for i, j in zip(range(chunk.ref_start_idx, chunk.ref_end_idx),
                            range(chunk.hyp_start_idx, chunk.hyp_end_idx), strict=True):
                pairs.append((ref_spk[i], hyp_spk[j]))
    ref_labels = sorted({r for r, _ in pairs})
    hyp_labels = sorted({h for _, h in pairs})
    counts = np.zeros((len(ref_labels), max(1, len(hyp_labels))))
    for r, h in pairs:
        counts[ref_labels.index(r), hyp_labels.index(h)] += 1
    mapping = {hyp_labels[h]: ref_labels[r] for r, h in _best_mapping(counts)}
    wrong = sum(1 for r, h in pairs if mapping.get(h) != r)
    return WderResult(
        wder=wrong / len(pairs) if pairs else 1.0,
        aligned_words=len(pairs),
        wrong_speaker=wrong,
        reference_words=len(ref_words),
        hypothesis_words=len(hyp_words),
        mapping=mapping,
    )


def score_transcript(reference: Sequence[RefUtterance], transcript: object,
                     turns: Sequence[Turn] | None = None, *, collar: float = 0.25) -> dict[str, object]:
    """DER of the diariser's ``turns`` (or of the transcript's timed segments when not given) and WDER of
    the transcript's segments, against ``reference``. ``transcript``: an `assistant.transcript.Transcript`."""
    segments = list(getattr(transcript, "segments", []))
    ref_turns = [(u.start, u.end, u.speaker) for u in reference]
    hyp_turns = list(turns) if turns is not None else [
        (s.start, s.end, s.speaker) for s in segments if s.start is not None and s.end is not None
    ]
    d = der(ref_turns, hyp_turns, collar=collar)
    w = wder([(u.speaker, u.text) for u in reference], [(s.speaker, s.text) for s in segments])
    return {"der": d.model_dump(), "wder": w.model_dump()}
