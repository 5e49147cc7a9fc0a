"""Bounded-schema checks and the per-backend response_format switch (no model needed)."""

from __future__ import annotations

import pytest

from assistant.llm.client import parse_json_reply, response_format_for, schema_name
from assistant.llm.schema import UnboundedSchemaError, ensure_bounded, unbounded_paths

BOUNDED = {
    "title": "statements",
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "maxItems": 5,
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string", "maxLength": 200},
                    "who": {"type": "string", "enum": ["Leanne", "Worker"]},
                    "segment": {"type": "integer"},
                    "kind": {"anyOf": [{"const": "observed"}, {"type": "string", "maxLength": 20}]},
                },
                "required": ["text", "who", "segment"],
                "additionalProperties": False,
            },
        },
        "note": {"type": ["string", "null"], "maxLength": 80},
    },
    "required": ["items"],
}


def test_bounded_schema_passes() -> None:
    assert unbounded_paths(BOUNDED) == []
    ensure_bounded(BOUNDED)


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "string"}, "#: string without maxLength"),
        ({"type": "array", "items": {"type": "integer"}}, "#: array without maxItems"),
        ({"type": "array", "maxItems": 3, "items": {"type": "string"}}, "#/items: string without maxLength"),
        ({"type": "array", "maxItems": 3}, "array without an items schema"),
        ({"type": "object"}, "free-form"),
        ({"type": "object", "properties": {"a": {}}}, "#/properties/a: no type"),
        ({"type": "object", "properties": {"a": True}}, "allows any value"),
        (
            {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": True},
            "additionalProperties",
        ),
        ({"type": ["string", "null"]}, "string without maxLength"),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "#/anyOf/0: string without maxLength"),
        ({"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s"}, "#/$defs/s: string without maxLength"),
    ],
)
def test_unbounded_schemas_are_named(schema: dict, fragment: str) -> None:
    with pytest.raises(UnboundedSchemaError) as info:
        ensure_bounded(schema)
    assert fragment in str(info.value)
    assert "maxLength" in str(info.value)  # the message says how to fix it


def test_response_format_per_backend() -> None:
    llama = response_format_for(BOUNDED, "llama_cpp")
    assert llama == {"type": "json_object", "schema": BOUNDED}
    standard = response_format_for(BOUNDED, "json_schema")
    assert standard == {
        "type": "json_schema",
        "json_schema": {"name": "statements", "schema": BOUNDED, "strict": True},
    }


def test_schema_name_is_sanitised() -> None:
    assert schema_name({"title": "Case record: v2"}) == "Case_record__v2"
    assert schema_name({}) == "response"
    assert len(schema_name({"title": "x" * 100})) == 64


def test_parse_json_reply_tolerates_fence() -> None:
    assert parse_json_reply('{"a": 1}') == {"a": 1}
    assert parse_json_reply('```json\n{"a": 1}\n```') == {"a": 1}
