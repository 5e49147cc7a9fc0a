"""Generators for the bad-input corpus: binary files too large or too regular to commit as bytes.

Every generator is deterministic and fast, and is named from `cases.yaml` (`file: {gen: NAME, ...params}`).
"""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib
from collections.abc import Callable
from typing import Any

# -- FLAC written by hand: CONSTANT subframes of the largest block size decode to hours from a few KB ----------


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _utf8_number(n: int) -> bytes:
    """FLAC's UTF-8-like coding of the frame number: L bytes carry (7 - L) + 6 (L - 1) bits."""
    if n < 0x80:
        return bytes([n])
    for length in range(2, 7):
        bits = 6 * (length - 1)
        if n < 1 << (bits + 7 - length):
            lead = (0xFF << (8 - length)) & 0xFF
            return bytes([lead | (n >> bits)] + [0x80 | ((n >> (6 * i)) & 0x3F) for i in range(length - 2, -1, -1)])
    raise ValueError("frame number too large")


def flac_bomb(actual_seconds: float = 4 * 3600, declared_seconds: float | None = None, rate: int = 1000,
              block: int = 65535) -> bytes:
    """Silence as CONSTANT subframes. `declared_seconds`: what STREAMINFO claims (None: the truth, 0: unknown)."""
    total = int(actual_seconds * rate)
    declared = total if declared_seconds is None else int(declared_seconds * rate)
    info = struct.pack(">HH", block, block) + b"\x00\x00\x00" + b"\x00\x00\x00"
    # 20 bits rate, 3 bits channels-1 (0), 5 bits bps-1 (15), 36 bits total samples
    packed = (rate << 44) | (0 << 41) | (15 << 36) | declared
    info += packed.to_bytes(8, "big") + b"\x00" * 16
    out = bytearray(b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info)
    frames = math.ceil(total / block)
    for n in range(frames):
        size = min(block, total - n * block)
        header = bytes([0xFF, 0xF8, 0x70, 0x08]) + _utf8_number(n) + (size - 1).to_bytes(2, "big")
        header += bytes([_crc8(header)])
        frame = header + b"\x00" + b"\x00\x00"  # CONSTANT subframe, value 0 (16-bit)
        out += frame + _crc16(frame).to_bytes(2, "big")
    return bytes(out)


# -- WAV ---------------------------------------------------------------------------------------------------------


def wav(seconds: float = 1.0, rate: int = 16000, tone: float = 440.0) -> bytes:
    n = int(seconds * rate)
    samples = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * tone * i / rate))) for i in range(n))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples)
    return buf.getvalue()


def truncated(gen_of: str = "wav", keep: int = 44, **params: Any) -> bytes:
    """The first `keep` bytes of another generator's file."""
    return GENERATORS[gen_of](**params)[:keep]


def wav_header_only(declared_seconds: float = 3600.0, rate: int = 16000) -> bytes:
    """A WAV header that declares an hour of audio, followed by no samples at all."""
    data_size = int(declared_seconds * rate * 2)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + data_size) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", data_size))


def wav_bad_format(tag: int = 0x1234, channels: int = 1, rate: int = 16000, bits: int = 16) -> bytes:
    """A WAV whose fmt chunk names an unknown codec, zero channels or a zero rate."""
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * max(bits // 8, 1), channels * bits // 8,
                      bits)
    data = b"\x00\x01" * 800
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)


# -- polyglots and magic-byte liars ------------------------------------------------------------------------------


def polyglot(head: str = "riff", tail: str = "zip", pad: int = 0) -> bytes:
    """An allowed audio signature in front of another format's content."""
    heads = {
        "riff": b"RIFF\x24\x00\x00\x00WAVEfmt ",
        "flac": b"fLaC\x00\x00\x00\x22",
        "ogg": b"OggS\x00\x02" + b"\x00" * 20,
        "opus": b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead",
        "id3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
        "mp3sync": b"\xff\xfb\x90\x64",
        "ebml": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm",
        "ftyp": b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00",
        "adts": b"\xff\xf1\x50\x80",
    }
    tails = {
        "zip": b"PK\x03\x04" + b"\x00" * 26 + b"evil.txt" + b"PK\x05\x06" + b"\x00" * 18,
        "pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "html": b"<html><script>alert(document.cookie)</script></html>",
        "php": b"<?php system($_GET['c']); ?>",
        "elf": b"\x7fELF\x02\x01\x01" + b"\x00" * 57,
        "gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        "png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 24,
        "m3u": b"\n#EXTM3U\n#EXT-X-TARGETDURATION:10\nfile:///etc/passwd\n",
        "concat": b"\nffconcat version 1.0\nfile '/etc/passwd'\n",
        "random": bytes((i * 73 + 41) % 256 for i in range(2048)),
        "zeros": b"\x00" * 4096,
        "ff": b"\xff" * 4096,
    }
    return heads[head] + b"\x00" * pad + tails[tail]


def repeated(text: str = "A", times: int = 1) -> bytes:
    return (text * times).encode("utf-8")


def deflate_bomb(size: int = 50 * 1024 * 1024) -> bytes:
    """A gzip'd run of zeros (a classic zip bomb), for the "not audio" check: it must never be inflated."""
    return zlib.compress(b"\x00" * size, 9)


GENERATORS: dict[str, Callable[..., bytes]] = {
    "flac_bomb": flac_bomb,
    "wav": wav,
    "truncated": truncated,
    "wav_header_only": wav_header_only,
    "wav_bad_format": wav_bad_format,
    "polyglot": polyglot,
    "repeated": repeated,
    "deflate_bomb": deflate_bomb,
}


def generate(spec: dict[str, Any]) -> bytes:
    params = {k: v for k, v in spec.items() if k != "gen"}
    return GENERATORS[spec["gen"]](**params)
