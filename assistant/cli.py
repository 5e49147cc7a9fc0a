"""The `assistant` command line. Each command imports its machinery lazily so `--help` stays fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from assistant.config import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Frontline Assistant (offline by default).")


def fail(message: str, code: int = 2) -> typer.Exit:
    """One-line error on stderr, no traceback."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def models(
    verify: Annotated[bool, typer.Option("--verify", help="Assemble and re-hash every model; exit 1 on a problem.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the packaged offline models: path, size, sha256 and status."""
    from assistant.models import all_status

    rows = all_status(get_settings(), verify=verify)
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in rows], indent=2))
    else:
        for r in rows:
            size = f"{r.size / 1e6:,.1f} MB" if r.size else "-"
            typer.echo(f"{r.id:16} {r.status:18} {size:>12}  {r.sha256 or '-'}\n{'':16} {r.path or r.detail}")
    bad = [r for r in rows if r.status not in ("ok", "missing_optional") and (verify or r.status != "not_assembled")]
    if bad:
        raise fail("; ".join(f"{r.id}: {r.status} {r.detail}" for r in bad), code=1)


@app.command()
def templates() -> None:
    """List the recording templates."""
    from assistant.templates import all_templates

    for t in all_templates().values():
        human = [s.id for s in t.sections if s.mode == "human_only"]
        typer.echo(f"{t.id:26} v{t.version}  {t.title}  ({len(t.sections)} sections; human only: {', '.join(human) or '-'})")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (overrides ASSISTANT_DATA_DIR).")] = None,
) -> None:
    """Start the web service (API + page) with the embedded defaults."""
    import ipaddress

    import uvicorn

    from assistant.api.app import create_app

    overrides = {"data_dir": data_dir} if data_dir else {}
    settings = get_settings(**overrides)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not settings.auth_required:
        raise fail(f"refusing to bind {host} without tokens: set ASSISTANT_AUTH_REQUIRED=true "
                   "and create users with `assistant users add NAME`")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


users_app = typer.Typer(help="Manage API users (bearer tokens).", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(name: Annotated[str, typer.Argument(help="User name")]) -> None:
    """Create a user and print their token (shown once; stored hashed)."""
    from assistant.api.auth import add_user
    from assistant.store.db import Database

    db = Database(get_settings())
    try:
        token = add_user(db, name)
    except ValueError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    typer.echo(token)


# -- commands added by area owners below (keep each one small; logic lives in its package) ----------


@app.command("llm-check")
def llm_check(
    model: Annotated[
        str | None, typer.Option("--model", help="Embedded model: qwen-1.5b (default) or smollm2-135m.")
    ] = None,
) -> None:
    """Start the configured LLM; print backend, model, base URL and a timed schema-valid reply."""
    from assistant.llm import LLMError
    from assistant.llm.check import run_check
    from assistant.models import LLM_IDS, ModelError

    if model is not None and model not in LLM_IDS:
        raise fail(f"--model must be one of {', '.join(LLM_IDS)}, not {model!r}")
    try:
        report = run_check(get_settings(), model)
    except (LLMError, ModelError) as exc:
        raise fail(str(exc), code=1) from None
    for line in report.lines():
        typer.echo(line)


def main() -> None:  # pragma: no cover
    sys.exit(app())
