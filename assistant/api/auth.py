"""Bearer-token users. Tokens are shown once and stored as sha256 hashes."""

from __future__ import annotations

import hashlib
import secrets

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from assistant.api.errors import ApiError
from assistant.store.db import Database
from assistant.store.tables import User

LOCAL_USER = "local"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(db: Database, name: str) -> str:
    """Create a user and return their new token (printed once, never stored in clear)."""
    token = secrets.token_urlsafe(32)
    with db.session() as s:
        if s.scalar(select(User).where(User.name == name)) is not None:
            raise ValueError(f"user {name!r} already exists")
        s.add(User(name=name, token_hash=hash_token(token)))
    return token


def ensure_local_user(db: Database) -> str:
    try:
        return _local_user(db)
    except IntegrityError:  # another API process (uvicorn's workers) created it at the same moment
        return _local_user(db)


def _local_user(db: Database) -> str:
    with db.session() as s:
        user = s.scalar(select(User).where(User.name == LOCAL_USER))
        if user is None:
            # Unusable random token: the local user is reached only when auth is not required.
            user = User(name=LOCAL_USER, token_hash=hash_token(secrets.token_urlsafe(32)))
            s.add(user)
            s.flush()
        return user.id


def _user_with_token(db: Database, token: str) -> str:
    with db.session() as s:
        user = s.scalar(select(User).where(User.token_hash == hash_token(token)))
    if user is None:
        raise ApiError(401, "unauthorized", "unknown or revoked token")
    return user.id


async def current_user(request: Request) -> str:
    """The caller's user id: from the bearer token, or the local user in single-user loopback mode.

    Async so that the local user costs no worker-thread trip (a sync dependency gets one on every request:
    a third of a status poll's CPU); only a token lookup, which reads the database, goes to a thread."""
    state = request.app.state
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return await run_in_threadpool(_user_with_token, state.db, header[7:].strip())
    if state.settings.api.auth_required:
        raise ApiError(401, "unauthorized", "a bearer token is required (assistant users add NAME)")
    return state.local_user_id
