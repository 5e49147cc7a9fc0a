"""faster-whisper on CPU (int8), the embedded speech-to-text engine.

The model is loaded once per process and shared: loading costs a second or two and ~150-300 MB, and
CTranslate2 serialises calls on one model anyway. Audio is decoded once, by `assistant.audio`, and handed
to faster-whisper as samples, so the limits and the truncation check apply to what Whisper sees.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio import WHISPER_SAMPLE_RATE, DecodedAudio, decode, probe
from assistant.audio.decode import too_long
from assistant.config import Settings, get_settings
from assistant.diarise import Diariser, SpeakerTurn, Word, should_diarise, split_by_speaker_segment
from assistant.models import WHISPER_IDS, whisper_model_dir  # sets HF_HUB_OFFLINE before faster-whisper
from assistant.store.blobs import file_sha256
from assistant.transcribe.base import AudioSource, ProgressCallback
from assistant.transcribe.channels import (
    GATE_FRAME_SECONDS,
    GATE_PAD_SECONDS,
    GATE_THRESHOLD_DB,
    ChannelSegment,
    choose_mode,
    drop_bleed,
    gate_channel,
    merge_by_time,
)
from assistant.transcribe.filters import drop_reason, dropped_record
from assistant.transcribe.wer import normalise
from assistant.transcript import Segment, Transcript

MONO_SPEAKER = "unknown"  # one channel, not diarised (switched off, or the caller said one speaker)
TOO_SHORT_SECONDS = 1.0
# Per-channel transcription: a segment whose words are further apart than this is split in two. On a
# channel that is silent while the other person talks, Whisper runs one person's turns together.
WORD_GAP_SPLIT_SECONDS = 1.0

# Names for the reason a recording in another language is refused (Whisper's codes; others show the code).
LANGUAGE_NAMES = {
    "en": "English", "pl": "Polish", "ro": "Romanian", "ur": "Urdu", "pa": "Punjabi", "bn": "Bengali",
    "gu": "Gujarati", "ar": "Arabic", "pt": "Portuguese", "es": "Spanish", "fr": "French", "de": "German",
    "it": "Italian", "lt": "Lithuanian", "lv": "Latvian", "so": "Somali", "tr": "Turkish", "zh": "Chinese",
    "cy": "Welsh", "ru": "Russian", "uk": "Ukrainian", "fa": "Persian", "hi": "Hindi", "ta": "Tamil",
    "bg": "Bulgarian", "hu": "Hungarian", "sk": "Slovak", "cs": "Czech", "nl": "Dutch", "el": "Greek",
}
LANGUAGE_SAMPLE_SECONDS = 120  # VAD runs over this much; Whisper then listens to the first 30 s of speech

# Long recordings are decoded in pieces of about 2 minutes: faster-whisper computes the log-mel features
# (and their STFT) of everything it is given at once, a transient that grows with the piece (a 10-minute
# piece alone would take half the stage's 1 GB budget). A cut costs no context: Whisper decodes 30-s
# windows, without the previous text (conditioning is off), and each cut is at a quiet moment.
CHUNK_SECONDS = 120.0
CHUNK_SEARCH_SECONDS = 10.0

_models: dict[tuple[str, int], Any] = {}
_models_lock = threading.Lock()


def load_model(settings: Settings, name: str) -> Any:
    """The shared faster-whisper model for ``name`` ('base' or 'tiny.en'), loaded on first use."""
    threads = settings.cpu_threads(settings.whisper.threads)
    key = (name, threads)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model_dir = whisper_model_dir(settings, name)  # ModelError with a fix when it is missing
            from faster_whisper import WhisperModel

            model = WhisperModel(
                str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
            )
            _models[key] = model
        return model


def clear_model_cache(name: str | None = None) -> None:
    """Forget loaded models (all, or those for ``name``); the next transcription loads afresh."""
    with _models_lock:
        for key in [k for k in _models if name is None or k[0] == name]:
            del _models[key]


def chunk_bounds(samples: np.ndarray, sample_rate: int, seconds: float = CHUNK_SECONDS) -> list[tuple[int, int]]:
    """(start, end) sample indexes of pieces of about ``seconds``, each cut at the quietest 0.1 s of the
    last CHUNK_SEARCH_SECONDS before the boundary, so no word is cut in two."""
    n, size = samples.shape[-1], int(seconds * sample_rate)
    frame, search = sample_rate // 10, int(CHUNK_SEARCH_SECONDS * sample_rate)
    bounds, start = [], 0
    while n - start > size + search:
        lo = start + size - search
        window = samples[lo:start + size]
        frames = window[: len(window) // frame * frame].reshape(-1, frame)
        cut = lo + int(np.argmin(np.square(frames, dtype=np.float32).mean(axis=1))) * frame + frame // 2
        bounds.append((start, cut))
        start = cut
    bounds.append((start, n))
    return bounds


def repeated_run(text: str, min_repeats: int = 4, min_words: int = 12, max_n: int = 8) -> bool:
    """Whether ``text`` holds one n-gram repeated back to back at least ``min_repeats`` times over at least
    ``min_words`` words: the loop that conditioning on the previous text can fall into."""
    words = normalise(text).split()
    for n in range(1, max_n + 1):
        for i in range(len(words) - n * min_repeats + 1):
            gram, repeats = words[i:i + n], 1
            while words[i + repeats * n:i + (repeats + 1) * n] == gram:
                repeats += 1
            if repeats >= min_repeats and repeats * n >= min_words:
                return True
    return False


def _split_at_gaps(
    seg: Any, channel: int, turns: list[SpeakerTurn] | None = None, offset: float = 0.0
) -> list[ChannelSegment]:
    """One faster-whisper segment as ChannelSegments, split where its words are far apart (and, with
    diarised ``turns``, where the speaker changes). ``offset``: where the decoded piece starts, seconds."""
    common = {"channel": channel, "avg_logprob": float(seg.avg_logprob), "no_speech_prob": float(seg.no_speech_prob)}
    if offset:
        seg = dataclasses.replace(seg, start=seg.start + offset, end=seg.end + offset, words=[
            dataclasses.replace(w, start=w.start + offset, end=w.end + offset) for w in seg.words or []] or seg.words)
    words = list(seg.words or [])
    if not words:
        return [ChannelSegment(start=float(seg.start), end=float(seg.end), text=seg.text.strip(), **common)]
    runs: list[list[Any]] = [[words[0]]]
    for word in words[1:]:
        if float(word.start) - float(runs[-1][-1].end) > WORD_GAP_SPLIT_SECONDS:
            runs.append([word])
        else:
            runs[-1].append(word)
    if turns is not None:
        return [
            ChannelSegment(start=p.start, end=p.end, text=p.text, speaker=p.speaker, **common)
            for run in runs
            for p in split_by_speaker_segment(
                [Word(start=float(w.start), end=float(w.end), text=w.word) for w in run], turns)
        ]
    return [
        ChannelSegment(
            start=float(run[0].start), end=float(run[-1].end), text="".join(w.word for w in run).strip(), **common
        )
        for run in runs
        if "".join(w.word for w in run).strip()
    ]


def _flags(audio: Any, has_segments: bool, duration: float) -> list[str]:
    flags: list[str] = []
    if audio is not None and audio.truncated:
        flags.append("truncated")
    if not has_segments:
        flags.append("no_speech")
    if duration < TOO_SHORT_SECONDS:
        flags.append("too_short")
    return flags


class WhisperTranscriber:
    """`Transcriber` over faster-whisper with the settings' model, beam size and language."""

    def __init__(
        self, settings: Settings | None = None, model: str | None = None, diariser: Diariser | None = None
    ) -> None:
        self.settings = settings or get_settings()
        self.model_name = model or self.settings.whisper.model
        self.diariser = diariser  # None: the embedded one, built on first need (settings.diarisation.mode)
        if self.model_name not in WHISPER_IDS:
            raise ValueError(f"unknown Whisper model {self.model_name!r}; choose one of {sorted(WHISPER_IDS)}")

    @property
    def language(self) -> str | None:
        # English-only models take no other language; an empty setting means auto-detect.
        if self.model_name.endswith(".en"):
            return "en"
        return self.settings.whisper.language or None

    def decode_options(self, per_channel: bool = False) -> dict[str, Any]:
        """The faster-whisper arguments we use (the benchmark's bare loop uses exactly these).

        Per channel, word timestamps are on: the VAD cuts out the other person's turns, and without word
        times faster-whisper maps a segment edge near a cut into the wrong turn, which breaks merging by
        time. One speaker's mono recording does not need them."""
        options: dict[str, Any] = {
            "language": self.language,
            "beam_size": self.settings.whisper.beam_size,
            "vad_filter": True,
            "condition_on_previous_text": False,
        }
        if per_channel:
            options["word_timestamps"] = True
        return options

    def asr_settings(self, per_channel: bool = False) -> dict[str, Any]:
        import ctranslate2
        import faster_whisper

        return {
            "engine": "faster-whisper",
            "engine_version": faster_whisper.__version__,
            "ctranslate2_version": ctranslate2.__version__,
            "model": self.model_name,
            "model_id": WHISPER_IDS[self.model_name],
            "device": "cpu",
            "compute_type": "int8",
            "cpu_threads": self.settings.cpu_threads(self.settings.whisper.threads),
            **self.decode_options(per_channel),
            "sample_rate": WHISPER_SAMPLE_RATE,
        }

    # -- input ----------------------------------------------------------------------------------

    def _load_audio(self, source: AudioSource) -> tuple[DecodedAudio | None, np.ndarray, str]:
        """(decoded file or None, 16 kHz samples, sha256 of the source)."""
        limit = self.settings.limits.max_audio_seconds
        if isinstance(source, DecodedAudio):
            if source.sample_rate != WHISPER_SAMPLE_RATE:
                raise ValueError(f"decoded audio must be {WHISPER_SAMPLE_RATE} Hz, not {source.sample_rate}")
            path = Path(source.info.path)
            digest = file_sha256(path) if path.is_file() else hashlib.sha256(source.samples.tobytes()).hexdigest()
            return source, source.samples, digest
        if isinstance(source, np.ndarray):
            samples = np.asarray(source, dtype=np.float32)
            if samples.shape[-1] / WHISPER_SAMPLE_RATE > limit:
                raise too_long(limit, samples.shape[-1] / WHISPER_SAMPLE_RATE)
            return None, samples, hashlib.sha256(samples.tobytes()).hexdigest()
        info = probe(source)  # refuse bad input before anything is decoded or loaded
        audio = decode(source, mono=info.channels != 2, max_seconds=limit, info=info)
        return audio, audio.samples, file_sha256(Path(source))

    # -- transcription --------------------------------------------------------------------------

    def _run_channel(
        self,
        model: Any,
        samples: np.ndarray,
        channel: int,
        per_channel: bool,
        done_before: float,
        total: float,
        progress: ProgressCallback | None,
        turns: list[SpeakerTurn] | None = None,
    ) -> tuple[list[ChannelSegment], Any]:
        # Diarised mono needs word times too, to split segments where the speaker changes.
        options = self.decode_options(per_channel or turns is not None)
        out: list[ChannelSegment] = []
        info = None
        for lo, hi in chunk_bounds(samples, WHISPER_SAMPLE_RATE):
            offset = lo / WHISPER_SAMPLE_RATE
            segments, piece_info = model.transcribe(samples[lo:hi], **options)
            for seg in segments:  # a generator: decoding happens as we iterate
                for fixed in self._unlooped(model, samples, seg, offset, options):
                    shift = offset if fixed is seg else offset + float(seg.start)
                    out.extend(_split_at_gaps(fixed, channel, turns, shift))
                if progress is not None:
                    progress(min(done_before + offset + float(seg.end), total), total)
            info = info or piece_info  # the first piece's language (the setting, or detected from the start)
        return out, info

    def _unlooped(self, model: Any, samples: np.ndarray, seg: Any, offset: float, options: dict[str, Any]
                  ) -> list[Any]:
        """``seg``, or, when conditioning on the previous text made it a repetition loop, its stretch of
        audio decoded again without conditioning (times relative to the segment's start)."""
        if not options.get("condition_on_previous_text") or not repeated_run(seg.text):
            return [seg]
        lo = int((offset + float(seg.start)) * WHISPER_SAMPLE_RATE)
        hi = int((offset + float(seg.end)) * WHISPER_SAMPLE_RATE)
        again, _ = model.transcribe(samples[lo:hi], **{**options, "condition_on_previous_text": False})
        return list(again)

    def transcribe(
        self, source: AudioSource, progress: ProgressCallback | None = None, *, speakers: int | None = None
    ) -> Transcript:
        """``speakers``: how many people are expected to speak (e.g. the `Present:` list), for diarising
        a single-channel recording (settings.diarisation.mode)."""
        audio, samples, digest = self._load_audio(source)
        mode, use = choose_mode(samples)
        turns, diarisation = self._diarise(use, mode, speakers)
        duration = samples.shape[-1] / WHISPER_SAMPLE_RATE
        n_channels = 2 if mode == "per_channel" else 1
        total = duration * n_channels
        if progress is not None:
            progress(0.0, total)

        model = load_model(self.settings, self.model_name)
        detected = self._check_language(model, use if use.ndim == 1 else use.mean(axis=0, dtype=np.float32))
        per_channel: list[list[ChannelSegment]] = []
        dropped: list[dict[str, Any]] = []
        language = self.language
        language_probability: float | None = None
        for index in range(n_channels):
            speaker = f"channel_{index + 1}" if mode == "per_channel" else MONO_SPEAKER
            # One gated channel at a time: a 3-hour recording needs no second full-size stereo copy.
            channel_audio = gate_channel(use, index, WHISPER_SAMPLE_RATE) if mode == "per_channel" else use
            segs, info = self._run_channel(
                model, np.ascontiguousarray(channel_audio), index, mode == "per_channel",
                index * duration, total, progress, turns,
            )
            del channel_audio
            keep: list[ChannelSegment] = []
            for seg in segs:
                reason = drop_reason(seg.text, seg.avg_logprob, seg.no_speech_prob)
                if reason:
                    dropped.append(dropped_record(seg, reason, seg.speaker or speaker))
                else:
                    keep.append(seg)
            per_channel.append(keep)
            if keep or language_probability is None:
                language, language_probability = info.language, float(info.language_probability)
            if progress is not None:
                progress((index + 1) * duration, total)

        merged = merge_by_time(per_channel)
        if mode == "per_channel":
            merged, bleed = drop_bleed(merged, use, WHISPER_SAMPLE_RATE)
            dropped.extend(dropped_record(s, "bleed", f"channel_{s.channel + 1}") for s in bleed)

        segments = [
            Segment(
                id=i,
                speaker=s.speaker or (f"channel_{s.channel + 1}" if mode == "per_channel" else MONO_SPEAKER),
                start=round(s.start, 3),
                end=round(s.end, 3),
                text=s.text,
                avg_logprob=round(s.avg_logprob, 4),
                no_speech_prob=round(s.no_speech_prob, 4),
            )
            for i, s in enumerate(merged)
        ]
        flags = _flags(audio, bool(segments), duration)
        asr = self._asr_info(audio, mode, turns is not None, diarisation, detected, language_probability, dropped)
        transcript = Transcript(
            id=digest[:16],
            source=digest,
            language=language,
            duration=round(duration, 3),
            segments=segments,
            asr=asr,
            flags=flags,
            contact_date=audio.info.recorded_on if audio is not None else None,
        )
        if turns is not None:
            from assistant.diarise.names import suggest_names

            transcript.speaker_suggestions = suggest_names(transcript)
        return transcript

    def _asr_info(self, audio: Any, mode: str, diarised: bool, diarisation: Any, detected: dict[str, Any] | None,
                  language_probability: float | None, dropped: list[dict[str, Any]]) -> dict[str, Any]:
        """What the transcript records about how it was made: settings, channels, language, drops, input."""
        asr = self.asr_settings(mode == "per_channel" or diarised)
        if diarisation:
            asr["diarisation"] = diarisation
        if detected is not None:
            asr["language_detected"] = detected
        asr.update(
            channel_mode=mode,
            language_probability=language_probability,
            dropped_segments=dropped,
        )
        if mode == "per_channel":
            asr["crosstalk_gate"] = {
                "threshold_db": GATE_THRESHOLD_DB, "frame_s": GATE_FRAME_SECONDS, "pad_s": GATE_PAD_SECONDS
            }
        if audio is not None:
            asr.update(
                input_format=audio.info.format,
                input_codec=audio.info.codec,
                input_channels=audio.info.channels,
                input_sample_rate=audio.info.sample_rate,
                declared_duration=audio.info.expected_duration,
                decode_errors=audio.decode_errors,
            )
        return asr

    def _check_language(self, model: Any, mono: np.ndarray) -> dict[str, Any] | None:
        """Whisper's own language detection on the first 30 s of speech; raises AudioError when the recording
        is confidently in another language than the configured one (drafting would be nonsense)."""
        expected = self.language
        if not expected or not self.settings.whisper.language_check or not model.model.is_multilingual:
            return None
        head = np.ascontiguousarray(mono[: LANGUAGE_SAMPLE_SECONDS * WHISPER_SAMPLE_RATE])
        try:
            language, probability, _ = model.detect_language(head, vad_filter=True)
        except (ValueError, RuntimeError):  # no speech at all: nothing to detect, "no speech" follows
            return None
        found = {"language": language, "probability": round(float(probability), 3)}
        if language != expected and probability >= self.settings.whisper.language_check:
            from assistant.audio import AudioError

            name = LANGUAGE_NAMES.get(language, f"language '{language}'")
            raise AudioError(
                "other_language",
                f"This recording seems to be in {name} ({probability:.2f}); the offline model drafts "
                f"{LANGUAGE_NAMES.get(expected, expected)} records only (ASSISTANT_LANGUAGE_CHECK=0 to transcribe "
                "it anyway)")
        return found

    def _diarise(
        self, use: np.ndarray, mode: str, speakers: int | None
    ) -> tuple[list[SpeakerTurn] | None, dict[str, Any]]:
        """Speaker turns for a single-channel recording when settings.diarisation.mode asks for them."""
        if not should_diarise(self.settings, mode, speakers):
            return None, {}
        if self.diariser is None:
            from assistant.diarise import build_diariser

            self.diariser = build_diariser(self.settings)
        turns = self.diariser.diarise(np.ascontiguousarray(use), speakers=speakers)
        if not turns:
            return None, {}  # no speech: the transcript says "no speech", not a diarised nothing
        found = sorted({t.speaker for t in turns})
        return turns, {**self.diariser.describe(), "speakers_expected": speakers, "speakers_found": len(found)}


def build_transcriber(settings: Settings | None = None, model: str | None = None) -> WhisperTranscriber:
    """The configured `Transcriber` (today always faster-whisper on this machine)."""
    return WhisperTranscriber(settings, model)
