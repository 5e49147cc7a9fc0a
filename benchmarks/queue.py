"""Queue benchmark: `python -m benchmarks.queue` (part of `make bench`).

The scale-out path for real: `assistant serve` (queue=celery) in one process, `assistant worker`
processes on Redis, PostgreSQL as the store, uploads over HTTP. For a batch of short synthetic visits
(espeak-ng dialogues, ~1 minute each, Whisper tiny.en + the extractive engine by default) it measures
jobs per minute with 1 and with 2 worker processes (the cores split between them: Whisper/torch threads =
cores / workers), after one warm-up job per worker so model loading is not counted. While the workers are
busy it polls `GET /api/jobs/{id}` and records the latency of every poll, against the same polls with
idle workers. The `queue` section of bench/results.json is replaced; other sections are kept.

Both stages are CPU-bound, so jobs/min can never exceed cores x 60 / (CPU seconds per job), however many
workers run: a second worker only helps while the first leaves cores idle (single-threaded parts: VAD,
beam search on a small model, the drafting code between matrix products, DB writes). The benchmark
therefore also reports the CPU the workers used per job and per wall second, and that ceiling; on a
machine shared with other work (see load_average) the 1-vs-2 ratio mostly shows how much of a contended
CPU each configuration obtained.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from assistant.config import REPO_ROOT

DEFAULT_OUT = REPO_ROOT / "bench" / "results.json"
PG_BASE = os.environ.get("ASSISTANT_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_BASE = os.environ.get("ASSISTANT_BENCH_REDIS", "redis://127.0.0.1:6379")
CLI = [sys.executable, "-c", "from assistant.cli import app; app()"]


# -- services ---------------------------------------------------------------------------------------


def _admin() -> Any:
    import psycopg

    return psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3",
                           autocommit=True)


def _empty_redis_db() -> tuple[str, Any]:
    import redis

    for n in range(14, 0, -1):
        client = redis.Redis.from_url(f"{REDIS_BASE}/{n}")
        if client.dbsize() == 0:
            return f"{REDIS_BASE}/{n}", client
    raise RuntimeError("no empty Redis database number")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path, nice: int = 0) -> None:
        self.log_path = log
        self._fh = log.open("wb")
        self.proc = subprocess.Popen([*(["nice", "-n", str(nice)] if nice else []), *CLI, *args], cwd=REPO_ROOT,
                                     env=env, stdout=self._fh,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, marker: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.log_path.name} did not reach {marker!r}:\n{self.text()[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._fh.close()


def _group_cpu_seconds(pgids: set[int]) -> float:
    """CPU seconds (user + system) used so far by every live process in these process groups (Linux)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pgids:  # field 5 (pgrp), counted after the ")" of the command name
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


# -- the measured run -------------------------------------------------------------------------------


class Poller:
    """Polls every outstanding job's status; records each request's latency and each job's finish time."""

    def __init__(self, client: httpx.Client, interval: float = 0.25) -> None:
        self.client, self.interval = client, interval
        self.latencies_ms: list[float] = []
        self.finished: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.jobs: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for job_id in list(self.jobs):
                if job_id in self.finished:
                    continue
                t0 = time.perf_counter()
                r = self.client.get(f"/api/jobs/{job_id}")
                self.latencies_ms.append((time.perf_counter() - t0) * 1000)
                body = r.json()
                if body["state"] in ("done", "failed"):
                    self.finished[job_id] = time.monotonic()
                    if body["state"] == "failed":
                        self.failed[job_id] = body.get("error") or "?"
            time.sleep(self.interval)

    def wait(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while sum(1 for j in self.jobs if j in self.finished) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.finished)}/{n} jobs finished after {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))], 1) if ordered else 0.0


def _latency(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": _pct(values, 0.5), "p95_ms": _pct(values, 0.95),
            "max_ms": round(max(values), 1) if values else 0.0}


def _idle_polls(client: httpx.Client, job_id: str, n: int = 40) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.get(f"/api/jobs/{job_id}").raise_for_status()
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.02)
    return out


def run_config(workers: int, samples: list[Path], jobs: int, base_env: dict[str, str], work: Path,
               whisper: str, engine: str) -> dict[str, Any]:
    """One fresh stack (database, broker db, API, N workers) and one measured batch."""
    cores = os.cpu_count() or 1
    threads = str(max(1, cores // workers))
    db_name = f"assistant_bench_{uuid.uuid4().hex[:10]}"
    broker, redis_client = _empty_redis_db()
    data = work / f"data-{workers}"
    env = {**base_env, "ASSISTANT_DATA_DIR": str(data), "ASSISTANT_QUEUE": "celery",
           "ASSISTANT_BROKER_URL": broker, "ASSISTANT_DATABASE_URL": f"{PG_BASE}/{db_name}",
           "ASSISTANT_WHISPER_MODEL": whisper, "ASSISTANT_WHISPER_THREADS": threads,
           "ASSISTANT_LLM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{db_name}"')
    port = _free_port()
    procs: list[Proc] = []
    try:
        api = Proc(["serve", "--port", str(port)], env, work / f"api-{workers}.log")
        procs.append(api)
        api.wait_for("Application startup complete")
        for i in range(workers):
            w = Proc(["worker", "--queues", "transcribe,draft", "--concurrency", "1",
                      "--hostname", f"bench{i}@%h"], env, work / f"worker-{workers}-{i}.log")
            procs.append(w)
        for w in procs[1:]:
            w.wait_for(" ready.")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:

            def upload(path: Path) -> str:
                with path.open("rb") as fh:
                    r = client.post("/api/recordings", files={"file": (path.name, fh, "audio/wav")},
                                    data={"template": "sc_contact_note", "engine": engine})
                r.raise_for_status()
                return str(r.json()["job_id"])

            poller = Poller(client)
            poller.start()
            # Warm-up: one job per worker, so every worker process has loaded its models.
            poller.jobs.extend(upload(samples[i % len(samples)]) for i in range(workers))
            poller.wait(workers, timeout=900)
            idle = _idle_polls(client, poller.jobs[0])
            poller.latencies_ms.clear()
            pgids = {w.proc.pid for w in procs[1:]}  # each worker leads its own process group
            cpu0 = _group_cpu_seconds(pgids)
            t0 = time.monotonic()
            batch = [upload(samples[i % len(samples)]) for i in range(jobs)]
            poller.jobs.extend(batch)
            poller.wait(workers + jobs, timeout=3600)
            elapsed = max(poller.finished[j] for j in batch) - t0
            cpu = _group_cpu_seconds(pgids) - cpu0
            poller.stop()
            busy = list(poller.latencies_ms)
            done = [j for j in batch if j not in poller.failed]
        return {
            "workers": workers,
            "threads_per_worker": int(threads),
            "jobs": jobs,
            "failed": len(batch) - len(done),
            "errors": sorted({poller.failed[j] for j in batch if j in poller.failed}),
            "seconds": round(elapsed, 1),
            "jobs_per_min": round(len(done) / elapsed * 60, 2),
            # CPU the workers used per wall second: how many of the cores the batch kept busy.
            "worker_cores_used": round(cpu / elapsed, 2),
            "worker_cpu_s_per_job": round(cpu / len(batch), 1),
            "poll_latency_busy": _latency(busy),
            "poll_latency_idle": _latency(idle),
        }
    finally:
        for p in reversed(procs):
            p.stop()
        redis_client.flushdb()
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def make_samples(folder: Path, n: int) -> list[tuple[Path, float, int]]:
    from assistant.audio.synth import VISIT_SCRIPT, synthesise_dialogue

    out = []
    for i in range(n):
        path = folder / f"visit-{i}.wav"
        turns = VISIT_SCRIPT[i * 12:(i + 1) * 12] or VISIT_SCRIPT[:12]
        d = synthesise_dialogue(path, turns)
        out.append((path, d.duration, len(d.reference.split())))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.queue", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=6, help="jobs in the measured batch (per configuration)")
    parser.add_argument("--workers", default="1,2", help="worker-process counts to compare")
    parser.add_argument("--whisper", choices=["tiny.en", "base"], default="tiny.en")
    parser.add_argument("--engine", choices=["extractive", "llm"], default="extractive")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file (merged)")
    args = parser.parse_args(argv)

    from benchmarks.asr import machine_info, merge_results

    try:
        _admin().close()
        import redis

        redis.Redis.from_url(f"{REDIS_BASE}/0", socket_connect_timeout=3).ping()
    except Exception as exc:
        print(f"queue benchmark skipped: PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are needed "
              f"({type(exc).__name__})", file=sys.stderr)
        return 0
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    base_env.update({"PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1",
                     "ASSISTANT_MODELS_CACHE_DIR": os.environ.get("ASSISTANT_MODELS_CACHE_DIR",
                                                                  str(REPO_ROOT / ".cache" / "models"))})
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
        work = Path(tmp)
        samples = make_samples(work, 3)
        configs = [run_config(int(n), [p for p, _, _ in samples], args.jobs, base_env, work, args.whisper,
                              args.engine) for n in args.workers.split(",")]
    by_n = {c["workers"]: c for c in configs}
    speedup = (round(by_n[2]["jobs_per_min"] / by_n[1]["jobs_per_min"], 2)
               if 1 in by_n and 2 in by_n and by_n[1]["jobs_per_min"] else None)
    cpu_per_job = min(c["worker_cpu_s_per_job"] for c in configs)
    ceiling = round((os.cpu_count() or 1) * 60 / cpu_per_job, 1) if cpu_per_job else None
    result = {
        "what": "jobs/min through API + Celery workers (Redis) + PostgreSQL; status-poll latency while busy",
        "samples": [{"seconds": round(s, 1), "words": w} for _, s, w in samples],
        "whisper": args.whisper,
        "engine": args.engine,
        "configs": configs,
        "speedup_2_vs_1": speedup,
        "cores": os.cpu_count(),
        "ceiling_jobs_per_min": ceiling,
        "note": "Both stages are CPU-bound: jobs/min cannot exceed cores x 60 / CPU-s per job (the ceiling), "
                "whatever the number of workers. When worker_cores_used is well below the core count the "
                "machine was busy with other work (load_average) and the 1-vs-2 ratio measures CPU share "
                "under contention, not added capacity.",
        "load_average": {"before": [round(x, 2) for x in load_before],
                         "after": [round(x, 2) for x in os.getloadavg()]},
        "machine": machine_info(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    merge_results(args.out, "queue", result)
    for c in configs:
        print(f"queue: {c['workers']} worker(s): {c['jobs']} jobs in {c['seconds']} s = "
              f"{c['jobs_per_min']} jobs/min ({c['failed']} failed), workers used {c['worker_cores_used']} "
              f"cores ({c['worker_cpu_s_per_job']} CPU-s/job); "
              f"poll p50/p95 busy {c['poll_latency_busy']['p50_ms']}/{c['poll_latency_busy']['p95_ms']} ms, "
              f"idle {c['poll_latency_idle']['p50_ms']}/{c['poll_latency_idle']['p95_ms']} ms")
    print(f"queue: speed-up 2 vs 1 workers: {speedup}; ceiling with every core busy: {ceiling} jobs/min "
          f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
