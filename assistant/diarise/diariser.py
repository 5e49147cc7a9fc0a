"""The embedded diariser: Silero VAD (shipped with faster-whisper) -> 1.6 s windows -> Resemblyzer voice
embeddings -> average-linkage clustering (known or estimated number of speakers) -> speaker turns."""

from __future__ import annotations

import time

import numpy as np

from assistant.config import Settings, get_settings
from assistant.diarise.base import SpeakerTurn
from assistant.diarise.cluster import Region, cluster, refine, sliding_windows, turns_from_windows
from assistant.diarise.encoder import MODEL_ID, SAMPLE_RATE, shared_encoder

WINDOW_SECONDS = 1.6  # the encoder's training length
HOP_SECONDS = 0.4
# A "speaker" with less of the speech than this is odd windows, folded into the nearest voice. With the
# number of people known, a quiet one (a child saying a few words) may hold little, so the bar is lower.
# When estimating, a voice must also speak at least MIN_VOICE_SECONDS: in a short recording a few odd
# windows are a large share of the speech. Both chosen by leave-one-recording-out (evals/diarise_tune.py).
MIN_SHARE_ESTIMATED = 0.08
MIN_SHARE_KNOWN = 0.02
MIN_VOICE_SECONDS = 4.0
VAD_MIN_SILENCE_MS = 250  # turn changes in conversation are short pauses: keep them as region edges
VAD_PAD_MS = 100
VAD_MAX_REGION_S = 30.0


VAD_PIECE_SECONDS = 300.0


def speech_regions(samples: np.ndarray) -> list[Region]:
    """Speech stretches (seconds) from the Silero VAD model that ships inside faster-whisper.

    The VAD runs over pieces of VAD_PIECE_SECONDS: faster-whisper's VAD copies its whole input twice
    (padded, then as overlapping frames), which for an hour of audio is half a gigabyte. A region cut by
    a piece boundary is joined again."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=VAD_MIN_SILENCE_MS, speech_pad_ms=VAD_PAD_MS,
                         max_speech_duration_s=VAD_MAX_REGION_S)
    x = np.asarray(samples, dtype=np.float32)
    piece = int(VAD_PIECE_SECONDS * SAMPLE_RATE)
    regions: list[Region] = []
    for lo in range(0, len(x), piece):
        for s in get_speech_timestamps(x[lo:lo + piece], options, sampling_rate=SAMPLE_RATE):
            start, end = (lo + s["start"]) / SAMPLE_RATE, (lo + s["end"]) / SAMPLE_RATE
            if regions and start <= regions[-1][1]:  # one region cut by a piece boundary
                regions[-1] = (regions[-1][0], end)
            else:
                regions.append((start, end))
    return regions


class EmbeddingDiariser:
    """`Diariser` with Resemblyzer embeddings; see the module docstring. Loads its encoder on first use."""

    def __init__(self, settings: Settings | None = None, *, threshold: float | None = None) -> None:
        self.settings = settings or get_settings()
        self.threshold = self.settings.diarisation.threshold if threshold is None else threshold
        self.last_timing: dict[str, float] = {}

    def describe(self) -> dict[str, object]:
        return {
            "engine": "embedding-clustering",
            "model": MODEL_ID,
            "vad": "silero (faster-whisper)",
            "window_s": WINDOW_SECONDS,
            "hop_s": HOP_SECONDS,
            "linkage": "average, cosine",
            "threshold": self.threshold,
            "max_speakers": self.settings.diarisation.max_speakers,
        }

    def diarise(
        self, samples: np.ndarray, *, speakers: int | None = None, max_speakers: int | None = None
    ) -> list[SpeakerTurn]:
        regions, windows, embeddings = self.analyse(samples)
        t0 = time.perf_counter()
        turns = self.turns(regions, windows, embeddings, speakers=speakers, max_speakers=max_speakers)
        self.last_timing["cluster_s"] = time.perf_counter() - t0
        return turns

    def analyse(self, samples: np.ndarray) -> tuple[list[Region], list[Region], np.ndarray]:
        """The model half of `diarise`: speech regions, windows and their embeddings (which evaluation
        can cluster more than one way)."""
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError("diarisation takes one channel; mix down or use the per-channel path")
        t0 = time.perf_counter()
        regions = speech_regions(x)
        t1 = time.perf_counter()
        windows = sliding_windows(regions, WINDOW_SECONDS, HOP_SECONDS)
        encoder = shared_encoder()
        embeddings = encoder.embed(x, windows)
        self.last_timing = {"vad_s": t1 - t0, "embed_s": time.perf_counter() - t1}
        return regions, windows, embeddings

    def turns(
        self,
        regions: list[Region],
        windows: list[Region],
        embeddings: np.ndarray,
        *,
        speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> list[SpeakerTurn]:
        """The clustering half of `diarise`, separate so that evaluation can re-cluster cached embeddings."""
        if not windows:
            return []
        cap = max_speakers or self.settings.diarisation.max_speakers
        weights = np.array([e - s for s, e in windows])
        speech = sum(e - s for s, e in regions)
        min_share = MIN_SHARE_KNOWN if speakers else max(MIN_SHARE_ESTIMATED, MIN_VOICE_SECONDS / max(speech, 1e-9))
        labels = cluster(embeddings, weights, speakers=speakers, threshold=self.threshold, max_speakers=cap,
                         min_share=min_share)
        labels = refine(embeddings, labels)
        return turns_from_windows(windows, embeddings, labels, regions)


def build_diariser(settings: Settings | None = None) -> EmbeddingDiariser:
    return EmbeddingDiariser(settings)
