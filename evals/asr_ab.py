"""Decoding A/B on the samples' audio (every variant) and jfk.wav, scored with `evals.asr.score_pairs`.

`python -m evals.asr_ab --seconds 60` transcribes the first N seconds of each recording (cut at the end of
the last reference utterance before N, so no word is half in) with each variant of the decode options,
through the product's own `WhisperTranscriber` (word timestamps on, as on the diarised default path;
diarisation itself off, since it does not change the words). Results in evals/README.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import REPO_ROOT, Settings
from assistant.transcribe.engine import WhisperTranscriber
from evals.asr import AsrPair, score_pairs

# The words a frontline recording is likely to hold that a general model mishears.
VOCABULARY = ("IDVA, MARAC, section 47, section 17, child protection plan, care plan, care act, GP, "
              "sertraline, paracetamol, ramipril, atorvastatin, doxycycline, safeguarding, CAMHS, EHCP")


class Variant(WhisperTranscriber):
    """The product's transcriber with some decode options replaced."""

    def __init__(self, settings: Settings, overrides: dict[str, Any], prompt: str | None = None) -> None:
        super().__init__(settings)
        self.overrides, self.prompt, self.present = overrides, prompt, ""

    def decode_options(self, per_channel: bool = False) -> dict[str, Any]:
        options = {**super().decode_options(per_channel), "word_timestamps": True, **self.overrides}
        if self.prompt:  # "initial_prompt" (first window, then conditioning) or "hotwords" (every window)
            options[self.prompt] = f"{self.present}. {VOCABULARY}."
        return options


OFF, ON = {"condition_on_previous_text": False}, {"condition_on_previous_text": True}
VARIANTS: dict[str, tuple[dict[str, Any], str | None]] = {
    "conditioning off (before)": (OFF, None),
    "conditioning on": (ON, None),
    "conditioning off + hotwords": (OFF, "hotwords"),
    "conditioning on + initial_prompt": (ON, "initial_prompt"),
    "conditioning off, no temperature fallback": ({**OFF, "temperature": 0.0}, None),
}


def items(seconds: float, test_data: Path | None) -> list[tuple[str, Path, str, float, str]]:
    """(id, audio, reference text, clip end, people present) for every sample audio variant and jfk.wav."""
    out = []
    for ref in sorted((REPO_ROOT / "samples").glob("*/audio_segments.json")):
        rows = json.loads(ref.read_text())["segments"]
        kept = [r for r in rows if r["end"] <= seconds] or rows[:1]
        notes = ref.parent / "transcript.txt"
        first = notes.read_text().splitlines()[0] if notes.is_file() else ""
        present = first if first.lower().startswith("present:") else ""
        for audio in sorted(ref.parent.glob("audio*.opus")):
            if kept and kept[0]["text"].strip():
                out.append((f"{ref.parent.name}/{audio.stem}", audio, " ".join(r["text"] for r in kept),
                            kept[-1]["end"] + 0.3, present))
    jfk = (test_data or REPO_ROOT / ".cache" / "test-data") / "jfk.wav"
    if jfk.is_file():
        out.append(("jfk", jfk, "And so my fellow Americans, ask not what your country can do for you, ask what "
                    "you can do for your country.", 11.0, ""))
    return out


def run(settings: Settings, seconds: float, test_data: Path | None, only: list[str] | None = None,
        out: Path | None = None) -> dict[str, Any]:
    from assistant.audio import decode

    settings = settings.updated(language_check=0.0)
    clips = []
    for item_id, audio, ref, end, present in items(seconds, test_data):
        samples = decode(audio, mono=False).samples
        clips.append((item_id, np.ascontiguousarray(samples[..., : int(end * 16_000)]), ref, present))
    pairs, timing = [], {}
    for name, (overrides, prompt) in VARIANTS.items():
        if only and name not in only:
            continue
        transcriber = Variant(settings, overrides, prompt)
        t0 = time.perf_counter()
        for item_id, samples, ref, present in clips:
            transcriber.present = present
            text = transcriber.transcribe(samples, speakers=1).text
            pairs.append(AsrPair(id=item_id, system=name, reference=ref, hypothesis=text))
        timing[name] = round(time.perf_counter() - t0, 1)
        print(f"{name}: {timing[name]} s", flush=True)
        report = score_pairs(pairs, normalisers=["whisper"])
        report["seconds"], report["wall_s"], report["files"] = seconds, timing, len(clips)
        report["audio_seconds"] = round(sum(c[1].shape[-1] for c in clips) / 16_000, 1)
        if out is not None:  # after each variant: a long run that is stopped keeps what it measured
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def main() -> int:
    import argparse

    from assistant.config import get_settings

    parser = argparse.ArgumentParser(prog="python -m evals.asr_ab")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--test-data", type=Path)
    parser.add_argument("--variant", action="append")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "asr_ab.json")
    args = parser.parse_args()
    report = run(get_settings(), args.seconds, args.test_data, args.variant, args.out)
    for system, entry in report["systems"].items():
        w = entry["whisper"]
        print(f"| {system} | {entry['files']} | {100 * w['median_wer']:.2f}% | {100 * w['mean_wer']:.2f}% | "
              f"{100 * w['corpus_wer']:.2f}% | {100 * (entry['domain_term_recall'] or 0):.1f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
