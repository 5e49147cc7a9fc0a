"""Bounded JSON schemas for structured output.

A small model under a JSON grammar always produces *syntactically* valid JSON, but an unbounded string or
array lets it loop (repeating one list item or one phrase) until `max_tokens`, which truncates the JSON.
Every string must therefore carry `maxLength` (or be an `enum`/`const`), every array `maxItems`, and no
object may accept arbitrary extra keys. `ensure_bounded` refuses anything else before a request is sent.
"""

from __future__ import annotations

from typing import Any

_COMBINATORS = ("anyOf", "oneOf", "allOf")
_DEFS = ("$defs", "definitions")


class UnboundedSchemaError(ValueError):
    """A structured-output schema lets the model generate without limit; the message names each place."""


def unbounded_paths(schema: Any) -> list[str]:
    """JSON-pointer-like paths (with the reason) of every place in `schema` that is not bounded."""
    problems: list[str] = []
    _walk(schema, "#", problems)
    return problems


def ensure_bounded(schema: dict[str, Any]) -> None:
    problems = unbounded_paths(schema)
    if problems:
        raise UnboundedSchemaError(
            "structured-output schema is unbounded (small models loop to max_tokens on these); add "
            "maxLength to strings, maxItems to arrays, and no free-form objects: " + "; ".join(problems)
        )


def _types(node: dict[str, Any]) -> list[str]:
    declared = node.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    # No "type": infer the obvious cases the way grammar converters do.
    if "properties" in node:
        return ["object"]
    if "items" in node or "prefixItems" in node:
        return ["array"]
    if "maxLength" in node:
        return ["string"]
    return []


def _walk(node: Any, path: str, problems: list[str]) -> None:
    if node is True:
        problems.append(f"{path}: `true` allows any value")
        return
    if not isinstance(node, dict):
        return  # `false` or junk: nothing can be generated there
    for key in _DEFS:
        for name, sub in (node.get(key) or {}).items():
            _walk(sub, f"{path}/{key}/{name}", problems)
    if "enum" in node or "const" in node:
        return  # a closed set of values is bounded whatever its type
    combinators = [k for k in _COMBINATORS if k in node]
    for key in combinators:
        for i, sub in enumerate(node[key]):
            _walk(sub, f"{path}/{key}/{i}", problems)
    types = _types(node)
    if not types:
        if "$ref" not in node and not combinators:
            problems.append(f"{path}: no type, so any value is allowed")
        return
    if "string" in types and not isinstance(node.get("maxLength"), int):
        problems.append(f"{path}: string without maxLength")
    if "array" in types:
        if not isinstance(node.get("maxItems"), int):
            problems.append(f"{path}: array without maxItems")
        for i, sub in enumerate(node.get("prefixItems") or []):
            _walk(sub, f"{path}/prefixItems/{i}", problems)
        if "items" in node:
            _walk(node["items"], f"{path}/items", problems)
        elif "prefixItems" not in node:
            problems.append(f"{path}: array without an items schema")
    if "object" in types:
        properties = node.get("properties") or {}
        for name, sub in properties.items():
            _walk(sub, f"{path}/properties/{name}", problems)
        extra = node.get("additionalProperties")
        if "patternProperties" in node:
            problems.append(f"{path}: patternProperties allows open-ended keys")
        if extra is True or (isinstance(extra, dict) and not isinstance(node.get("maxProperties"), int)):
            problems.append(f"{path}: additionalProperties allows open-ended keys")
        elif not properties and extra is not False:
            problems.append(f"{path}: object without properties (free-form)")


def cited_sentences(title: str, cite_key: str, ids: list[str], *, most: int, max_chars: int,
                    max_cites: int) -> dict[str, Any]:
    """A bounded object of at most `most` sentences, each a text and a non-empty list of citations drawn
    from `ids` (an enum, so the model cannot cite what it was not shown)."""
    return {
        "title": title,
        "type": "object",
        "properties": {
            "sentences": {
                "type": "array", "minItems": 1, "maxItems": most,
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "maxLength": max_chars},
                        cite_key: {"type": "array", "minItems": 1, "maxItems": max_cites,
                                   "items": {"type": "string", "enum": list(ids)}},
                    },
                    "required": ["text", cite_key],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["sentences"],
        "additionalProperties": False,
    }
