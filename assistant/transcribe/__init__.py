"""Speech to text: the `Transcriber` protocol, the faster-whisper engine and transcript writers.

Importing this package loads no model; `WhisperTranscriber` loads one on its first transcription.
"""

from assistant.transcribe.base import AudioSource, ProgressCallback, Transcriber
from assistant.transcribe.engine import WhisperTranscriber, build_transcriber, clear_model_cache, load_model
from assistant.transcribe.writers import FORMATS, OutputFormat, render

__all__ = [
    "FORMATS",
    "AudioSource",
    "OutputFormat",
    "ProgressCallback",
    "Transcriber",
    "WhisperTranscriber",
    "build_transcriber",
    "clear_model_cache",
    "load_model",
    "render",
]
