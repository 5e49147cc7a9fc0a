"""The benchmark plumbing that needs no model: the report's stable keys, llama.cpp log parsing, and the
prefix-reuse switch (the benchmarks themselves run under `make bench`)."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.llm import ChatResult
from benchmarks import report
from benchmarks.drafting import NoReuse, server_log_totals
from benchmarks.memory import process_tree

LOG = """
llama_perf_context_print: prompt eval time =     500.00 ms /   100 tokens
llama_perf_context_print:        eval time =    1000.00 ms /    20 runs
Llama.generate: 900 prefix-match hit, remaining 50 prompt tokens to eval
llama_perf_context_print: prompt eval time =     250.00 ms /    50 tokens
llama_perf_context_print:        eval time =    1000.00 ms /    20 runs
"""


def test_server_log_totals_sum_every_request() -> None:
    totals = server_log_totals(LOG)
    assert totals["requests"] == 2
    assert totals["prompt_tokens_evaluated"] == 150 and totals["prefill_s"] == 0.75
    assert totals["prefill_tps"] == 200.0
    assert totals["decode_tokens"] == 40 and totals["decode_tps"] == 20.0


class _Recorder:
    name, backend = "m", "embedded"

    def __init__(self) -> None:
        self.seen: list[list[dict[str, str]]] = []

    def complete(self, messages: list[dict[str, str]], **kw: object) -> ChatResult:
        self.seen.append(messages)
        return ChatResult(text="ok")

    def structured(self, messages: list[dict[str, str]], schema: dict, **kw: object) -> ChatResult:
        self.seen.append(messages)
        return ChatResult(text="{}", data={})


def test_no_reuse_gives_every_request_a_different_prefix() -> None:
    inner = _Recorder()
    chat = NoReuse(inner)  # type: ignore[arg-type]
    msgs = [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Lines."}]
    chat.complete(msgs)
    chat.structured(msgs, {"type": "object"})
    a, b = (m[0]["content"] for m in inner.seen)
    assert a != b and a.endswith("\nRules.") and b.endswith("\nRules.")
    assert a[:10] != b[:10]  # the difference is at the very start, where prefix matching begins
    assert all(m[1] == msgs[1] for m in inner.seen) and msgs[0]["content"] == "Rules."


def test_report_shows_stable_keys_targets_and_gaps(tmp_path: Path) -> None:
    results = {
        "asr": {"ratio": 0.98, "rtf": 0.27, "machine": {"cpu_model": "X", "usable_cores": 2}},
        "drafting": {"total_s": 95.0, "stages_s": {"synthesis": {"median": 40.0, "min": 39.0, "max": 41.0}},
                     "prefix_reuse": {"on_total_s": {"median": 45.0}, "off_total_s": {"median": 90.0}}},
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    assert report.main(["--results", str(path)]) == 0
    text = (tmp_path / "report.md").read_text()
    rows = {r[0]: r for r in report.headline_rows(results)}
    assert set(rows) == {"asr.ratio", "asr.rtf", "drafting.total_s", "drafting.long_total_s",
                         "memory.serve_peak_rss_mb", "api.upload_p95_ms", "api_celery.upload_p95_ms",
                         "crash.redis.kill_to_resumed_progress.p95_s",
                         "crash.rabbitmq.kill_to_resumed_progress.p95_s"}
    assert rows["asr.ratio"][2:] == ("0.98", ">= 0.97", "yes")
    assert rows["drafting.total_s"][2:] == ("95", "<= 90", "no")
    assert rows["drafting.long_total_s"][2] == "not run"
    assert rows["memory.serve_peak_rss_mb"][2] == "not run"
    assert "| synthesis | 40.00 | 39.00 | 41.00 |" in text and "45.0 / 90.0" in text


def test_process_tree_finds_children() -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        import os

        assert child.pid in process_tree(os.getpid())
    finally:
        child.kill()
        child.wait()
