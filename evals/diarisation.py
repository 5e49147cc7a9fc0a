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
from collections.abc import Callable, Sequence
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


# -- evaluation on the samples: `assistant eval diarise` -----------------------------------------------


class _FixedTurns:
    """A `Diariser` that hands back turns computed already (so one embedding pass serves DER and WDER)."""

    def __init__(self, turns: list, description: dict[str, object]) -> None:
        self._turns = turns
        self._description = description

    def diarise(self, samples: object, *, speakers: int | None = None, max_speakers: int | None = None) -> list:
        return self._turns

    def describe(self) -> dict[str, object]:
        return self._description


def sample_audio(samples_dir: Path, audio_name: str = "audio.opus") -> list[tuple[str, Path, Path]]:
    """(id, audio, reference) for every sample with speech audio and a timed reference."""
    out = []
    for ref in sorted(Path(samples_dir).glob("*/audio_segments.json")):
        audio = ref.parent / audio_name
        if audio.is_file() and load_reference(ref):
            out.append((ref.parent.name, audio, ref))
    return out


def evaluate_recording(
    audio: Path, reference: Sequence[RefUtterance], settings: object, *, model: str | None = None,
    with_wder: bool = True, collar: float = 0.25,
) -> dict[str, object]:
    """DER with the number of speakers known and estimated, and (with ``with_wder``) WDER of the
    transcription stage's output with the number known (`wder`) and on the default path, no count given
    (`wder_default`: the estimated turns, which is what a plain `assistant transcribe` uses)."""
    import time

    from assistant.audio import decode
    from assistant.diarise import EmbeddingDiariser
    from assistant.transcribe import WhisperTranscriber

    samples = decode(audio, mono=True).samples
    duration = len(samples) / 16_000
    ref_turns = [(u.start, u.end, u.speaker) for u in reference]
    people = len({u.speaker for u in reference})
    diariser = EmbeddingDiariser(settings)  # type: ignore[arg-type]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    regions, windows, embeddings = diariser.analyse(samples)
    known = diariser.turns(regions, windows, embeddings, speakers=people)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    estimated = diariser.turns(regions, windows, embeddings)
    row: dict[str, object] = {
        "speakers": people,
        "seconds": round(duration, 1),
        "diarise_wall_s": round(wall, 2),
        "diarise_cpu_s": round(cpu, 2),
        "der_known": der(ref_turns, [(t.start, t.end, t.speaker) for t in known], collar=collar).model_dump(),
        "der_estimated": der(ref_turns, [(t.start, t.end, t.speaker) for t in estimated],
                             collar=collar).model_dump(),
    }
    if with_wder:
        stage_settings = settings.model_copy(update={"diarise": "auto"})  # type: ignore[attr-defined]
        for key, turns, count in (("wder", known, people), ("wder_default", estimated, None)):
            transcriber = WhisperTranscriber(stage_settings, model, diariser=_FixedTurns(turns, diariser.describe()))
            transcript = transcriber.transcribe(samples, speakers=count)
            row[key] = wder([(u.speaker, u.text) for u in reference],
                            [(s.speaker, s.text) for s in transcript.segments]).model_dump()
        row["asr_model"] = transcript.asr.get("model")
    return row


def summarise(rows: dict[str, dict[str, object]]) -> dict[str, object]:
    """Mean DER/WDER by number of speakers (2, 3, 4+)."""
    groups: dict[str, list[dict[str, object]]] = {}
    for row in rows.values():
        n = int(row["speakers"])  # type: ignore[call-overload]
        groups.setdefault(str(n) if n < 4 else "4+", []).append(row)
    out: dict[str, object] = {}
    for key, members in sorted(groups.items()):
        entry: dict[str, object] = {"recordings": len(members)}
        for metric in ("der_known", "der_estimated"):
            entry[f"mean_{metric}"] = round(float(np.mean([m[metric]["der"] for m in members])), 4)  # type: ignore[index]
        for metric in ("wder", "wder_default"):
            wders = [m[metric]["wder"] for m in members if metric in m]  # type: ignore[index]
            if wders:
                entry[f"mean_{metric}"] = round(float(np.mean(wders)), 4)
        out[key] = entry
    return out


def evaluate_samples(
    samples_dir: Path, settings: object, *, audio_name: str = "audio.opus", only: Sequence[str] | None = None,
    model: str | None = "tiny.en", with_wder: bool = True, collar: float = 0.25,
    on_row: Callable[[str, dict[str, object]], None] | None = None,
) -> dict[str, object]:
    """DER (and WDER) of every multi-voice sample with a timed reference; ``only`` narrows it to those ids.
    ``on_row`` hears each sample's row as it is scored (a long run shows progress)."""
    rows: dict[str, dict[str, object]] = {}
    for sample_id, audio, ref in sample_audio(samples_dir, audio_name):
        if only and sample_id not in only:
            continue
        reference = load_reference(ref)
        if len({u.speaker for u in reference}) < 2:
            continue  # one voice: nothing to tell apart
        row = evaluate_recording(audio, reference, settings, model=model, with_wder=with_wder, collar=collar)
        rows[sample_id] = row
        if on_row is not None:
            on_row(sample_id, row)
    return {"audio": audio_name, "collar": collar, "samples": rows, "summary": summarise(rows)}


def row_line(sample_id: str, row: dict[str, object]) -> str:
    w = row.get("wder")
    return (f"{sample_id}: {row['speakers']} speakers, DER {row['der_known']['der']:.3f} known / "  # type: ignore[index]
            f"{row['der_estimated']['der']:.3f} estimated ({row['der_estimated']['hypothesis_speakers']} found)"  # type: ignore[index]
            + (f", WDER {w['wder']:.3f} known / {row['wder_default']['wder']:.3f} default" if w else ""))  # type: ignore[index]
