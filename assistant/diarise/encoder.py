"""Speaker embeddings from Resemblyzer's pretrained GE2E voice encoder (3-layer LSTM, 256-d).

The weights (`resemblyzer/pretrained.pt`, 17 MB, Apache-2.0) ship inside the `resemblyzer==0.1.4` wheel,
so nothing is downloaded. We load them into our own copy of the network rather than importing
`resemblyzer`: its package imports `webrtcvad`, which needs `pkg_resources`, gone from setuptools >= 81.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.models import ModelError

SAMPLE_RATE = 16_000
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
MODEL_ID = "resemblyzer-0.1.4-ge2e"
N_MELS = 40
HOP = 160  # 10 ms mel frames, as the encoder was trained
N_FFT = 400  # 25 ms
FRAMES_PER_WINDOW = 160  # the encoder's training partials are 1.6 s
TARGET_DBFS = -30.0  # Resemblyzer's training-time loudness


def weights_path() -> Path:
    spec = importlib.util.find_spec("resemblyzer")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the speaker encoder is missing: pip install resemblyzer==0.1.4")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise ModelError(f"{path} is missing: reinstall resemblyzer==0.1.4")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_part = hz >= 1000.0
    return np.where(log_part, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


def slaney_mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) triangular filters with Slaney area normalisation: the same matrix as
    `librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)` (which Resemblyzer was trained with),
    without importing librosa (numba, llvmlite: about 150 MB of memory)."""
    fft_freqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_freqs = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(sr / 2.0)), n_mels + 2))
    fdiff = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:n_mels + 2] - mel_freqs[:n_mels]))[:, None]
    return weights.astype(np.float32)


def _build_network() -> Any:
    import torch
    from torch import nn

    class VoiceEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)
            self.relu = nn.ReLU()

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            raw = self.relu(self.linear(hidden[-1]))
            return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-8)

    return VoiceEncoder()


class SpeakerEncoder:
    """Embeds windows of a recording; one instance per process (see `shared_encoder`)."""

    def __init__(self, threads: int = 0) -> None:
        import torch

        path = weights_path()
        if _sha256(path) != WEIGHTS_SHA256:
            raise ModelError(f"{path} does not match the pinned sha256: reinstall resemblyzer==0.1.4")
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        self.net = _build_network()
        # The checkpoint also holds GE2E's similarity scale and bias, used only in training.
        self.net.load_state_dict(checkpoint["model_state"], strict=False)
        self.net.eval()
        self.threads = threads
        self._lock = threading.Lock()  # one forward pass at a time: torch already uses every thread
        self._mel_basis = slaney_mel_basis(SAMPLE_RATE, N_FFT, N_MELS)

    def mel(self, samples: np.ndarray) -> np.ndarray:
        """(frames, 40) power mel spectrogram at 10 ms steps, as Resemblyzer computes it (librosa defaults:
        centred frames, Hann window, Slaney mel), after bringing the audio to the training loudness."""
        import torch

        x = np.asarray(samples, dtype=np.float32)
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
        if rms > 1e-6:
            x = x * (10 ** (TARGET_DBFS / 20) / rms)
        t = torch.from_numpy(x)
        spec = torch.stft(t, N_FFT, HOP, window=torch.hann_window(N_FFT), center=True, pad_mode="constant",
                          return_complex=True).abs().pow(2)
        return (torch.from_numpy(self._mel_basis) @ spec).T.numpy()

    def embed(self, samples: np.ndarray, windows: Sequence[tuple[float, float]], batch: int = 256) -> np.ndarray:
        """Unit-length embeddings (n, 256) of ``windows`` ((start, end) seconds) of 16 kHz ``samples``.

        The mel spectrogram is computed per window and per batch, so memory does not grow with the length
        of the recording beyond the (n, 256) result."""
        import torch

        if not windows:
            return np.zeros((0, 256), dtype=np.float32)
        out = np.empty((len(windows), 256), dtype=np.float32)
        with self._lock, torch.inference_mode():
            previous = torch.get_num_threads()
            if self.threads:
                torch.set_num_threads(self.threads)
            try:
                # One batch of spectrograms at a time: an hour's would not fit in the memory budget.
                for i in range(0, len(windows), batch):
                    mels = np.stack([self._window_mel(samples, start, end) for start, end in windows[i:i + batch]])
                    out[i:i + len(mels)] = self.net(torch.from_numpy(mels)).numpy()
            finally:
                torch.set_num_threads(previous)
        return out

    def _window_mel(self, samples: np.ndarray, start: float, end: float) -> np.ndarray:
        lo = max(0, int(start * SAMPLE_RATE))
        hi = max(lo + HOP, int(end * SAMPLE_RATE))
        m = self.mel(samples[lo:hi])[:FRAMES_PER_WINDOW]
        if len(m) < FRAMES_PER_WINDOW:  # short speech: zero frames, as Resemblyzer pads short audio
            m = np.pad(m, ((0, FRAMES_PER_WINDOW - len(m)), (0, 0)))
        return m


_shared: dict[int, SpeakerEncoder] = {}
_shared_lock = threading.Lock()


def shared_encoder(threads: int = 0) -> SpeakerEncoder:
    """The process-wide encoder (loading takes ~0.2 s and ~60 MB; the network is 17 MB)."""
    with _shared_lock:
        encoder = _shared.get(threads)
        if encoder is None:
            encoder = _shared[threads] = SpeakerEncoder(threads)
        return encoder
