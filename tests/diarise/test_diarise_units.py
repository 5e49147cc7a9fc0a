"""Diarisation without a model: clustering, turns, merging into segments, naming, the stage's choice,
and the DER/WDER metrics."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.config import Settings
from assistant.diarise import SpeakerTurn, Word, apply_speaker_names, should_diarise, split_by_speaker
from assistant.diarise.cluster import cluster, sliding_windows, turns_from_windows
from assistant.transcript import Participant, Segment, Transcript
from evals.diarisation import der, wder


def _voices(k: int, per: int, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, 32))
    truth = np.repeat(np.arange(k), per)
    emb = centres[truth] + noise * rng.normal(size=(k * per, 32))
    return emb / np.linalg.norm(emb, axis=1, keepdims=True), truth


def _agree(labels: np.ndarray, truth: np.ndarray) -> bool:
    """Same partition, whatever the numbering."""
    return len(set(zip(labels.tolist(), truth.tolist(), strict=True))) == len(set(truth.tolist()))


@pytest.mark.parametrize("k", [1, 2, 4])
def test_estimates_the_number_of_speakers(k: int) -> None:
    emb, truth = _voices(k, 30, noise=0.1)
    labels = cluster(emb, threshold=0.3)
    assert labels.max() + 1 == k
    assert _agree(labels, truth)


def test_known_number_survives_an_outlier() -> None:
    """One odd window must not take a speaker's place and merge two real voices."""
    emb, truth = _voices(3, 40, noise=0.1)
    odd = np.random.default_rng(5).normal(size=(1, 32))
    emb = np.vstack([emb, odd / np.linalg.norm(odd)])
    labels = cluster(emb, speakers=3)
    assert labels.max() + 1 == 3
    assert _agree(labels[:-1], truth)


@pytest.mark.parametrize("speakers", [None, 3])
def test_long_recordings_cluster_a_subset_of_windows(monkeypatch: pytest.MonkeyPatch, speakers: int | None) -> None:
    """Past MAX_LINKAGE_POINTS windows linkage sees a regular subset (its distance matrix grows with the
    square of the windows) and every window takes its nearest cluster: the same partition."""
    import assistant.diarise.cluster as clustering

    emb, truth = _voices(3, 200, noise=0.1)
    order = np.random.default_rng(1).permutation(len(emb))  # speakers interleaved, as in a conversation
    emb, truth = emb[order], truth[order]
    seen: list[int] = []
    linkage = clustering._average_linkage
    monkeypatch.setattr(clustering, "_average_linkage", lambda e: seen.append(len(e)) or linkage(e))
    monkeypatch.setattr(clustering, "MAX_LINKAGE_POINTS", 100)
    labels = cluster(emb, threshold=0.3, speakers=speakers)
    assert seen and max(seen) <= 100
    assert labels.max() + 1 == 3
    assert _agree(labels, truth)


def test_sliding_windows_cover_each_region() -> None:
    wins = sliding_windows([(0.0, 1.0), (2.0, 5.0)], window=1.6, hop=0.4)
    assert wins[0] == (0.0, 1.0)
    assert wins[1][0] == 2.0 and wins[-1][1] == 5.0
    assert all(e - s <= 1.6 + 1e-9 for s, e in wins)


def test_turns_follow_the_windows_and_short_blips_are_absorbed() -> None:
    regions = [(0.0, 10.0)]
    wins = sliding_windows(regions, 1.0, 0.5)
    a, b = np.eye(2)
    emb = np.array([a if s < 5.0 else b for s, _ in wins])
    emb[3] = b  # one stray window inside A's turn
    labels = np.array([0 if np.allclose(e, a) else 1 for e in emb])
    turns = turns_from_windows(wins, emb, labels, regions, min_turn=1.5)
    assert [t.speaker for t in turns] == ["speaker_1", "speaker_2"]
    assert abs(turns[0].end - 5.0) < 0.6 and turns[1].end == pytest.approx(10.0, abs=0.06)


def test_segment_split_where_the_speaker_changes() -> None:
    turns = [SpeakerTurn(start=0.0, end=2.0, speaker="speaker_1"), SpeakerTurn(start=2.2, end=4.0, speaker="speaker_2")]
    words = [Word(start=0.1, end=0.5, text=" How"), Word(start=0.5, end=0.9, text=" are"),
             Word(start=0.9, end=1.6, text=" you?"), Word(start=2.3, end=2.9, text=" Fine,"),
             Word(start=2.9, end=3.5, text=" thanks.")]
    pieces = split_by_speaker(0.1, 3.5, "How are you? Fine, thanks.", words, turns)
    assert [(p.speaker, p.text) for p in pieces] == [("speaker_1", "How are you?"), ("speaker_2", "Fine, thanks.")]
    assert pieces[1].start == 2.3
    # No word times: the whole segment goes to the turn it overlaps most.
    assert [p.speaker for p in split_by_speaker(1.0, 3.9, "x", [], turns)] == ["speaker_2"]


def test_speaker_names_map_labels_to_participants() -> None:
    t = Transcript(segments=[Segment(id=0, speaker="speaker_1", text="Hello."),
                             Segment(id=1, speaker="speaker_2", text="Hi."),
                             Segment(id=2, speaker="speaker_1", text="How are you?")])
    sarah = Participant(name="Sarah Okafor", role="social worker")
    named = apply_speaker_names(t, {"speaker_1": "Sarah Okafor"}, [sarah])
    assert [s.speaker for s in named.segments] == ["Sarah Okafor", "speaker_2", "Sarah Okafor"]
    assert named.speaker_names == {"speaker_1": "Sarah Okafor"}
    assert named.participants == [sarah]
    # A second mapping starts from the original labels, and can correct the first.
    again = apply_speaker_names(named, {"speaker_1": "Leanne Price", "speaker_2": "Sarah Okafor"})
    assert [s.speaker for s in again.segments] == ["Leanne Price", "Sarah Okafor", "Leanne Price"]
    with pytest.raises(ValueError, match="speaker_9"):
        apply_speaker_names(t, {"speaker_9": "Nobody"})


@pytest.mark.parametrize(
    ("setting", "mode", "speakers", "expected"),
    [
        ("auto", "mono", None, True),  # the default: estimate the count (issue 19)
        ("auto", "mono", 1, False),
        ("auto", "mono", 3, True),
        ("auto", "identical_channels", 2, True),
        ("auto", "per_channel", 2, False),  # a mic per person: the channels are the speakers
        ("on", "mono", None, True),
        ("on", "mono", 1, False),  # the caller says one person speaks (dictation)
        ("on", "downmixed", None, True),
        ("on", "per_channel", None, False),
        ("off", "mono", 4, False),
    ],
)
def test_stage_choice(setting: str, mode: str, speakers: int | None, expected: bool) -> None:
    assert should_diarise(Settings(diarise=setting), mode, speakers) is expected


def test_der_counts_miss_false_alarm_and_confusion() -> None:
    ref = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]
    assert der(ref, [(0.0, 10.0, "x"), (10.0, 20.0, "y")]).der == pytest.approx(0.0)
    r = der(ref, [(0.0, 15.0, "x"), (15.0, 20.0, "y")], collar=0.0)
    assert r.confusion == pytest.approx(0.25, abs=0.01) and r.mapping == {"x": "A", "y": "B"}
    r = der(ref, [(0.0, 20.0, "x")], collar=0.0)
    assert r.der == pytest.approx(0.5, abs=0.01)
    assert der(ref, [(0.0, 5.0, "x")], collar=0.0).missed == pytest.approx(0.75, abs=0.01)


def test_wder_ignores_asr_errors_and_label_names() -> None:
    ref = [("Ann", "how are you today"), ("Bob", "fine thanks and you")]
    assert wder(ref, [("s2", "how are you to day"), ("s1", "fine thanks and you")]).wder == 0.0
    r = wder(ref, [("s1", "how are you today fine"), ("s2", "thanks and you")])
    assert r.wrong_speaker == 1 and r.aligned_words == 8


def test_encoder_refuses_weights_that_do_not_match(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.diarise import encoder
    from assistant.models import ModelError

    fake = tmp_path / "pretrained.pt"
    fake.write_bytes(b"not the voice encoder")
    monkeypatch.setattr(encoder, "weights_path", lambda: fake)
    with pytest.raises(ModelError, match="sha256"):
        encoder.SpeakerEncoder()


def test_import_loads_no_model() -> None:
    import subprocess
    import sys

    code = "import sys, assistant.diarise, assistant.transcribe; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_diarising_does_not_import_torch() -> None:
    """torch's import alone is a quarter of the transcription stage's memory budget: the voice encoder
    (weights and network) runs without it."""
    import subprocess
    import sys

    code = ("import sys, numpy as np; from assistant.diarise.encoder import shared_encoder; "
            "x = (np.random.default_rng(0).normal(size=32000) * 0.1).astype(np.float32); "
            "e = shared_encoder().embed(x, [(0.0, 1.6)]); print(e.shape, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(1, 256) False"


def test_numpy_encoder_matches_torch() -> None:
    """The encoder runs in numpy; it must give what Resemblyzer's torch network gives, from the same
    checkpoint (read with torch.load here) and the same spectrogram (torch.stft)."""
    import torch

    from assistant.diarise.encoder import HOP, N_FFT, TARGET_DBFS, SpeakerEncoder, weights_path

    encoder = SpeakerEncoder()
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)["model_state"]
    lstm, linear = torch.nn.LSTM(40, 256, 3, batch_first=True), torch.nn.Linear(256, 256)
    lstm.load_state_dict({k[len("lstm."):]: v for k, v in state.items() if k.startswith("lstm.")})
    linear.load_state_dict({"weight": state["linear.weight"], "bias": state["linear.bias"]})

    x = (np.random.default_rng(0).normal(size=16_000 * 3) * 0.05).astype(np.float32)
    scaled = x * (10 ** (TARGET_DBFS / 20) / np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    spec = torch.stft(torch.from_numpy(scaled.astype(np.float32)), N_FFT, HOP, window=torch.hann_window(N_FFT),
                      center=True, pad_mode="constant", return_complex=True).abs().pow(2)
    expected_mel = (torch.from_numpy(encoder._mel_basis) @ spec).T.numpy()
    assert np.allclose(encoder.mel(x), expected_mel, rtol=1e-4, atol=1e-6 * expected_mel.max())

    windows = [(0.0, 1.6), (0.5, 2.1), (1.4, 3.0), (2.5, 3.0)]
    ours = encoder.embed(x, windows)
    mels = torch.from_numpy(np.stack([encoder._window_mel(x, s, e) for s, e in windows]))
    with torch.inference_mode():
        _, (hidden, _) = lstm(mels)
        raw = torch.relu(linear(hidden[-1]))
        theirs = (raw / raw.norm(dim=1, keepdim=True)).numpy()
    assert np.abs(ours - theirs).max() < 1e-4


def test_mel_filters_match_librosa() -> None:
    """The encoder was trained on librosa's mel spectrogram; ours must be the same matrix."""
    librosa = pytest.importorskip("librosa")  # installed with resemblyzer
    from assistant.diarise.encoder import slaney_mel_basis

    ours = slaney_mel_basis(16_000, 400, 40)
    theirs = librosa.filters.mel(sr=16_000, n_fft=400, n_mels=40)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-7)
