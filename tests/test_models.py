"""Offline model provisioning: assembly, checksums, clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from assistant import models
from assistant.config import Settings


def test_every_required_model_is_installed_and_verifies(settings: Settings) -> None:
    rows = {r.id: r for r in models.all_status(settings, verify=True)}
    for mid in ("whisper-base", "whisper-tiny.en", "qwen-1.5b", "smollm2-135m"):
        assert rows[mid].status == "ok", rows[mid]
        assert rows[mid].sha256 == models.MODELS[mid].sha256
    assert rows["qwen-1.5b"].size == 1_117_320_768
    whisper = models.whisper_model_dir(settings, "base")
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in whisper.iterdir()}


def _fake_spec(tmp_path: Path, payload: list[bytes], sha: str) -> models.ModelSpec:
    pkg = tmp_path / "pkg" / "fakemodelparts"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    parts = []
    for i, blob in enumerate(payload):
        (pkg / "data" / f"p{i}.bin").write_bytes(blob)
        parts.append(models.Part("fakemodelparts", f"data/p{i}.bin", "fake-model-parts==1"))
    return models.ModelSpec(
        id="fake", kind="llm", description="", licence="", parts=tuple(parts), assembled_name="m.gguf", sha256=sha
    )


def test_assembly_is_atomic_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blobs = [b"abc" * 1000, b"def" * 1000]
    good = hashlib.sha256(b"".join(blobs)).hexdigest()
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    settings = Settings(data_dir=tmp_path / "d", models_cache_dir=tmp_path / "models")

    monkeypatch.setitem(models.MODELS, "fake", _fake_spec(tmp_path, blobs, good))
    path = models.model_path("fake", settings.models_dir)
    assert path.read_bytes() == b"".join(blobs)
    # A second call trusts the stamp and leaves the file alone.
    mtime = path.stat().st_mtime_ns
    assert models.model_path("fake", settings.models_dir).stat().st_mtime_ns == mtime


def test_checksum_mismatch_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    settings = Settings(data_dir=tmp_path / "d", models_cache_dir=tmp_path / "models")
    monkeypatch.setitem(models.MODELS, "fake", _fake_spec(tmp_path, [b"x", b"y"], "0" * 64))
    with pytest.raises(models.ModelError, match="expected 0000"):
        models.model_path("fake", settings.models_dir)
    folder = settings.models_dir / "fake"
    assert not any(folder.iterdir()), "no partial or temp file may remain"


def test_missing_package_names_the_package(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = models.ModelSpec(
        id="ghost", kind="llm", description="", licence="",
        parts=(models.Part("no_such_module_xyz", "data/a.bin", "ghost-model==9"),), assembled_name="g.gguf",
    )
    monkeypatch.setitem(models.MODELS, "ghost", spec)
    with pytest.raises(models.ModelError, match=r"ghost-model==9.*make install"):
        models.model_path("ghost", settings.models_dir)
    assert models.status("ghost", settings).status == "missing_package"
