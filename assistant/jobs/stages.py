"""The job's stages: transcribe (audio jobs) then draft. The same functions run in-process or on a
scale-out worker; job state lives in the database, so a re-run after a crash picks up where it stopped.

Each stage claims the job under a per-job lock (`assistant.jobs.locks`), so a duplicate delivery never runs
it twice at once; the transcript is saved when transcription ends, and the record, its first version and
the job's `done` commit in one transaction. A re-run of a finished stage is a no-op. `attempts` counts the
starts of the current stage (reset when transcription is saved); a stage found `running` when claimed was
left by a worker that died, and counts as a lost attempt. While a stage runs, the job row names its holder and
a heartbeat thread keeps `heartbeat_at` fresh, so a reaper (`assistant.jobs.reaper`) can tell a dead worker's
job from a busy one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from assistant.config import Settings
from assistant.jobs.locks import job_lock
from assistant.jobs.reaper import Heartbeat, lost_event, resumed, worker_name
from assistant.records import CaseRecord
from assistant.records.service import save_drafted
from assistant.store.base import BlobStore
from assistant.store.blobs import blob_store
from assistant.store.db import Database
from assistant.store.tables import Job, Record, Recording, utcnow
from assistant.transcript import Participant, Transcript, parse_text

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
    """A short failure reason; never transcript text (assistant.logsafe: own messages only, quotes withheld)."""
    from assistant.logsafe import safe_reason

    return safe_reason(exc)


def present_people(stored: list | None) -> list[Participant]:
    """The job's `present` column ([{name, role, relationship}], from the upload form) as participants."""
    return [Participant(name=p["name"], role=p.get("role") or "", relationship=p.get("relationship") or "")
            for p in stored or [] if p.get("name")]


def with_participants(transcript: Transcript, present: list[Participant]) -> Transcript:
    """The transcript with the people the uploader said were present among its participants, so drafting
    knows their names and roles, and name suggestions for its voices that use them (never applied)."""
    if not present:
        return transcript
    from assistant.diarise.names import with_present

    return with_present(transcript, present)


# What a stage tells its caller to do next.
Next = Literal["draft", "transcribe", "done", "skip", "busy"]
T = TypeVar("T")


def _audio_inputs(s: Any, job: Job) -> tuple[str | None, list[Participant], int | None]:
    """What transcription needs: the recording's blob, the people present and how many voices to expect."""
    rec = s.get(Recording, job.recording_id) if job.recording_id else None
    present = present_people(job.present)
    return (rec.path if rec else None), present, job.speakers or len(present) or None


def _draft_inputs(_: Any, job: Job) -> tuple[dict | None, str | None, str, str]:
    return job.transcript, job.input_text, job.template_id, job.engine


class JobRunner:
    def __init__(
        self, settings: Settings, db: Database, engines: Engines, blobs: BlobStore | None = None,
        worker: str | None = None,
    ) -> None:
        self.settings = settings
        self.worker = worker or worker_name()
        self.db = db
        self.engines = engines
        self.blobs = blobs or blob_store(settings)

    def _update(self, job_id: str, **fields: Any) -> None:
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is not None:
                for k, v in fields.items():
                    setattr(job, k, v)

    def __call__(self, job_id: str) -> None:
        """The embedded path: both stages in this thread; any failure marks the job failed."""
        try:
            step = self.transcribe_stage(job_id)
            if step == "draft":
                self.draft_stage(job_id)
        except Exception as exc:
            log.warning("job %s failed: %s", job_id, type(exc).__name__)
            self.fail(job_id, exc)

    # -- the two stages (also the Celery tasks' bodies) --------------------------------------------

    def _claim(self, job_id: str, stage: str, s: Any) -> Job | None:
        """Mark the job running for `stage`, counting the attempt; None when there is nothing to do."""
        job = self._unfinished(s, job_id)
        if job is None:
            return None
        if job.state == "running":  # we hold the lock, so whoever set this died mid-stage
            log.warning("job %s: previous %s attempt was lost (worker died)", job_id, stage)
            event = lost_event(stage, job.holder)  # found by the broker's redelivery before any reaper
            if job.attempts >= self.settings.jobs.max_attempts:
                event["outcome"] = "not resumed: out of attempts"
                job.history = [*(job.history or []), event]
                job.state, job.error = "failed", f"worker lost {job.attempts} times during {stage}"
                return None
            job.history = [*(job.history or []), event]
        job.state, job.attempts = "running", job.attempts + 1
        job.holder, job.heartbeat_at, job.history = self.worker, utcnow(), resumed(job.history, self.worker)
        return job

    @staticmethod
    def _unfinished(s: Any, job_id: str) -> Job | None:
        """The job, unless it is deleted or already finished (by another worker: stages are idempotent)."""
        job = s.get(Job, job_id)
        return None if job is None or job.state in ("done", "failed") else job

    def _beating(self, job_id: str) -> Heartbeat:
        return Heartbeat(self.db, self.settings, job_id, self.worker)

    def _lock(self, job_id: str) -> AbstractContextManager[bool]:
        return job_lock(self.db, self.settings, job_id)

    def _begin(self, job_id: str, held: bool, stage: str, read: Callable[[Any, Job], T]) -> T | Next:
        """Claim the job for `stage` and read what the stage needs, in one session (the caller holds the job's
        lock for the whole stage); or what to do instead."""
        if not held:
            return "busy"
        with self.db.session() as s:
            job = self._unfinished(s, job_id)
            if job is None:
                return "skip"
            if stage == "transcribing" and (job.kind == "notes" or job.transcript is not None):
                return "draft"  # nothing to transcribe, or done before a crash: don't redo it
            if stage == "drafting" and job.kind != "notes" and job.transcript is None:
                return "transcribe"
            claimed = self._claim(job_id, stage, s)
            return "skip" if claimed is None else read(s, claimed)

    def transcribe_stage(self, job_id: str) -> Next:
        """Transcribe an audio job and save the transcript; returns "draft" when drafting is next."""
        with self._lock(job_id) as held:
            begun = self._begin(job_id, held, "transcribing", _audio_inputs)
            if isinstance(begun, str):
                return begun
            ref, present, speakers = begun
            if ref is None:
                raise FileNotFoundError("the recording for this job no longer exists")
            with self._beating(job_id), self.blobs.local_copy(ref) as audio:
                transcript = self._transcribe(job_id, audio, speakers)
            transcript = with_participants(transcript, present)
            # Saved with the job back in `queued` for the draft stage, whose attempts count afresh.
            self._save_transcript(job_id, transcript)
            return "draft"

    def draft_stage(self, job_id: str) -> Next:
        """Draft the record and save it with the job's completion; returns "done" (or why not)."""
        with self._lock(job_id) as held:
            begun = self._begin(job_id, held, "drafting", _draft_inputs)
            if isinstance(begun, str):
                return begun
            saved, text, template_id, engine = begun
            transcript = Transcript.model_validate(saved) if saved is not None else parse_text(text or "")
            with self._beating(job_id):
                record = self._draft(job_id, transcript, template_id, engine)
                self._save(job_id, record)
            return "done"

    def fail(self, job_id: str, exc: BaseException | str) -> None:
        reason = exc if isinstance(exc, str) else _safe_reason(exc)
        self._update(job_id, state="failed", error=reason)

    def retry_later(self, job_id: str, exc: BaseException, delay: float) -> None:
        """A transient failure: back to `queued` with the reason, until the retry runs."""
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is not None and job.state not in ("done", "failed"):
                job.state, job.error = "queued", _safe_reason(exc)
                job.stage = f"retry {job.attempts + 1}/{self.settings.jobs.max_attempts} in {delay:.0f} s"[:40]

    def _save_transcript(self, job_id: str, transcript: Transcript) -> None:
        """The transcript, the job back in `queued` for drafting (whose attempts count afresh) and the audit
        entry commit together."""
        from assistant.audit import SYSTEM, append, sha256_json

        data = transcript.model_dump(mode="json")
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return
            job.transcript, job.progress, job.state, job.stage, job.attempts, job.error = (
                data, 0.5, "queued", "queued for drafting", 0, None)
            rec = s.get(Recording, job.recording_id) if job.recording_id else None
            asr = transcript.asr
            append(s, SYSTEM, "transcribe", objects={"job": job_id, "recording": job.recording_id},
                   models={"asr": (asr.model_id or asr.model) if asr else None},
                   input_sha256=rec.sha256 if rec else None, output_sha256=sha256_json(data))

    def attempts(self, job_id: str) -> int:
        with self.db.session() as s:
            job = s.get(Job, job_id)
            return job.attempts if job else 0

    def _transcribe(self, job_id: str, audio: Path, speakers: int | None = None) -> Transcript:
        self._update(job_id, stage="transcribing", progress=0.0)

        def on_progress(done: float, total: float | None = None) -> None:
            fraction = done / total if total else done
            self._update(job_id, progress=round(0.5 * min(max(fraction, 0.0), 1.0), 3))

        return self.engines.transcriber().transcribe(audio, progress=on_progress, speakers=speakers)

    def _draft(self, job_id: str, transcript: Transcript, template_id: str, engine: str) -> CaseRecord:
        from assistant.drafting.pipeline import DraftOptions, draft
        from assistant.templates import get_template

        base = 0.5 if transcript.asr else 0.0
        self._update(job_id, stage="drafting", progress=base)

        def on_progress(stage: str, fraction: float) -> None:
            self._update(job_id, stage=f"drafting: {stage}"[:40],
                         progress=round(base + (1 - base) * min(max(fraction, 0.0), 1.0) * 0.99, 3))

        chat = self.engines.chat() if engine == "llm" and transcript.word_count >= 150 else None
        options = DraftOptions.from_settings(self.settings, engine=engine)
        return draft(transcript, get_template(template_id), chat, options, progress=on_progress)

    def _save(self, job_id: str, record: CaseRecord) -> None:
        # Record, its first version and the job's completion commit together: no half-written record.
        # The row lock (PostgreSQL) and the unique records.job_id make a duplicate save a no-op.
        try:
            self._save_once(job_id, record)
        except IntegrityError:
            with self.db.session() as s:
                row = s.scalar(select(Record).where(Record.job_id == job_id))
            if row is None:
                raise
            log.warning("job %s: record already saved by another worker", job_id)

    def _save_once(self, job_id: str, record: CaseRecord) -> None:
        with self.db.session() as s:
            job = s.get(Job, job_id, with_for_update=True)
            if job is None or job.state in ("done", "failed"):
                return
            row = save_drafted(s, job, record)
            job.state, job.stage, job.progress, job.record_id, job.error = "done", "done", 1.0, row.id, None
