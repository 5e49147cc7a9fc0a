"""The in-process queue: jobs run on worker threads that yield the CPU to the API (plain nice) yet finish
beside busy processes, and a job whose server was killed is resumed when it starts again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from support import kill9, serve

from assistant.config import Settings
from assistant.jobs.local import BACKGROUND_NICE, LocalJobQueue
from assistant.store.db import Database
from assistant.store.tables import AuditEntry, Record


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux behaviour")
def test_job_threads_and_what_they_start_run_nicer_than_the_api_at_normal_policy(settings: Settings) -> None:
    db = Database(settings)
    seen: dict[str, tuple[int, int]] = {}
    done = threading.Event()

    def priority() -> tuple[int, int]:
        tid = threading.get_native_id()
        return os.getpriority(os.PRIO_PROCESS, tid), os.sched_getscheduler(tid)

    def run(job_id: str) -> None:
        seen["job"] = priority()
        child: dict[str, tuple[int, int]] = {}
        t = threading.Thread(target=lambda: child.update(n=priority()))
        t.start()
        t.join()
        seen["started_by_job"] = child["n"]
        done.set()

    api = priority()
    queue = LocalJobQueue(db, run, settings)
    try:
        queue.start()
        queue.submit("j1")
        assert done.wait(10)
    finally:
        queue.stop()
        db.dispose()
    # Plain nice under the normal policy (never SCHED_IDLE, which starves a job beside any busy process).
    expected = (min(19, api[0] + BACKGROUND_NICE), os.SCHED_OTHER)
    assert seen == {"job": expected, "started_by_job": expected}
    assert priority() == api  # the caller is untouched


_BUSY_LOOP = "while True:\n    pass\n"


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux behaviour")
def test_a_job_finishes_while_busy_processes_hold_every_core(tmp_path: Path, short_visit_wav: Path) -> None:
    """A real `assistant serve` (tiny.en, one speaker, extractive drafting) with a CPU-bound process per core
    beside it, at the server's own priority: the job still gets its share of the CPU and finishes."""
    hogs = [subprocess.Popen([sys.executable, "-c", _BUSY_LOOP]) for _ in range(os.cpu_count() or 1)]
    try:
        with serve(tmp_path / "data", tmp_path / "serve.log", ASSISTANT_WHISPER_MODEL="tiny.en") as (_, base):
            r = httpx.post(f"{base}/api/recordings", data={"engine": "extractive", "speakers": "1"},
                           files={"file": ("v.wav", short_visit_wav.read_bytes(), "audio/wav")}, timeout=60)
            assert r.status_code == 202, r.text
            job_id = r.json()["job_id"]
            deadline = time.monotonic() + 600
            while (job := httpx.get(f"{base}/api/jobs/{job_id}", timeout=30).json())["state"] not in ("done",
                                                                                                        "failed"):
                assert time.monotonic() < deadline, f"no progress beside busy processes: {job}"
                time.sleep(0.5)
            assert all(h.poll() is None for h in hogs)  # the cores were busy throughout
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert job["state"] == "done", job
    assert job["record_id"]


@pytest.mark.slow
def test_serve_killed_mid_draft_resumes_the_job_at_restart_with_one_record(
    tmp_path: Path, visit_wav: Path
) -> None:
    """`assistant serve` (SQLite) SIGKILLed while drafting: the next start takes the job
    back from the dead server, drafts it once, and says so in the job's history."""
    data = tmp_path / "data"
    env = {"ASSISTANT_WHISPER_MODEL": "tiny.en"}
    job_id = None
    with serve(data, tmp_path / "serve-1.log", **env) as (proc, base):
        for _ in range(4):  # a window missed (drafting done before we looked) is tried again
            r = httpx.post(f"{base}/api/recordings", files={"file": ("v.wav", visit_wav.read_bytes(), "audio/wav")},
                           data={"template": "sc_contact_note", "engine": "extractive"}, timeout=60)
            assert r.status_code == 202, r.text
            candidate = r.json()["job_id"]
            while (job := httpx.get(f"{base}/api/jobs/{candidate}", timeout=10).json())["state"] != "done":
                if job["stage"].startswith("drafting") and job["progress"] < 0.9:
                    job_id = candidate
                    break
                assert job["state"] != "failed", job
                time.sleep(0.02)
            if job_id:
                break
        assert job_id, "never caught a job while drafting"
        kill9(proc)
    with serve(data, tmp_path / "serve-2.log", **env) as (proc, base):
        deadline = time.monotonic() + 300
        while (job := httpx.get(f"{base}/api/jobs/{job_id}", timeout=10).json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        pid = proc.pid
    assert job["state"] == "done", job
    assert [e["text"] for e in job["history"]] == [
        f"worker lost at drafting, resumed by serve@{socket.gethostname()} pid {pid}"]
    db = Database(Settings(data_dir=data))
    try:
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Record).where(Record.job_id == job_id)) == 1
            actions = [e.action for e in s.scalars(select(AuditEntry)) if e.objects.get("job") == job_id]
    finally:
        db.dispose()
    # Transcribed once (before the kill), drafted once (after the restart).
    assert actions.count("transcribe") == 1 and actions.count("draft") == 1, actions
