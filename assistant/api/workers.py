"""`assistant serve`: one or more API processes answering on one port.

One Python process serves its requests on one core: its event loop parses every upload's body, checks it and
commits it, several milliseconds of CPU per 1 MB upload, so the last of a burst of 50 waits for all the others.
With `api_workers` > 1 (Linux), each process binds the port with SO_REUSEPORT and the kernel spreads new
connections across them, so a burst uses every core. (One shared socket would not: the first event loop to
wake accepts every pending connection; measured, one of two processes took 87 of 101 uploads.)

The first process is the one `serve` runs: it runs the in-process jobs, the retention timer and the start-up
sweeps (see create_app). At the end of its start-up it starts the others and waits until each is ready, and
only then listens itself, so a server that answers has all its processes. The others get the write end of a
pipe for the ids of the jobs they accept (assistant.jobs.relay). Each dies with the first process (the
kernel's parent-death signal: after a `kill -9` nothing is left answering on the port); one that exits on its
own later is started again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from assistant.config import Settings

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 120.0
# A process that exits sooner than this after its start is failing at start-up: it is not started again.
RESTART_AFTER_S = 10.0


class CannotListen(Exception):
    """The address or port cannot be served."""


def _bound(host: str, port: int, *, share: bool) -> socket.socket:
    """A socket bound to the address, not yet listening: asyncio listens once the app's start-up is done, so
    no connection waits on a process that is still starting."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _answering(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def worker_count(settings: Settings) -> int:
    """SO_REUSEPORT spreads connections only on Linux (elsewhere the last socket bound takes them all)."""
    return settings.api.workers if sys.platform.startswith("linux") else 1


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from assistant.api.app import create_app

    workers = worker_count(settings)
    # SO_REUSEPORT would let this server share the port with another one already on it (an old instance,
    # say) and split the requests between them: refuse, as a plain bind would.
    if port and workers > 1 and _answering(host, port):
        raise CannotListen(f"something is already answering on {host}:{port}")
    try:
        sock = _bound(host, port, share=workers > 1)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    jobs_from = jobs_to = None
    if workers > 1:
        jobs_from, jobs_to = os.pipe()
    app = create_app(settings, jobs_from=jobs_from)
    others = _Others(settings, host, sock.getsockname()[1], jobs_to, workers - 1) if jobs_to is not None else None
    own_lifespan = app.router.lifespan_context
    url = f"http://{'[' + host + ']' if ':' in host else host}:{sock.getsockname()[1]}"

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with own_lifespan(app_) as state:
            # After this process's start-up: the database is migrated and unfinished jobs are queued again.
            ready = await others.start() if others is not None else 0
            logging.getLogger("uvicorn.error").info("Frontline Assistant on %s (%d API process%s)", url,
                                                    ready + 1, "" if ready == 0 else "es")
            try:
                yield state
            finally:
                if others is not None:
                    await asyncio.to_thread(others.stop)

    app.router.lifespan_context = lifespan
    uvicorn.Server(uvicorn.Config(app, log_level="info")).run(sockets=[sock])


class _Others:
    """The other API processes: started together, then watched from a thread of their own that starts again
    any that exits (the parent-death signal follows the thread that started a process, so both the event
    loop's thread and the watcher live as long as the server)."""

    def __init__(self, settings: Settings, host: str, port: int, jobs_to: int, count: int) -> None:
        self._ready_from, self._ready_to = os.pipe()
        self._argv = [sys.executable, "-m", "assistant.api.workers", host, str(port), str(jobs_to),
                      str(self._ready_to), str(os.getpid())]
        self._env = {**os.environ, "ASSISTANT_DATA_DIR": str(settings.data_dir)}
        self._fds = (jobs_to, self._ready_to)
        self._count = count
        self._procs: list[tuple[subprocess.Popen[bytes], float]] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._stopped = threading.Event()

    def _spawn(self) -> None:
        # A session of its own: a Ctrl-C in the terminal reaches the first process only, which stops the others.
        proc = subprocess.Popen(self._argv, env=self._env, pass_fds=self._fds, start_new_session=True)
        with self._lock:
            self._procs.append((proc, time.monotonic()))

    async def start(self) -> int:
        """Start them and wait until each is ready; returns how many are."""
        for _ in range(self._count):
            self._spawn()
        ready = await asyncio.to_thread(self._wait_ready, self._count, READY_TIMEOUT_S)
        if ready < self._count:
            log.error("%d of %d other API processes started; serving without the rest", ready, self._count)
        threading.Thread(target=self._watch, name="api-workers", daemon=True).start()
        return ready

    def _wait_ready(self, count: int, timeout: float) -> int:
        ready, deadline = 0, time.monotonic() + timeout
        while ready < count and time.monotonic() < deadline:
            if select.select([self._ready_from], [], [], 0.2)[0]:
                ready += len(os.read(self._ready_from, 64))  # one byte per process
            elif all(proc.poll() is not None for proc, _ in self._procs):
                break
        return ready

    def _watch(self) -> None:
        while not self._closing.wait(1.0):
            if select.select([self._ready_from], [], [], 0)[0]:
                os.read(self._ready_from, 64)  # restarted processes saying they are ready
            with self._lock:
                exited = [(p, t) for p, t in self._procs if p.poll() is not None]
                for entry in exited:
                    self._procs.remove(entry)
            for proc, started in exited:
                if self._closing.is_set():
                    break
                if time.monotonic() - started < RESTART_AFTER_S:
                    log.error("API process %d exited at start-up (status %s); serving without it",
                              proc.pid, proc.returncode)
                else:
                    log.warning("API process %d exited (status %s); starting another", proc.pid, proc.returncode)
                    self._spawn()
        self._stopped.wait()  # outlive the processes this thread started

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (each finishes the requests it has), then SIGKILL what is left."""
        self._closing.set()
        with self._lock:
            procs = [p for p, _ in self._procs]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._stopped.set()


def _die_with_parent(parent: int) -> None:
    """SIGKILL from the kernel when the process that started this one dies, however it dies."""
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - Linux only, where serve starts other processes
        pass
    if os.getppid() != parent:  # it died before the signal was set
        os._exit(1)


def main(argv: list[str]) -> None:
    """Entry point of an API process started by `serve` (not for use on its own)."""
    host, port, jobs_to, ready_to, parent = argv[0], int(argv[1]), int(argv[2]), int(argv[3]), int(argv[4])
    _die_with_parent(parent)
    import uvicorn

    from assistant.api.app import create_app
    from assistant.config import get_settings

    server = uvicorn.Server(uvicorn.Config(create_app(get_settings(), jobs_to=jobs_to), log_level="info"))

    def say_ready() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.01)
        os.write(ready_to, b"r")
        os.close(ready_to)

    threading.Thread(target=say_ready, name="ready", daemon=True).start()
    server.run(sockets=[_bound(host, port, share=True)])


if __name__ == "__main__":
    main(sys.argv[1:])
