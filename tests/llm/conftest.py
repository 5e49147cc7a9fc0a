"""Fixtures for the LLM boundary: the shared embedded servers, a loopback fake endpoint, a network guard."""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from assistant.config import Settings
from assistant.llm.server import EmbeddedLLMServer


@pytest.fixture(scope="session")
def llm_settings(session_settings: Settings) -> Settings:
    return session_settings.updated(llm_backend="embedded")


@pytest.fixture(scope="session")
def smol_server(llm_settings: Settings, smol_chat: object) -> Iterator[EmbeddedLLMServer]:
    """The session's SmolLM2 server (the one behind `smol_chat`), for its log, port and process."""
    from assistant.llm.factory import acquire_server, release_server

    server = acquire_server(llm_settings, "smollm2-135m")
    yield server
    release_server(server)


# -- a fake OpenAI-compatible endpoint on loopback (unit seam: records requests, replays canned replies) ----
class FakeEndpoint:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[tuple[int, dict[str, Any]]] = []
        self.base_url = ""

    def reply_text(self, text: str, status: int = 200, finish_reason: str = "stop") -> None:
        self.replies.append(
            (
                status,
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "fake-model",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": finish_reason,
                        }
                    ],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                },
            )
        )

    def reply_error(self, status: int, message: str) -> None:
        self.replies.append((status, {"error": {"message": message, "type": "server_error"}}))


@pytest.fixture
def fake_openai() -> Iterator[FakeEndpoint]:
    endpoint = FakeEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            endpoint.requests.append(
                {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
            )
            status, payload = endpoint.replies.pop(0) if endpoint.replies else (500, {"error": "no reply"})
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        httpd.shutdown()
        httpd.server_close()


# -- network guard: any connection that is not loopback fails inside the test process ----------------------
class OutboundBlocked(OSError):
    pass


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name would need DNS, i.e. the network


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise OutboundBlocked(
                errno.ENETUNREACH, f"test guard: outbound connection to {address!r} blocked"
            )

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
