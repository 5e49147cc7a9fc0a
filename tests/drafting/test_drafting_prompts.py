"""Prompt files: read from the package (`assistant.prompts`, the repository's prompts/ folder), in the checkout
and in a wheel installed into a fresh virtual environment."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

from assistant.drafting.prompts import PromptError, load_prompt

SAMPLE = REPO / "samples" / "dn_home_visit" / "transcript.txt"


def test_newest_version_unless_one_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.drafting import prompts

    shipped = load_prompt("section")
    assert shipped.version == "section_v2" and shipped.system and shipped.task
    section = (REPO / "prompts" / "section_v2.md").read_text(encoding="utf-8")
    for n in (1, 2, 10):  # v10 is newer than v2, though it sorts before it as text
        (tmp_path / f"section_v{n}.md").write_text(section.replace("version: section_v2", f"version: section_v{n}")
                                                   .replace("You write one section", f"(v{n}) You write one section"))
    monkeypatch.setattr(prompts.resources, "files", lambda _package: tmp_path)
    prompts.load_prompt.cache_clear()
    try:
        assert load_prompt("section").version == "section_v10"
        older = load_prompt("section", "section_v1")
        assert older.version == "section_v1" and older.system.startswith("(v1)")
        with pytest.raises(PromptError, match="section_v99"):
            load_prompt("section", "section_v99")
        with pytest.raises(PromptError, match="no prompt file"):
            load_prompt("no_such_task")
    finally:
        prompts.load_prompt.cache_clear()


@pytest.mark.slow
def test_an_installed_wheel_drafts_a_sample(built_wheel: Path, tmp_path: Path) -> None:
    """Non-editable install into a new virtual environment: the installed package reads the same prompts as
    the checkout, and `assistant draft` with the extractive engine (MiniLM, no LLM) drafts a sample from
    outside the checkout (drafting loads the section prompt whatever the engine)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    # The dependencies come from this test's environment rather than the network. A path line in a .pth file
    # adds that folder after the new environment's own, but runs none of the .pth files inside it, so an
    # editable install of the checkout there is not seen.
    Path(purelib, "test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "-q", str(built_wheel)], check=True, capture_output=True, timeout=300)

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("ASSISTANT_")}
    env |= {"HF_HUB_OFFLINE": "1", "ASSISTANT_DATA_DIR": str(tmp_path / "data")}
    if "ASSISTANT_MODELS_CACHE_DIR" in os.environ:
        env["ASSISTANT_MODELS_CACHE_DIR"] = os.environ["ASSISTANT_MODELS_CACHE_DIR"]
    probe = ("import assistant, importlib.resources as r, json; from assistant.drafting.prompts import load_prompt; "
             "print(json.dumps({'files': [assistant.__file__, str(r.files('assistant.prompts'))], "
             "'prompts': [load_prompt('section').model_dump()]}))")
    installed = json.loads(subprocess.run([python, "-c", probe], cwd=tmp_path, env=env, check=True,
                                          capture_output=True, text=True, timeout=60).stdout)
    assert all(Path(p).is_relative_to(purelib) for p in installed["files"]), installed["files"]
    assert installed["prompts"] == [load_prompt("section").model_dump()]

    out = tmp_path / "out"
    run = subprocess.run([venv / "bin" / "assistant", "draft", str(SAMPLE), "--engine", "extractive",
                          "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    record = json.loads(next(out.glob("*.json")).read_text(encoding="utf-8"))
    assert record["provenance"]["engine"] == "extractive"
    assert sum(len(section["statements"]) for section in record["sections"]) >= 5
