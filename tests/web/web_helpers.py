"""A live server on loopback and a short synthetic two-voice recording, for page and end-to-end tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from support import save_finished_record

from assistant.api.app import create_app
from assistant.config import Settings
from assistant.records import CaseRecord

# ~190 words: long enough to draft (the pipeline refuses under ~150 words), short enough for 2 cores.
DIALOGUE = [
    ("Jo Smith", "en-gb", "Hello Leanne, thanks for seeing me today. This is the visit we arranged last week."),
    ("Leanne Hart", "en-us+f3", "Hi Jo, come in. Sorry about the mess, the boys have been off school with a cold."),
    ("Jo Smith", "en-gb", "That's fine. How have things been since my last visit?"),
    ("Leanne Hart", "en-us+f3", "Better, honestly. The rent arrears are down to two hundred pounds and the housing "
     "officer said the eviction notice is on hold."),
    ("Jo Smith", "en-gb", "That's good news. How is your mood at the moment?"),
    ("Leanne Hart", "en-us+f3", "Low some days, but my sister Kayleigh helps with the school run on Mondays "
     "and Wednesdays, and that makes a real difference."),
    ("Jo Smith", "en-gb", "Have you had any thoughts of harming yourself?"),
    ("Leanne Hart", "en-us+f3", "No, nothing like that. I just get tired."),
    ("Jo Smith", "en-gb", "And how are the boys getting on at school?"),
    ("Leanne Hart", "en-us+f3", "Tyler is doing well in year four. Mason struggles with reading, and his teacher "
     "wants to meet me next Tuesday about extra help."),
    ("Jo Smith", "en-gb", "Thank you for telling me. I will refer you to the family support service by Friday, "
     "and I will visit again on the third of April at ten in the morning."),
    ("Leanne Hart", "en-us+f3", "That works for me. Thanks Jo."),
]
PRESENT = "Present: Jo Smith (social worker), Leanne Hart (mother)"


def dialogue_text() -> str:
    return "\n".join([PRESENT, *(f"{who}: {said}" for who, _, said in DIALOGUE)])


def synthesise_dialogue(out: Path) -> Path:
    """16 kHz mono WAV, one espeak-ng voice per speaker, a short pause between turns."""
    parts = []
    for i, (_, voice, said) in enumerate(DIALOGUE):
        raw = out.parent / f"turn{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(raw), said], check=True)
        fixed = out.parent / f"turn{i}_16k.wav"
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(fixed), "pad", "0", "0.4"],
                       check=True)
        parts.append(str(fixed))
    subprocess.run(["sox", *parts, str(out)], check=True)
    return out


def have_tools(*names: str) -> bool:
    return all(shutil.which(n) for n in names)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(settings: Settings, engines: object | None = None) -> Iterator[str]:
    port = free_port()
    app = create_app(settings, engines=engines)  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise RuntimeError("server did not start")
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def insert_record(settings: Settings, record: CaseRecord) -> str:
    """Seed a record as a finished job would leave it (job, record, version 1), owned by the local user the
    page acts as: page tests that need no Whisper or LLM start from here."""
    from sqlalchemy import select

    from assistant.api.auth import LOCAL_USER, ensure_local_user
    from assistant.store.db import Database
    from assistant.store.tables import User

    db = Database(settings)
    try:
        ensure_local_user(db)
        with db.session() as s:
            owner = s.scalar(select(User).where(User.name == LOCAL_USER)).id
            return save_finished_record(s, owner, record, kind="audio")
    finally:
        db.dispose()


def wait_for_job(base: str, job_id: str, headers: dict[str, str] | None = None, timeout: float = 1200) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{base}/api/jobs/{job_id}", headers=headers or {}, timeout=10).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} did not finish in {timeout} s")
