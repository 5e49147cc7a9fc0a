"""The OpenAPI document as the app really behaves (checked by schemathesis in tests/hardening).

FastAPI documents its own 422 shape (`{detail: [...]}`), but every error here is `{error, detail}`
(`assistant.api.errors`), and some statuses come from layers FastAPI cannot see (the body-limit middleware,
auth, the streaming upload parser). This adds the `Error` schema to every 4xx/5xx response, documents the
statuses each operation can really return. The bodies the routes parse themselves are documented from their
models by the routes (`openapi_extra`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string", "description": "machine-readable code, e.g. not_found"},
                   "detail": {"type": "string", "description": "one line for people; never case text"}},
}
_REF = {"$ref": "#/components/schemas/Error"}
_DESCRIPTIONS = {
    "400": "Malformed request (framing, Content-Length, body encoding)",
    "401": "Missing or unknown bearer token",
    "404": "No such object for this user",
    "409": "Conflict with the record's state",
    "413": "Body, field or recording over its limit",
    "415": "Unsupported media type",
    "422": "Invalid input",
    "431": "Request headers too large",
    "500": "Server error (nothing was saved)",
    "507": "The server's disk is full (nothing was saved)",
}
def _codes(path: str, method: str) -> set[str]:
    codes = {"400", "413", "422", "431", "500"} if path.startswith("/api/") else {"431", "500"}
    if path.startswith("/api/") and path != "/api/templates":
        codes.add("401")
    if "{" in path:
        codes.add("404")
    if path == "/api/recordings" and method == "post":
        codes |= {"415", "507"}
    if path == "/api/notes" and method == "post":
        codes.add("415")
    return codes


def complete_spec(schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            responses = op.setdefault("responses", {})
            for code in _codes(path, method) | {c for c in responses if c[0] in "45"}:
                responses[code] = {"description": _DESCRIPTIONS.get(code, "Error"),
                                   "content": {"application/json": {"schema": _REF}}}
    return schema


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_spec(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
