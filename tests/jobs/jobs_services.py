"""Real PostgreSQL and Redis for the scale-out tests: a uniquely named database per use, an empty Redis
database number, and `assistant worker` subprocesses with their logs on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PG_BASE = os.environ.get("ASSISTANT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_BASE = os.environ.get("ASSISTANT_TEST_REDIS", "redis://127.0.0.1:6379")


def models_cache() -> Path:
    env = os.environ.get("ASSISTANT_MODELS_CACHE_DIR")
    return Path(env) if env else REPO / ".cache" / "models"


def _pg_admin_dsn() -> str:
    from sqlalchemy.engine import make_url

    url = make_url(f"{PG_BASE}/postgres")
    parts = [f"host={url.host or '127.0.0.1'}", f"port={url.port or 5432}",
             f"user={url.username or 'postgres'}", "dbname=postgres", "connect_timeout=3"]
    if url.password:
        parts.append(f"password={url.password}")
    return " ".join(parts)


def postgres_problem() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:
        return f"PostgreSQL at {PG_BASE} is not reachable ({type(exc).__name__}); start it (.ci/run does)"


def redis_problem() -> str | None:
    try:
        import redis

        redis.Redis.from_url(f"{REDIS_BASE}/0", socket_connect_timeout=3).ping()
        return None
    except Exception as exc:
        return f"Redis at {REDIS_BASE} is not reachable ({type(exc).__name__}); start it (.ci/run does)"


@contextmanager
def temp_postgres_database(prefix: str = "assistant_test") -> Iterator[str]:
    """CREATE a uniquely named database, yield its SQLAlchemy URL, DROP it (also when tests fail)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_BASE}/{name}"
    finally:
        with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def temp_redis_database() -> Iterator[str]:
    """An empty Redis database number (1..15), flushed afterwards: our keys only, nobody else's."""
    import redis

    for n in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS_BASE}/{n}")
        marker = f"assistant-test-claim-{uuid.uuid4().hex}"
        if client.dbsize() == 0 and client.set(marker, "1", nx=True) and client.dbsize() == 1:
            client.delete(marker)
            try:
                yield f"{REDIS_BASE}/{n}"
            finally:
                client.flushdb()
            return
    raise RuntimeError("no empty Redis database number (1..15) for the test")


class WorkerProcess:
    """`assistant worker` in its own process group (so SIGKILL takes the pool's children with it)."""

    def __init__(
        self, name: str, queues: str, env: dict[str, str], log_dir: Path, concurrency: int = 1
    ) -> None:
        self.name = f"{name}@{os.uname().nodename}"
        self.log_path = log_dir / f"worker-{name}.log"
        self._log = self.log_path.open("wb")
        cmd = [sys.executable, "-c", "from assistant.cli import app; app()", "worker", "--queues", queues,
               "--concurrency", str(concurrency), "--hostname", self.name, "--loglevel", "INFO"]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log():
                return
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"worker {self.name} exited with {code}:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"worker {self.name} not ready after {timeout:.0f} s:\n{self.log()[-3000:]}")

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # warm shutdown: finish nothing new, close models
                self.proc.wait(timeout=20)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        self._log.close()


def worker_env(settings_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(settings_env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env["HF_HUB_OFFLINE"] = "1"
    return env
