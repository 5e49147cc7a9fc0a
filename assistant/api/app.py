"""FastAPI app factory. Everything the app needs is built here from settings, never at import time."""

from __future__ import annotations

from fastapi import FastAPI

from assistant import __version__
from assistant.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Frontline Assistant",
        version=__version__,
        description="Local-first transcription and evidence-linked case records. Nothing leaves the machine "
        "unless a remote LLM endpoint is configured.",
    )
    app.state.settings = settings

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__, "llm_backend": settings.llm_backend}

    return app
