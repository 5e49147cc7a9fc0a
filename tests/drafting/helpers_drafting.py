"""Shared helpers for drafting tests (not a conftest: plain functions imported by the tests)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from assistant.llm import ChatResult, LLMError
from assistant.transcript import Transcript, parse_text

FIXTURES = Path(__file__).parent / "fixtures"
_LINE = re.compile(r"^\[(\d+)\] ([^:(]+?)(?: \([^)]*\))?: (.*)$", re.M)


def no_embeddings(monkeypatch: Any) -> None:
    """Unit tests score the extractive engine with its TF-IDF fallback; the real MiniLM runs in slow tests."""
    import assistant.drafting.extractive as extractive

    monkeypatch.setattr(extractive, "embedder", lambda settings: (None, "TF-IDF fallback (test)"))


def fixture_transcript(name: str) -> Transcript:
    return parse_text((FIXTURES / name).read_text(encoding="utf-8"), source_id=name)


class FakeChat:
    """A `ChatModel` for unit seams: answers every structured call from the schema, writing each note as
    '<Name> said: <first words of the line>' unless `notes` overrides a line id. Records every call."""

    name = "fake-model"
    backend = "fake"

    def __init__(self, notes: dict[int, str] | None = None, sections: dict[int, str] | None = None,
                 fail: bool = False, summary: list[tuple[str, list[str]]] | None = None) -> None:
        self.summary = summary
        self.notes = notes or {}
        self.sections = sections or {}
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
        if schema.get("title") == "summary":
            ids = schema["properties"]["sentences"]["items"]["properties"]["cites"]["items"]["enum"]
            sentences = self.summary or [("Nothing new here.", ids[:1])]
            return ChatResult(text="", data={"sentences": [{"text": t, "cites": c} for t, c in sentences]})
        lines = {int(m.group(1)): (m.group(2), m.group(3)) for m in _LINE.finditer(messages[0]["content"])}
        data: dict[str, Any] = {}
        for key, prop in schema["properties"].items():
            sid = int(key)
            who, text = lines.get(sid, ("Someone", "something"))
            note = self.notes.get(sid, f"{who} said {' '.join(text.split()[:12])}")
            enum = prop["properties"]["s"]["enum"]
            entry: dict[str, Any] = {"n": note[:180], "s": self.sections.get(sid, enum[0])}
            if "w" in prop["properties"]:
                entry = {"w": prop["properties"]["w"]["enum"][0], **entry}
            data[key] = entry
        return ChatResult(text="", data=data, prompt_tokens=100, completion_tokens=50)
