"""Transcript output formats: txt, json, srt, vtt.

txt is `[speaker] text` per segment (plain text lines when the speaker is unknown), which
`assistant.transcript.parse_text` reads back; json is the canonical `Transcript`; srt and vtt are for
players and captioning tools.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from assistant.transcript import Segment, Transcript

OutputFormat = Literal["txt", "json", "srt", "vtt"]
FORMATS: tuple[OutputFormat, ...] = ("txt", "json", "srt", "vtt")


def _known_speaker(seg: Segment) -> bool:
    return bool(seg.speaker) and seg.speaker != "unknown"


def _timestamp(seconds: float | None, sep: str) -> str:
    ms = int(round(max(seconds or 0.0, 0.0) * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def _one_line(text: str) -> str:
    # A blank line ends a cue in srt/vtt, and "-->" would start a new one.
    return " ".join(text.split()).replace("-->", "->")


def to_txt(t: Transcript) -> str:
    lines = [f"[{s.speaker}] {_one_line(s.text)}" if _known_speaker(s) else _one_line(s.text) for s in t.segments]
    return "\n".join(lines) + ("\n" if lines else "")


def to_json(t: Transcript) -> str:
    return t.model_dump_json(indent=2) + "\n"


def to_srt(t: Transcript) -> str:
    cues = []
    for n, s in enumerate(t.segments, start=1):
        text = f"{s.speaker}: {_one_line(s.text)}" if _known_speaker(s) else _one_line(s.text)
        cues.append(f"{n}\n{_timestamp(s.start, ',')} --> {_timestamp(s.end, ',')}\n{text}\n")
    return "\n".join(cues)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(t: Transcript) -> str:
    cues = ["WEBVTT\n"]
    for s in t.segments:
        text = _vtt_escape(_one_line(s.text))
        if _known_speaker(s):
            text = f"<v {_vtt_escape(s.speaker)}>{text}"  # WebVTT voice span names the speaker
        cues.append(f"{s.id}\n{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{text}\n")
    return "\n".join(cues)


WRITERS: dict[str, Callable[[Transcript], str]] = {"txt": to_txt, "json": to_json, "srt": to_srt, "vtt": to_vtt}


def render(t: Transcript, fmt: str) -> str:
    try:
        return WRITERS[fmt](t)
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
