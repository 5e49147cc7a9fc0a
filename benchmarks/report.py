"""`python -m benchmarks.report`: bench/results.json -> bench/report.md, and the headline table on stdout.

The headline keys are stable for tracking over time: asr.ratio, asr.rtf, drafting.total_s,
drafting.long_total_s, memory.serve_peak_rss_mb, api.upload_p95_ms, api_celery.upload_p95_ms,
crash.redis.kill_to_resumed_progress.p95_s, crash.rabbitmq.kill_to_resumed_progress.p95_s. A benchmark that
has not been run shows as "not run".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.asr import DEFAULT_OUT

# (key, what it is, target, True when higher is better)
HEADLINE: list[tuple[str, str, float, bool]] = [
    ("asr.ratio", "our transcription speed / bare faster-whisper", 0.97, True),
    ("asr.rtf", "transcription real-time factor (s per audio s)", 0.0, False),
    ("drafting.total_s", "record + summary + report for a ~1,500-word visit (s)", 90.0, False),
    ("drafting.long_total_s", "record + summary for a ~9,000-word (hour-long) visit (s)", 480.0, False),
    ("memory.serve_peak_rss_mb", "peak RSS of `assistant serve` with one job (MB)", 3072.0, False),
    ("api.upload_p95_ms", "upload accept p95, 50 concurrent clients, embedded, 1 process (ms)", 0.0, False),
    ("api_celery.upload_p95_ms", "the same on PostgreSQL + Celery, 2 API workers (ms)", 250.0, False),
    ("crash.redis.kill_to_resumed_progress.p95_s", "worker SIGKILLed mid-job, Redis: kill -> resumed (s)", 60.0,
     False),
    ("crash.rabbitmq.kill_to_resumed_progress.p95_s", "the same on RabbitMQ (s)", 60.0, False),
]


def lookup(results: dict[str, Any], key: str) -> Any:
    node: Any = results
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def headline_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for key, what, target, higher in HEADLINE:
        value = lookup(results, key)
        if value is None:
            rows.append((key, what, "not run", "", ""))
            continue
        goal = "" if not target else (f">= {target:g}" if higher else f"<= {target:g}")
        met = "" if not target else ("yes" if (value >= target if higher else value <= target) else "no")
        rows.append((key, what, f"{value:g}" if isinstance(value, int | float) else str(value), goal, met))
    return rows


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _machine(results: dict[str, Any]) -> str:
    for section in results.values():
        if isinstance(section, dict) and isinstance(section.get("machine"), dict):
            m = section["machine"]
            return (f"{m.get('cpu_model')}, {m.get('usable_cores')} usable cores, {m.get('memory_gb')} GB, "
                    f"Python {m.get('python')}")
    return "unknown"


def render(results: dict[str, Any]) -> str:
    parts = ["# Benchmark report", "", f"Machine: {_machine(results)}", "",
             _table(("key", "what", "value", "target", "met"), headline_rows(results)), ""]
    drafting = results.get("drafting")
    if isinstance(drafting, dict):
        stages = [(k, f"{v['median']:.2f}", f"{v['min']:.2f}", f"{v['max']:.2f}")
                  for k, v in drafting.get("stages_s", {}).items()]
        parts += ["## Drafting stages (s, median / min / max)", "", _table(("stage", "median", "min", "max"), stages),
                  ""]
        srv, bare = drafting.get("server") or {}, drafting.get("bare_llama_cpp") or {}
        reuse = drafting.get("prefix_reuse") or {}
        off = reuse.get("off_total_s") or {}
        parts += [
            "## Drafting tokens and engines", "",
            _table(("", "value"), [
                ("calls", str(drafting.get("calls"))),
                ("prompt / generated tokens (usage)", f"{drafting.get('prompt_tokens')} / "
                                                      f"{drafting.get('completion_tokens')}"),
                ("prompt tokens llama.cpp evaluated, reuse on / off",
                 f"{reuse.get('on_prompt_tokens_evaluated')} / {reuse.get('off_prompt_tokens_evaluated')}"),
                ("total s, reuse on / off", f"{(reuse.get('on_total_s') or {}).get('median')} / {off.get('median')}"),
                ("server prefill / decode tok/s", f"{srv.get('prefill_tps')} / {srv.get('decode_tps')}"),
                ("bare llama-cpp-python prefill / decode tok/s",
                 f"{bare.get('prefill_tps')} / {bare.get('decode_tps')} "
                 f"({bare.get('prompt_tokens')} in, {bare.get('generated_tokens')} out)"),
            ]), ""]
    for name, section in results.items():
        if not isinstance(section, dict):
            continue
        when = section.get("timestamp", "")
        desc = section.get("description", "")
        parts.append(f"- `{name}` ({when}): {desc}")
    parts.append("")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--out", type=Path, default=None, help="default: report.md beside the results")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text()) if args.results.is_file() else {}
    out = args.out or args.results.with_name("report.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results), encoding="utf-8")
    rows = headline_rows(results)
    width = max(len(r[0]) for r in rows)
    for key, _what, value, goal, met in rows:
        print(f"{key:<{width}}  {value:>10}  {goal:>9}  {met}")
    print(f"report written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
