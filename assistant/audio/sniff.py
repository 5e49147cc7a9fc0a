"""Recognise an audio container from its first bytes (an allow-list, before FFmpeg sees the file).

FFmpeg's own probing accepts far more than audio: playlists (hls, concat) that open other files or URLs,
images, subtitles. We only let through containers we expect from recorders and browsers, and then open
them with that demuxer forced (see ``DEMUXER``), so FFmpeg never guesses.
"""

from __future__ import annotations

from pathlib import Path

# sniffed format -> FFmpeg demuxer short name
DEMUXER: dict[str, str] = {
    "wav": "wav",
    "mp3": "mp3",
    "aac": "aac",
    "m4a": "mp4",
    "mp4": "mp4",
    "ogg": "ogg",
    "opus": "ogg",
    "flac": "flac",
    "webm": "matroska",
    "matroska": "matroska",
}

SUPPORTED_DESCRIPTION = "wav, mp3, m4a/mp4, ogg/opus, flac, webm/mkv"

_HEAD_BYTES = 64
_ID3_HEADER = 10


def _mpeg_audio_sync(head: bytes) -> str | None:
    """MPEG audio frame header: 11 sync bits; layer bits 00 mean ADTS AAC, anything else MP1/2/3."""
    if len(head) < 2 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return None
    layer = (head[1] >> 1) & 0x3
    if layer == 0:
        # ADTS uses 12 sync bits; 0xFFE0 with layer 0 and the MPEG-2.5 bit is not ADTS.
        return "aac" if (head[1] & 0xF0) == 0xF0 else None
    return "mp3"


def sniff_bytes(head: bytes) -> str | None:
    """The audio format of a file starting with ``head``, or None when it is not one we accept."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "opus" if b"OpusHead" in head else "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head[:_HEAD_BYTES] else "matroska"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "m4a" if head[8:11] == b"M4A" else "mp4"
    if head[:3] == b"ID3":
        return "mp3"  # `sniff` looks past the tag, for the odd FLAC or AAC file that carries one
    return _mpeg_audio_sync(head)


def _id3_length(head: bytes) -> int | None:
    """Length of a leading ID3v2 tag (header, body, optional footer), or None when there is none."""
    if len(head) < _ID3_HEADER or head[:3] != b"ID3" or any(b & 0x80 for b in head[6:10]):
        return None
    body = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]  # "syncsafe" integer
    footer = _ID3_HEADER if head[5] & 0x10 else 0
    return _ID3_HEADER + body + footer


def sniff(path: str | Path) -> str | None:
    """Read the first bytes of ``path`` and name its audio format, or None (unknown, empty, unreadable)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
            tag = _id3_length(head)
            if tag is not None:
                # An ID3v2 tag usually precedes MP3, but taggers also put one before FLAC or ADTS AAC.
                fh.seek(tag)
                found = sniff_bytes(fh.read(_HEAD_BYTES))
                return found if found in ("flac", "aac") else "mp3"
    except OSError:
        return None
    return sniff_bytes(head)
