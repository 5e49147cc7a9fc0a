"""Diarisation benchmark: `python -m benchmarks.diarise` (part of `make bench`).

Speed, added memory and accuracy of the embedded diariser (Silero VAD + Resemblyzer embeddings +
clustering) on ~3-minute synthetic mono recordings (espeak-ng, `assistant.diarise.demo`): a two-voice
home visit and a four-voice meeting. Speed is audio seconds per wall second of `diarise` on
`--threads` threads (default 2) after one warm-up run, median of `--runs`; CPU seconds are reported too,
since on a shared machine wall time depends on the neighbours (see load_average). Memory: resident set
before the encoder is loaded, after it is loaded, and the peak while diarising. Accuracy: DER
(collar 0.25 s) with the number of speakers known and estimated, and WDER through the real transcription
stage (Whisper `--model`, word timestamps) with the number known. Optionally (`--samples`) the same
DER/WDER on the samples/ recordings via `evals.diarisation`. The `diarisation` section of
bench/results.json is replaced; other sections are kept.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.audio import decode
from assistant.audio.synth import Dialogue, have_tools
from assistant.config import REPO_ROOT, Settings, get_settings
from benchmarks.asr import machine_info, merge_results

if TYPE_CHECKING:  # imported where it is used: the diariser imports torch, whose memory the benchmark measures
    from assistant.diarise import EmbeddingDiariser

DEFAULT_OUT = REPO_ROOT / "bench" / "results.json"
AUDIO_DIR = REPO_ROOT / ".cache" / "bench"
TARGETS = {"wder_2": 0.10, "wder_4": 0.20, "speed_x": 10.0}


def _rss_mb(field: str = "VmRSS") -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _recording(name: str, seconds: float) -> Dialogue:
    from assistant.diarise.demo import four_voice_meeting, two_voice_dialogue

    AUDIO_DIR.mkdir(parents=True, exist_ok=True)
    wav = AUDIO_DIR / f"diarise-{name}-{int(seconds)}s.wav"
    meta = wav.with_suffix(".json")
    if wav.is_file() and meta.is_file():
        return Dialogue.model_validate_json(meta.read_text())
    if name == "two_voices":
        d = two_voice_dialogue(wav, turns=36, min_seconds=seconds)
    else:
        d = four_voice_meeting(wav, min_seconds=seconds)
    meta.write_text(d.model_dump_json(indent=2))
    return d


def _measure(diariser: EmbeddingDiariser, settings: Settings, d: Dialogue, x: np.ndarray, runs: int,
             model: str) -> dict[str, Any]:
    """Speed, peak memory and DER of one recording (after a warm-up run), and WDER through transcription."""
    from assistant.transcribe import WhisperTranscriber
    from evals.diarisation import der, wder

    people = len({t.speaker for t in d.turns})
    diariser.diarise(x, speakers=people)  # warm-up
    walls, cpus = [], []
    _reset_peak()
    base_rss = _rss_mb()
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        turns = diariser.diarise(x, speakers=people)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    peak = _rss_mb("VmHWM")
    estimated = diariser.diarise(x)
    ref = [(t.start, t.end, t.speaker) for t in d.turns]
    wall = statistics.median(walls)
    row: dict[str, Any] = {
        "seconds": round(d.duration, 1),
        "speakers": people,
        "wall_s": round(wall, 2),
        "cpu_s": round(statistics.median(cpus), 2),
        "speed_x": round(d.duration / wall, 1),
        "speed_x_range": [round(d.duration / max(walls), 1), round(d.duration / min(walls), 1)],
        "cpu_s_range": [round(min(cpus), 2), round(max(cpus), 2)],
        "timing": {k: round(v, 2) for k, v in diariser.last_timing.items()},
        "peak_rss_during_mb": round(peak, 1),
        "peak_over_start_mb": round(peak - base_rss, 1),
        "der_known": der(ref, [(t.start, t.end, t.speaker) for t in turns]).model_dump(),
        "der_estimated": der(ref, [(t.start, t.end, t.speaker) for t in estimated]).model_dump(),
    }
    transcriber = WhisperTranscriber(settings.updated(diarise="auto"), model, diariser=diariser)
    transcript = transcriber.transcribe(x, speakers=people)
    row["wder"] = wder([(t.speaker, t.text) for t in d.turns],
                       [(s.speaker, s.text) for s in transcript.segments]).model_dump()
    row["asr_model"] = transcript.asr.model if transcript.asr else None
    return row


def run_benchmark(runs: int, threads: int, seconds: float, model: str, samples: bool) -> dict[str, Any]:
    from evals.diarisation import evaluate_recording, load_reference, sample_audio, summarise

    settings = get_settings(whisper_threads=threads)
    load_before = os.getloadavg()
    recordings = {name: _recording(name, seconds) for name in ("two_voices", "four_voices")}
    audio = {name: decode(d.path).samples for name, d in recordings.items()}

    memory: dict[str, float] = {"before_encoder_load_mb": round(_rss_mb(), 1)}
    from assistant.diarise import EmbeddingDiariser
    from assistant.diarise.encoder import shared_encoder

    t0 = time.perf_counter()
    shared_encoder()
    load_s = time.perf_counter() - t0
    memory["after_encoder_load_mb"] = round(_rss_mb(), 1)
    diariser = EmbeddingDiariser(settings)

    out = {name: _measure(diariser, settings, d, audio[name], runs, model) for name, d in recordings.items()}

    result: dict[str, Any] = {
        "engine": diariser.describe(),
        "threads": threads,
        "runs": runs,
        "encoder_load_s": round(load_s, 2),
        "memory": memory,
        "recordings": out,
        "targets": TARGETS,
        "meets_targets": {
            "wder_2": out["two_voices"]["wder"]["wder"] <= TARGETS["wder_2"],
            "wder_4": out["four_voices"]["wder"]["wder"] <= TARGETS["wder_4"],
            "speed_x": min(r["speed_x"] for r in out.values()) >= TARGETS["speed_x"],
        },
        "note": "espeak-ng voices; see docs in assistant/diarise for why accuracy on real voices may differ",
    }
    if samples:
        rows = {
            sid: evaluate_recording(path, load_reference(ref), settings, model=model)
            for sid, path, ref in sample_audio(REPO_ROOT / "samples")
        }
        result["samples"] = {"audio": "audio.opus", "per_sample": rows, "summary": summarise(rows)}
    result.update(
        load_average={"before": [round(v, 2) for v in load_before], "after": [round(v, 2) for v in os.getloadavg()]},
        machine=machine_info(),
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.diarise", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per recording (median reported)")
    parser.add_argument("--threads", type=int, default=2, help="Whisper threads")
    parser.add_argument("--seconds", type=float, default=180.0, help="minimum length of each recording")
    parser.add_argument("--model", choices=["base", "tiny.en"], default="tiny.en", help="Whisper model for WDER")
    parser.add_argument("--samples", action="store_true", help="also score samples/*/audio.opus (slow)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file (merged)")
    args = parser.parse_args(argv)
    missing = have_tools()
    if missing:
        print(f"missing {', '.join(missing)} (apt-get install espeak-ng sox)", file=sys.stderr)
        return 2
    result = run_benchmark(args.runs, args.threads, args.seconds, args.model, args.samples)
    merge_results(args.out, "diarisation", result)
    for name, row in result["recordings"].items():
        print(f"diarisation {name} ({row['seconds']:.0f} s, {row['speakers']} speakers): {row['speed_x']}x real time "
              f"(range {row['speed_x_range']}; {row['cpu_s']} CPU s), DER {row['der_known']['der']:.3f} known / "
              f"{row['der_estimated']['der']:.3f} estimated, WDER {row['wder']['wder']:.3f}")
    print(f"memory {result['memory']} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
