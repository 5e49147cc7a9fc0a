"""`CeleryJobQueue`: the API's side of the scale-out queue. It only publishes job ids; workers
(`assistant worker`) run the stages. Chosen by `ASSISTANT_QUEUE=celery`."""

from __future__ import annotations

import logging

from assistant.config import Settings
from assistant.jobs.celery_app import make_celery, redacted, send, stage_queue
from assistant.store.db import Database
from assistant.store.tables import Job

log = logging.getLogger(__name__)


class CeleryJobQueue:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.app = make_celery(settings)

    def start(self) -> None:
        # Unfinished jobs are the broker's: their messages stay queued (or unacknowledged) until a worker
        # finishes them, so nothing is re-sent here (re-sending would double every backlog on a restart).
        log.info("jobs go to Celery workers through %s", redacted(self.settings.jobs.broker_url))

    def queue_for(self, job_id: str) -> str:
        return stage_queue(self.db, job_id)

    def submit(self, job_id: str) -> None:
        """Publish the job's next stage. If the broker is unreachable the job is marked failed with that
        reason (the row is already committed); `assistant jobs retry ID` re-queues it."""
        try:
            send(self.app, self.queue_for(job_id), job_id)
        except Exception as exc:
            log.error("could not queue job %s: %s", job_id, type(exc).__name__)
            with self.db.session() as s:
                job = s.get(Job, job_id)
                if job is not None and job.state == "queued":
                    job.state, job.stage = "failed", "not queued"
                    job.error = f"broker unreachable ({type(exc).__name__}); `assistant jobs retry` re-queues"

    def stop(self) -> None:
        self.app.close()
