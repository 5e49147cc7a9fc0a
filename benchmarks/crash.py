"""Crash soak: `python -m benchmarks.crash` (part of `make bench`; never part of `make test`).

The scale-out stack for real, with its shipped delivery settings (Redis visibility timeout 6 h, reaper bound
`job_lost_after_s`): `assistant serve` (queue=celery), two `assistant worker` processes, PostgreSQL, and a
sample recording (Whisper tiny.en + the extractive engine by default). Each trial uploads the recording,
waits for the job to enter a randomly chosen stage (transcribing or drafting), waits a random part of that
stage, and SIGKILLs the process group of the worker holding it, as an OOM kill or a node restart would; a
replacement worker is started at once, as a container's restart policy would. Per broker (Redis, RabbitMQ)
it reports lost jobs (not done), duplicated records (more than one record for a job), and the time from
the kill to the job's next progress under its new holder (p50/p95/max), with the time to the new claim.
The `crash` section of bench/results.json is replaced; other sections are kept.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from assistant.config import REPO_ROOT, Settings
from benchmarks.queue import PG_BASE, Proc, _admin, _empty_redis_db, _free_port, _pct

DEFAULT_OUT = REPO_ROOT / "bench" / "results.json"
DEFAULT_SAMPLE = REPO_ROOT / "samples" / "cs_visit_no_concerns" / "audio.opus"
AMQP_URL = os.environ.get("ASSISTANT_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
STAGES = ("transcribing", "drafting")
# Where in a stage a kill may land: the progress must still be below this (the stage has work left to lose).
BEFORE_END = {"transcribing": 0.45, "drafting": 0.95}
# The kill lands this many seconds into the stage at most (uniformly): about the length of each stage for the
# default sample on a busy 2-core machine (transcription ~40 s, drafting ~15-30 s); a kill that would land
# after the stage ended is not made, and the trial is run again.
KILL_WITHIN_S = {"transcribing": 25.0, "drafting": 10.0}


def _pcts(values: list[float]) -> dict[str, float | int]:
    return {"n": len(values), "p50_s": _pct(values, 0.5), "p95_s": _pct(values, 0.95),
            "max_s": round(max(values), 1) if values else 0.0}


class Stack:
    """API + two workers on one broker and a fresh PostgreSQL database; a killed worker is replaced."""

    def __init__(self, broker: str, base_env: dict[str, str], work: Path) -> None:
        self.db_name = f"assistant_crash_{uuid.uuid4().hex[:10]}"
        self.redis = None
        if broker == "redis":
            url, self.redis = _empty_redis_db()
        else:
            url = AMQP_URL
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.url = f"{PG_BASE}/{self.db_name}"
        self.env = {**base_env, "ASSISTANT_DATA_DIR": str(work / f"data-{broker}"), "ASSISTANT_QUEUE": "celery",
                    "ASSISTANT_BROKER_URL": url, "ASSISTANT_DATABASE_URL": self.url}
        with _admin() as admin:
            admin.execute(f'CREATE DATABASE "{self.db_name}"')
        self.port = _free_port()
        self.api = Proc(["serve", "--port", str(self.port)], self.env, work / f"api-{broker}.log")
        self.api.wait_for("Application startup complete")
        self.workers: dict[str, Proc] = {}
        for _ in range(2):
            self.start_worker()
        for w in self.workers.values():
            w.wait_for(" ready.")
        from assistant.store.db import Database

        self.db = Database(Settings(data_dir=work / "poll", database_url=self.url), migrate=False)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)

    def start_worker(self) -> str:
        name = f"crash-{uuid.uuid4().hex[:6]}@{os.uname().nodename}"
        self.workers[name] = Proc(["worker", "--queues", "transcribe,draft", "--concurrency", "1",
                                   "--hostname", name], self.env, self.work / f"worker-{name}.log")
        return name

    def upload(self, sample: Path) -> str:
        with sample.open("rb") as fh:
            r = self.client.post("/api/recordings", files={"file": (sample.name, fh, "audio/ogg")},
                                 data={"template": "sc_contact_note", "engine": "extractive"})
        r.raise_for_status()
        return str(r.json()["job_id"])

    def row(self, job_id: str) -> Any:
        from assistant.store.tables import Job

        with self.db.session() as s:
            return s.get(Job, job_id)

    def wait_done(self, job_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (state := self.row(job_id).state) not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
        return str(state)

    def close(self) -> None:
        self.client.close()
        self.db.dispose()
        for w in self.workers.values():
            w.stop()
        self.api.stop()
        if self.redis is not None:
            self.redis.flushdb()
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


def _holder_proc(stack: Stack, holder: str | None) -> tuple[str, Proc] | None:
    for name, proc in stack.workers.items():
        if holder and holder.startswith(f"{name} pid ") and proc.proc.poll() is None:
            return name, proc
    return None


def trial(stack: Stack, sample: Path, rng: random.Random, timeout: float) -> dict[str, Any]:
    """One upload, one SIGKILL at a random point of a random stage, then the resumption, timed."""
    import signal

    stage = rng.choice(STAGES)
    job_id = stack.upload(sample)
    t_upload = time.monotonic()
    victim = None
    while victim is None:
        job = stack.row(job_id)
        if job.state in ("done", "failed") or time.monotonic() - t_upload > timeout:
            return {"job_id": job_id, "stage": stage, "killed": False}
        found = _holder_proc(stack, job.holder)
        if job.state == "running" and job.stage.startswith(stage) and found and job.progress < BEFORE_END[stage]:
            # A random point in the stage: a random share of the time a stage of this kind has left.
            time.sleep(rng.uniform(0, KILL_WITHIN_S[stage]))
            job = stack.row(job_id)
            again = _holder_proc(stack, job.holder)
            if job.state == "running" and job.stage.startswith(stage) and again == found:
                victim = found
            elif job.state in ("done", "failed") or not job.stage.startswith(stage):
                return {"job_id": job_id, "stage": stage, "killed": False}
        time.sleep(0.02)
    name, proc = victim
    at = {"stage": job.stage, "progress": job.progress}
    os.killpg(proc.proc.pid, signal.SIGKILL)
    t_kill = time.monotonic()
    proc.proc.wait()
    del stack.workers[name]
    stack.start_worker()  # the restart policy's replacement (it must load its models first)
    claim_s = progress_s = None
    start_progress = 0.0 if stage == "transcribing" else 0.5
    while progress_s is None and time.monotonic() - t_kill < timeout:
        job = stack.row(job_id)
        moved_on = job.holder and not job.holder.startswith(f"{name} pid ")
        if job.state == "done" or (job.state == "running" and moved_on):
            claim_s = claim_s if claim_s is not None else time.monotonic() - t_kill
            if job.state == "done" or job.progress > start_progress:
                progress_s = time.monotonic() - t_kill
        time.sleep(0.1)
    state = stack.wait_done(job_id, timeout)
    job = stack.row(job_id)
    return {"job_id": job_id, "stage": stage, "killed": True, "killed_at": at, "state": state,
            "claim_s": None if claim_s is None else round(claim_s, 1),
            "resumed_progress_s": None if progress_s is None else round(progress_s, 1),
            "resumed_by": job.holder, "history": [e.get("resumed_by") or e.get("outcome") for e in job.history or []]}


def run_broker(broker: str, trials: int, sample: Path, base_env: dict[str, str], work: Path, seed: int,
               timeout: float) -> dict[str, Any]:
    from sqlalchemy import func, select

    from assistant.store.tables import Record

    rng = random.Random(seed)
    stack = Stack(broker, base_env, work)
    try:
        # Warm-up: one job through each worker's models, so a kill lands on a warm worker as in production.
        warm = [stack.upload(sample) for _ in range(2)]
        for job_id in warm:
            stack.wait_done(job_id, 900)
        runs: list[dict[str, Any]] = []
        missed = 0
        while len(runs) < trials and missed < trials * 3:
            t = trial(stack, sample, rng, timeout)
            if t["killed"]:
                runs.append(t)
                print(f"crash[{broker}] trial {len(runs)}/{trials}: killed in {t['stage']} "
                      f"({t['killed_at']['progress']:.2f}), resumed progress after {t['resumed_progress_s']} s, "
                      f"{t['state']}", flush=True)
            else:
                missed += 1
                stack.wait_done(t["job_id"], timeout)
        with stack.db.session() as s:
            per_job = dict(s.execute(select(Record.job_id, func.count()).group_by(Record.job_id)).all())
    finally:
        stack.close()
    resumed = [r["resumed_progress_s"] for r in runs if r["resumed_progress_s"] is not None]
    claims = [r["claim_s"] for r in runs if r["claim_s"] is not None]
    return {
        "broker": broker,
        "trials": len(runs),
        "kills_by_stage": {s: sum(r["stage"] == s for r in runs) for s in STAGES},
        "missed_windows": missed,
        "lost_jobs": sum(r["state"] != "done" for r in runs),
        "duplicated_records": sum(max(0, per_job.get(r["job_id"], 0) - 1) for r in runs),
        "kill_to_resumed_progress": _pcts(resumed),
        "kill_to_new_claim": _pcts(claims),
        "not_resumed_within_timeout": len(runs) - len(resumed),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.crash", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="kills per broker")
    parser.add_argument("--brokers", default="redis,rabbitmq")
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE, help="the recording each trial uploads")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds a trial may take to resume")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file (merged)")
    args = parser.parse_args(argv)

    from benchmarks.asr import machine_info, merge_results

    brokers = [b for b in args.brokers.split(",") if b]
    try:
        _admin().close()
        if "redis" in brokers:
            import redis

            redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=3).ping()
        if "rabbitmq" in brokers:
            import kombu

            with kombu.Connection(AMQP_URL, connect_timeout=3) as conn:
                conn.connect()
    except Exception as exc:
        print(f"crash benchmark skipped: PostgreSQL, Redis and RabbitMQ on 127.0.0.1 are needed "
              f"({type(exc).__name__})", file=sys.stderr)
        return 0
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    base_env.update({"PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1", "ASSISTANT_WHISPER_MODEL": "tiny.en",
                     "ASSISTANT_MODELS_CACHE_DIR": os.environ.get("ASSISTANT_MODELS_CACHE_DIR",
                                                                  str(REPO_ROOT / ".cache" / "models"))})
    shipped = Settings()
    load_before = os.getloadavg()
    results: dict[str, Any] = {}

    def save() -> None:  # after each broker: a long soak stopped half-way keeps what it measured
        merge_results(args.out, "crash", {
            "what": "SIGKILL of the worker holding a job at a random point of transcription or drafting; the "
                    "job resumed by another worker: lost jobs, duplicated records, kill -> resumed progress",
            "sample": str(args.sample.relative_to(REPO_ROOT) if args.sample.is_relative_to(REPO_ROOT)
                          else args.sample),
            "whisper": "tiny.en",
            "engine": "extractive",
            "settings": {"job_lost_after_s": shipped.jobs.lost_after_s,
                         "broker_visibility_timeout_s": shipped.jobs.broker_visibility_timeout_s,
                         "job_max_attempts": shipped.jobs.max_attempts},
            **results,
            "load_average": {"before": [round(x, 2) for x in load_before],
                             "after": [round(x, 2) for x in os.getloadavg()]},
            "machine": machine_info(),
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        })

    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        for i, broker in enumerate(brokers):
            results[broker] = run_broker(broker, args.trials, args.sample, base_env, Path(tmp) / broker,
                                         args.seed + i, args.timeout)
            save()
    for broker, r in results.items():
        p = r["kill_to_resumed_progress"]
        print(f"crash[{broker}]: {r['trials']} kills ({r['kills_by_stage']}), lost {r['lost_jobs']}, "
              f"duplicated records {r['duplicated_records']}, kill -> resumed progress p50 {p['p50_s']} s, "
              f"p95 {p['p95_s']} s, max {p['max_s']} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
