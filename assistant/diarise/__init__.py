"""Speaker diarisation for single-channel recordings: who spoke when, merged into Whisper's segments.

Importing this package loads no model; `EmbeddingDiariser` loads its voice encoder on first use.
"""

from assistant.diarise.base import DiarisationError, Diariser, SpeakerTurn, speaker_label
from assistant.diarise.diariser import EmbeddingDiariser, build_diariser
from assistant.diarise.merge import (
    Piece,
    Word,
    apply_speaker_names,
    assign_words,
    should_diarise,
    split_by_speaker,
    split_by_speaker_segment,
)

__all__ = [
    "DiarisationError",
    "Diariser",
    "EmbeddingDiariser",
    "Piece",
    "SpeakerTurn",
    "Word",
    "apply_speaker_names",
    "assign_words",
    "build_diariser",
    "should_diarise",
    "speaker_label",
    "split_by_speaker",
    "split_by_speaker_segment",
]
