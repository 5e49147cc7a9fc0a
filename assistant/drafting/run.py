"""Load an input (text, transcript JSON or audio), pick a template, draft, and write exports.

Backs the `assistant draft` command; kept out of cli.py so the CLI stays a thin wrapper.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from assistant.config import Settings
from assistant.records import CaseRecord
from assistant.templates import Template, get_template
from assistant.transcript import Participant, Transcript, parse_text

Echo = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_input(path: Path, settings: Settings, echo: Echo = _stderr, speakers: int | None = None) -> Transcript:
    """A text file (any parse_text style), a transcript/record JSON, or an audio file (transcribed, diarised
    unless ``speakers`` is 1)."""
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    from assistant.audio import sniff

    if sniff(path) is not None:
        return _transcribe(path, settings, echo, speakers)
    raw = path.read_bytes()
    if path.suffix.lower() == ".json" or raw.lstrip()[:1] == b"{":
        data = json.loads(raw.decode("utf-8"))
        if isinstance(data, dict) and "segments" in data:
            return Transcript.model_validate(data)
        if isinstance(data, dict) and isinstance(data.get("transcript"), dict):
            return Transcript.model_validate(data["transcript"])  # a CaseRecord: redraft its transcript
        raise ValueError(f"{path.name}: JSON input must be a transcript (with 'segments') or a case record")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name}: not UTF-8 text and not a recognised audio format") from exc
    return parse_text(text, source_id=path.stem)


def _transcribe(path: Path, settings: Settings, echo: Echo, speakers: int | None = None) -> Transcript:
    from assistant.transcribe import build_transcriber  # lazy: faster-whisper is heavy

    transcriber = build_transcriber(settings)
    echo(f"transcribing {path.name} …")

    def progress(done: float, total: float) -> None:
        echo(f"  transcribe {done:5.0f}/{total:.0f} s")

    return transcriber.transcribe(path, progress=progress, speakers=speakers)


_CLINICAL = {"doctor", "patient", "gp", "clinician", "nurse", "dr"}


def guess_template(transcript: Transcript) -> Template:
    words = {s.lower() for s in transcript.speakers()} | {p.role.lower() for p in transcript.participants}
    return get_template("clin_consult_note" if words & _CLINICAL else "sc_contact_note")


def draft_file(
    path: Path,
    *,
    settings: Settings,
    template_id: str | None = None,
    engine: str = "llm",
    formats: list[str] | None = None,
    out_dir: Path | None = None,
    echo: Echo = _stderr,
    speakers: int | None = None,
    present: list[Participant] | None = None,
) -> tuple[CaseRecord, list[Path]]:
    from assistant.drafting.pipeline import draft
    from assistant.export import SUFFIX, render

    transcript = load_input(path, settings, echo, speakers)
    if present:
        from assistant.diarise.names import with_present

        transcript = with_present(transcript, present)
    template = get_template(template_id) if template_id else guess_template(transcript)
    echo(f"template {template.id}; {len(transcript.segments)} segments, {transcript.word_count} words")
    chat = None
    stop: Callable[[], None] | None = None
    if engine == "llm":
        from assistant.llm.factory import build_chat_model

        echo("starting the language model …")
        chat, stop = build_chat_model(settings)
    from assistant.llm.redact import redaction_scope

    try:
        with redaction_scope(transcript):  # as jobs do: participants' names never reach a redacting remote LLM
            record = draft(transcript, template, chat, engine="llm" if engine == "llm" else "extractive",
                           settings=settings, progress=lambda stage, frac: echo(f"  [{frac:4.0%}] {stage}"))
    finally:
        if stop is not None:
            stop()
    written: list[Path] = []
    out = out_dir or path.parent
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{path.stem}.{template.id}"
    for fmt in formats or ["json"]:
        if fmt == "fhir" and not template.fhir_type:
            echo(f"skipping fhir: template {template.id} is not clinical")
            continue
        target = out / f"{stem}{SUFFIX[fmt]}"
        target.write_bytes(render(record, fmt))
        written.append(target)
    return record, written
