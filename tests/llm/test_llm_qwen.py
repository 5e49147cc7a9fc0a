"""The default model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M) through the real embedded server, online and with
every non-loopback connection made to fail inside the test process."""

from __future__ import annotations

import socket
from typing import Any

import jsonschema
import pytest

from assistant.config import Settings
from assistant.llm import ChatModel
from assistant.llm.factory import LLMRuntime, acquire_server, release_server
from assistant.llm.server import EMBEDDED_ALIASES

pytestmark = pytest.mark.slow

TRANSCRIPT = """Participants: Sam Patel (social worker), Leanne Jones (mother), Kai Jones (child, 9).
[1] Sam Patel (social worker): How have things been since my last visit?
[2] Leanne Jones (mother): Not great. The landlord sent a letter, we owe 640 pounds in rent.
[3] Sam Patel (social worker): And how is Kai getting on at school?
[4] Kai Jones (child): I like school. I got a star for reading.
[5] Leanne Jones (mother): I have been feeling really low, I don't sleep much."""

STATEMENT_SCHEMA: dict[str, Any] = {
    "title": "statement",
    "type": "object",
    "properties": {
        "attributed_to": {"type": "string", "enum": ["Sam Patel", "Leanne Jones", "Kai Jones"]},
        "statement": {"type": "string", "maxLength": 200},
        "evidence": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {"type": "integer", "minimum": 1},
        },
    },
    "required": ["attributed_to", "statement", "evidence"],
    "additionalProperties": False,
}


def _messages(question: str) -> list[dict[str, str]]:
    # Transcript first, question last: later questions over the same transcript reuse the KV cache.
    return [
        {"role": "system", "content": "You summarise social-care visit transcripts. Reply with JSON only."},
        {"role": "user", "content": f"TRANSCRIPT:\n{TRANSCRIPT}\n\nTASK: {question}"},
    ]


def test_qwen_schema_valid_completion(qwen_chat: ChatModel, llm_settings: Settings) -> None:
    server = acquire_server(llm_settings, "qwen-1.5b")  # the fixture's server, for llama.cpp's timings
    try:
        offset = server.log_size()
        result = qwen_chat.structured(
            _messages(
                "Who said they are feeling low? Give one statement with the segment numbers as evidence."
            ),
            STATEMENT_SCHEMA,
            max_tokens=120,
        )
        timings = server.last_timings(offset)
    finally:
        release_server(server)
    jsonschema.validate(result.data, STATEMENT_SCHEMA)
    assert qwen_chat.name == EMBEDDED_ALIASES["qwen-1.5b"]
    assert result.completion_tokens > 0 and result.prompt_tokens > 100
    print(
        f"\nqwen structured: {result.data}\n  {result.prompt_tokens} prompt + {result.completion_tokens} completion "
        f"tokens, {result.seconds:.1f} s, attempts {result.attempts}"
        + (
            f"; llama.cpp prefill {timings.prefill_tps:.1f} tok/s, decode {timings.decode_tps:.1f} tok/s"
            if timings
            else ""
        )
    )


@pytest.mark.usefixtures("no_network")
def test_embedded_llm_works_with_outbound_network_blocked(
    qwen_chat: ChatModel, llm_settings: Settings
) -> None:
    # The guard is live: anything but loopback fails in this process (192.0.2.1 is TEST-NET-1).
    with pytest.raises(OSError, match="test guard"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)

    # The default model's session server, reached over loopback.
    result = qwen_chat.structured(
        _messages("What does the family owe? One statement with evidence."), STATEMENT_SCHEMA, max_tokens=120
    )
    jsonschema.validate(result.data, STATEMENT_SCHEMA)

    # And a whole embedded start under the guard (factory, server start-up, health check, completion): a
    # distinct n_ctx makes the factory start a fresh server rather than reuse a session one.
    fresh = llm_settings.updated(llm_context=1024)
    with LLMRuntime(fresh, "smollm2-135m") as chat:
        small = chat.structured(
            [{"role": "user", "content": "Describe a cat as JSON."}],
            {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 20}, "legs": {"type": "integer"}},
                "required": ["name", "legs"],
            },
            max_tokens=60,
        )
    assert set(small.data) == {"name", "legs"}
