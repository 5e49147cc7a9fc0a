"""`assistant transcribe`: every bad input gives one line on stderr, exit code 2 and no traceback;
good input writes txt/json/srt/vtt to stdout or --out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from assistant.audio.synth import Dialogue, encode, write_wav
from assistant.cli import app
from assistant.config import Settings
from assistant.transcribe.wer import wer
from assistant.transcript import Transcript


@pytest.fixture
def run(asr_settings: Settings) -> Callable[..., Result]:
    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        base_env = {
            "ASSISTANT_DATA_DIR": str(asr_settings.data_dir),
            "ASSISTANT_MODELS_CACHE_DIR": str(asr_settings.models_dir),
        }
        return CliRunner().invoke(app, ["transcribe", *args], env={**base_env, **(env or {})})

    return invoke


def _one_line_error(result: Result, path: Path, *reason_words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: ")
    for word in reason_words:
        assert word in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("empty", ("file is empty",)),
        ("garbage", ("not a supported audio file",)),
        ("notes", ("not a supported audio file",)),
        ("image", ("not a supported audio file",)),
        ("broken", ("could not read the wav data",)),
    ],
)
def test_bad_input(run: Callable[..., Result], bad_files: dict[str, Path], name: str, words: tuple[str, ...]) -> None:
    path = bad_files[name]
    _one_line_error(run(str(path)), path, *words)


def test_missing_file_and_folder(run: Callable[..., Result], tmp_path: Path) -> None:
    _one_line_error(run(str(tmp_path / "nope.wav")), tmp_path / "nope.wav", "file not found")
    _one_line_error(run(str(tmp_path)), tmp_path, "not a regular file")


def test_over_the_duration_limit(run: Callable[..., Result], tmp_path: Path) -> None:
    three_seconds = (0.1 * np.sin(np.arange(48_000) / 5)).astype(np.float32)
    wav = write_wav(tmp_path / "long.wav", three_seconds, 16_000)
    _one_line_error(run(str(wav), env={"ASSISTANT_MAX_AUDIO_SECONDS": "2"}), wav,
                    "3 s long", "limit of 2 s", "ASSISTANT_MAX_AUDIO_SECONDS")
    # A browser recording declares no duration: refused while decoding, with the same limit named.
    webm = encode(tmp_path / "long.webm", three_seconds, 16_000, "webm", live=True)
    _one_line_error(run(str(webm), env={"ASSISTANT_MAX_AUDIO_SECONDS": "2"}), webm, "limit of 2 s")


def test_bad_options(run: Callable[..., Result], bad_files: dict[str, Path]) -> None:
    result = run(str(bad_files["empty"]), "--model", "large")
    assert result.exit_code == 2 and result.stderr.strip() == "error: --model must be one of base, tiny.en, not 'large'"
    result = run(str(bad_files["empty"]), "--format", "docx")
    assert result.exit_code == 2 and "--format must be one of txt, json, srt, vtt" in result.stderr


@pytest.mark.slow
def test_transcribe_to_stdout_and_out_file(run: Callable[..., Result], clip: Dialogue, tmp_path: Path) -> None:
    result = run(str(clip.path), "--model", "tiny.en", "--format", "json")
    assert result.exit_code == 0, result.output
    transcript = Transcript.model_validate(json.loads(result.stdout))
    assert transcript.asr["model"] == "tiny.en"
    assert wer(clip.reference, transcript.text) <= 0.25
    assert "transcribing clip.wav" in result.stderr  # the progress bar's label, on stderr

    out = tmp_path / "clip.srt"
    result = run(str(clip.path), "--model", "tiny.en", "--out", str(out))  # format from the suffix
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    srt = out.read_text()
    assert srt.startswith("1\n00:00:0") and " --> " in srt

    result = run(str(clip.path), "--model", "tiny.en")
    assert result.exit_code == 0 and "Good morning" in result.stdout  # txt by default


@pytest.mark.slow
def test_warnings_for_flags(run: Callable[..., Result], truncated_mp3: Path, silence_wav: Path) -> None:
    result = run(str(truncated_mp3), "--model", "tiny.en")
    assert result.exit_code == 0
    assert f"warning: {truncated_mp3}: the file looks truncated" in result.stderr
    result = run(str(silence_wav), "--model", "tiny.en")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no speech found" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--speakers", "0"], "--speakers must be a whole number from 1 to 20"),
    (["--speakers", "-2"], "--speakers must be a whole number from 1 to 20"),
    (["--speakers", "21"], "--speakers must be a whole number from 1 to 20"),
    (["--present", "Jo " + "x" * 100 + " (social worker)"], "--present: names and roles of people present are at "
                                                             "most 100 characters each"),
])
@pytest.mark.parametrize("command", ["transcribe", "draft"])
def test_bad_speakers_or_present_is_one_line_and_exit_2(
    command: str, args: list[str], message: str, tmp_path: Path
) -> None:
    """Checked before any model loads: one line naming the option and its limit (issue 19)."""
    audio = tmp_path / "visit.wav"
    write_wav(audio, np.zeros(16_000, dtype=np.float32), 16_000)
    result = CliRunner().invoke(app, [command, str(audio), *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [f"error: {message}"]
