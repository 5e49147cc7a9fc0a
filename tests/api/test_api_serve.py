"""`assistant serve`: one process by default; more only as uvicorn's workers with the Celery queue, each
building its own app on the shared database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from assistant.cli import app

REPO = Path(__file__).resolve().parents[2]


def test_several_workers_need_the_celery_queue(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_QUEUE", "local")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))  # restored afterwards: --data-dir sets it
    result = CliRunner().invoke(app, ["serve", "--workers", "2", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "ASSISTANT_QUEUE=celery" in result.output


def test_a_public_address_needs_tokens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_AUTH_REQUIRED", "false")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "refusing to bind 0.0.0.0 without tokens" in result.output


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_two_workers_start_on_one_fresh_database_and_stop_together(tmp_path: Path) -> None:
    """Both worker processes migrate, create the local user and record the configuration on the same new
    SQLite file at once; both serve, and SIGTERM to `serve` stops them all."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "ASSISTANT_QUEUE": "celery",
           "ASSISTANT_BROKER_URL": "redis://127.0.0.1:1/0"}  # nothing is published in this test
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from assistant.cli import app; app()", "serve", "--port",
                                 str(port), "--workers", "2", "--data-dir", str(tmp_path / "data")],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while log.read_text(errors="replace").count("Application startup complete") < 2:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        workers = [w for w in _children(proc.pid) if "spawn_main" in Path(f"/proc/{w}/cmdline").read_text()]
        assert len(workers) == 2, workers
        for _ in range(10):  # separate connections: either worker may take each
            r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
            assert r.status_code == 200
        assert "Traceback" not in log.read_text(errors="replace")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []
