"""`assistant serve` with several API processes on one port (assistant.api.workers): connections are spread
over the processes, jobs accepted by any of them run in the first, and nothing outlives a `kill -9` of the
server. Also the pipe that relays job ids (assistant.jobs.relay), on its own."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support import kill9, serve

from assistant.jobs.relay import RelayJobQueue, relay_into

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="one API process off Linux")


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"assistant.api.workers" in (
                    entry / "cmdline").read_bytes():
                out.append(int(entry.name))
    return out


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def _owner_of(client_end: tuple[str, int], pids: tuple[int, ...]) -> int:
    """The process holding the server's end of the connection whose client end is `client_end`."""
    remote = f"{client_end[1]:04X}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # Until it is accepted, the server's end has no inode (0): read the table again each time.
        inodes = {fields[9] for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
                  if fields[2].endswith(f":{remote}") and fields[9] != "0"}
        for pid in pids:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return pid
        time.sleep(0.01)  # not accepted yet
    return 0


def _request(base: str, request: bytes, pids: tuple[int, ...]) -> tuple[int, bytes]:
    """One request on a new connection, as a separate client makes it (the kernel picks a process for each
    connection); returns which process accepted it and the response."""
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=30) as sock:
        owner = _owner_of(sock.getsockname(), pids)  # before the request: its end is closed after the response
        sock.sendall(request)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    return owner, response


def _note(i: int) -> bytes:
    body = json.dumps({"text": f"Present: A\nA: note number {i}.", "engine": "extractive"}).encode()
    return (b"POST /api/notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_both_processes_accept_and_every_job_runs(tmp_path: Path) -> None:
    with serve(tmp_path / "data", tmp_path / "server.log", ASSISTANT_API_WORKERS="2") as (proc, base):
        others = _children(proc.pid)
        assert len(others) == 1, "the server answers only once its second API process is ready"
        pids = (proc.pid, others[0])
        accepted: dict[str, int] = {}
        for i in range(16):  # all 16 in one process by chance: odds of 2 in 65,536
            owner, response = _request(base, _note(i), pids)
            assert response.startswith(b"HTTP/1.1 202"), response[:300]
            accepted[json.loads(response.split(b"\r\n\r\n", 1)[1])["job_id"]] = owner
        assert set(accepted.values()) == set(pids), accepted
        deadline, states = time.monotonic() + 120, {}
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            while time.monotonic() < deadline:
                states = {job: client.get(f"/api/jobs/{job}").json()["state"] for job in accepted}
                if all(state in ("done", "failed") for state in states.values()):
                    break
                time.sleep(0.5)
        # The jobs the second process accepted were relayed to the first, which ran them all.
        assert set(states.values()) == {"done"}, states


def test_kill_9_of_the_server_leaves_no_process_on_the_port(tmp_path: Path) -> None:
    with serve(tmp_path / "data", tmp_path / "server.log", ASSISTANT_API_WORKERS="2") as (proc, base):
        others = _children(proc.pid)
        assert len(others) == 1
        kill9(proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_gone(pid) for pid in others):
            time.sleep(0.05)
        assert all(_gone(pid) for pid in others), "an API process outlived the server"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/health", timeout=5, trust_env=False)


def test_an_api_process_that_dies_is_started_again(tmp_path: Path) -> None:
    from assistant.api import workers

    with serve(tmp_path / "data", tmp_path / "server.log", ASSISTANT_API_WORKERS="2") as (proc, base):
        (first,) = _children(proc.pid)
        time.sleep(workers.RESTART_AFTER_S)  # one that dies at start-up is not started again
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and [p for p in _children(proc.pid) if p != first] == []:
            time.sleep(0.2)
        assert [p for p in _children(proc.pid) if p != first], "the API process was not started again"
        assert "exited (status -9); starting another" in (tmp_path / "server.log").read_text()
        assert httpx.get(f"{base}/health", timeout=30, trust_env=False).status_code == 200


def test_a_second_server_on_the_same_port_is_refused(tmp_path: Path) -> None:
    with serve(tmp_path / "data", tmp_path / "server.log", ASSISTANT_API_WORKERS="2") as (_, base):
        port = base.rsplit(":", 1)[1]
        other = subprocess.run(
            [sys.executable, "-c", "from assistant.cli import app; app()", "serve", "--port", port, "--data-dir",
             str(tmp_path / "other")], capture_output=True, text=True, timeout=60,
            env={**os.environ, "ASSISTANT_API_WORKERS": "2"})
        assert other.returncode == 2
        assert f"already answering on 127.0.0.1:{port}" in other.stderr
        assert httpx.get(f"{base}/health", timeout=30, trust_env=False).status_code == 200


def test_relayed_job_ids_reach_the_queue_and_malformed_lines_do_not() -> None:
    read_end, write_end = os.pipe()
    received: list[str] = []

    class Recording:
        def submit(self, job_id: str) -> None:
            received.append(job_id)

    thread = relay_into(Recording(), read_end)  # type: ignore[arg-type]
    queue = RelayJobQueue(write_end)
    queue.submit("0123456789abcdef0123456789abcdef")
    os.write(write_end, b"../../etc/passwd\n")
    queue.submit("fedcba9876543210fedcba9876543210")
    os.close(write_end)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert received == ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"]
