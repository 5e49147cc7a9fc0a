"""Audio input: recognise (sniff), describe (probe) and decode recordings, refusing bad ones early."""

from assistant.audio.decode import WHISPER_SAMPLE_RATE, DecodedAudio, decode, format_seconds
from assistant.audio.errors import HTTP_STATUS, AudioError, AudioErrorCode
from assistant.audio.probe import AudioInfo, probe
from assistant.audio.sniff import SUPPORTED_DESCRIPTION, sniff, sniff_bytes

__all__ = [
    "HTTP_STATUS",
    "SUPPORTED_DESCRIPTION",
    "WHISPER_SAMPLE_RATE",
    "AudioError",
    "AudioErrorCode",
    "AudioInfo",
    "DecodedAudio",
    "decode",
    "format_seconds",
    "probe",
    "sniff",
    "sniff_bytes",
]
