"""FastAPI app factory. Everything the app needs is built here from settings, never at import time."""

from __future__ import annotations

import io
import os
import tempfile
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from assistant import __version__
from assistant.api.auth import ensure_local_user
from assistant.api.errors import ApiError, install_error_handlers
from assistant.api.routes import routers
from assistant.config import Settings, get_settings
from assistant.jobs import JobQueue
from assistant.jobs.local import LocalJobQueue
from assistant.jobs.stages import Engines, JobRunner
from assistant.store.base import BlobStore
from assistant.store.blobs import FilesystemBlobStore, blob_store
from assistant.store.db import Database

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def inspect_audio(settings: Settings) -> Callable[..., dict[str, Any]]:
    """Sniff magic bytes against the allow-list and probe with PyAV; map failures to 4xx. With
    ``find_duration=False``, a file that declares no duration is not decoded to find it: its duration is None."""

    def check(path: Path, *, find_duration: bool = True) -> dict[str, Any]:
        from assistant.audio import AudioError, decode, format_seconds, probe

        limit = settings.limits.max_audio_seconds
        try:
            # A valid header over missing or garbage audio is refused here, not in a job (issue 8).
            info = probe(path, decode_check_seconds=1.0)
            if info.duration is not None and info.duration > limit:
                raise AudioError("too_long", f"recording is {format_seconds(info.duration)}; the limit is "
                                 f"{format_seconds(limit)}")
            if info.duration is None and find_duration:
                # No declared duration (browser webm): decode, stopping as soon as the limit is passed.
                info.duration = decode(path, max_seconds=limit).duration
        except AudioError as exc:
            # A missing file here means our own temp file vanished: still the client's upload that failed.
            status = 422 if exc.code == "missing" else exc.http_status
            raise ApiError(status, exc.code, exc.message) from None
        return {"format": info.format, "duration": info.duration}

    return check


def warm_up(check: Callable[..., dict[str, Any]], tmp_dir: Path) -> None:
    """Pay a process's one-off first-upload costs before it says it is ready, so the first uploads after a
    start or a restart are not slower than the rest: importing PyAV and loading FFmpeg's libraries, FFmpeg's
    first open and decode, parsing the templates. Run in a worker thread, so the thread pool is started too.
    Measured (AMD EPYC, one process): ~110 ms of imports, 26 ms of templates, 31 ms for the first probe and
    12 ms for the first thread trip, all of which a cold server once paid inside its first burst of uploads."""
    from assistant.api.uploads import lock_while_open
    from assistant.templates import TemplateError, all_templates

    tmp_dir.mkdir(parents=True, exist_ok=True)
    wav = io.BytesIO()
    with wave.open(wav, "wb") as w:  # one second of silence
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000)
    # Named and locked like an upload in progress: the start-up sweep keeps it while this process lives and
    # removes it if the process is killed here.
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-warm-up-", suffix=".part")
    try:
        lock_while_open(fd)
        os.write(fd, wav.getvalue())
        check(Path(name), find_duration=False)
    finally:
        os.close(fd)
        Path(name).unlink(missing_ok=True)
    try:
        all_templates()
    except TemplateError:
        pass  # each request that names a template reports the problem


def _job_queue(settings: Settings, db: Database, engines: Engines, blobs: BlobStore) -> JobQueue:
    if settings.jobs.queue == "celery":  # workers run the jobs; this process only publishes job ids
        from assistant.jobs.celery_queue import CeleryJobQueue

        return CeleryJobQueue(settings, db)
    return LocalJobQueue(db, JobRunner(settings, db, engines, blobs), settings, workers=settings.jobs.workers)


def create_app(settings: Settings | None = None, *, engines: Engines | None = None) -> FastAPI:
    """The app of one API process. Several processes (uvicorn's `--workers`, gunicorn) each build their own
    from the environment's settings; they then share the database and hand jobs to Celery."""
    settings = settings or get_settings()
    from assistant.logsafe import install as safe_logging

    safe_logging()  # no transcript or note text in any log record of this process (issue 8)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings)
        shared = engines or Engines(settings)
        blobs = blob_store(settings)
        queue = _job_queue(settings, db, shared, blobs)
        app.state.db, app.state.queue, app.state.engines, app.state.blobs = db, queue, shared, blobs
        app.state.local_user_id = ensure_local_user(db)
        app.state.inspect_audio = inspect_audio(settings)
        await run_in_threadpool(warm_up, app.state.inspect_audio, settings.data_dir / "uploads" / "tmp")
        # Small uploads are checked and committed on the event loop when nothing in that is remote.
        app.state.quick_accept = db.embedded and isinstance(blobs, FilesystemBlobStore)
        from assistant.api.uploads import sweep_partial_uploads
        from assistant.audit import record_config
        from assistant.retention import CleanupTimer

        sweep_partial_uploads(settings.data_dir / "uploads" / "tmp")  # left by a crash mid-upload
        with db.session() as s:
            record_config(s, settings)  # a changed model or setting shows in the audit log
        queue.start()
        retention = CleanupTimer(db, settings)
        retention.start()
        try:
            yield
        finally:
            retention.stop()
            queue.stop()
            if engines is None:
                shared.close()
            db.dispose()

    app = FastAPI(
        title="Frontline Assistant",
        version=__version__,
        description="Local-first transcription and evidence-linked case records. Nothing leaves the machine "
        "unless a remote LLM endpoint is configured.",
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry would export every request (its path, and the values of a request
        # that fails validation) to an OTLP endpoint named in the environment: no telemetry, whatever it says.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False,
                   "auto_configure": False},
    )
    app.state.settings = settings
    install_error_handlers(app)
    from assistant.api.limits import BodyLimit

    app.add_middleware(BodyLimit)  # JSON/form bodies capped (the upload route streams with its own limit)
    for router in routers:
        app.include_router(router)
    from assistant.api.spec import install as complete_spec

    complete_spec(app)  # {error, detail} on every error response; the statuses each route really returns

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__, "llm_backend": settings.llm.backend}

    if (WEB_DIR / "index.html").is_file():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

        @app.get("/", include_in_schema=False)
        def index() -> FileResponse:
            return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    return app
