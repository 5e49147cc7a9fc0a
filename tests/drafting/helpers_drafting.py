"""Shared helpers for drafting tests (not a conftest: plain functions imported by the tests)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from assistant.llm import ChatResult, LLMError
from assistant.transcript import Transcript, parse_text

FIXTURES = Path(__file__).parent / "fixtures"
_LINE = re.compile(r'^\[(\d+)\] (?:.*? answered|([^:(]+?)(?: \([^)]*\))?): "(.*)"$', re.M)


def fixture_transcript(name: str) -> Transcript:
    return parse_text((FIXTURES / name).read_text(encoding="utf-8"), source_id=name)


class FakeChat:
    """A `ChatModel` for unit seams: answers every structured call from its schema. A section call gets one
    sentence per line, '<Name> said <first words of the line>' unless `notes` overrides a line, up to the
    schema's limit. Records every call."""

    name = "fake-model"
    backend = "fake"

    def __init__(self, notes: dict[int, str] | None = None, fail: bool = False) -> None:
        self.notes = notes or {}
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 512, stop: list[str] | None = None,
                 temperature: float | None = None) -> ChatResult:
        raise AssertionError("drafting never asks for free text")

    def structured(self, messages: list[dict[str, str]], schema: dict[str, Any], *, max_tokens: int = 512,
                   stop: list[str] | None = None) -> ChatResult:
        self.calls.append({"messages": messages, "schema": schema, "max_tokens": max_tokens, "stop": stop})
        if self.fail:
            raise LLMError("fake model failed validation twice")
        items = schema["properties"]["sentences"]
        keys = items["items"]["properties"]["lines"]["items"]["enum"]
        lines = {m.group(1): (m.group(2) or "Someone", m.group(3)) for m in _LINE.finditer(messages[-1]["content"])}
        out = []
        for key in keys[: items["maxItems"]]:
            who, text = lines.get(key, ("Someone", "something"))
            out.append({"text": self.notes.get(int(key), f"{who} said {' '.join(text.split()[:12])}"),
                        "lines": [key]})
        return ChatResult(text="", data={"sentences": out}, prompt_tokens=100, completion_tokens=50)
