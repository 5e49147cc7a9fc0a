"""Transcription accuracy: score third-party hypotheses (PriMock57) or transcribe audio with references.

PriMock57 references are the consultation's utterances in time order (doctor and patient channels
merged), which is also what Omi Health's board uses as its reference text. Published comparison:
Whisper large-v3 on Omi's 55-file set (all but day1_consultation07 and day3_consultation03) is about
18.3% mean per-file WER under PriMock57's normaliser and about 11.9% under Omi's.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import mean, median
from typing import Any

from pydantic import BaseModel

from evals.metrics.wer import NORMALISERS, NormaliserName, domain_term_recall, error_rates

OMI_EXCLUDED = ("day1_consultation07", "day3_consultation03")


class AsrPair(BaseModel):
    id: str
    system: str
    reference: str
    hypothesis: str


def primock57_references(path: Path) -> dict[str, str]:
    refs = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                utts = sorted(row.get("utterances") or [], key=lambda u: u.get("start") or 0.0)
                refs[row["id"]] = " ".join(u["text"].strip() for u in utts) if utts else row["transcript"]
    return refs


def read_hypotheses(path: Path) -> list[dict[str, Any]]:
    """JSONL with `hypothesis` and `consultation_id` (or `id`), optional `asr_system`."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if "hypothesis" not in row:
                raise ValueError(f"{path}:{n}: no 'hypothesis' field")
            rows.append(row)
    return rows


def pair_primock57(hyp_path: Path, ref_path: Path, *, omi_set: bool = True) -> tuple[list[AsrPair], list[str]]:
    refs = primock57_references(ref_path)
    pairs, notes = [], []
    for row in read_hypotheses(hyp_path):
        cid = str(row.get("consultation_id") or row.get("id", "")).split(":")[0]
        if omi_set and cid in OMI_EXCLUDED:
            continue
        if cid not in refs:
            notes.append(f"no reference for {cid}")
            continue
        pairs.append(
            AsrPair(
                id=cid,
                system=str(row.get("asr_system", hyp_path.stem)),
                reference=refs[cid],
                hypothesis=row["hypothesis"],
            )
        )
    if omi_set:
        notes.append(f"Omi's file set: {', '.join(OMI_EXCLUDED)} excluded")
    return pairs, notes


def score_pairs(pairs: Sequence[AsrPair], normalisers: Sequence[NormaliserName] = NORMALISERS) -> dict[str, Any]:
    """Per system and normaliser: mean and median per-file WER, corpus WER, mean CER; domain-term recall."""
    by_system: dict[str, list[AsrPair]] = defaultdict(list)
    for p in pairs:
        by_system[p.system].append(p)
    systems: dict[str, Any] = {}
    per_file: list[dict[str, Any]] = []
    for system, ps in sorted(by_system.items()):
        entry: dict[str, Any] = {"files": len(ps)}
        for norm in normalisers:
            rates = [error_rates(p.reference, p.hypothesis, norm) for p in ps]
            errors = sum(r.substitutions + r.deletions + r.insertions for r in rates)
            ref_words = sum(r.ref_words for r in rates)
            entry[norm] = {
                "mean_wer": mean(r.wer for r in rates),
                "median_wer": median(r.wer for r in rates),
                "corpus_wer": errors / ref_words if ref_words else None,
                "mean_cer": mean(r.cer for r in rates),
            }
            for p, r in zip(ps, rates, strict=True):
                per_file.append({"id": p.id, "system": system, "normaliser": norm, **r.model_dump()})
        recalls = [domain_term_recall(p.reference, p.hypothesis) for p in ps]
        vals = [r.recall for r in recalls if r.recall is not None]
        missed: dict[str, int] = defaultdict(int)
        for r in recalls:
            for t in r.missed:
                missed[t] += 1
        entry["domain_term_recall"] = mean(vals) if vals else None
        entry["domain_terms_missed"] = dict(sorted(missed.items(), key=lambda kv: -kv[1])[:15])
        systems[system] = entry
    return {"normalisers": list(normalisers), "systems": systems, "per_file": per_file}


def transcribe_pairs(
    items: Sequence[tuple[str, Path, str]], transcribe: Callable[[Path], str], system: str
) -> list[AsrPair]:
    """Run `transcribe(audio_path) -> text` over (id, audio, reference) items."""
    return [AsrPair(id=i, system=system, reference=ref, hypothesis=transcribe(audio)) for i, audio, ref in items]


def default_transcriber(settings: Any) -> tuple[Callable[[Path], str], str]:
    """The product's own transcriber (`assistant.transcribe.build_transcriber`), loaded once."""
    from assistant.transcribe import build_transcriber

    transcriber = build_transcriber(settings)
    label = f"faster-whisper {settings.whisper.model} (beam {settings.whisper.beam_size})"

    def run(path: Path) -> str:
        return transcriber.transcribe(path).text

    return run, label


def read_audio_jsonl(path: Path) -> list[tuple[str, Path, str]]:
    """JSONL with `id`, `audio` (relative to the file) and `reference`."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            audio = Path(row["audio"])
            out.append((str(row["id"]), audio if audio.is_absolute() else path.parent / audio, row["reference"]))
    return out


def format_table(report: dict[str, Any]) -> str:
    """Markdown table: one row per system, mean per-file WER under each normaliser."""
    norms = report["normalisers"]
    head = "| system | files | " + " | ".join(f"WER ({n})" for n in norms) + " | CER (whisper) | domain-term recall |"
    sep = "|" + "---|" * (len(norms) + 4)
    rows = [head, sep]
    for system, e in report["systems"].items():
        cer = e.get("whisper", e[norms[0]])["mean_cer"]
        dtr = e.get("domain_term_recall")
        rows.append(
            f"| {system} | {e['files']} | "
            + " | ".join(f"{100 * e[n]['mean_wer']:.2f}%" for n in norms)
            + f" | {100 * cer:.2f}% | "
            + (f"{100 * dtr:.1f}%" if dtr is not None else "-")
            + " |"
        )
    return "\n".join(rows)
