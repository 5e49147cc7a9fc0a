"""PII redaction before a remote LLM: a recording fake OpenAI-compatible endpoint (on loopback, configured as
remote through `redact_loopback`) never receives the identifiers, and the drafted record has them back."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import chat_completion, loopback_json_server

from assistant.config import Settings
from assistant.llm.redact import (
    RedactingChatModel,
    Redactor,
    find_identifiers,
    is_loopback_url,
    maybe_redact,
    redaction_scope,
)
from assistant.store.db import Database
from assistant.store.tables import Job, Record, User
from assistant.transcript import parse_text

NHS = "943 476 5919"  # valid mod-11 check digit
NINO = "AB 12 34 56 C"
POSTCODE = "LS6 2AB"
PHONE = "07700 900123"
EMAIL = "leanne.hart@example.co.uk"
DOB = "3rd of March 2015"
NAMES = ["Leanne Hart", "Jo Smith", "Leanne", "Hart"]
SECRETS = [NHS, NINO, POSTCODE, PHONE, EMAIL, DOB, "Leanne Hart", "Jo Smith", "Leanne", "Hart"]

VISIT = f"""Present: Jo Smith (social worker), Leanne Hart (mother)
Jo Smith: Hello Leanne, thank you for seeing me at home today. Can I check a few details for the record first?
Leanne Hart: Yes of course. My NHS number is {NHS} and my National Insurance number is {NINO}.
Jo Smith: Thank you. Are you still living at the same address, and what is the best way to contact you?
Leanne Hart: Same flat, the postcode is {POSTCODE}. Call me on {PHONE} or email me at {EMAIL}.
Jo Smith: And Kai's date of birth, for the school referral?
Leanne Hart: Kai was born on the {DOB}. He has been doing much better at school since January.
Jo Smith: How have things been at home since my last visit?
Leanne Hart: Better. The rent arrears are down to two hundred pounds and the eviction notice is on hold. My sister
helps with the school run on Mondays, which makes a real difference to my mood.
Jo Smith: Have you had any thoughts of harming yourself?
Leanne Hart: No, nothing like that. I just get tired some days and I worry about money.
Jo Smith: I will refer you to the family support service by Friday and I will visit again on the third of April.
Leanne Hart: That works for me. Thanks Jo, I appreciate you coming out to see us both today.
"""


# -- a recording fake OpenAI-compatible endpoint that answers any JSON schema --------------------------------


def _lines(system: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^\[(\d+)\] [^:\n]*: (.*)$", system, re.M)}


def _fill(schema: dict[str, Any], text: str, lines: dict[str, str]) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _fill(v, lines.get(k, text), lines) for k, v in props.items()}
    if kind == "array":
        return [_fill(schema.get("items", {}), text, lines) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "string":
        return text[: schema.get("maxLength", 200)]
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    return None


class RecordingEndpoint:
    """Answers every request with JSON made from the request itself: each sentence repeats a transcript line,
    so any placeholder the model saw comes back in the record, where it must be restored."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.base_url = ""

    def answer(self, body: dict[str, Any]) -> str:
        messages = body.get("messages", [])
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema")
        if not schema:
            return user[:200]
        # A section's lines: `[12] [PERSON_1] (mother): "text"` (the speaker's name is a placeholder too).
        first_note = re.search(r'^(?:\[\d+\] )?[^\n:]*?\([^)]*\): "?(.*?)"?$', user, re.M)
        return json.dumps(_fill(schema, first_note.group(1) if first_note else user[:150], _lines(system)))

    def seen(self) -> str:
        """Everything the remote side received, raw and JSON-decoded (escapes undone)."""
        raw = b"\n".join(self.bodies).decode("utf-8", "replace")
        decoded = "\n".join(json.dumps(json.loads(b), ensure_ascii=False) for b in self.bodies)
        return raw + "\n" + decoded


@pytest.fixture
def endpoint() -> Iterator[RecordingEndpoint]:
    fake = RecordingEndpoint()

    def answer(path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        fake.bodies.append(raw)
        return 200, chat_completion(fake.answer(json.loads(raw)), "remote-model")

    with loopback_json_server(answer) as base_url:
        fake.base_url = base_url
        yield fake


def _remote_settings(settings: Settings, endpoint: RecordingEndpoint, redact: bool = True) -> Settings:
    # The endpoint is on loopback; redact_loopback makes the service treat it as the remote service it stands for.
    return settings.model_copy(update={
        "llm_backend": "openai", "openai_base_url": endpoint.base_url, "llm_model": "remote-model",
        "redact": redact, "redact_loopback": redact, "llm_timeout_s": 30.0,
    })


# -- unit: recognisers and the mapping ---------------------------------------------------------------------------


def test_each_identifier_kind_is_found() -> None:
    text = (f"NHS {NHS}, NI {NINO}, postcode {POSTCODE}, phone {PHONE}, email {EMAIL}, born on the {DOB}, "
            "DOB 03/03/2015.")
    found = {(text[s:e], kind) for s, e, kind in find_identifiers(text)}
    assert {(NHS, "UK_NHS"), (NINO, "UK_NINO"), (POSTCODE, "UK_POSTCODE"), (PHONE, "PHONE_NUMBER"),
            (EMAIL, "EMAIL_ADDRESS"), (DOB, "DATE_OF_BIRTH"), ("03/03/2015", "DATE_OF_BIRTH")} <= found


def test_nhs_numbers_need_a_valid_check_digit_and_plain_dates_stay() -> None:
    text = "Reference 943 476 5918 and a visit on 3rd of March 2015."
    kinds = {kind for _, _, kind in find_identifiers(text)}
    assert "UK_NHS" not in kinds and "DATE_OF_BIRTH" not in kinds


def test_placeholders_are_stable_and_restore_exactly() -> None:
    r = Redactor(["Leanne Hart", "Jo Smith"])
    text = f"Leanne Hart ({NHS}) told Jo that Leanne's phone is {PHONE}. Hart again: {NHS}."
    red = r.redact(text)
    for secret in (NHS, PHONE, "Leanne", "Hart", "Jo"):
        assert secret not in red
    assert red.count("[NHS_NUMBER_1]") == 2 and "[PERSON_1_FIRST]'s" in red
    assert r.redact(text) == red  # same text, same placeholders (KV cache reuse)
    assert r.restore(red) == text
    assert r.restore("PERSON_1 said NHS_NUMBER_1") == f"Leanne Hart said {NHS}"  # brackets dropped by a model


def test_loopback_detection() -> None:
    assert is_loopback_url("http://127.0.0.1:8080/v1") and is_loopback_url("http://localhost/v1")
    assert is_loopback_url("http://[::1]:9000/v1")
    assert not is_loopback_url("https://api.example.com/v1") and not is_loopback_url("http://10.0.0.5/v1")


def test_redaction_wraps_only_remote_endpoints_when_asked(settings: Settings) -> None:
    class Chat:
        name, backend, base_url = "m", "openai", "http://127.0.0.1:9/v1"

    local = Chat()
    assert maybe_redact(local, settings.model_copy(update={"redact": True})) is local  # loopback: not needed
    assert isinstance(maybe_redact(local, settings.model_copy(update={"redact": True, "redact_loopback": True})),
                      RedactingChatModel)
    remote = Chat()
    remote.base_url = "https://llm.example.org/v1"
    assert isinstance(maybe_redact(remote, settings.model_copy(update={"redact": True})), RedactingChatModel)
    assert maybe_redact(remote, settings) is remote  # off by default (a warning is logged)


# -- the real protocol, through the factory --------------------------------------------------------------------


def test_structured_call_sends_placeholders_and_returns_values(settings: Settings,
                                                               endpoint: RecordingEndpoint) -> None:
    from assistant.llm.factory import LLMRuntime

    with LLMRuntime(_remote_settings(settings, endpoint)) as chat:
        assert isinstance(chat, RedactingChatModel)
        schema = {"title": "t", "type": "object", "required": ["w", "n"], "additionalProperties": False,
                  "properties": {"w": {"type": "string", "enum": ["Leanne Hart", "Jo Smith"]},
                                 "n": {"type": "string", "maxLength": 300}}}
        with redaction_scope(names=["Leanne Hart", "Jo Smith"]):
            messages = [{"role": "system", "content": f"[1] Leanne Hart (mother): my NHS number is {NHS}"},
                        {"role": "user", "content": f"Leanne Hart (mother): call {PHONE} or {EMAIL}"}]
            result = chat.structured(messages, schema, max_tokens=50)
            text = chat.complete(messages, max_tokens=20).text
    seen = endpoint.seen()
    for secret in (NHS, PHONE, EMAIL, "Leanne", "Hart", "Jo Smith"):
        assert secret not in seen, secret
    assert result.data["w"] == "Leanne Hart"
    assert PHONE in result.data["n"] and EMAIL in result.data["n"]
    assert PHONE in text


def _job_record(settings: Settings, endpoint: RecordingEndpoint, redact: bool) -> dict[str, Any]:
    from assistant.jobs.stages import Engines, JobRunner

    s = _remote_settings(settings, endpoint, redact=redact)
    db = Database(s)
    engines = Engines(s)
    try:
        with db.session() as sess:
            user = User(name="alice", token_hash="a" * 64)
            sess.add(user)
            sess.flush()
            job = Job(owner_id=user.id, kind="notes", template_id="sc_contact_note", engine="llm", input_text=VISIT)
            sess.add(job)
            sess.flush()
            job_id = job.id
        JobRunner(s, db, engines)(job_id)
        with db.session() as sess:
            job = sess.get(Job, job_id)
            assert job.state == "done", job.error
            return sess.get(Record, job.record_id).data
    finally:
        engines.close()
        db.dispose()


def test_a_job_drafted_by_a_remote_llm_never_sends_identifiers(settings: Settings,
                                                                endpoint: RecordingEndpoint) -> None:
    assert parse_text(VISIT).word_count >= 150  # long enough for the LLM path
    record = _job_record(settings, endpoint, redact=True)
    assert endpoint.bodies, "the LLM was never called"
    seen = endpoint.seen()
    for secret in SECRETS:
        assert secret not in seen, f"{secret!r} reached the remote endpoint"
    assert "[PERSON_1]" in seen and "[NHS_NUMBER_1]" in seen
    # ...and the record has the real values back, wherever the model repeated a placeholder.
    statements = [st for sec in record["sections"] for st in sec["statements"]]
    drafted = json.dumps([st["text"] for st in statements] + [record.get("summary") or ""], ensure_ascii=False)
    assert "[PERSON_" not in drafted and "[NHS_NUMBER_" not in drafted and "PHONE_1" not in drafted
    assert NHS in drafted and PHONE in drafted and EMAIL in drafted
    assert {st["attributed_to"] for st in statements} <= {"Leanne Hart", "Jo Smith", ""}


def test_without_redaction_the_same_job_does_send_them(settings: Settings, endpoint: RecordingEndpoint) -> None:
    """The negative control: proves the fake endpoint would have seen the values."""
    _job_record(settings, endpoint, redact=False)
    seen = endpoint.seen()
    assert NHS in seen and "Leanne Hart" in seen


def test_assistant_draft_redacts_like_a_job(settings: Settings, endpoint: RecordingEndpoint, tmp_path: Path) -> None:
    """The command line drafts through the same redaction scope as the service."""
    from assistant.drafting.run import draft_file

    src = tmp_path / "visit.txt"
    src.write_text(VISIT, encoding="utf-8")
    record, _ = draft_file(src, settings=_remote_settings(settings, endpoint), template_id="sc_contact_note",
                           engine="llm", formats=["json"], out_dir=tmp_path / "out", echo=lambda _msg: None)
    assert endpoint.bodies, "the LLM was never called"
    seen = endpoint.seen()
    for secret in SECRETS:
        assert secret not in seen, f"{secret!r} reached the remote endpoint"
    drafted = " ".join(st.text for st in record.statements())
    assert "[PERSON_" not in drafted and NHS in drafted
