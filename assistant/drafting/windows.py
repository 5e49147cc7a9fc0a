"""Stage 2: split a long transcript into windows that fit the embedded model's 4,096-token context.

Windows are cut on segment boundaries only (one labelled line per segment), with a small overlap so an
answer keeps its question. langchain-text-splitters does the packing; its chunks are mapped back to ids.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from assistant.transcript import Transcript

# Qwen's tokenizer gives about 4 characters per token on English; labels and numbers cost a bit more.
CHARS_PER_TOKEN = 3.7
_LINE_ID = re.compile(r"^\[(\d+)\]")


class Window(BaseModel):
    index: int
    segment_ids: list[int]
    lines: list[str]
    tokens: int

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + text.count("\n") + 1


def make_windows(
    transcript: Transcript, lines: list[str], *, max_tokens: int = 2300, overlap_tokens: int = 120
) -> list[Window]:
    """`lines[i]` is the labelled line of `transcript.segments[i]`. One window when everything fits."""
    if not lines:
        return []
    total = estimate_tokens("\n".join(lines))
    if total <= max_tokens:
        return [Window(index=0, segment_ids=[s.id for s in transcript.segments], lines=lines, tokens=total)]
    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            separators=["\n"],
            chunk_size=max_tokens,
            chunk_overlap=overlap_tokens,
            length_function=estimate_tokens,
            keep_separator=False,
            strip_whitespace=True,
        )
        chunks = splitter.split_text("\n".join(lines))
    except ImportError:  # pragma: no cover - the dependency is pinned; keep drafting alive without it
        chunks = _greedy(lines, max_tokens)
    by_id = {s.id: i for i, s in enumerate(transcript.segments)}
    windows: list[Window] = []
    for chunk in chunks:
        ids: list[int] = []
        for line in chunk.split("\n"):
            m = _LINE_ID.match(line)
            if m and int(m.group(1)) in by_id:
                ids.append(int(m.group(1)))
        if not ids:
            continue
        # Rebuild from the original lines: a single over-long line is never cut mid-segment.
        win_lines = [lines[by_id[i]] for i in ids]
        windows.append(Window(index=len(windows), segment_ids=ids, lines=win_lines,
                              tokens=estimate_tokens("\n".join(win_lines))))
    return windows


def _greedy(lines: list[str], max_tokens: int) -> list[str]:
    chunks: list[str] = []
    buf: list[str] = []
    for line in lines:
        if buf and estimate_tokens("\n".join([*buf, line])) > max_tokens:
            chunks.append("\n".join(buf))
            buf = buf[-1:]
        buf.append(line)
    if buf:
        chunks.append("\n".join(buf))
    return chunks
