"""Logging hygiene: transcript and note text must never reach logs, job error fields or error bodies.

Two tools:
- `safe_reason(exc)`: the one-line failure reason stored on a failed job. Exceptions of our own layers keep
  their message (they are written not to carry case text) with quoted spans removed; anything else is
  reduced to its type name, because a third-party message can quote its input (pydantic's `input_value=`,
  `KeyError('…')`, an HTTP error echoing the request).
- `install()`: a process-wide log-record factory that rewrites every record as it is created, whatever
  logger or handler it goes to (uvicorn configures its handlers after the app is built, so a handler filter
  would miss some): exception tracebacks keep their frames (file, line, function) but lose their messages,
  quoted spans and long arguments are withheld, and the message is length-capped.

What it cannot do (SECURITY.md): recognise case text that a developer logs deliberately, unquoted and short.
The rule for code is therefore the same as for errors: log ids and counts, never content.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from types import TracebackType
from typing import Any

# Exception types whose messages we write ourselves, without case text (matched by class name along the MRO,
# so this module does not import the packages that define them).
OWN_MESSAGES = frozenset({
    "AudioError", "LLMError", "ModelError", "TemplateError", "ApiError", "TranscribeFailure", "RetryError",
    "TimeoutError", "FileNotFoundError", "ConnectionError", "JobError", "BlobError",
})
MAX_REASON = 300
MAX_MESSAGE = 4000
MAX_ARG = 200
# A quoted span of 16+ characters: a repr of user data (short quoted tokens such as 'docx' stay readable).
_QUOTED = re.compile(r"'(?:[^'\\\n]|\\.){16,}'|\"(?:[^\"\\\n]|\\.){16,}\"")
_AFTER = re.compile(r"(last output started|input_value=|input:|prompt:|content:).*$", re.I)
_HTTP_DETAIL = re.compile(r"(HTTP \d{3}):.*$")
_IDENT = re.compile(r"^'?[A-Za-z_][\w.:/-]{0,39}'?$")
WITHHELD = "<withheld>"


def scrub(text: str, limit: int = MAX_REASON) -> str:
    """One line, quoted spans withheld, known echo points cut, capped at `limit` characters."""
    line = text.splitlines()[0] if text else ""
    line = _AFTER.sub(lambda m: f"{m.group(1)} {WITHHELD}", line)
    line = _HTTP_DETAIL.sub(r"\1", line)
    line = _QUOTED.sub(WITHHELD, line)
    return line[:limit]


def _own(exc: BaseException) -> bool:
    return any(cls.__name__ in OWN_MESSAGES for cls in type(exc).__mro__)


def safe_reason(exc: BaseException) -> str:
    """`Type: message` for our own errors, `Type` for anything else; never case text."""
    name = type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return f"{name}: {exc.strerror}"  # errno text; never the file name
    if not _own(exc):
        # Keep a bare identifier (KeyError('x'), a setting name); withhold anything with spaces: a sentence.
        return f"{name}: {exc}" if _IDENT.match(str(exc)) else name
    text = scrub(str(exc))
    return f"{name}: {text}" if text else name


def safe_traceback(exc_type: type[BaseException] | None, exc: BaseException | None,
                   tb: TracebackType | None) -> str:
    """A traceback with frames (file, line, function; not the source line, which can hold a literal) and
    exceptions reduced to `safe_reason`, following `__cause__`/`__context__` chains."""
    out: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 5:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__ if current is not exc else tb)
        lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}'
                 for f in frames[-12:]]
        out.append("\n".join(["Traceback (most recent call last, messages withheld):", *lines,
                              safe_reason(current)]))
        current = current.__cause__ or current.__context__
    return "\n\nwhich was raised while handling / caused by:\n\n".join(reversed(out)) if out else (
        exc_type.__name__ if exc_type else "")


# -- the log-record factory ------------------------------------------------------------------------------------

# uvicorn's access formatter unpacks its args tuple (client, method, path, version, status): ids only.
_PASS_THROUGH = frozenset({"uvicorn.access"})
_lock = threading.Lock()
_previous: Any = None


def _safe_arg(arg: Any) -> Any:
    if isinstance(arg, BaseException):
        return safe_reason(arg)
    if isinstance(arg, str | bytes) and len(arg) > MAX_ARG:
        return f"<{len(arg)} characters withheld>"
    if isinstance(arg, int | float | bool) or arg is None:
        return arg
    text = str(arg)
    return f"<{type(arg).__name__} withheld>" if len(text) > MAX_ARG else text


def sanitise(record: logging.LogRecord) -> logging.LogRecord:
    """Rewrite `record` in place (idempotent)."""
    if getattr(record, "_sanitised", False) or record.name in _PASS_THROUGH:
        return record
    args = record.args
    try:
        if isinstance(args, dict):
            record.args = {k: _safe_arg(v) for k, v in args.items()}
        elif isinstance(args, tuple):
            record.args = tuple(_safe_arg(a) for a in args)
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not hide the record, nor leak its args
        message = f"{record.msg!s:.200} <arguments withheld>"
    parts = [scrub(line, MAX_MESSAGE) for line in str(message).splitlines()[:20]] or [""]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(safe_traceback(*record.exc_info))
    record.msg = "\n".join(parts)[:MAX_MESSAGE * 2]
    record.args = None
    record.exc_info, record.exc_text = None, None
    record._sanitised = True  # type: ignore[attr-defined]
    return record


def install() -> None:
    """Sanitise every log record this process creates from now on (idempotent)."""
    global _previous
    with _lock:
        if _previous is not None:
            return
        _previous = logging.getLogRecordFactory()
        base = _previous

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return sanitise(base(*args, **kwargs))

        logging.setLogRecordFactory(factory)
