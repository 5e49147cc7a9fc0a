"""Drafting speed benchmark: `python -m benchmarks.drafting` (or `make bench`).

Drafts one ~1,500-word sample visit with the embedded model through the real pipeline (participants,
detectors, sectioner, section synthesis, merge, verification, sections, summary) and renders the .docx report, then:

- per stage: the pipeline's own timings (`record.provenance.timings_s`), median with min/max over runs;
- tokens: prompt and generated tokens the pipeline sent and got back (the endpoint's usage), and what
  llama.cpp actually evaluated (its log: after a prefix-cache hit only the new suffix is prefilled);
- bare engine: one llama-cpp-python completion of the same size (mean synthesis call: prompt tokens in,
  generated tokens out) in this process with the same GGUF, context and threads, so prefill and decode
  tokens/s of the server path and of the bare engine sit side by side;
- prefix / KV-cache reuse on vs off: "off" puts a different nonce at the very start of every request's
  system message, so no request shares a prefix with the one before (the only way to switch it off: the
  server always reuses the longest shared prefix).

- a long visit: the sample repeated to about 9,000 words (an hour's conversation), drafted once
  (`drafting.long_total_s`, with the peak RSS of this process and of the LLM server).

The `drafting` section of bench/results.json is replaced (stable keys `drafting.total_s`: record + summary +
report, median of the reuse-on runs, target <= 90 s on 2 cores; `drafting.long_total_s`, target <= 8 min and
peak RSS <= 3 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.config import REPO_ROOT, Settings, get_settings
from assistant.llm import ChatModel, ChatResult
from benchmarks.asr import DEFAULT_OUT, machine_info, merge_results, versions

TARGET_S = 90.0
LONG_TARGET_S = 480.0
LONG_WORDS = 9000
DEFAULT_SAMPLE = "cs_visit_safeguarding"
_PROMPT = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
_EVAL = re.compile(r"(?<!prompt )eval time =\s*([\d.]+) ms /\s*(\d+) runs")


class NoReuse:
    """A ChatModel that defeats prefix reuse: a fresh nonce opens every request's first message."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner, self.name, self.backend = inner, inner.name, inner.backend

    def _salt(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        first, *rest = messages
        return [{**first, "content": f"[{secrets.token_hex(4)}]\n{first['content']}"}, *rest]

    def complete(self, messages: list[dict[str, str]], **kw: Any) -> ChatResult:
        return self.inner.complete(self._salt(messages), **kw)

    def structured(self, messages: list[dict[str, str]], schema: dict[str, Any], **kw: Any) -> ChatResult:
        return self.inner.structured(self._salt(messages), schema, **kw)


def server_log_totals(text: str) -> dict[str, float]:
    """Sum llama.cpp's per-request timings in a slice of the server log."""
    p = [(float(ms), int(n)) for ms, n in _PROMPT.findall(text)]
    e = [(float(ms), int(n)) for ms, n in _EVAL.findall(text)]
    p_ms, p_tok = sum(x[0] for x in p), sum(x[1] for x in p)
    e_ms, e_tok = sum(x[0] for x in e), sum(x[1] for x in e)
    return {
        "requests": len(p),
        "prompt_tokens_evaluated": p_tok,
        "prefill_s": round(p_ms / 1000, 2),
        "prefill_tps": round(p_tok / (p_ms / 1000), 1) if p_ms else 0.0,
        "decode_tokens": e_tok,
        "decode_s": round(e_ms / 1000, 2),
        "decode_tps": round(e_tok / (e_ms / 1000), 1) if e_ms else 0.0,
    }


def draft_once(chat: ChatModel, server: Any, settings: Settings, sample: Path) -> dict[str, Any]:
    from assistant.drafting.pipeline import DraftOptions, draft
    from assistant.export import render
    from assistant.records import DraftingStats
    from assistant.templates import get_template
    from assistant.transcript import parse_text

    meta = json.loads((sample / "meta.json").read_text(encoding="utf-8"))
    transcript = parse_text((sample / "transcript.txt").read_text(encoding="utf-8"), source_id=sample.name)
    template = get_template(meta["template"])
    since = server.log_size() if server is not None else 0
    started = time.perf_counter()
    record = draft(transcript, template, chat, DraftOptions.from_settings(settings))
    drafted = time.perf_counter()
    docx = render(record, "docx")
    done = time.perf_counter()
    stats = record.extra.drafting or DraftingStats()
    stages = {k: v for k, v in (record.provenance.timings_s or {}).items() if k != "total"}
    stages["report"] = round(done - drafted, 3)
    return {
        "words": transcript.word_count,
        "stages_s": stages,
        "record_s": round(drafted - started, 2),
        "total_s": round(done - started, 2),
        "calls": stats.calls,
        "units": stats.units,
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "statements": stats.statements,
        "flagged": stats.flagged,
        "docx_bytes": len(docx),
        "server": server_log_totals(server.log_text(since)) if server is not None else None,
    }


def _peak_rss_mb(pid: int | None) -> float | None:
    """VmHWM (peak resident set) of a live process, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        return None
    return None


def long_draft(chat: ChatModel, server: Any, settings: Settings, sample: Path, words: int) -> dict[str, Any]:
    """The sample's conversation repeated until it reaches `words` words: a stand-in for an hour-long visit
    (speed and memory, not quality: repeated lines are merged as duplicates)."""
    import resource

    from assistant.drafting.pipeline import DraftOptions, draft
    from assistant.templates import get_template
    from assistant.transcript import parse_text

    meta = json.loads((sample / "meta.json").read_text(encoding="utf-8"))
    header, *body = (sample / "transcript.txt").read_text(encoding="utf-8").splitlines()
    lines = list(body)
    while sum(len(x.split()) for x in lines) < words:
        lines += body
    transcript = parse_text("\n".join([header, *lines]), source_id=f"{sample.name}-long")
    started = time.perf_counter()
    record = draft(transcript, get_template(meta["template"]), chat, DraftOptions.from_settings(settings))
    total = time.perf_counter() - started
    return {
        "words": transcript.word_count,
        "total_s": round(total, 1),
        "target_s": LONG_TARGET_S,
        "stages_s": {k: v for k, v in (record.provenance.timings_s or {}).items() if k != "total"},
        "calls": record.extra.drafting.calls if record.extra.drafting else 0,
        "statements": len(record.statements()),
        "peak_rss_mb": {"drafting_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                        "llm_server": _peak_rss_mb(server.pid if server is not None else None)},
    }


def bare_completion(settings: Settings, model_file: Path, prompt_tokens: int, gen_tokens: int,
                    threads: int) -> dict[str, Any]:
    """One completion of the same size straight through llama-cpp-python, cold cache."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(model_file), n_ctx=settings.llm.context, n_threads=threads,
                n_threads_batch=threads, logits_all=False, use_mlock=False, verbose=False, seed=settings.llm.seed)
    try:
        filler = (REPO_ROOT / "samples" / DEFAULT_SAMPLE / "transcript.txt").read_bytes()
        tokens = llm.tokenize(filler, add_bos=True)
        while len(tokens) < prompt_tokens:
            tokens += tokens[1:]
        tokens = tokens[:prompt_tokens]
        started = time.perf_counter()
        first = None
        n = 0
        for _tok in llm.generate(tokens, temp=0.0, reset=True):
            if first is None:
                first = time.perf_counter()
            n += 1
            if n >= gen_tokens:
                break
        end = time.perf_counter()
    finally:
        llm.close()
    assert first is not None
    prefill = first - started
    decode = end - first
    return {
        "prompt_tokens": prompt_tokens,
        "generated_tokens": n,
        "total_s": round(end - started, 2),
        "prefill_s": round(prefill, 2),
        "prefill_tps": round(prompt_tokens / prefill, 1) if prefill else 0.0,
        "decode_tps": round((n - 1) / decode, 1) if decode and n > 1 else 0.0,
    }


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def run_benchmark(runs: int, sample_id: str, no_reuse_runs: int, long_words: int = LONG_WORDS) -> dict[str, Any]:
    from assistant.llm.factory import LLMRuntime
    from assistant.models import model_path

    settings = get_settings()
    sample = REPO_ROOT / "samples" / sample_id
    runtime = LLMRuntime(settings)
    load_started = time.perf_counter()
    chat = runtime.start()
    load_s = time.perf_counter() - load_started
    server = runtime.server
    load_before = os.getloadavg()
    reuse: list[dict[str, Any]] = []
    no_reuse: list[dict[str, Any]] = []
    try:
        chat.complete([{"role": "user", "content": "Say OK."}], max_tokens=4)  # warm-up, not timed
        plan = ["on"] * runs
        for i in range(no_reuse_runs):  # interleave the "off" runs
            plan.insert(min(2 * i + 1, len(plan)), "off")
        for i, mode in enumerate(plan):
            result = draft_once(chat if mode == "on" else NoReuse(chat), server, settings, sample)
            (reuse if mode == "on" else no_reuse).append(result)
            print(f"run {i + 1}/{len(plan)} reuse {mode:3}: record {result['record_s']:.1f} s, total "
                  f"{result['total_s']:.1f} s, {result['calls']} calls", file=sys.stderr)
        long = long_draft(chat, server, settings, sample, long_words) if long_words else None
    finally:
        threads = server.threads if server is not None else max(1, (os.cpu_count() or 2))
        runtime.stop()
    load_after = os.getloadavg()
    calls = max(1, reuse[0]["calls"])
    mean_prompt = round(reuse[0]["prompt_tokens"] / calls)
    mean_gen = max(1, round(reuse[0]["completion_tokens"] / calls))
    bare = bare_completion(settings, model_path(settings.llm.embedded, settings.models_dir), mean_prompt, mean_gen,
                           threads)

    stage_names = list(reuse[0]["stages_s"])
    totals = [r["total_s"] for r in reuse]
    result: dict[str, Any] = {
        "description": "one sample visit drafted end to end with the embedded model (record + summary + .docx)",
        "sample": sample_id,
        "words": reuse[0]["words"],
        "total_s": _summary(totals)["median"],
        "total": _summary(totals),
        "target_s": TARGET_S,
        "meets_target": statistics.median(totals) <= TARGET_S,
        "stages_s": {k: _summary([r["stages_s"].get(k, 0.0) for r in reuse]) for k in stage_names},
        "long_total_s": long["total_s"] if long else None,
        "long": long,
        "calls": reuse[0]["calls"],
        "units": reuse[0]["units"],
        "prompt_tokens": reuse[0]["prompt_tokens"],
        "completion_tokens": reuse[0]["completion_tokens"],
        "server": reuse[0]["server"],
        "bare_llama_cpp": bare,
        "prefix_reuse": {
            "on_total_s": _summary(totals),
            "off_total_s": _summary([r["total_s"] for r in no_reuse]) if no_reuse else None,
            "on_prompt_tokens_evaluated": reuse[0]["server"]["prompt_tokens_evaluated"] if reuse[0]["server"]
            else None,
            "off_prompt_tokens_evaluated": no_reuse[0]["server"]["prompt_tokens_evaluated"]
            if no_reuse and no_reuse[0]["server"] else None,
            "how": "off = a fresh nonce at the start of each request's system message",
        },
        "runs": {"on": len(reuse), "off": len(no_reuse)},
        "model_load_s": round(load_s, 2),
        "llm_settings": {"model": settings.llm.embedded, "context": settings.llm.context, "threads": threads,
                         "temperature": settings.llm.temperature, "seed": settings.llm.seed},
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
        "machine": machine_info(),
        "versions": versions(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.drafting", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="drafts with prefix reuse (median reported)")
    parser.add_argument("--no-reuse-runs", type=int, default=1, help="drafts with prefix reuse defeated")
    parser.add_argument("--sample", default=DEFAULT_SAMPLE, help="sample id under samples/")
    parser.add_argument("--long-words", type=int, default=LONG_WORDS,
                        help="words of the long-visit draft (0: skip it)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file (merged)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    result = run_benchmark(args.runs, args.sample, args.no_reuse_runs, args.long_words)
    merge_results(args.out, "drafting", result)
    stages = ", ".join(f"{k} {v['median']:.1f}" for k, v in result["stages_s"].items())
    srv, bare = result["server"] or {}, result["bare_llama_cpp"]
    off = result["prefix_reuse"]["off_total_s"]
    print(
        f"drafting ({result['sample']}, {result['words']} words): total {result['total_s']:.1f} s "
        f"(target <= {TARGET_S:.0f}); stages: {stages}; {result['calls']} calls, "
        f"{result['prompt_tokens']} prompt / {result['completion_tokens']} generated tokens; "
        f"server prefill {srv.get('prefill_tps')} tok/s, decode {srv.get('decode_tps')} tok/s vs bare "
        f"{bare['prefill_tps']} / {bare['decode_tps']}; reuse off total {off['median'] if off else '-'} s; "
        f"long visit {result['long_total_s']} s -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
