"""Helpers shared by test folders (importable as `support`: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
SHARED_DATA = REPO.parent / "shared" / "data"


def require(condition: bool, reason: str) -> None:
    """Skip loudly on a newcomer's laptop; fail in CI, where everything must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(f"SKIPPED (missing prerequisite): {reason}")


def save_finished_record(session, owner_id: str, record, **job_fields: object) -> str:  # type: ignore[no-untyped-def]
    """Store `record` as a finished job leaves it (job row, record row, AI version 1) inside `session`;
    returns the record id. Tests that need no Whisper or LLM start from here."""
    from assistant.store.tables import Job, Record, RecordVersion

    job = Job(owner_id=owner_id, template_id=record.template_id, state="done", stage="done", progress=1.0,
              **{"kind": "notes", **job_fields})
    session.add(job)
    session.flush()
    row = Record(owner_id=owner_id, job_id=job.id, template_id=record.template_id, data={})
    session.add(row)
    session.flush()
    record.id, record.owner = row.id, owner_id
    row.data = record.model_dump(mode="json")
    job.record_id = row.id
    session.add(RecordVersion(record_id=row.id, version=1, source="ai", author="assistant", data=row.data))
    return row.id


@contextmanager
def serve(data_dir: Path, log: Path, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real `assistant serve` on a free loopback port, answering /health; terminated on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO),
               "ASSISTANT_MODELS_CACHE_DIR": os.environ.get("ASSISTANT_MODELS_CACHE_DIR",
                                                            str(REPO / ".cache" / "models")), **env}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from assistant.cli import app; app()", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--data-dir", str(data_dir)], env=environ, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"server exited: {log.read_text()[-2000:]}"
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def kill9(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


# A POST's path, lower-cased headers and raw body -> the HTTP status and the JSON payload to answer with.
Answer = Callable[[str, dict[str, str], bytes], tuple[int, Any]]


@contextmanager
def loopback_json_server(answer: Answer) -> Iterator[str]:
    """An HTTP server on a free loopback port that answers every POST with `answer(...)` as JSON (a stand-in
    for an OpenAI-compatible endpoint); yields its `/v1` base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            status, payload = answer(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def chat_completion(content: str, model: str, finish_reason: str = "stop",
                    tokens: tuple[int, int] = (1, 1)) -> dict[str, Any]:
    """An OpenAI chat-completion response body with one choice."""
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": tokens[0], "completion_tokens": tokens[1], "total_tokens": sum(tokens)},
    }
