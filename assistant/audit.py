"""Append-only, hash-chained audit log.

Every entry records who did what to which object, with which models and prompt versions, and the SHA-256 of
what went in and what came out. It holds no free text (ids, hashes, versions and a fixed set of actions only),
so the log never becomes a second copy of case material. Each entry carries the previous entry's hash and its
own hash over all its fields, so `assistant audit verify` detects an edited entry (hash mismatch), a removed
entry (gap in `seq` / broken `prev_hash`) and entries cut off the end (the `audit_head` row disagrees).

Limits, stated in SECURITY.md: someone with write access to the database who recomputes the whole chain can
rewrite history; `assistant audit verify` prints the head hash so an operator can keep it elsewhere and pass
it back with `--expect-head`.

Appends happen inside the caller's transaction, so the action and its audit entry commit (or roll back)
together. The one-row `audit_head` is updated first, which takes the write lock on SQLite and a row lock on
PostgreSQL: concurrent writers queue instead of forking the chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from assistant.store.tables import AuditEntry, AuditHead

_HEAD: Table = AuditHead.__table__  # type: ignore[assignment]
_LOG: Table = AuditEntry.__table__  # type: ignore[assignment]
# Built once, executed with parameters: SQLAlchemy then reuses the compiled statement and skips building and
# coercing a new expression per entry, a large share of an upload's cost (README, "Speed").
_LOCK_HEAD = _HEAD.update().where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq).returning(_HEAD.c.seq, _HEAD.c.hash)
_MOVE_HEAD = _HEAD.update().where(_HEAD.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))

Action = Literal["upload", "transcribe", "draft", "edit", "approve", "reject", "export", "delete", "config_change"]
ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]
GENESIS = "0" * 64
SYSTEM = "system"  # actor for work the service does itself (transcription, drafting, start-up)

# Ids, model names, prompt versions, formats: short tokens, never sentences.
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Object kinds an entry may name.
OBJECT_KINDS = ("user", "recording", "job", "record", "version", "format", "settings")


def _token(value: str, what: str) -> str:
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise ValueError(f"audit {what} must be a short id-like token (no spaces or free text)")
    return value


class Entry(BaseModel):
    """An audit entry as hashed and verified."""

    seq: int = Field(ge=1)
    at: str
    actor: str
    action: Action
    objects: dict[str, str] = Field(default_factory=dict)
    models: dict[str, str] = Field(default_factory=dict)
    prompts: dict[str, str] = Field(default_factory=dict)
    input_sha256: str | None = None
    output_sha256: str | None = None
    prev_hash: str

    @field_validator("actor")
    @classmethod
    def _actor(cls, v: str) -> str:
        return _token(v, "actor")

    @field_validator("objects")
    @classmethod
    def _objects(cls, v: dict[str, str]) -> dict[str, str]:
        for k, val in v.items():
            if k not in OBJECT_KINDS:
                raise ValueError(f"audit object kind {k!r} is not one of {OBJECT_KINDS}")
            _token(val, f"object id ({k})")
        return v

    @field_validator("models", "prompts")
    @classmethod
    def _named_tokens(cls, v: dict[str, str]) -> dict[str, str]:
        for k, val in v.items():
            _token(k, "name")
            _token(val, "value")
        return v

    @field_validator("input_sha256", "output_sha256", "prev_hash")
    @classmethod
    def _hex(cls, v: str | None) -> str | None:
        if v is not None and not _HEX64.match(v):
            raise ValueError("audit hashes are 64 lowercase hex digits")
        return v

    def digest(self) -> str:
        """SHA-256 over the canonical JSON of every field (sorted keys, no whitespace)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(payload.encode("ascii")).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_json(obj: Any) -> str:
    """Hash of a JSON-able object in canonical form (how records and transcripts are fingerprinted)."""
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return sha256_bytes(text.encode("utf-8"))


def _clean(values: Mapping[str, str | None] | None) -> dict[str, str]:
    return {k: str(v) for k, v in (values or {}).items() if v not in (None, "")}


def _tokens(values: Mapping[str, str | None] | None) -> dict[str, str]:
    """Model names and prompt versions come from configuration: squeeze them into tokens rather than let an
    odd endpoint model name ("gpt (preview)") make the audited action fail."""
    out = {}
    for k, v in _clean(values).items():
        tok = re.sub(r"[^A-Za-z0-9._:@/+-]", "_", v)[:128]
        out[re.sub(r"[^A-Za-z0-9._-]", "_", k)[:64] or "x"] = tok if tok[:1].isalnum() else f"x{tok}"[:128]
    return out


def append(
    session: Session,
    actor: str,
    action: Action,
    *,
    objects: Mapping[str, str | None] | None = None,
    models: Mapping[str, str | None] | None = None,
    prompts: Mapping[str, str | None] | None = None,
    input_sha256: str | None = None,
    output_sha256: str | None = None,
) -> Entry:
    """Append one entry inside `session`'s transaction (it commits with the caller's change)."""
    session.flush()  # the caller's pending rows first, as they would be with the entry
    # Core statements on the tables: the ORM's unit of work cost twice as much per entry, and an upload's
    # entry is written on the event loop (see assistant/api/routes/recordings.py). Lock the head and read it in one
    # statement: a write lock on SQLite, a row lock on PostgreSQL.
    head = session.execute(_LOCK_HEAD).one_or_none()
    if head is None:
        # A concurrent first append fails here on the primary key; its caller retries.
        session.execute(_HEAD.insert().values(id=1, seq=0, hash=GENESIS))
    seq, prev_hash = head if head is not None else (0, GENESIS)
    entry = Entry(
        seq=seq + 1,
        at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        actor=actor,
        action=action,
        objects=_clean(objects),
        models=_tokens(models),
        prompts=_tokens(prompts),
        input_sha256=input_sha256,
        output_sha256=output_sha256,
        prev_hash=prev_hash,
    )
    digest = entry.digest()
    session.execute(_LOG.insert(), {**entry.model_dump(), "hash": digest})
    session.execute(_MOVE_HEAD, {"new_seq": entry.seq, "new_hash": digest})
    return entry


# -- verification ------------------------------------------------------------------------------------------


class Verdict(BaseModel):
    ok: bool
    entries: int
    head: str
    problems: list[str] = Field(default_factory=list)


def _rows(session: Session) -> Iterable[AuditEntry]:
    return session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).yield_per(1000)


def verify(session: Session, *, expect_head: str | None = None, limit_problems: int = 20) -> Verdict:
    """Walk the chain from the first entry: recompute each hash, check each link and the head.

    The service may append while this runs (a draft finishing), and plain SELECTs on SQLite do not share one
    snapshot: when the head has moved past the last entry walked, the walk goes on from there before the end
    is judged, so a live log verifies as cleanly as a quiet one."""
    problems: list[str] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0

    def walk(rows: Iterable[AuditEntry]) -> None:
        nonlocal prev_hash, expected_seq, count
        for row in rows:
            count += 1
            if row.seq != expected_seq:
                problems.append(f"entries {expected_seq}..{row.seq - 1} are missing (removed)")
            try:
                entry = Entry(seq=row.seq, at=row.at, actor=row.actor, action=row.action,  # type: ignore[arg-type]
                              objects=row.objects or {}, models=row.models or {}, prompts=row.prompts or {},
                              input_sha256=row.input_sha256, output_sha256=row.output_sha256,
                              prev_hash=row.prev_hash)
            except ValueError:
                problems.append(f"entry {row.seq}: fields are not valid audit values (edited)")
            else:
                if entry.digest() != row.hash:
                    problems.append(f"entry {row.seq}: contents do not match its hash (edited)")
            if row.prev_hash != prev_hash:
                problems.append(f"entry {row.seq}: does not follow entry {row.seq - 1} "
                                "(an entry was removed or edited)")
            prev_hash, expected_seq = row.hash, row.seq + 1
            if len(problems) >= limit_problems:
                return

    walk(_rows(session))
    head = session.get(AuditHead, 1, populate_existing=True)
    for _ in range(5):  # entries appended during the walk
        if head is None or head.seq < expected_seq or len(problems) >= limit_problems:
            break
        before = count
        walk(session.scalars(select(AuditEntry).where(AuditEntry.seq >= expected_seq).order_by(AuditEntry.seq)))
        if count == before:
            break
        head = session.get(AuditHead, 1, populate_existing=True)
    if head is not None and len(problems) < limit_problems:
        if head.seq != expected_seq - 1 or head.hash != prev_hash:
            problems.append(f"the log ends at entry {expected_seq - 1} but its head says {head.seq} "
                            "(entries removed from the end)")
    elif head is None and count:
        problems.append("the head record is missing")
    if expect_head and expect_head != prev_hash:
        problems.append("the last hash differs from the one kept outside the database (--expect-head)")
    return Verdict(ok=not problems, entries=count, head=prev_hash, problems=problems)


# -- helpers for callers ---------------------------------------------------------------------------------------


def config_snapshot(settings: Any) -> dict[str, str]:
    """The settings that change what the service produces or where data goes (no paths, no secrets)."""
    names = ("llm_backend", "llm_model", "embedded_llm", "whisper_model", "whisper_beam_size", "llm_temperature",
             "llm_seed", "llm_context", "auth_required", "queue", "redact", "redact_loopback", "max_audio_seconds",
             "max_upload_bytes", "retain_audio_after_approval_days", "retain_audio_days", "retain_transcript_days",
             "retain_unapproved_days")
    snap = {n: str(getattr(settings, n)) for n in names if hasattr(settings, n)}
    # The remote endpoint's host is configuration that matters (where text goes); the key never is recorded.
    snap["openai_base_url"] = str(getattr(settings, "openai_base_url", None) or "")
    return snap


def model_ids(settings: Any) -> dict[str, str]:
    llm = settings.embedded_llm if settings.llm_backend == "embedded" else settings.llm_model
    return {"asr": f"whisper-{settings.whisper_model}", "llm": f"{settings.llm_backend}:{llm}"[:128]}


def record_config(session: Session, settings: Any, actor: str = SYSTEM) -> Entry | None:
    """Append `config_change` when the effective configuration differs from the last one recorded (so a
    silent model or setting change shows in the log); None when nothing changed."""
    digest = sha256_json(config_snapshot(settings))
    last = session.scalar(select(AuditEntry).where(AuditEntry.action == "config_change")
                          .order_by(AuditEntry.seq.desc()).limit(1))
    if last is not None and last.output_sha256 == digest:
        return None
    return append(session, actor, "config_change", objects={"settings": "service"}, models=model_ids(settings),
                  input_sha256=last.output_sha256 if last is not None else None, output_sha256=digest)
