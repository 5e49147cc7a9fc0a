"""No telemetry, whatever the environment says. FastAPI 0.163 has OpenTelemetry built in: with
FASTAPI_OTEL_AUTO_CONFIGURE=true and an OTLP endpoint in the environment (which a hosting platform may set for
every service it runs), it exports a span, metrics and log records for each request, the log records carrying
validation errors with the values submitted. That would send note text off the machine. The app turns this off;
here a plain FastAPI app, given that environment, sends its telemetry to a loopback collector (so the exporter
works on this machine), and ours, given the same environment and a request carrying a canary, sends nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CANARY = "Canary Zebra Marmalade 7731"
APP = r"""
import sys
from fastapi import FastAPI
from fastapi.testclient import TestClient

which, data_dir, canary = sys.argv[1:4]
if which == "plain":
    app = FastAPI()

    @app.post("/api/notes")
    def notes(body: dict[str, int]) -> dict[str, str]:
        return {}
else:
    from assistant.api.app import create_app
    from assistant.config import Settings

    app = create_app(Settings(data_dir=data_dir))
with TestClient(app) as client:
    statuses = [client.post("/api/notes", json={"text": canary, "template": [canary]}).status_code,
                client.get("/api/jobs/" + canary.replace(" ", "-")).status_code]
print("requests done", statuses)
"""


class Collector(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                collector.received.append((self.path, body))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run(which: str, collector: Collector, tmp_path: Path) -> None:
    env = {**os.environ, "FASTAPI_OTEL_AUTO_CONFIGURE": "true",
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_address[1]}",
           "OTEL_BSP_SCHEDULE_DELAY": "50", "NO_PROXY": "*", "no_proxy": "*"}
    done = subprocess.run([sys.executable, "-c", APP, which, str(tmp_path / "data"), CANARY], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "requests done" in done.stdout, done.stderr[-3000:]


def test_a_plain_fastapi_app_exports_requests_to_the_environments_collector(collector: Collector,
                                                                            tmp_path: Path) -> None:
    _run("plain", collector, tmp_path)
    paths = {path for path, _ in collector.received}
    assert "/v1/traces" in paths, f"the exporter sent nothing here ({paths}): this test would prove nothing"
    assert any(b"Canary-Zebra" in body for _, body in collector.received), "request data is in what it sends"


def test_the_app_exports_nothing_given_the_same_environment(collector: Collector, tmp_path: Path) -> None:
    _run("ours", collector, tmp_path)
    assert collector.received == [], f"telemetry left the app: {[p for p, _ in collector.received]}"
