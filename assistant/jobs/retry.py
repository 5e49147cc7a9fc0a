"""Which failures are worth retrying, and how long to wait. Everything else fails the job at once: a
corrupt recording or a bug will not get better on a second try."""

from __future__ import annotations

import random


def _transient_types() -> tuple[type[BaseException], ...]:
    import httpx
    import openai
    import sqlalchemy.exc as sa_exc

    return (
        ConnectionError, TimeoutError, sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
        # the LLM endpoint: unreachable, timed out, rate-limited or a 5xx
        openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError, openai.InternalServerError,
        httpx.TransportError,
    )


def is_transient(exc: BaseException) -> bool:
    """True for a lost connection, a timeout or an overloaded service, also when wrapped by our own
    errors (e.g. `LLMError` raised from `openai.APITimeoutError`)."""
    types = _transient_types()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, types):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def backoff(attempt: int, base: float, cap: float = 600.0) -> float:
    """Exponential delay for retry number `attempt` (1, 2, …), with ±20 % jitter so retries spread out."""
    delay = min(cap, base * (2 ** max(attempt - 1, 0)))
    return round(delay * random.uniform(0.8, 1.2), 1)
