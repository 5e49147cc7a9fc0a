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
    import uvicorn

    from assistant.api.app import create_app

    overrides = {"data_dir": data_dir} if data_dir else {}
    settings = get_settings(**overrides)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


# -- commands added by area owners below (keep each one small; logic lives in its package) ----------


def main() -> None:  # pragma: no cover
    sys.exit(app())
