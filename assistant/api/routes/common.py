"""What every route module shares: the caller's identity and the owner check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from assistant.api.auth import current_user
from assistant.api.errors import ApiError

# The caller's user id; every object belongs to its owner.
User = Annotated[str, Depends(current_user)]


def owned(session: Any, model: type, obj_id: str, owner: str) -> Any:
    """The object, when `owner` owns it; anyone else gets 404, never 403 (no existence leak)."""
    obj = session.get(model, obj_id) if len(obj_id) <= 64 else None
    if obj is None or obj.owner_id != owner:
        raise ApiError(404, "not_found", f"no such {model.__tablename__[:-1]}")
    return obj
