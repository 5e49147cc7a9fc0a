"""The LLM boundary: the `ChatModel` protocol drafting calls, its result and its errors."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field


class ChatResult(BaseModel):
    text: str
    data: Any = None  # parsed JSON when a schema was given
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    model: str = ""
    finish_reason: str | None = None
    attempts: int = 1  # structured(): 2 when the first output was invalid (tokens/seconds cover both)


class LLMError(RuntimeError):
    """The endpoint failed, or gave output that did not validate after one retry."""


class ContextLengthError(LLMError):
    """The prompt plus max_tokens does not fit the model's context window (shorten the window or the task)."""


class ChatModel(Protocol):
    """What drafting needs from an LLM. Implementations: `assistant.llm.client.OpenAIChatModel`."""

    name: str  # model id, recorded in provenance
    backend: str  # "embedded" or "openai"

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 512, stop: list[str] | None = None,
                 temperature: float | None = None) -> ChatResult: ...

    def structured(self, messages: list[dict[str, str]], schema: dict[str, Any], *, max_tokens: int = 512,
                   stop: list[str] | None = None) -> ChatResult:
        """JSON constrained by `schema` (strings must carry maxLength, arrays maxItems); validated against
        the schema, retried once on invalid output, then `LLMError`. `result.data` holds the parsed JSON."""
        ...


class LLMInfo(BaseModel):
    backend: str
    model: str
    base_url: str
    extra: dict[str, Any] = Field(default_factory=dict)
