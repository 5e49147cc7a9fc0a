"""Fixtures for the LLM boundary: the shared embedded servers, a loopback fake endpoint, a network guard."""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from support import chat_completion, loopback_json_server

from assistant.config import Settings
from assistant.llm.server import EmbeddedLLMServer


@pytest.fixture(scope="session")
def llm_settings(session_settings: Settings) -> Settings:
    return session_settings.model_copy(update={"llm_backend": "embedded"})


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
        self.replies.append((status, chat_completion(text, "fake-model", finish_reason, tokens=(11, 7))))

    def reply_error(self, status: int, message: str) -> None:
        self.replies.append((status, {"error": {"message": message, "type": "server_error"}}))


@pytest.fixture
def fake_openai() -> Iterator[FakeEndpoint]:
    endpoint = FakeEndpoint()

    def answer(path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        endpoint.requests.append({"path": path, "headers": headers, "body": json.loads(raw or b"{}")})
        return endpoint.replies.pop(0) if endpoint.replies else (500, {"error": "no reply"})

    with loopback_json_server(answer) as base_url:
        endpoint.base_url = base_url
        yield endpoint


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
