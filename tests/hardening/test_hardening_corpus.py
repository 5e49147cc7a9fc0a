"""The bad-input corpus (corpus/cases.yaml): every case is answered 4xx with a JSON error, the server stays
up, and nothing partial is left on disk or in the database.

In-process cases go through the ASGI app (one app for the module, fast); `transport: raw` cases are bytes on a
socket to a live uvicorn server, for framing the app never sees (chunked bodies, lying Content-Length...).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_helpers import Client, NoEngines, insert_record
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web_helpers import live_server

from assistant.api.app import create_app
from assistant.api.auth import add_user
from assistant.config import Settings
from assistant.store.tables import AuditEntry, Job, Record, Recording, RecordVersion

CORPUS = Path(__file__).resolve().parent / "corpus"
sys.path.insert(0, str(CORPUS))
from generators import generate  # noqa: E402

CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text())["cases"]
IN_PROCESS = [c for c in CASES if c.get("transport") != "raw"]
RAW = [c for c in CASES if c.get("transport") == "raw"]
_REPEAT = re.compile(r"<<(.*?)\*(\d+)>>", re.S)


def test_the_corpus_is_large_and_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) >= 200 and len(set(ids)) == len(ids)
    assert all(c.get("note") for c in CASES)


# -- building requests from the data ---------------------------------------------------------------------------


def expand(value: Any) -> Any:
    if isinstance(value, str):
        return _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), value)
    if isinstance(value, list):
        return [expand(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"list_of"}:
            return [expand(value["list_of"]["text"])] * int(value["list_of"]["times"])
        return {k: expand(v) for k, v in value.items()}
    return value


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def part_data(spec: dict[str, Any] | str) -> bytes:
    if isinstance(spec, str):
        return _utf8(expand(spec))
    if "text" in spec:
        return _utf8(expand(spec["text"]))
    if "hex" in spec:
        return bytes.fromhex(expand(spec["hex"]))
    if "file" in spec:
        data = (CORPUS / "files" / spec["file"]).read_bytes()
        return data[: spec["keep"]] if "keep" in spec else data
    if "gen" in spec:
        return generate(spec)
    raise ValueError(f"unknown data spec {spec}")


def json_text(spec: Any) -> str:
    if isinstance(spec, str):
        return expand(spec)
    if "deep" in spec:
        return "[" * spec["deep"] + "]" * spec["deep"]
    if "deep_object" in spec:
        return '{"a":' * spec["deep_object"] + "1" + "}" * spec["deep_object"]
    if "wide" in spec:
        return "{" + ",".join(f'"k{i}":1' for i in range(spec["wide"])) + "}"
    key, depth = spec["deep_field"]
    return f'{{"{key}": ' + "[" * depth + "]" * depth + "}"


def multipart(spec: dict[str, Any]) -> tuple[bytes, str]:
    boundary = expand(spec["boundary"])
    out = bytearray()
    parts = list(spec.get("parts", []))
    parts += [{"name": f"f{i}", "data": {"text": "x"}} for i in range(spec.get("repeat_field", 0))]
    for part in parts:
        disp = "form-data"
        if "name" in part:
            disp += f'; name="{part["name"]}"'
        if part.get("filename") is not None:
            disp += f'; filename="{expand(part["filename"])}"'
        lines = [f"Content-Disposition: {disp}"]
        if part.get("content_type") is not None:
            lines.append(f"Content-Type: {part['content_type']}")
        lines += [f"X-Extra-{i}: value" for i in range(part.get("extra_headers", 0))]
        out += _utf8(f"--{boundary}\r\n" + "\r\n".join(lines) + "\r\n\r\n") + part_data(part["data"]) + b"\r\n"
    if spec.get("close", True):
        out += _utf8(f"--{boundary}--\r\n")
    quoted = f'"{boundary}"' if spec.get("quote_boundary") else boundary
    return bytes(out), f"multipart/form-data; boundary={quoted}"


def body_of(spec: dict[str, Any] | None) -> tuple[bytes, str | None]:
    if spec is None:
        return b"", None
    if "raw" in spec:
        return _utf8(expand(spec["raw"])), None
    if "hex" in spec:
        return bytes.fromhex(expand(spec["hex"])), None
    if "json" in spec:
        return _utf8(json.dumps(expand(spec["json"]))), "application/json"
    if "json_text" in spec:
        return _utf8(json_text(spec["json_text"])), "application/json"
    if "form" in spec:
        return urllib.parse.urlencode(expand(spec["form"])).encode(), "application/x-www-form-urlencoded"
    if "gen" in spec:
        return generate(spec["gen"]), None
    if "multipart" in spec:
        return multipart(spec["multipart"])
    raise ValueError(f"unknown body spec {spec}")


def status_ok(case: dict[str, Any], status: int | None) -> bool:
    expect = case["expect"]
    if expect == "4xx":
        return status is not None and 400 <= status < 500
    return status in expect


# -- state: nothing partial on disk or in the database ------------------------------------------------------------


def snapshot(db: Any, data_dir: Path) -> dict[str, Any]:
    with db.session() as s:
        counts = {t.__tablename__: s.scalar(select(func.count()).select_from(t))
                  for t in (Recording, Job, Record, RecordVersion, AuditEntry)}
    uploads = data_dir / "uploads"
    files = sorted(str(p.relative_to(uploads)) for p in uploads.rglob("*") if p.is_file()) if uploads.exists() else []
    return {"rows": counts, "files": files}


def check_response(case: dict[str, Any], status: int | None, body: bytes) -> None:
    assert status_ok(case, status), f"{case['id']}: got {status}, expected {case['expect']}: {body[:300]!r}"
    if status is None or not case.get("json_body", True):
        return
    payload = json.loads(body)
    assert set(payload) >= {"error", "detail"}, f"{case['id']}: {payload}"
    assert isinstance(payload["error"], str) and payload["error"]
    if case.get("error"):
        assert payload["error"] == case["error"], f"{case['id']}: {payload}"


# -- in-process ----------------------------------------------------------------------------------------------------


class Env:
    def __init__(self, http: TestClient, token: str, record: str, data_dir: Path) -> None:
        self.http, self.token, self.record, self.data_dir = http, token, record, data_dir
        self.db = http.app.state.db  # type: ignore[attr-defined]


def corpus_settings(root: Path) -> Settings:
    from support import REPO

    return Settings(data_dir=root, models_cache_dir=REPO / ".cache" / "models", auth_required=True,
                    max_upload_bytes=256 * 1024, max_audio_seconds=600)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    data = tmp_path_factory.mktemp("corpus")
    app = create_app(corpus_settings(data), engines=NoEngines())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as http:
        token = add_user(app.state.db, "alice")
        record = insert_record(Client(http, token))
        yield Env(http, token, record, data)


def _headers(case: dict[str, Any], token: str, default_ctype: str | None) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if default_ctype:
        headers["content-type"] = default_ctype
    auth = case.get("auth")
    if auth is None:
        headers["authorization"] = f"Bearer {token}"
    elif auth != "none":
        headers["authorization"] = expand(auth)
    for k, v in (case.get("headers") or {}).items():
        headers[k.lower()] = expand(v)
    # Header values that are not ASCII go as raw UTF-8 bytes, as a hostile client would send them.
    return {k: v.encode("utf-8", "surrogatepass") if isinstance(v, str) and not v.isascii() else v
            for k, v in headers.items()}


@pytest.mark.parametrize("case", IN_PROCESS, ids=[c["id"] for c in IN_PROCESS])
def test_bad_input_is_refused_cleanly(env: Env, case: dict[str, Any]) -> None:
    before = snapshot(env.db, env.data_dir)
    body, ctype = body_of(case.get("body"))
    headers = _headers(case, env.token, ctype)
    if headers.get("content-type") == "":
        del headers["content-type"]
    content: Any = body
    if headers.pop("x-chunked", None):  # no Content-Length: the body arrives in pieces of unknown total
        content = iter([body[i:i + 65536] for i in range(0, len(body), 65536)])
    path = expand(case["path"]).replace("{record}", env.record)
    r = env.http.request(case["method"], path, content=content if body or case.get("body") else None,
                         headers=headers)
    check_response(case, r.status_code, r.content)
    assert env.http.get("/health").status_code == 200
    assert snapshot(env.db, env.data_dir) == before, f"{case['id']} left something behind"


# -- raw bytes on a live server -------------------------------------------------------------------------------------


def raw_request(spec: dict[str, Any], token: str) -> tuple[bytes, bool]:
    if "line" in spec:  # a bare request line: half-close so the server sees the end instead of waiting
        return _utf8(spec["line"]), True
    body = _utf8(expand(spec["body"])) if "body" in spec else b""
    if spec.get("chunked"):
        body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                        for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
    if "body_raw" in spec:
        body = _utf8(spec["body_raw"])
    headers = {"host": "127.0.0.1", "authorization": f"Bearer {token}", "connection": "close",
               **{k.lower(): expand(v) for k, v in spec.get("headers", {}).items()}}
    if "content-length" not in headers and "transfer-encoding" not in headers and "extra_lines" not in spec and body:
        headers["content-length"] = str(len(body))
    lines = [f"{spec['method']} {expand(spec['path'])} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()),
             *spec.get("extra_lines", []), *(f"X-H{i}: v" for i in range(spec.get("repeat_header", 0)))]
    return _utf8("\r\n".join(lines) + "\r\n\r\n") + body, bool(spec.get("half_close"))


def send_raw(base: str, data: bytes, half_close: bool) -> tuple[int | None, bytes]:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read everything
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    raw = b"".join(chunks)
    if not raw:
        return None, b""
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = re.sub(rb"(?m)^[0-9a-fA-F]+\r\n", b"", body).replace(b"\r\n", b"")
    return status, body


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Any, Path]]:
    data = tmp_path_factory.mktemp("corpus-live")
    settings = corpus_settings(data)
    with live_server(settings, NoEngines()) as base:
        from assistant.store.db import Database

        db = Database(settings)
        token = add_user(db, "alice")
        yield base, token, db, data
        db.dispose()


@pytest.mark.parametrize("case", RAW, ids=[c["id"] for c in RAW])
def test_bad_framing_is_refused_cleanly(live: tuple[str, str, Any, Path], case: dict[str, Any]) -> None:
    import httpx

    base, token, db, data = live
    before = snapshot(db, data)
    status, body = send_raw(base, *raw_request(case["raw"], token))
    check_response(case, status, body)
    deadline = time.monotonic() + 10  # a dropped connection may still be unwinding server-side
    while snapshot(db, data) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{base}/health", timeout=10).status_code == 200
    assert snapshot(db, data) == before, f"{case['id']} left something behind"
