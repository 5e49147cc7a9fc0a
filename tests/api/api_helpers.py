"""API fixtures: the real app factory over a real SQLite file, two users with tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from support import save_finished_record

from assistant.api.app import create_app
from assistant.api.auth import add_user
from assistant.config import Settings
from assistant.records import CaseRecord, Section, Statement
from assistant.transcript import parse_text

VISIT = """Present: Jo Smith (social worker), Leanne Hart (mother)
Jo Smith: How have things been since my last visit?
Leanne Hart: Better. The police came out in March after an argument with my ex, but he has moved away.
Jo Smith: Have you had any thoughts of harming yourself?
Leanne Hart: No, nothing like that. My sister Kayleigh does the school run on Mondays.
Jo Smith: I will refer you to the family support service by Friday.
"""


@dataclass
class Client:
    http: TestClient
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, url: str, headers: dict[str, str] | None = None, **kw):  # type: ignore[no-untyped-def]
        return self.http.request(method, url, headers={**self.headers, **(headers or {})}, **kw)

    def get(self, url: str, **kw):  # type: ignore[no-untyped-def]
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw):  # type: ignore[no-untyped-def]
        return self.request("POST", url, **kw)

    def patch(self, url: str, **kw):  # type: ignore[no-untyped-def]
        return self.request("PATCH", url, **kw)

    def put(self, url: str, **kw):  # type: ignore[no-untyped-def]
        return self.request("PUT", url, **kw)

    def delete(self, url: str, **kw):  # type: ignore[no-untyped-def]
        return self.request("DELETE", url, **kw)


class NoEngines:
    """Unit seam: jobs are not run in these tests (records are inserted directly)."""

    def transcriber(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("no transcriber in this test")

    def chat(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("no LLM in this test")

    def close(self) -> None:
        pass


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.updated(auth_required=True, max_upload_bytes=256 * 1024)


@pytest.fixture
def http(app_settings: Settings) -> Iterator[TestClient]:
    app = create_app(app_settings, engines=NoEngines())  # type: ignore[arg-type]
    with TestClient(app) as client:
        yield client


@pytest.fixture
def alice(http: TestClient) -> Client:
    return Client(http, add_user(http.app.state.db, "alice"))  # type: ignore[attr-defined]


@pytest.fixture
def bob(http: TestClient) -> Client:
    return Client(http, add_user(http.app.state.db, "bob"))  # type: ignore[attr-defined]


def sample_record() -> CaseRecord:
    transcript = parse_text(VISIT)
    return CaseRecord(
        template_id="sc_contact_note",
        transcript=transcript,
        sections=[
            Section(id="views_family", title="Views of family and carers", status="drafted", statements=[
                Statement(id="s1", text="Leanne said the police came out in March after an argument with her ex.",
                          kind="reported", attributed_to="Leanne Hart", evidence=[1], support=0.9),
                Statement(id="s2", text="Leanne has thoughts of self-harm.", kind="reported",
                          attributed_to="Leanne Hart", evidence=[3], support=0.1,
                          flags=["high_risk_unverified", "unsupported"]),
            ]),
            Section(id="actions", title="Actions agreed", status="drafted", statements=[
                Statement(id="s3", text="Jo Smith will refer Leanne to family support by Friday.", kind="action",
                          attributed_to="Jo Smith", evidence=[4], support=0.8),
            ]),
            Section(id="analysis", title="Worker's analysis", status="human_only"),
        ],
        summary="Leanne reported a police call-out in March.",
    )


def insert_record(client: Client, record: CaseRecord | None = None) -> str:
    """A record as a finished job would leave it (job row, record row, version 1 from the AI)."""
    db = client.http.app.state.db  # type: ignore[attr-defined]
    user_id = client.http.app.state.local_user_id  # placeholder, replaced below
    from sqlalchemy import select

    from assistant.api.auth import hash_token
    from assistant.store.tables import User

    with db.session() as s:
        user_id = s.scalar(select(User).where(User.token_hash == hash_token(client.token))).id
        record = record or sample_record()
        return save_finished_record(s, user_id, record, kind="notes", input_text=VISIT)


def tone_wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A valid 16-bit mono WAV of a 440 Hz tone."""
    import io
    import math
    import struct
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / rate)))
                          for i in range(int(seconds * rate)))
        w.writeframes(frames)
    return buf.getvalue()
