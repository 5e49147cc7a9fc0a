"""The job's stages: transcribe (audio jobs) then draft. The same functions run in-process or on a
scale-out worker; job state lives in the database, so a re-run after a crash picks up where it stopped."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.records import CaseRecord
from assistant.store.db import Database
from assistant.store.tables import Job, Record, Recording, RecordVersion
from assistant.transcript import Transcript, parse_text

log = logging.getLogger(__name__)


class Engines:
    """One Whisper and one LLM per process, created on first use and shared by every job."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._transcriber: Any = None
        self._llm: Any = None

    def transcriber(self) -> Any:
        with self._lock:
            if self._transcriber is None:
                from assistant.transcribe import build_transcriber

                self._transcriber = build_transcriber(self.settings)
            return self._transcriber

    def chat(self) -> Any:
        with self._lock:
            if self._llm is None:
                from assistant.llm.factory import LLMRuntime

                self._llm = LLMRuntime(self.settings)
                self._llm.start()
            return self._llm.chat

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.stop()
                self._llm = None


def _safe_reason(exc: BaseException) -> str:
    """A short failure reason; error messages from our own layers never carry transcript text."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


class JobRunner:
    def __init__(self, settings: Settings, db: Database, engines: Engines) -> None:
        self.settings = settings
        self.db = db
        self.engines = engines

    def _update(self, job_id: str, **fields: Any) -> None:
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is not None:
                for k, v in fields.items():
                    setattr(job, k, v)

    def __call__(self, job_id: str) -> None:
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None or job.state in ("done", "failed"):
                return  # idempotent: deleted, or already finished by another worker
            job.state, job.attempts = "running", job.attempts + 1
            kind, template_id, engine = job.kind, job.template_id, job.engine
            saved_transcript, input_text = job.transcript, job.input_text
            audio_path = None
            if job.recording_id:
                rec = s.get(Recording, job.recording_id)
                audio_path = Path(rec.path) if rec else None
            owner = job.owner_id
        try:
            transcript = self._transcript(job_id, kind, saved_transcript, input_text, audio_path)
            record = self._draft(job_id, transcript, template_id, engine)
            self._save(job_id, owner, record)
        except Exception as exc:
            log.warning("job %s failed: %s", job_id, type(exc).__name__)
            self._update(job_id, state="failed", error=_safe_reason(exc))

    def _transcript(
        self, job_id: str, kind: str, saved: dict | None, text: str | None, audio: Path | None
    ) -> Transcript:
        if saved is not None:  # transcription finished before a restart: don't redo it
            return Transcript.model_validate(saved)
        if kind == "notes":
            return parse_text(text or "")
        if audio is None or not audio.is_file():
            raise FileNotFoundError("the recording for this job no longer exists")
        self._update(job_id, stage="transcribing", progress=0.0)

        def on_progress(fraction: float) -> None:
            self._update(job_id, progress=round(0.5 * min(max(fraction, 0.0), 1.0), 3))

        transcript = self.engines.transcriber().transcribe(audio, progress=on_progress)
        self._update(job_id, transcript=transcript.model_dump(mode="json"), progress=0.5)
        return transcript

    def _draft(self, job_id: str, transcript: Transcript, template_id: str, engine: str) -> CaseRecord:
        from assistant.drafting.pipeline import draft
        from assistant.templates import get_template

        base = 0.5 if transcript.asr else 0.0
        self._update(job_id, stage="drafting", progress=base)

        def on_progress(stage: str, fraction: float) -> None:
            self._update(job_id, stage=f"drafting: {stage}"[:40],
                         progress=round(base + (1 - base) * min(max(fraction, 0.0), 1.0) * 0.99, 3))

        chat = self.engines.chat() if engine == "llm" and transcript.word_count >= 150 else None
        return draft(transcript, get_template(template_id), chat, engine=engine, settings=self.settings,
                     progress=on_progress)

    def _save(self, job_id: str, owner: str, record: CaseRecord) -> None:
        # Record, its first version and the job's completion commit together: no half-written record.
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None or job.state == "done":
                return
            row = Record(owner_id=owner, job_id=job_id, recording_id=job.recording_id,
                         template_id=record.template_id, state="draft", version=1, data={})
            s.add(row)
            s.flush()
            record.id, record.owner = row.id, owner
            data = record.model_dump(mode="json")
            row.data = data
            s.add(RecordVersion(record_id=row.id, version=1, source="ai", author="assistant", data=data))
            job.state, job.stage, job.progress, job.record_id, job.error = "done", "done", 1.0, row.id, None
