"""The typed ASR block and drafting statistics load records stored before they were typed, and save them back
unchanged; new records serialise to the same JSON shape."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from assistant.records import CaseRecord, DraftingStats
from assistant.transcript import AsrInfo, Transcript, parse_text

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# The `asr` block as the faster-whisper engine wrote it for a diarised mono upload, keys in its order.
STORED_ASR: dict[str, Any] = {
    "engine": "faster-whisper", "engine_version": "1.1.1", "ctranslate2_version": "4.5.0", "model": "base",
    "model_id": "whisper-base", "device": "cpu", "compute_type": "int8", "cpu_threads": 2, "language": "en",
    "beam_size": 5, "vad_filter": True, "condition_on_previous_text": False, "word_timestamps": True,
    "sample_rate": 16000,
    "diarisation": {"engine": "embedding-clustering", "model": "resemblyzer-ge2e", "vad": "silero (faster-whisper)",
                    "window_s": 1.6, "hop_s": 0.4, "linkage": "average, cosine", "threshold": 0.25,
                    "max_speakers": 8, "speakers_expected": None, "speakers_found": 2},
    "language_detected": {"language": "en", "probability": 0.991},
    "channel_mode": "mono", "language_probability": 0.991,
    "dropped_segments": [{"start": 61.2, "end": 63.0, "speaker": "speaker_2", "text": "Thank you.",
                          "reason": "stock_phrase", "avg_logprob": -1.2, "no_speech_prob": 0.7}],
    "input_format": "webm", "input_codec": "opus", "input_channels": 1, "input_sample_rate": 48000,
    "declared_duration": None, "decode_errors": 0,
}
# Drafting statistics as the windowed pipeline (before the sectioner) wrote them: keys that no longer exist.
OLD_STATS: dict[str, Any] = {
    "units": 41, "windows": 2, "window_tokens_est": [1810, 1344], "calls": 2, "prompt_tokens": 3900,
    "completion_tokens": 610, "duplicates_removed": 3, "summary_method": "llm", "summary_dropped": [],
    "statements": 22, "flagged": 1, "findings": [{"kind": "money", "segment_id": 4, "text": "£120"}],
}


def _stored_record() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / "cs_visit_safeguarding" / "gold.json").read_text(encoding="utf-8"))
    data["transcript"]["asr"] = copy.deepcopy(STORED_ASR)
    data["extra"] = {"drafting": copy.deepcopy(OLD_STATS)}
    return data


def test_a_stored_record_loads_typed_and_saves_back_unchanged() -> None:
    stored = _stored_record()
    record = CaseRecord.model_validate(stored)
    asr = record.transcript.asr
    assert asr is not None and asr.model == "base" and asr.diarisation is not None
    assert asr.diarisation.speakers_found == 2 and asr.dropped_segments[0].reason == "stock_phrase"
    assert record.extra.drafting is not None and record.extra.drafting.calls == 2
    saved = record.model_dump(mode="json")
    assert saved["transcript"]["asr"] == STORED_ASR and saved["extra"] == {"drafting": OLD_STATS}
    assert json.dumps(saved["transcript"]["asr"]) == json.dumps(STORED_ASR)  # key order too
    assert CaseRecord.model_validate(saved).model_dump(mode="json") == saved


def test_older_and_foreign_keys_survive() -> None:
    asr = AsrInfo.model_validate({"model": "tiny.en", "engine": "whisper.cpp", "vad_threshold": 0.5})
    assert asr.model_dump() == {"engine": "whisper.cpp", "model": "tiny.en", "vad_threshold": 0.5}
    assert DraftingStats.model_validate(OLD_STATS).model_dump(mode="json") == OLD_STATS


def test_typed_text_keeps_its_empty_asr_block() -> None:
    t = parse_text("Jo Smith: Hello.\nLeanne Hart: Hi.")
    assert t.asr is None and t.model_dump(mode="json")["asr"] == {}
    assert Transcript.model_validate({"segments": [], "asr": {}}).asr is None
    gold = json.loads((SAMPLES / "cs_visit_safeguarding" / "gold.json").read_text(encoding="utf-8"))
    saved = CaseRecord.model_validate(gold).model_dump(mode="json")
    assert saved["transcript"]["asr"] == gold["transcript"]["asr"] == {} and saved["extra"] == gold["extra"] == {}
