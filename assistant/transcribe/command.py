"""`assistant transcribe FILE`: the command's logic (assistant/cli.py only parses arguments)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.transcribe.writers import FORMATS

MODEL_CHOICES = ("base", "tiny.en")
FLAG_WARNINGS = {
    "truncated": "the file looks truncated (it decodes to less audio than it declares); "
    "the transcript covers only what is there",
    "no_speech": "no speech found; the transcript is empty",
    "too_short": "the recording is shorter than a second",
}


class TranscribeFailure(Exception):
    """A one-line reason for the user; ``code`` is the exit status (2 bad input, 1 broken install)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class StderrProgress:
    """A progress bar over seconds of audio, on stderr so stdout stays clean for the transcript.

    click hides the bar (prints only the label) when stderr is not a terminal, so logs stay readable."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None
        self._shown = 0

    def __call__(self, done_seconds: float, total_seconds: float) -> None:
        import click

        if self._bar is None:
            self._bar = click.progressbar(
                length=max(1, int(round(total_seconds))),
                label=self.label,
                file=sys.stderr,
                show_eta=True,
                item_show_func=lambda item: item,
            )
            self._bar.__enter__()
        step = int(round(done_seconds)) - self._shown
        info = f"{done_seconds:.0f}/{total_seconds:.0f} s of audio"
        if step > 0:
            self._shown += step
            self._bar.update(step, current_item=info)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def who_spoke(speakers: str | None, present: str | None) -> tuple[int | None, list[Any]]:
    """`--speakers N` and `--present "Name (role), ..."` checked as the upload form checks them: (how many
    people speak or None, the people present as participants). The count defaults to the number present."""
    from assistant.api.schemas import parse_present, parse_speakers
    from assistant.transcript import Participant

    try:
        count = parse_speakers(speakers)
    except ValueError as exc:
        raise TranscribeFailure(f"--{exc}") from None
    try:
        people = [Participant(**p.model_dump()) for p in parse_present(present)]
    except ValueError as exc:
        raise TranscribeFailure(f"--present: {exc}") from None
    return count or len(people) or None, people


def pick_format(fmt: str | None, out: Path | None) -> str:
    if fmt is None:
        suffix = out.suffix.lower().lstrip(".") if out else ""
        fmt = suffix if suffix in FORMATS else "txt"
    if fmt not in FORMATS:
        raise TranscribeFailure(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return fmt


def write_atomically(path: Path, text: str) -> None:
    """Write next to the target, then rename: an interrupted run never leaves half a transcript."""
    path = path.expanduser()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def run_transcribe(
    file: Path, *, model: str | None, fmt: str | None, out: Path | None, settings: Settings,
    speakers: str | None = None, present: str | None = None,
) -> list[str]:
    """Transcribe ``file`` and write it (stdout or ``out``); returns the transcript's flags.
    Raises TranscribeFailure with a one-line reason for anything the user can fix."""
    from assistant.audio import AudioError
    from assistant.models import ModelError
    from assistant.transcribe.engine import WhisperTranscriber
    from assistant.transcribe.writers import render

    if model is not None and model not in MODEL_CHOICES:
        raise TranscribeFailure(f"--model must be one of {', '.join(MODEL_CHOICES)}, not {model!r}")
    fmt = pick_format(fmt, out)
    count, people = who_spoke(speakers, present)
    if out is not None and not out.expanduser().parent.is_dir():
        raise TranscribeFailure(f"{out}: folder {out.expanduser().parent} does not exist")

    progress = StderrProgress(f"transcribing {file.name}")
    try:
        transcript = WhisperTranscriber(settings, model).transcribe(file, progress=progress, speakers=count)
    except AudioError as exc:
        raise TranscribeFailure(f"{file}: {exc.message}") from None
    except ModelError as exc:
        raise TranscribeFailure(str(exc), code=1) from None
    finally:
        progress.close()

    if people:
        from assistant.diarise.names import with_present

        transcript = with_present(transcript, people)
    text = render(transcript, fmt)
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            write_atomically(out, text)
        except OSError as exc:
            raise TranscribeFailure(f"{out}: cannot write ({exc.strerror or exc})") from None
    for flag in transcript.flags:
        sys.stderr.write(f"warning: {file}: {FLAG_WARNINGS.get(flag, flag)}\n")
    return transcript.flags
