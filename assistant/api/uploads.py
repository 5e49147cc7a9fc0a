"""Streaming multipart upload: the body goes to disk chunk by chunk while bytes are counted, so an
oversized upload is refused (413) as soon as it passes the limit, and no partial file is left behind.
Starlette's own form parser spools file parts with no size cap, so it is not used for uploads."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from assistant.api.errors import ApiError

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 16


@dataclass
class ParsedUpload:
    file_path: Path | None = None
    filename: str = ""
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


async def receive_upload(request: Request, tmp_dir: Path, max_bytes: int, file_field: str = "file") -> ParsedUpload:
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise ApiError(422, "invalid_request", "expected multipart/form-data with a boundary and a 'file' field")
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes + MAX_FIELD_BYTES:
                raise ApiError(413, "too_large", f"upload exceeds the limit of {max_bytes} bytes")
        except ValueError:
            raise ApiError(400, "invalid_request", "invalid Content-Length") from None

    tmp_dir.mkdir(parents=True, exist_ok=True)
    result = ParsedUpload()
    state: dict = {"headers": {}, "name": None, "file": None, "buf": bytearray(), "hfield": b"", "hvalue": b"",
                   "parts": 0, "error": None}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hfield"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hvalue"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["hfield"].lower()] = state["hvalue"]
        state["hfield"], state["hvalue"] = b"", b""

    def on_part_begin() -> None:
        state["parts"] += 1
        if state["parts"] > MAX_PARTS:
            raise ApiError(422, "invalid_request", f"too many form parts (limit {MAX_PARTS})")
        state["headers"], state["name"], state["file"] = {}, None, None
        state["buf"] = bytearray()

    def on_headers_finished() -> None:
        _, disp = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if name == file_field:
            if result.file_path is not None:
                raise ApiError(422, "invalid_request", f"more than one '{file_field}' part")
            fd, path = tempfile.mkstemp(dir=tmp_dir, prefix="upload-", suffix=".part")
            lock_while_open(fd)  # the kernel releases it if this process dies: stale, for the sweep
            state["file"] = os.fdopen(fd, "wb")
            result.file_path = Path(path)
            result.filename = os.path.basename(disp.get(b"filename", b"").decode("utf-8", "replace"))[:255]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = memoryview(data)[start:end]  # no copy of the bytes on their way to the file
        if state["file"] is not None:
            result.size += len(chunk)
            if result.size > max_bytes:
                raise ApiError(413, "too_large", f"upload exceeds the limit of {max_bytes} bytes")
            state["file"].write(chunk)
        else:
            state["buf"] += chunk
            if len(state["buf"]) > MAX_FIELD_BYTES:
                raise ApiError(413, "too_large", f"form field '{state['name']}' exceeds {MAX_FIELD_BYTES} bytes")

    def on_part_end() -> None:
        if state["file"] is not None:
            state["file"].close()
            state["file"] = None
        elif state["name"]:
            result.fields[state["name"]] = bytes(state["buf"]).decode("utf-8", "replace")

    try:
        parser = MultipartParser(
            params[b"boundary"],
            callbacks={
                "on_header_field": on_header_field, "on_header_value": on_header_value,
                "on_header_end": on_header_end, "on_part_begin": on_part_begin,
                "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
                "on_part_end": on_part_end,
            },
        )
    except ValueError:  # FormParserError: e.g. a boundary over python-multipart's length limit
        raise ApiError(422, "invalid_request", "invalid multipart boundary") from None
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except (ApiError, MultipartParseError, ValueError, UnicodeError) as exc:
        _close_quietly(state["file"])
        discard(result)
        if isinstance(exc, ApiError):
            raise
        raise ApiError(422, "invalid_request", "malformed multipart body") from None
    except BaseException:
        _close_quietly(state["file"])  # a full disk fails the close's flush too: still remove the file
        discard(result)
        raise
    if state["file"] is not None:  # body ended inside the file part
        state["file"].close()
        discard(result)
        raise ApiError(422, "invalid_request", "incomplete multipart body")
    return result


def lock_while_open(fd: int) -> None:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (ImportError, OSError):  # not POSIX, or a filesystem without locks: the sweep skips nothing then
        pass


def _close_quietly(fh: object) -> None:
    if fh is not None:
        try:
            fh.close()  # type: ignore[attr-defined]
        except OSError:
            pass


def sweep_partial_uploads(tmp_dir: Path) -> int:
    """Delete temp files of uploads whose process died (kill -9, power loss): nobody holds their lock.
    Uploads still being received by another live process on the same data dir are locked and kept."""
    removed = 0
    if not tmp_dir.is_dir():
        return 0
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return 0
    for part in tmp_dir.glob("upload-*.part"):
        try:
            fd = os.open(part, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live upload
        finally:
            os.close(fd)
        part.unlink(missing_ok=True)
        removed += 1
    return removed


def discard(upload: ParsedUpload) -> None:
    if upload.file_path is not None:
        upload.file_path.unlink(missing_ok=True)
        upload.file_path = None
