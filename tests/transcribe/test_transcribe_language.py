"""A recording in another language says so (issue 19): Whisper's own detection on the first 30 s of speech
refuses a confident Polish or German recording with a clear reason, instead of an English transcript of
nonsense. Speech from espeak-ng's Polish and German voices."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support import require

from assistant.audio import AudioError
from assistant.config import Settings
from assistant.transcribe import WhisperTranscriber

SPEECH = {
    "pl": ("Polish", "Dzień dobry. Nazywam się Anna Kowalska i mieszkam w tym mieszkaniu od trzech lat. Moja córka "
                     "chodzi do szkoły niedaleko stąd, a syn jest jeszcze w domu."),
    "de": ("German", "Guten Tag. Ich heiße Anna Schmidt und wohne seit drei Jahren in dieser Wohnung. Meine Tochter "
                     "geht in die Schule hier in der Nähe, und mein Sohn ist noch zu Hause."),
    "en": ("English", "Good morning. My name is Anna Smith and I have lived in this flat for three years. My "
                      "daughter goes to the school nearby, and my son is still at home."),
}


def _speak(tmp_path: Path, voice: str) -> Path:
    require(shutil.which("espeak-ng") is not None, "espeak-ng is needed to synthesise test speech")
    path = tmp_path / f"{voice}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), SPEECH[voice][1]], check=True)
    return path


@pytest.mark.parametrize("voice", ["pl", "de"])
def test_another_language_is_refused_with_the_reason(session_settings: Settings, tmp_path: Path, voice: str) -> None:
    with pytest.raises(AudioError) as caught:
        WhisperTranscriber(session_settings, "base").transcribe(_speak(tmp_path, voice), speakers=1)
    assert caught.value.code == "other_language" and caught.value.http_status == 422
    message = caught.value.message
    assert message.startswith(f"This recording seems to be in {SPEECH[voice][0]} (0.")
    assert "the offline model drafts English records only" in message


def test_english_passes_and_the_detection_is_recorded(session_settings: Settings, tmp_path: Path) -> None:
    t = WhisperTranscriber(session_settings, "base").transcribe(_speak(tmp_path, "en"), speakers=1)
    assert t.asr.language_detected.language == "en" and "Anna" in t.text


def test_the_check_can_be_switched_off(session_settings: Settings, tmp_path: Path) -> None:
    settings = session_settings.updated(language_check=0.0)
    t = WhisperTranscriber(settings, "base").transcribe(_speak(tmp_path, "pl"), speakers=1)  # no refusal
    # Decoded as English, as asked. Whether any segment survives is Whisper's own no-speech rule, which this
    # Polish-as-English decode sits on the edge of (no-speech 0.52, log-probability -1.19): not this test's.
    assert t.asr and t.asr.language_detected is None and t.asr.language == "en"
