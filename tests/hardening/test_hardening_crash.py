"""Crashes: `kill -9` of a real `assistant serve` process during an upload and during a job. After a restart no
partial upload is visible (on disk or in the database), the job resumes or is marked failed with a reason,
and the database and the audit chain are consistent."""

from __future__ import annotations

import os
import socket
import sqlite3
import sys
import time
from pathlib import Path

import httpx
import pytest
from support import REPO, kill9, require, serve

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))
from generators import wav  # noqa: E402


def consistency(data_dir: Path) -> dict[str, object]:
    """SQLite integrity, referential consistency, and the audit chain."""
    con = sqlite3.connect(data_dir / "assistant.db")
    try:
        out = {
            "integrity": con.execute("PRAGMA integrity_check").fetchone()[0],
            "fk_violations": con.execute("PRAGMA foreign_key_check").fetchall(),
            "recordings": con.execute("SELECT id, path FROM recordings").fetchall(),
            "jobs": con.execute("SELECT id, state, error, record_id FROM jobs").fetchall(),
            "orphan_records": con.execute(
                "SELECT id FROM records WHERE job_id NOT IN (SELECT id FROM jobs)").fetchall(),
            "records_without_version": con.execute(
                "SELECT id FROM records WHERE id NOT IN (SELECT record_id FROM record_versions)").fetchall(),
        }
    finally:
        con.close()
    from typer.testing import CliRunner

    from assistant.cli import app

    verdict = CliRunner().invoke(app, ["audit", "verify"], env={"ASSISTANT_DATA_DIR": str(data_dir)})
    out["audit"] = (verdict.exit_code, verdict.output.strip())
    return out


def test_kill_during_upload_leaves_nothing_visible(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "server.log"
    audio = wav(seconds=30.0)  # ~960 KB
    boundary = "CrashBoundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"visit.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()
    total = len(head) + len(audio) + len(f"\r\n--{boundary}--\r\n")
    with serve(data, log) as (proc, base):
        port = int(base.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall((f"POST /api/recordings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {total}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode() + head
                     + audio[: len(audio) // 2])
        tmp = data / "uploads" / "tmp"
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size > 0 for p in tmp.glob("upload-*.part")) if tmp.exists() else True:
            assert time.monotonic() < deadline, "the upload never reached the disk"
            time.sleep(0.05)
        kill9(proc)  # mid-upload: half the file is on disk, nothing in the database
        sock.close()
    assert list(tmp.glob("upload-*.part")), "a partial file should be left by the crash (this is what we clean)"
    with serve(data, log) as (_, base):
        assert httpx.get(f"{base}/health").status_code == 200
        leftovers = [p for p in (data / "uploads").rglob("*") if p.is_file()]
        assert leftovers == [], leftovers  # swept at start-up: its writer is gone
        state = consistency(data)
        assert state["integrity"] == "ok" and not state["fk_violations"]
        assert state["recordings"] == [] and state["jobs"] == []
        assert state["audit"][0] == 0, state["audit"]
        # The service still takes uploads after the crash.
        r = httpx.post(f"{base}/api/recordings", files={"file": ("v.wav", wav(seconds=1.0), "audio/wav")},
                       data={"engine": "extractive"}, timeout=30)
        assert r.status_code == 202, r.text


@pytest.mark.slow
def test_kill_during_a_job_resumes_it_after_restart(tmp_path: Path) -> None:
    """Real Whisper on a real recording: the server dies while transcribing; the restarted one finishes the job
    (or fails it with a reason) and the database stays consistent."""
    jfk = Path(os.environ.get("ASSISTANT_TEST_DATA_DIR", REPO / ".cache" / "test-data")) / "jfk.wav"
    require(jfk.is_file(), f"{jfk} (make test-data)")
    require((REPO / ".cache" / "models").exists() or "ASSISTANT_MODELS_CACHE_DIR" in os.environ,
            "assembled models (make models)")
    data, log = tmp_path / "data", tmp_path / "server.log"
    with serve(data, log, ASSISTANT_WHISPER_MODEL="base") as (proc, base):
        r = httpx.post(f"{base}/api/recordings", files={"file": ("jfk.wav", jfk.read_bytes(), "audio/wav")},
                       data={"engine": "extractive"}, timeout=60)
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        deadline = time.monotonic() + 300
        while (job := httpx.get(f"{base}/api/jobs/{job_id}").json())["stage"] != "transcribing":
            assert job["state"] not in ("done", "failed"), f"finished before the crash: {job}"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        kill9(proc)
    with serve(data, log, ASSISTANT_WHISPER_MODEL="base") as (_, base):
        deadline = time.monotonic() + 600
        while (job := httpx.get(f"{base}/api/jobs/{job_id}").json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
        if job["state"] == "failed":
            assert job["error"], "a failed job must say why"
        else:
            record = httpx.get(f"{base}/api/records/{job['record_id']}").json()
            assert "ask not what your country" in " ".join(s["text"] for s in record["transcript"]["segments"]).lower()
        state = consistency(data)
        assert state["integrity"] == "ok" and not state["fk_violations"]
        assert not state["orphan_records"] and not state["records_without_version"]
        assert [(j[0], j[1]) for j in state["jobs"]] == [(job_id, job["state"])]
        assert state["audit"][0] == 0, state["audit"]
