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
    verify: Annotated[bool, typer.Option("--verify",
                                         help="Assemble and re-hash every model; exit 1 on a problem.")] = False,
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
        typer.echo(f"{t.id:26} v{t.version}  {t.title}  "
                   f"({len(t.sections)} sections; human only: {', '.join(human) or '-'})")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (overrides ASSISTANT_DATA_DIR).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="API processes (uvicorn's workers). More than one needs "
                                         "ASSISTANT_QUEUE=celery and `assistant worker`.")] = 1,
) -> None:
    """Start the web service (API + page) with the embedded defaults."""
    import ipaddress
    import os

    import uvicorn

    if data_dir:
        os.environ["ASSISTANT_DATA_DIR"] = str(data_dir)  # uvicorn's worker processes build their own settings
    settings = get_settings()
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not settings.api.auth_required:
        raise fail(f"refusing to bind {host} without tokens: set ASSISTANT_AUTH_REQUIRED=true "
                   "and create users with `assistant users add NAME`")
    # The in-process queue runs each job in the process that accepted it, with its own Whisper and LLM in
    # memory: several processes would each load them. Celery hands the jobs to `assistant worker` instead.
    if workers > 1 and settings.jobs.queue != "celery":
        raise fail("--workers above 1 needs ASSISTANT_QUEUE=celery (jobs run by `assistant worker`); "
                   "the in-process queue runs in one API process")
    uvicorn.run("assistant.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info")


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


@app.command()
def cleanup(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be deleted; delete nothing.")] = False,
) -> None:
    """Apply the retention policy now (audio, working transcripts, stale drafts)."""
    from assistant.retention import cleanup as run_cleanup
    from assistant.store.db import Database

    db = Database(get_settings())
    try:
        report = run_cleanup(db, get_settings(), dry_run=dry_run)
    finally:
        db.dispose()
    verb = "would delete" if dry_run else "deleted"
    typer.echo(f"{verb}: {report.audio_deleted} recording(s), {report.transcripts_cleared} working transcript(s), "
               f"{report.drafts_deleted} unapproved draft(s)")


SPEAKERS_HELP = ("How many people speak (1-20); 1 skips diarisation (dictation). Default: the number "
                 "--present names, else estimated.")
PRESENT_HELP = ("The people present, comma-separated, each optionally with a role in brackets: "
                "'Jo Smith (social worker), Leanne Hart (mother)'. Offered as names for the voices.")


@app.command()
def transcribe(
    file: Annotated[Path, typer.Argument(help="Recording: wav, mp3, m4a/mp4, ogg/opus, flac or webm.")],
    model: Annotated[str | None, typer.Option("--model", help="Whisper model: base or tiny.en "
                                              "(default: ASSISTANT_WHISPER_MODEL, base).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="txt, json, srt or vtt "
                                            "(default: from --out's suffix, else txt).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the transcript here instead of stdout.")] = None,
    speakers: Annotated[str | None, typer.Option("--speakers", help=SPEAKERS_HELP)] = None,
    present: Annotated[str | None, typer.Option("--present", help=PRESENT_HELP)] = None,
) -> None:
    """Transcribe a recording offline with Whisper (progress on stderr). One-channel files are diarised
    (speaker_1, speaker_2...) unless --speakers 1; two-channel files: one speaker per channel."""
    from assistant.transcribe.command import TranscribeFailure, run_transcribe

    try:
        run_transcribe(file, model=model, fmt=fmt, out=out, settings=get_settings(), speakers=speakers,
                       present=present)
    except TranscribeFailure as exc:
        raise fail(str(exc), code=exc.code) from None


@app.command()
def draft(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="Text file, transcript JSON or audio file.")],
    template: Annotated[str | None, typer.Option("--template", help="Template id (see `assistant templates`); "
                                                 "default: guessed from the speakers.")] = None,
    engine: Annotated[str, typer.Option("--engine", help="llm (default) or extractive (no model).")] = "llm",
    formats: Annotated[str, typer.Option("--format", help="Comma-separated: json,docx,md,txt,fhir.")] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: next to INPUT).")] = None,
    speakers: Annotated[str | None, typer.Option("--speakers", help=SPEAKERS_HELP)] = None,
    present: Annotated[str | None, typer.Option("--present", help=PRESENT_HELP)] = None,
) -> None:
    """Draft an evidence-linked case record from a transcript, notes or a recording; progress on stderr."""
    from assistant.drafting.run import draft_file
    from assistant.export import FORMATS
    from assistant.llm import LLMError
    from assistant.models import ModelError
    from assistant.templates import TemplateError
    from assistant.transcribe.command import TranscribeFailure, who_spoke

    try:
        count, people = who_spoke(speakers, present)
    except TranscribeFailure as exc:
        raise fail(str(exc), code=exc.code) from None
    wanted = [f.strip() for f in formats.split(",") if f.strip()]
    bad = [f for f in wanted if f not in FORMATS]
    if bad or engine not in ("llm", "extractive"):
        raise fail(f"unknown format {', '.join(bad)}" if bad else f"--engine must be llm or extractive, not {engine!r}")
    try:
        record, written = draft_file(input_path, settings=get_settings(), template_id=template, engine=engine,
                                     formats=wanted, out_dir=out, speakers=count, present=people)
    except (FileNotFoundError, ValueError, TemplateError, LLMError, ModelError, RuntimeError) as exc:
        raise fail(str(exc), code=1) from None
    if "too_short" in record.flags:
        typer.echo("too short to draft: " + "; ".join(record.provenance.notes), err=True)
    flagged = sum(1 for st in record.statements() if st.flags)
    typer.echo(f"{len(record.statements())} statements ({flagged} flagged for review) in "
               f"{record.provenance.timings_s.get('total', 0):.1f} s", err=True)
    for path in written:
        typer.echo(str(path))

# `assistant eval run|score|asr|diarise`: evals/cli.py imports only typer; the harness loads inside each command.
from evals.cli import eval_app  # noqa: E402

app.add_typer(eval_app, name="eval")


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


# -- scale-out (issue 7): `assistant worker`, `assistant db upgrade`, `assistant jobs list|retry` ----------


@app.command()
def worker(
    queues: Annotated[
        str, typer.Option("--queues", "-Q", help="Comma-separated: transcribe, draft.")
    ] = "transcribe,draft",
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Worker processes (each loads "
                                             "its own Whisper/LLM).")] = 1,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork (default), solo or threads.")] = "prefork",
    hostname: Annotated[str | None, typer.Option("--hostname", "-n", help="Worker name, e.g. asr1@%h.")] = None,
    loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO",
) -> None:
    """Start a Celery worker for the transcribe and/or draft queues (see README "Scaling out")."""
    from assistant.jobs.celery_app import run_worker
    from assistant.logsafe import install as safe_logging

    safe_logging()  # workers log job failures too: no case text in their logs (issue 8)
    names = [q.strip() for q in queues.split(",") if q.strip()]
    try:
        run_worker(get_settings(), names, concurrency=concurrency, pool=pool, hostname=hostname, loglevel=loglevel)
    except ValueError as exc:
        raise fail(str(exc)) from None
    except RuntimeError as exc:
        raise fail(str(exc), code=1) from None


db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Upgrade the database (ASSISTANT_DATABASE_URL, default SQLite in the data dir) to the newest schema."""
    from assistant.store.db import Database
    from assistant.store.migrations import upgrade

    settings = get_settings()
    db = Database(settings, migrate=False)
    try:
        at = upgrade(db.engine, revision)
    except Exception as exc:
        raise fail(f"upgrade failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}", code=1) from None
    finally:
        db.dispose()
    typer.echo(f"{db.engine.url.render_as_string(hide_password=True)} is at revision {at}")


jobs_app = typer.Typer(help="Inspect and re-queue jobs.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("list")
def jobs_list(
    failed: Annotated[bool, typer.Option("--failed", help="Only failed jobs (the dead-letter list).")] = False,
    state: Annotated[str | None, typer.Option(help="Only jobs in this state: queued|running|done|failed.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List jobs, newest first, with their stage, attempts and failure reason."""
    from assistant.jobs.admin import list_jobs
    from assistant.store.db import Database

    db = Database(get_settings())
    try:
        rows = list_jobs(db, "failed" if failed else state, limit)
    finally:
        db.dispose()
    for r in rows:
        if as_json:
            typer.echo(r.model_dump_json())
        else:
            typer.echo(f"{r.id}  {r.state:7} {r.kind:5} attempts={r.attempts} {r.updated_at:%Y-%m-%d %H:%M:%S}  "
                       f"{r.stage}" + (f"  error: {r.error}" if r.error else ""))


@jobs_app.command("retry")
def jobs_retry(job_id: Annotated[str, typer.Argument(help="Job id (see `assistant jobs list --failed`).")]) -> None:
    """Re-queue a failed or stuck job (its saved transcript is kept)."""
    from assistant.jobs.admin import RetryError, retry_job
    from assistant.store.db import Database

    settings = get_settings()
    db = Database(settings)
    try:
        typer.echo(retry_job(settings, db, job_id))
    except RetryError as exc:
        raise fail(str(exc), code=1) from None
    finally:
        db.dispose()


# -- hardening (issue 8): `assistant audit verify` ------------------------------------------------------

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    expect_head: Annotated[str | None, typer.Option("--expect-head", help="Last hash kept outside the database; "
                                                    "fail if the log no longer ends with it.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Check every entry's hash and link; exit 1 if any entry was edited or removed."""
    from assistant.audit import verify
    from assistant.store.db import Database

    db = Database(get_settings())
    try:
        with db.session() as s:
            verdict = verify(s, expect_head=expect_head)
    finally:
        db.dispose()
    if as_json:
        typer.echo(verdict.model_dump_json())
    elif verdict.ok:
        typer.echo(f"ok: {verdict.entries} entries, chain intact; head {verdict.head}")
    if not verdict.ok:
        if not as_json:
            for problem in verdict.problems:
                typer.echo(f"TAMPERED: {problem}", err=True)
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover
    sys.exit(app())
