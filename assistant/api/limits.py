"""Request-body limits for every route except the streaming upload (which enforces its own, larger limit).

FastAPI reads a JSON body whole before validating it, so without a cap a 1 GB PATCH is 1 GB of memory.
This ASGI middleware refuses a body whose declared `Content-Length` is over the cap, invalid or negative, and
counts the bytes of bodies that declare none (chunked) as they arrive, answering 413 with the usual JSON
error as soon as the cap is passed. It also refuses header blocks over 32 KB (431).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY = 2 * 1024 * 1024
# uvicorn sets no header limit with httptools, and with h11 only for a header block that arrives in pieces.
MAX_HEADER_BYTES = 32 * 1024


async def _json_error(send: Send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY,
                 streaming_paths: tuple[str, ...] = ("/api/recordings",)) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streaming_paths = streaming_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        if sum(len(k) + len(v) + 4 for k, v in headers) > MAX_HEADER_BYTES:
            await _json_error(send, 431, "headers_too_large", f"request headers over {MAX_HEADER_BYTES} bytes")
            return
        declared = [v for k, v in headers if k.lower() == b"content-length"]
        if len(declared) > 1 and len(set(declared)) > 1:
            await _json_error(send, 400, "invalid_request", "conflicting Content-Length headers")
            return
        size: int | None = None
        if declared:
            raw = declared[0].strip()
            if not raw.isdigit():  # "-5", "1e3", "" and friends
                await _json_error(send, 400, "invalid_request", "invalid Content-Length")
                return
            size = int(raw)
        if scope["path"].rstrip("/") in self.streaming_paths:
            await self.app(scope, receive, send)  # the upload route streams and limits its own body
            return
        if size is not None and size > self.max_bytes:
            await _json_error(send, 413, "too_large", f"request body over {self.max_bytes} bytes")
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing unchanged: 413, JSON body.
                    raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited, send)
