"""Build the configured `ChatModel`: the embedded loopback server (default) or an OpenAI-compatible URL.

Nothing starts at import time. Embedded servers are shared per process: every `LLMRuntime` for the same
model and server settings uses one server (reference-counted), so the app, the job worker and tests load
each model once; the last `stop()` (or interpreter exit) stops it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from assistant.config import Settings
from assistant.llm import ChatModel, LLMError, LLMInfo
from assistant.llm.client import OpenAIChatModel, ResponseFormatStyle
from assistant.llm.server import EmbeddedLLMServer

_SHARED: dict[tuple[object, ...], tuple[EmbeddedLLMServer, int]] = {}
_SHARED_LOCK = threading.Lock()


def _server_key(settings: Settings, model: str) -> tuple[object, ...]:
    return (
        model,
        settings.llm.context,
        settings.cpu_threads(settings.llm.threads),
        settings.llm.seed,
        str(settings.models_dir),
    )


def acquire_server(settings: Settings, model: str | None = None) -> EmbeddedLLMServer:
    """The process-wide running server for this model (started on first use); pair with `release_server`."""
    model = model or settings.llm.embedded
    key = _server_key(settings, model)
    with _SHARED_LOCK:
        server, users = _SHARED.get(key, (None, 0))
        if server is None or not server.running:
            server, users = EmbeddedLLMServer(settings, model), 0
            server.start()  # under the lock: two callers must not start two servers
        _SHARED[key] = (server, users + 1)
        return server


def release_server(server: EmbeddedLLMServer) -> None:
    with _SHARED_LOCK:
        for key, (shared, users) in list(_SHARED.items()):
            if shared is server:
                if users <= 1:
                    del _SHARED[key]
                    server.stop()
                else:
                    _SHARED[key] = (shared, users - 1)
                return
    server.stop()  # not shared (or already released): make sure it is gone


def _response_format_style(settings: Settings) -> ResponseFormatStyle:
    choice = settings.llm.response_format
    if choice in ("llama_cpp", "json_schema"):
        return choice  # type: ignore[return-value]
    return "llama_cpp" if settings.llm.backend == "embedded" else "json_schema"


class LLMRuntime:
    """The configured LLM with its lifecycle: `start()` returns the `ChatModel`, `stop()` releases it."""

    def __init__(self, settings: Settings, model: str | None = None) -> None:
        self.settings = settings
        self.model = model  # embedded model id override (qwen-1.5b | smollm2-135m)
        self.server: EmbeddedLLMServer | None = None
        self._chat: OpenAIChatModel | None = None

    @property
    def chat(self) -> ChatModel:
        if self._chat is None:
            raise LLMError("LLM runtime is not started")
        return self._chat

    def start(self) -> ChatModel:
        if self._chat is not None:
            return self._chat
        s = self.settings
        # What both backends share: the output format, the time limit and deterministic sampling.
        common: dict[str, Any] = {"response_format_style": _response_format_style(s), "timeout": s.llm.timeout_s,
                                  "temperature": s.llm.temperature, "seed": s.llm.seed}
        if s.llm.backend == "embedded":
            import httpx

            self.server = acquire_server(s, self.model)
            self._chat = OpenAIChatModel(
                base_url=self.server.base_url,
                api_key=self.server.api_key,
                model=self.server.alias,
                backend="embedded",
                **common,
                max_retries=0,  # a loopback server that fails will fail again; say so at once
                # trust_env=False: loopback traffic never goes through an HTTP(S)_PROXY from the environment.
                http_client=httpx.Client(trust_env=False, timeout=s.llm.timeout_s),
                diagnose=self.server.diagnose,
            )
        else:
            if not s.llm.openai_base_url:
                raise LLMError(
                    "ASSISTANT_LLM_BACKEND=openai needs OPENAI_BASE_URL (an OpenAI-compatible endpoint "
                    "such as http://host:8000/v1, plus OPENAI_API_KEY if it requires one); or unset "
                    "ASSISTANT_LLM_BACKEND to use the embedded local model"
                )
            self._chat = OpenAIChatModel(
                base_url=s.llm.openai_base_url,
                api_key=s.llm.openai_api_key,
                model=s.llm.model,
                backend="openai",
                **common,
                max_retries=2,  # remote endpoints have transient 429/5xx
            )
            from assistant.llm.redact import maybe_redact

            self._chat = maybe_redact(self._chat, s)  # ASSISTANT_REDACT: identifiers never leave (issue 8)
        return self._chat

    def stop(self) -> None:
        if self._chat is not None:
            self._chat.close()
            self._chat = None
        if self.server is not None:
            release_server(self.server)
            self.server = None

    def info(self) -> LLMInfo:
        chat = self._chat
        extra: dict[str, object] = {}
        if self.server is not None:
            extra = {
                "model_id": self.server.model_id,
                "model_file": str(self.server.model_file),
                "n_ctx": self.settings.llm.context,
                "threads": self.server.threads,
            }
        return LLMInfo(
            backend=self.settings.llm.backend,
            model=chat.name if chat else self.settings.llm.model,
            base_url=chat.base_url if chat else (self.settings.llm.openai_base_url or ""),
            extra=extra,
        )

    def __enter__(self) -> ChatModel:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def build_chat_model(settings: Settings, model: str | None = None) -> tuple[ChatModel, Callable[[], None]]:
    """Start the configured LLM; returns the `ChatModel` and the function that releases it."""
    runtime = LLMRuntime(settings, model)
    return runtime.start(), runtime.stop
