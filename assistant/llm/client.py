"""`OpenAIChatModel`: the one `ChatModel` implementation, over the official `openai` client.

It talks to the embedded llama-cpp-python server on loopback and to any OpenAI-compatible endpoint alike.
The only per-backend difference is how a JSON schema is sent (see `ResponseFormatStyle`); the output is
always parsed and validated here, whatever the backend promises.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from assistant.llm import ChatResult, ContextLengthError, LLMError
from assistant.llm.schema import ensure_bounded

if TYPE_CHECKING:
    import httpx

# "llama_cpp": llama-cpp-python's `{"type": "json_object", "schema": ...}` (it answers the standard form with
# HTTP 500). "json_schema": the OpenAI-standard form (OpenAI/Azure, vLLM, Ollama, upstream llama-server).
ResponseFormatStyle = Literal["llama_cpp", "json_schema"]

# ChatML end markers (Qwen2.5 and SmolLM2 both use ChatML). Passed when the caller gives no stop strings so
# that a request never runs without any; real stops are chosen per prompt by the caller.
DEFAULT_STOP: tuple[str, ...] = ("<|im_end|>", "<|endoftext|>", "<|im_start|>")

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


def schema_name(schema: dict[str, Any]) -> str:
    """The `json_schema.name` the OpenAI form requires: [A-Za-z0-9_-]{1,64}, from the schema's title."""
    raw = str(schema.get("title") or "response")
    return re.sub(r"[^A-Za-z0-9_-]", "_", raw)[:64] or "response"


def response_format_for(schema: dict[str, Any], style: ResponseFormatStyle) -> dict[str, Any]:
    if style == "llama_cpp":
        return {"type": "json_object", "schema": schema}
    named = {"name": schema_name(schema), "schema": schema, "strict": True}
    return {"type": "json_schema", "json_schema": named}


def parse_json_reply(text: str) -> Any:
    """Parse a JSON reply; tolerate a Markdown code fence, which grammar-less backends sometimes add."""
    fenced = _FENCE.match(text)
    return json.loads(fenced.group(1) if fenced else text)


def _validator(schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"structured-output schema is not a valid JSON schema: {exc.message}") from exc
    return Draft202012Validator(schema)


def _first_error(validator: Any, data: Any) -> str | None:
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    err = errors[0]
    where = "/".join(str(p) for p in err.absolute_path) or "(root)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"at {where}: {err.message[:200]}{more}"


class OpenAIChatModel:
    """`ChatModel` over an OpenAI-compatible chat-completions endpoint."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        backend: str = "openai",
        response_format_style: ResponseFormatStyle = "json_schema",
        timeout: float = 600.0,
        temperature: float = 0.0,
        seed: int | None = None,
        max_retries: int = 0,
        http_client: httpx.Client | None = None,
        diagnose: Callable[[], str] | None = None,
    ) -> None:
        from openai import OpenAI  # lazy: importing openai costs ~0.5 s

        self.name = model
        self.backend = backend
        self.base_url = base_url
        self.response_format_style: ResponseFormatStyle = response_format_style
        self.temperature = temperature
        self.seed = seed
        self._diagnose = diagnose  # extra context for failures (the embedded server's exit code and log)
        # Many local endpoints need no key, but the client refuses an empty one.
        self._client = OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )

    def close(self) -> None:
        self._client.close()

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 512,
        stop: list[str] | None = None,
        temperature: float | None = None,
    ) -> ChatResult:
        return self._request(messages, max_tokens=max_tokens, stop=stop, temperature=temperature)

    def structured(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        *,
        max_tokens: int = 512,
        stop: list[str] | None = None,
    ) -> ChatResult:
        """JSON constrained by a bounded `schema`, validated; one retry on invalid output, then LLMError."""
        ensure_bounded(schema)
        validator = _validator(schema)
        response_format = response_format_for(schema, self.response_format_style)
        attempt_messages = list(messages)
        spent = ChatResult(text="")
        problem = ""
        for attempt in (1, 2):
            result = self._request(
                attempt_messages, max_tokens=max_tokens, stop=stop, response_format=response_format
            )
            spent.prompt_tokens += result.prompt_tokens
            spent.completion_tokens += result.completion_tokens
            spent.seconds += result.seconds
            try:
                data = parse_json_reply(result.text)
            except json.JSONDecodeError as exc:
                problem = f"not JSON ({exc.msg} at char {exc.pos}, finish_reason={result.finish_reason})"
            else:
                error = _first_error(validator, data)
                if error is None:
                    return result.model_copy(
                        update={
                            "data": data,
                            "attempts": attempt,
                            "prompt_tokens": spent.prompt_tokens,
                            "completion_tokens": spent.completion_tokens,
                            "seconds": spent.seconds,
                        }
                    )
                problem = f"does not match the schema {error}"
            # The retry must differ from the first request (at temperature 0 an identical one gives identical
            # output); the note goes after the original messages so their KV-cache prefix is still reused.
            attempt_messages = [
                *messages,
                {
                    "role": "user",
                    "content": f"Your previous reply was invalid: {problem}. "
                    "Reply again with only the JSON object, matching the schema exactly.",
                },
            ]
        raise LLMError(
            f"{self.backend} model {self.name!r}: structured output invalid after 2 attempts: {problem}; "
            f"last output started {result.text[:160]!r}"
        )

    def _explain(self, problem: str) -> str:
        extra = self._diagnose() if self._diagnose else ""
        return f"{self.backend} LLM at {self.base_url} {problem}" + (f"; {extra}" if extra else "")

    def _request(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        stop: list[str] | None,
        temperature: float | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> ChatResult:
        import openai

        if max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": messages,
            "max_tokens": max_tokens,
            "stop": list(stop) if stop else list(DEFAULT_STOP),
            "temperature": self.temperature if temperature is None else temperature,
        }
        if self.seed is not None:
            kwargs["seed"] = self.seed
        if response_format is not None:
            kwargs["response_format"] = response_format
        started = time.perf_counter()
        try:
            response = self._client.chat.completions.create(**kwargs)
        except openai.APITimeoutError as exc:
            raise LLMError(self._explain(f"timed out: {exc}")) from exc
        except openai.APIConnectionError as exc:
            raise LLMError(self._explain(f"is unreachable: {exc}")) from exc
        except openai.APIStatusError as exc:
            detail = (exc.response.text or "")[:300] if exc.response is not None else str(exc)
            message = self._explain(f"answered HTTP {exc.status_code}: {detail}")
            if exc.status_code == 400 and "context_length_exceeded" in detail:
                raise ContextLengthError(message) from exc
            raise LLMError(message) from exc
        seconds = time.perf_counter() - started
        if not response.choices:
            raise LLMError(f"{self.backend} LLM at {self.base_url} returned no choices")
        choice = response.choices[0]
        usage = response.usage
        return ChatResult(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            seconds=seconds,
            model=response.model or self.name,
            finish_reason=choice.finish_reason,
        )
