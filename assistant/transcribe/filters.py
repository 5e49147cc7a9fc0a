"""Drop what Whisper invents: text over silence or noise.

Whisper was trained on subtitles, so on non-speech it tends to emit stock closing lines ("Thank you.",
"Thanks for watching!"). faster-whisper already skips a 30 s window when its no-speech probability is
high and its log-probability low; we apply the same rule per segment, and a stricter one to the stock
phrases, which are only kept when the model is confident there was speech.
"""

from __future__ import annotations

from typing import Any

from assistant.transcribe.wer import normalise

# Whisper's own thresholds (openai/whisper transcribe.py defaults).
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -1.0
# Stock phrases are kept only with a low no-speech probability and a confident decode.
STOCK_NO_SPEECH_MAX = 0.2
STOCK_LOGPROB_MIN = -0.6

STOCK_PHRASES = frozenset(
    normalise(p)
    for p in (
        "Thank you.", "Thank you very much.", "Thanks for watching!", "Thank you for watching.",
        "Thanks for listening.", "Please subscribe.", "Subtitles by the Amara.org community",
        "you", "Bye.", "Bye bye.",
    )
)


def drop_reason(text: str, avg_logprob: float, no_speech_prob: float) -> str | None:
    """Why a segment should be dropped, or None to keep it."""
    norm = normalise(text)
    if not norm:
        return "empty"
    if no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOGPROB_THRESHOLD:
        return "no_speech"
    if norm in STOCK_PHRASES and (no_speech_prob > STOCK_NO_SPEECH_MAX or avg_logprob < STOCK_LOGPROB_MIN):
        return "stock_phrase"
    return None


def dropped_record(seg: Any, reason: str, speaker: str) -> dict[str, Any]:
    """What we keep of a dropped segment in ``Transcript.asr`` so the decision can be audited."""
    return {
        "start": round(float(seg.start), 2),
        "end": round(float(seg.end), 2),
        "speaker": speaker,
        "text": seg.text.strip(),
        "reason": reason,
        "avg_logprob": round(float(seg.avg_logprob), 3),
        "no_speech_prob": round(float(seg.no_speech_prob), 3),
    }
