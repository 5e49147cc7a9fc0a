"""The stage functions and the retry policy, on a real SQLite store, without services or models: short
notes are drafted as "too short" (no model), and the transcriber is a counting fake (a unit seam)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from assistant.config import Settings
from assistant.jobs.celery_app import (
    DRAFT,
    TASK_NAMES,
    TRANSCRIBE,
    _after_failure,
    make_celery,
    transport_options,
    worker_settings,
)
from assistant.jobs.locks import job_lock
from assistant.jobs.retry import backoff, is_transient
from assistant.jobs.stages import JobRunner
from assistant.store.blobs import blob_store
from assistant.store.db import Database
from assistant.store.tables import Job, Record, Recording, RecordVersion, User
from assistant.transcript import AsrInfo, Transcript, parse_text

NOTES = "Present: Jo Smith (social worker), Sam Lee (resident)\nJo: How have you been?\nSam: Better, thanks."


class CountingTranscriber:
    def __init__(self) -> None:
        self.calls = 0
        self.kwargs: list[dict[str, Any]] = []  # the keyword arguments of each call

    def transcribe(self, source: Any, progress: Any = None, **kwargs: Any) -> Transcript:
        self.calls += 1
        self.kwargs.append(kwargs)
        if progress:
            progress(1.0, 2.0)
        t = parse_text(NOTES)
        t.asr = AsrInfo(model="fake")
        return t


class FakeEngines:
    def __init__(self) -> None:
        self.asr = CountingTranscriber()

    def transcriber(self) -> CountingTranscriber:
        return self.asr

    def chat(self) -> Any:
        raise AssertionError("no LLM in these tests")

    def close(self) -> None:
        pass


@pytest.fixture
def db(settings: Settings) -> Any:
    database = Database(settings)
    yield database
    database.dispose()


def _user(db: Database) -> str:
    with db.session() as s:
        n = s.scalar(select(func.count()).select_from(User))
        user = User(name=f"u{n}", token_hash=f"{n:064d}")
        s.add(user)
        s.flush()
        return user.id


def _notes_job(db: Database, **fields: Any) -> str:
    owner = _user(db)
    with db.session() as s:
        job = Job(owner_id=owner, kind="notes", template_id="sc_contact_note", engine="extractive",
                  input_text=NOTES, **fields)
        s.add(job)
        s.flush()
        return job.id


def _audio_job(db: Database, settings: Settings, tmp_path: Path, **fields: Any) -> str:
    owner = _user(db)
    src = tmp_path / "a.wav"
    src.write_bytes(b"RIFF....WAVE")  # the fake transcriber never reads it
    ref = blob_store(settings).put_file(src, f"uploads/{tmp_path.name}.wav")
    with db.session() as s:
        rec = Recording(owner_id=owner, filename="a.wav", path=ref, format="wav", size=12, sha256="0" * 64)
        s.add(rec)
        s.flush()
        job = Job(owner_id=owner, kind="audio", template_id="sc_contact_note", engine="extractive",
                  recording_id=rec.id, **fields)
        s.add(job)
        s.flush()
        return job.id


def _job(db: Database, job_id: str) -> Job:
    with db.session() as s:
        return s.get(Job, job_id)


def _records(db: Database, job_id: str) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Record).where(Record.job_id == job_id))


def test_notes_job_runs_once_and_a_rerun_of_either_stage_is_a_no_op(settings: Settings, db: Database) -> None:
    runner = JobRunner(settings, db, FakeEngines())  # type: ignore[arg-type]
    job_id = _notes_job(db)
    runner(job_id)
    job = _job(db, job_id)
    assert (job.state, job.stage, job.progress, job.error) == ("done", "done", 1.0, None)
    assert runner.draft_stage(job_id) == "skip" and runner.transcribe_stage(job_id) == "skip"
    assert _records(db, job_id) == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RecordVersion)) == 1


def test_transcript_is_saved_once_and_not_redone(settings: Settings, db: Database, tmp_path: Path) -> None:
    engines = FakeEngines()
    runner = JobRunner(settings, db, engines)  # type: ignore[arg-type]
    job_id = _audio_job(db, settings, tmp_path)
    assert runner.draft_stage(job_id) == "transcribe"  # a draft worker never transcribes itself
    assert runner.transcribe_stage(job_id) == "draft"
    job = _job(db, job_id)
    assert job.transcript is not None and job.progress == 0.5
    assert (job.state, job.stage, job.attempts) == ("queued", "queued for drafting", 0)
    assert runner.transcribe_stage(job_id) == "draft"  # redelivered: the saved transcript is reused
    assert engines.asr.calls == 1
    assert runner.draft_stage(job_id) == "done"
    assert runner.draft_stage(job_id) == "skip"
    assert _job(db, job_id).state == "done" and _records(db, job_id) == 1


PRESENT = [{"name": "Priya Shah", "role": "social worker"}, {"name": "Jo Smith", "role": "team manager"},
           {"name": "Kai", "role": ""}]


@pytest.mark.parametrize(("speakers", "present", "expected"), [
    (None, PRESENT, 3),  # the number of people present
    (2, PRESENT, 2),  # the uploader's number wins: not everyone present speaks
    (4, None, 4),
    (None, None, None),  # unknown: not passed at all, so transcribers without the keyword still work
])
def test_transcribe_stage_passes_the_speaker_count_and_the_people_present(
    settings: Settings, db: Database, tmp_path: Path, speakers: int | None, present: list | None,
    expected: int | None,
) -> None:
    engines = FakeEngines()
    runner = JobRunner(settings, db, engines)  # type: ignore[arg-type]
    job_id = _audio_job(db, settings, tmp_path, speakers=speakers, present=present)
    assert runner.transcribe_stage(job_id) == "draft"
    assert engines.asr.kwargs == [{"speakers": expected}]
    saved = Transcript.model_validate(_job(db, job_id).transcript)
    # The fake's own Present: line first (Jo Smith keeps the role it gives), then the uploader's new people.
    people = [(p.name, p.role) for p in saved.participants]
    assert people[:2] == [("Jo Smith", "social worker"), ("Sam Lee", "resident")]
    assert people[2:] == ([("Priya Shah", "social worker"), ("Kai", "")] if present else [])
    assert runner.draft_stage(job_id) == "done"
    with db.session() as s:
        record = s.scalar(select(Record).where(Record.job_id == job_id))
        present_names = {p["name"] for p in record.data["meta"]["people_present"]}
    assert ({"Priya Shah", "Kai"} <= present_names) == bool(present), "drafting knows who was there"


def test_a_job_left_running_is_a_lost_attempt_and_fails_after_the_limit(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    runner = JobRunner(settings.updated(job_max_attempts=2), db, FakeEngines())  # type: ignore[arg-type]
    retried = _audio_job(db, settings, tmp_path, state="running", attempts=1, stage="transcribing")
    assert runner.transcribe_stage(retried) == "draft"
    poisoned = _notes_job(db, state="running", attempts=2, stage="drafting")
    assert runner.draft_stage(poisoned) == "skip"
    job = _job(db, poisoned)
    assert job.state == "failed" and job.error == "worker lost 2 times during drafting"
    assert _records(db, poisoned) == 0


def test_a_job_locked_by_another_runner_is_busy(settings: Settings, db: Database) -> None:
    runner = JobRunner(settings, db, FakeEngines())  # type: ignore[arg-type]
    job_id = _notes_job(db)
    with job_lock(db, settings, job_id) as held:
        assert held
        assert runner.draft_stage(job_id) == "busy"
        assert _job(db, job_id).state == "queued"  # untouched: the holder owns it
    assert runner.draft_stage(job_id) == "done"


def test_a_record_saved_by_another_worker_is_not_saved_again(settings: Settings, db: Database) -> None:
    runner = JobRunner(settings, db, FakeEngines())  # type: ignore[arg-type]
    job_id = _notes_job(db)
    job = _job(db, job_id)
    with db.session() as s:  # another worker committed its record but not (yet) the job's state
        s.add(Record(owner_id=job.owner_id, job_id=job_id, template_id="sc_contact_note", data={}))
    assert runner.draft_stage(job_id) == "done"  # IntegrityError on records.job_id: treated as done
    assert _records(db, job_id) == 1


def test_missing_recording_fails_the_job_with_its_reason(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    runner = JobRunner(settings, db, FakeEngines())  # type: ignore[arg-type]
    job_id = _audio_job(db, settings, tmp_path)
    with db.session() as s:
        blob_store(settings).delete(s.get(Recording, s.get(Job, job_id).recording_id).path)
    runner(job_id)
    job = _job(db, job_id)
    assert job.state == "failed"
    assert job.error == "FileNotFoundError: the recording for this job no longer exists"


def test_transient_errors_are_recognised_through_wrappers() -> None:
    import openai

    from assistant.llm import LLMError

    try:
        try:
            raise openai.APITimeoutError(request=__import__("httpx").Request("POST", "http://127.0.0.1"))
        except openai.APITimeoutError as inner:
            raise LLMError("embedded LLM timed out") from inner
    except LLMError as exc:
        assert is_transient(exc)
    assert is_transient(OperationalError("SELECT 1", {}, ConnectionError("server closed the connection")))
    assert not is_transient(ValueError("bad template"))
    assert not is_transient(FileNotFoundError("gone"))
    delays = [backoff(n, 10.0) for n in (1, 2, 3, 10)]
    assert 8 <= delays[0] <= 12 and 16 <= delays[1] <= 24 and 32 <= delays[2] <= 48 and delays[3] <= 720


class FakeTask:
    class request:  # noqa: N801  (mirrors celery's Task.request)
        retries = 0


def test_celery_failure_policy_retries_transient_errors_then_fails(settings: Settings, db: Database) -> None:
    settings = settings.updated(job_max_attempts=2, job_retry_backoff_s=5.0)
    runner = JobRunner(settings, db, FakeEngines())  # type: ignore[arg-type]
    job_id = _notes_job(db, state="running", attempts=1)
    transient = ConnectionError("LLM endpoint reset the connection")
    delay = _after_failure(FakeTask(), runner, settings, job_id, transient)  # type: ignore[arg-type]
    assert delay is not None and 4 <= delay <= 6
    job = _job(db, job_id)
    assert (job.state, job.error) == ("queued", "ConnectionError: LLM endpoint reset the connection")
    assert job.stage in {"retry 2/2 in 4 s", "retry 2/2 in 5 s", "retry 2/2 in 6 s"}
    with db.session() as s:
        s.get(Job, job_id).attempts = 2
    assert _after_failure(FakeTask(), runner, settings, job_id, transient) is None  # type: ignore[arg-type]
    assert _job(db, job_id).state == "failed"
    other = _notes_job(db, state="running", attempts=1)
    assert _after_failure(FakeTask(), runner, settings, other, KeyError("x")) is None  # type: ignore[arg-type]
    assert _job(db, other).error == "KeyError: 'x'"


def test_celery_app_delivery_settings(settings: Settings) -> None:
    app = make_celery(settings.updated(broker_visibility_timeout_s=7200))
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    assert conf.task_routes[TASK_NAMES[TRANSCRIBE]] == {"queue": "transcribe"}
    assert conf.task_routes[TASK_NAMES[DRAFT]] == {"queue": "draft"}
    assert conf.broker_transport_options["visibility_timeout"] == 7200
    assert set(TASK_NAMES.values()) <= set(app.tasks)
    assert transport_options(settings.updated(broker_url="amqp://guest@mq//")) == {}
    other = make_celery(settings)  # a second app in the same process keeps its own tasks (and settings)
    app.finalize()
    other.finalize()
    assert app.tasks[TASK_NAMES[DRAFT]] is not other.tasks[TASK_NAMES[DRAFT]]
    split = worker_settings(settings, 2)
    assert split.whisper.threads >= 1 and split.llm.threads >= 1
    assert worker_settings(settings, 1) is settings


def test_unreachable_broker_fails_the_job_with_a_reason_and_retry_requeues(settings: Settings) -> None:
    from assistant.cli import app as cli

    down = settings.updated(queue="celery", broker_url="redis://127.0.0.1:1/0")
    from assistant.api.app import create_app

    with TestClient(create_app(down, engines=FakeEngines())) as client:  # type: ignore[arg-type]
        r = client.post("/api/notes", json={"text": NOTES, "engine": "extractive"})
        assert r.status_code == 202
        job = client.get(f"/api/jobs/{r.json()['job_id']}").json()
    assert job["state"] == "failed" and job["error"].startswith("broker unreachable")

    env = {"ASSISTANT_DATA_DIR": str(settings.data_dir), "ASSISTANT_QUEUE": "local"}
    runner = CliRunner()
    listed = runner.invoke(cli, ["jobs", "list", "--failed"], env=env)
    assert listed.exit_code == 0 and job["id"] in listed.output and "broker unreachable" in listed.output
    retried = runner.invoke(cli, ["jobs", "retry", job["id"]], env=env)
    assert retried.exit_code == 0 and "marked queued" in retried.output
    db = Database(settings)
    try:
        assert (_job(db, job["id"]).state, _job(db, job["id"]).error) == ("queued", None)
        runner_ = JobRunner(settings, db, FakeEngines())  # type: ignore[arg-type]
        runner_(job["id"])  # what the local server does with it at its next start
        assert _job(db, job["id"]).state == "done"
    finally:
        db.dispose()
    again = runner.invoke(cli, ["jobs", "retry", job["id"]], env=env)
    assert again.exit_code == 1 and "is done" in again.output


def test_a_busy_job_is_looked_at_again_soon_then_every_minute(settings: Settings) -> None:
    from assistant.jobs.celery_app import busy_delay

    # A redelivery that beat the dead holder's lock release is retried in a second, not a minute.
    assert [busy_delay(settings, n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
