"""OpenAIChatModel and the factory against a fake OpenAI-compatible endpoint on loopback (unit seam).

The real llama.cpp server is exercised in test_llm_embedded.py; here we check exactly what goes over the
wire for the standard (`json_schema`) backend, and the retry/error paths with replies we control.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.llm import LLMError
from assistant.llm.client import DEFAULT_STOP, OpenAIChatModel
from assistant.llm.factory import LLMRuntime, build_chat_model
from assistant.llm.schema import UnboundedSchemaError

SCHEMA = {
    "title": "answer",
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 20}, "count": {"type": "integer", "maximum": 9}},
    "required": ["city", "count"],
    "additionalProperties": False,
}
MESSAGES = [{"role": "user", "content": "Capital of France? Give a count too."}]


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp_path, **overrides)


def test_openai_backend_sends_json_schema(
    fake_openai: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    settings = _settings(tmp_path, llm_backend="openai", llm_model="gpt-test", llm_seed=7)
    fake_openai.reply_text('{"city": "Paris", "count": 1}')
    chat, close = build_chat_model(settings)
    try:
        result = chat.structured(MESSAGES, SCHEMA, max_tokens=50, stop=["\n\n\n"])
    finally:
        close()
    assert chat.backend == "openai" and chat.name == "gpt-test"
    assert result.data == {"city": "Paris", "count": 1}
    assert (result.prompt_tokens, result.completion_tokens, result.attempts) == (11, 7, 1)
    assert result.seconds > 0
    [request] = fake_openai.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-test-key"
    body = request["body"]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
    }
    assert body["model"] == "gpt-test"
    assert body["max_tokens"] == 50
    assert body["stop"] == ["\n\n\n"]
    assert body["temperature"] == 0.0 and body["seed"] == 7
    assert body["messages"] == MESSAGES


def test_llama_cpp_style_can_be_forced_for_a_remote_llama_cpp_python(
    fake_openai: Any, tmp_path: Path
) -> None:
    settings = _settings(
        tmp_path, llm_backend="openai", openai_base_url=fake_openai.base_url, llm_response_format="llama_cpp"
    )
    fake_openai.reply_text('{"city": "Paris", "count": 1}')
    with LLMRuntime(settings) as chat:
        chat.structured(MESSAGES, SCHEMA)
    body = fake_openai.requests[0]["body"]
    assert body["response_format"] == {"type": "json_object", "schema": SCHEMA}


def test_complete_always_sends_max_tokens_and_stop(fake_openai: Any) -> None:
    chat = OpenAIChatModel(base_url=fake_openai.base_url, api_key=None, model="m", temperature=0.2)
    fake_openai.reply_text("hello", finish_reason="length")
    result = chat.complete(MESSAGES)
    body = fake_openai.requests[0]["body"]
    assert body["max_tokens"] == 512 and body["stop"] == list(DEFAULT_STOP)
    assert body["temperature"] == 0.2 and "response_format" not in body
    assert result.text == "hello" and result.finish_reason == "length"


def test_one_retry_then_success(fake_openai: Any) -> None:
    chat = OpenAIChatModel(base_url=fake_openai.base_url, api_key="k", model="m")
    fake_openai.reply_text('{"city": "Paris", "count": 12}')  # violates maximum: 9
    fake_openai.reply_text('{"city": "Paris", "count": 1}')
    result = chat.structured(MESSAGES, SCHEMA)
    assert result.data == {"city": "Paris", "count": 1}
    assert result.attempts == 2
    assert (result.prompt_tokens, result.completion_tokens) == (22, 14)  # both attempts counted
    first, second = (r["body"]["messages"] for r in fake_openai.requests)
    assert first == MESSAGES
    # The retry keeps the original messages as the prefix (KV-cache reuse) and says what was wrong.
    assert second[: len(MESSAGES)] == MESSAGES
    assert "count" in second[-1]["content"] and "invalid" in second[-1]["content"]


def test_invalid_twice_raises_llm_error(fake_openai: Any) -> None:
    chat = OpenAIChatModel(base_url=fake_openai.base_url, api_key="k", model="m")
    fake_openai.reply_text('{"city": "Par')  # truncated JSON
    fake_openai.reply_text("Sure! The capital is Paris.")
    with pytest.raises(LLMError, match=r"invalid after 2 attempts: not JSON"):
        chat.structured(MESSAGES, SCHEMA)
    assert len(fake_openai.requests) == 2


def test_http_error_is_a_clear_llm_error(fake_openai: Any) -> None:
    chat = OpenAIChatModel(base_url=fake_openai.base_url, api_key="k", model="m")
    fake_openai.reply_error(500, "response_format json_schema not supported")
    with pytest.raises(LLMError, match=r"answered HTTP 500: .*json_schema not supported"):
        chat.complete(MESSAGES)


def test_unreachable_endpoint_is_a_clear_llm_error() -> None:
    from assistant.llm.server import free_port

    chat = OpenAIChatModel(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="k", model="m", timeout=5)
    with pytest.raises(LLMError, match="unreachable"):
        chat.complete(MESSAGES)


def test_unbounded_schema_refused_before_any_request(fake_openai: Any) -> None:
    chat = OpenAIChatModel(base_url=fake_openai.base_url, api_key="k", model="m")
    with pytest.raises(UnboundedSchemaError, match="string without maxLength"):
        chat.structured(MESSAGES, {"type": "object", "properties": {"a": {"type": "string"}}})
    assert fake_openai.requests == []


def test_openai_backend_without_base_url_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("ASSISTANT_OPENAI_BASE_URL", raising=False)
    settings = _settings(tmp_path, llm_backend="openai")
    with pytest.raises(LLMError, match="needs OPENAI_BASE_URL"):
        build_chat_model(settings)


def test_importing_the_package_starts_nothing() -> None:
    import subprocess
    import sys

    code = (
        "import sys, assistant.llm, assistant.llm.factory, assistant.llm.server, assistant.llm.client;"
        "print('openai' in sys.modules, 'llama_cpp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
