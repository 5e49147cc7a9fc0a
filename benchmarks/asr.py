"""ASR speed benchmark: `python -m benchmarks.asr` (or `make bench`).

On a ~3-minute synthetic two-voice dialogue (espeak-ng + sox, 16 kHz mono), time our whole transcribe
path (probe, decode, hash, VAD + Whisper, filtering, Transcript) against a bare faster-whisper loop
(`decode_audio` + `WhisperModel.transcribe` + iterate the segments) with the same loaded model and the same
decoding options. Runs are interleaved, alternating which path goes first, and the median of each is
reported: real-time factor (processing seconds per audio second), speed (audio seconds per processing
second), their ratio (ours speed / bare speed; target >= 0.97), peak RSS per path and the WER of each
(the same words show both paths did the same work). The `asr` section of bench/results.json is replaced;
other sections (written by other benchmarks) are kept.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.audio.synth import DEFAULT_VOICES, VISIT_SCRIPT, Dialogue, have_tools, synthesise_dialogue
from assistant.config import REPO_ROOT, get_settings
from assistant.transcribe.engine import WhisperTranscriber, load_model
from assistant.transcribe.wer import NORMALISER, wer

TARGET_RATIO = 0.97
DEFAULT_OUT = REPO_ROOT / "bench" / "results.json"
AUDIO_DIR = REPO_ROOT / ".cache" / "bench"


# -- measurement helpers ---------------------------------------------------------------------------


def _reset_peak_rss() -> bool:
    """Linux can reset a process's high-water mark (VmHWM), which gives a peak per run."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux: whole-process peak


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 1
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str | None]:
    return {
        "frontline-assistant": _version("frontline-assistant"),
        "git_commit": _git_commit(),
        **{d: _version(d) for d in ("faster-whisper", "ctranslate2", "av", "numpy", "onnxruntime",
                                    "llama_cpp_python")},
    }


# -- the two paths -----------------------------------------------------------------------------------


def bench_audio(seconds: float) -> Dialogue:
    """The benchmark dialogue, synthesised once into .cache/bench (same voices and script every time)."""
    missing = have_tools()
    if missing:
        sys.exit(f"error: {' and '.join(missing)} needed to synthesise the benchmark audio "
                 "(apt-get install espeak-ng sox)")
    AUDIO_DIR.mkdir(parents=True, exist_ok=True)
    meta = AUDIO_DIR / f"dialogue-{int(seconds)}s.json"
    if meta.is_file():
        dialogue = Dialogue.model_validate_json(meta.read_text())
        if dialogue.path.is_file():
            return dialogue
    dialogue = synthesise_dialogue(AUDIO_DIR / f"dialogue-{int(seconds)}s.wav", VISIT_SCRIPT, min_seconds=seconds)
    meta.write_text(dialogue.model_dump_json(indent=2))
    return dialogue


def make_paths(transcriber: WhisperTranscriber, model: Any, path: Path) -> dict[str, Callable[[], str]]:
    from faster_whisper import decode_audio

    options = transcriber.decode_options()

    def ours() -> str:  # one speaker: the same ASR work as the bare loop (diarisation: benchmarks/diarise.py)
        return transcriber.transcribe(path, speakers=1).text

    def bare() -> str:
        audio = decode_audio(str(path), sampling_rate=16_000)
        segments, _ = model.transcribe(audio, **options)
        return " ".join(s.text.strip() for s in segments)

    return {"ours": ours, "bare": bare}


def run_benchmark(runs: int, model_name: str | None, seconds: float) -> dict[str, Any]:
    settings = get_settings()
    transcriber = WhisperTranscriber(settings, model_name)
    dialogue = bench_audio(seconds)
    load_started = time.perf_counter()
    model = load_model(settings, transcriber.model_name)  # shared by both paths; loading is not timed
    load_s = time.perf_counter() - load_started
    paths = make_paths(transcriber, model, dialogue.path)

    # Warm-up on a short clip: the VAD model and CTranslate2's first-call allocations are not timed.
    with tempfile.TemporaryDirectory() as tmp:
        warm = synthesise_dialogue(Path(tmp) / "warm.wav", VISIT_SCRIPT[:1])
        for fn in make_paths(transcriber, model, warm.path).values():
            fn()

    load_before = os.getloadavg()
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    peaks: dict[str, list[float]] = {"ours": [], "bare": []}
    texts: dict[str, str] = {}
    per_run_peak = _reset_peak_rss()
    for i in range(runs):
        order = ("ours", "bare") if i % 2 == 0 else ("bare", "ours")
        for name in order:
            _reset_peak_rss()
            started = time.perf_counter()
            texts[name] = paths[name]()
            times[name].append(time.perf_counter() - started)
            peaks[name].append(_peak_rss_mb())
            print(f"run {i + 1}/{runs} {name:4}: {times[name][-1]:6.2f} s "
                  f"({dialogue.duration / times[name][-1]:.1f}x real time)", file=sys.stderr)
    load_after = os.getloadavg()

    def summary(name: str) -> dict[str, Any]:
        median = statistics.median(times[name])
        return {
            "seconds": [round(t, 3) for t in times[name]],
            "median_s": round(median, 3),
            "rtf": round(median / dialogue.duration, 4),
            "speed_x": round(dialogue.duration / median, 2),
            "peak_rss_mb": round(max(peaks[name]), 1),
            "wer": round(wer(dialogue.reference, texts[name]), 4),
        }

    ours, bare = summary("ours"), summary("bare")
    ratio = bare["median_s"] / ours["median_s"]  # = ours speed / bare speed
    return {
        "description": "our transcribe path vs a bare faster-whisper loop, same model and decoding options",
        "ratio": round(ratio, 4),
        "rtf": ours["rtf"],
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "ours": ours,
        "bare": bare,
        "runs_each": runs,
        "order": "interleaved; alternating which path runs first",
        "peak_rss_note": "per run (VmHWM reset before each run)" if per_run_peak
        else "whole-process peak (ru_maxrss)",
        "model_load_s": round(load_s, 2),
        "audio": {
            "seconds": round(dialogue.duration, 2),
            "sample_rate": dialogue.sample_rate,
            "turns": len(dialogue.turns),
            "words": len(dialogue.reference.split()),
            "source": "espeak-ng two-voice dialogue (assistant.audio.synth.VISIT_SCRIPT), sox to 16 kHz mono",
            "voices": {k: v.model_dump() for k, v in DEFAULT_VOICES.items()},
        },
        "asr_settings": {k: v for k, v in transcriber.asr_settings().items() if k != "engine_version"},
        "wer_normaliser": NORMALISER,
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
        "machine": machine_info(),
        "versions": versions(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def long_audio(minutes: float) -> Path:
    """A recording of at least ``minutes`` made by joining the samples' one-microphone audio (ffmpeg concat,
    kept as Opus like a phone's upload); built once under .cache/bench."""
    path = AUDIO_DIR / f"long_{minutes:g}min.opus"
    if path.is_file():
        return path
    parts, total = [], 0.0
    sources = sorted((REPO_ROOT / "samples").glob("*/audio.opus"))
    while total < minutes * 60 and sources:
        for src in sources:
            meta = json.loads((src.parent / "audio_segments.json").read_text()) if (
                src.parent / "audio_segments.json").is_file() else {}
            parts.append(src)
            total += float(meta.get("duration") or 0.0)
            if total >= minutes * 60:
                break
    AUDIO_DIR.mkdir(parents=True, exist_ok=True)
    listing = AUDIO_DIR / "long.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    tmp = path.with_suffix(".tmp.opus")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                    str(tmp)], check=True)
    tmp.rename(path)
    return path


def long_child(path: Path, model_name: str | None) -> None:
    """In a fresh process (so its peak RSS is the transcription's): the default path, diarised, on ``path``."""
    transcriber = WhisperTranscriber(get_settings(), model_name)
    ticks: list[float] = []
    started = time.perf_counter()
    t = transcriber.transcribe(path, progress=lambda done, total: ticks.append(done))
    wall = time.perf_counter() - started
    print(json.dumps({"wall_s": round(wall, 1), "audio_s": t.duration, "peak_rss_mb": round(_peak_rss_mb(), 1),
                      "progress_updates": len(ticks), "segments": len(t.segments),
                      "speakers_found": t.asr.diarisation.speakers_found
                      if t.asr and t.asr.diarisation else None}))


def run_long(minutes: float, model_name: str | None) -> dict[str, Any]:
    path = long_audio(minutes)
    child = subprocess.run([sys.executable, "-m", "benchmarks.asr", "--long-child", str(path)]
                           + (["--model", model_name] if model_name else []),
                           check=True, capture_output=True, text=True)
    out = json.loads(child.stdout.strip().splitlines()[-1])
    return {"long_rtf": round(out["wall_s"] / out["audio_s"], 4), "long_peak_rss_mb": out["peak_rss_mb"],
            "long": {**out, "minutes": minutes, "path": "default (diarised, count estimated), "
                     "chunked decoding (assistant.transcribe.engine.CHUNK_SECONDS)"}}


def merge_results(out: Path, section: str, data: dict[str, Any]) -> None:
    """Replace one section of the results file, keeping the others; written atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        results = json.loads(out.read_text()) if out.is_file() else {}
        if not isinstance(results, dict):
            results = {}
    except json.JSONDecodeError:
        results = {}
    results[section] = data
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(results, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.asr", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each path (median reported; >= 3)")
    parser.add_argument("--model", choices=["base", "tiny.en"], default=None,
                        help="Whisper model (default: ASSISTANT_WHISPER_MODEL, base)")
    parser.add_argument("--seconds", type=float, default=180.0, help="minimum audio length")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file (merged)")
    parser.add_argument("--long-minutes", type=float, default=60.0,
                        help="also time one recording this long, made by joining the samples (0: skip)")
    parser.add_argument("--long-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.long_child:
        long_child(args.long_child, args.model)
        return 0
    if args.runs < 3:
        parser.error("--runs must be at least 3")
    result = run_benchmark(args.runs, args.model, args.seconds)
    if args.long_minutes > 0:
        result.update(run_long(args.long_minutes, args.model))
        print(f"asr long ({args.long_minutes:g} min): RTF {result['long_rtf']:.3f}, peak RSS "
              f"{result['long_peak_rss_mb']:.0f} MB", file=sys.stderr)
    merge_results(args.out, "asr", result)
    ours, bare = result["ours"], result["bare"]
    print(
        f"asr ({result['asr_settings']['model']}, {result['audio']['seconds']:.0f} s audio): "
        f"ours RTF {ours['rtf']:.3f} ({ours['speed_x']}x), bare RTF {bare['rtf']:.3f} ({bare['speed_x']}x), "
        f"ratio {result['ratio']:.3f} (target >= {TARGET_RATIO}); peak RSS {ours['peak_rss_mb']:.0f} / "
        f"{bare['peak_rss_mb']:.0f} MB; WER {ours['wer']:.3f} / {bare['wer']:.3f} -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
