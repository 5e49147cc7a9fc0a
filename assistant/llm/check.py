"""`assistant llm-check`: start the configured LLM and time one schema-valid reply."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from assistant.config import Settings
from assistant.llm.factory import LLMRuntime

CHECK_SCHEMA: dict[str, Any] = {
    "title": "llm_check",
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 40},
        "country": {"type": "string", "maxLength": 40},
        "on_river": {"type": "boolean"},
    },
    "required": ["city", "country", "on_river"],
    "additionalProperties": False,
}

CHECK_MESSAGES = [
    {"role": "system", "content": "You answer with one JSON object and nothing else."},
    {
        "role": "user",
        "content": "What is the capital city of the United Kingdom, which country is it in, and does a river "
        'run through it? Answer as JSON with keys "city", "country", "on_river".',
    },
]


class CheckReport(BaseModel):
    backend: str
    model: str
    base_url: str
    data: Any
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    start_seconds: float
    prefill_tps: float | None = None  # from llama.cpp's own timings (embedded only)
    decode_tps: float | None = None

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        out = [
            f"backend:   {self.backend}",
            f"model:     {self.model}",
            f"base URL:  {self.base_url}",
            f"start:     {self.start_seconds:.1f} s",
            f"reply:     {self.data}",
            f"tokens:    {self.prompt_tokens} prompt + {self.completion_tokens} completion "
            f"({self.attempts} attempt{'s' if self.attempts > 1 else ''})",
            f"time:      {self.seconds:.2f} s, {self.tokens_per_second:.1f} completion tokens/s overall",
        ]
        if self.prefill_tps is not None and self.decode_tps is not None:
            out.append(f"llama.cpp: prefill {self.prefill_tps:.1f} tok/s, decode {self.decode_tps:.1f} tok/s")
        return out


def run_check(settings: Settings, model: str | None = None) -> CheckReport:
    import time

    started = time.perf_counter()
    runtime = LLMRuntime(settings, model)
    try:
        chat = runtime.start()
        start_seconds = time.perf_counter() - started
        since = runtime.server.log_size() if runtime.server else 0
        result = chat.structured(CHECK_MESSAGES, CHECK_SCHEMA, max_tokens=64)
        timings = runtime.server.last_timings(since) if runtime.server else None
        info = runtime.info()
        return CheckReport(
            backend=info.backend,
            model=info.model,
            base_url=info.base_url,
            data=result.data,
            attempts=result.attempts,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            seconds=result.seconds,
            start_seconds=start_seconds,
            prefill_tps=timings.prefill_tps if timings else None,
            decode_tps=timings.decode_tps if timings else None,
        )
    finally:
        runtime.stop()
