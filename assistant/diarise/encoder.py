"""Speaker embeddings from Resemblyzer's pretrained GE2E voice encoder (3-layer LSTM, 256-d).

The weights (`resemblyzer/pretrained.pt`, 17 MB, Apache-2.0) ship inside the `resemblyzer==0.1.4` wheel,
so nothing is downloaded. We load them into our own numpy copy of the network rather than importing
`resemblyzer`: its package imports `webrtcvad`, which needs `pkg_resources`, gone from setuptools >= 81;
and its network needs torch, whose import alone is a quarter of the transcription stage's memory budget.
"""

from __future__ import annotations

import collections
import importlib.util
import pickle
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from assistant.models import ModelError
from assistant.store.blobs import file_sha256

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


class _TensorRef(NamedTuple):
    key: str
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64,
           "IntStorage": np.int32, "HalfStorage": np.float16}


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's tensors as numpy arrays, read without torch.

    `pretrained.pt` is in torch's legacy format: pickles of the magic number, protocol version and system
    info; the object pickle, whose tensors name storages by key; the list of storage keys; then each
    storage as an int64 element count and its raw little-endian data. Only plain tensors and dicts are
    accepted, so nothing in the file can run code."""
    storage_types: dict[str, str] = {}

    def rebuild(key: str, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any) -> _TensorRef:
        return _TensorRef(key, offset, tuple(size), tuple(stride))

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return rebuild
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if module == "torch" and name in _DTYPES:
                return name
            raise pickle.UnpicklingError(f"unexpected object in the voice encoder checkpoint: {module}.{name}")

        def persistent_load(self, pid: Any) -> str:
            _, storage_type, key, _location, _numel = pid[:5]
            storage_types[key] = storage_type
            return key

    with path.open("rb") as fh:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(fh)  # noqa: S301 - plain ints and a dict of ints, from a sha256-pinned file
        obj = Unpickler(fh).load()
        keys = pickle.load(fh)  # noqa: S301 - a list of strings
        data: dict[str, np.ndarray] = {}
        for key in keys:
            (count,) = struct.unpack("<q", fh.read(8))
            dtype = np.dtype(_DTYPES[storage_types[key]])
            data[key] = np.frombuffer(fh.read(count * dtype.itemsize), dtype=dtype)

    def materialise(value: Any) -> Any:
        if isinstance(value, _TensorRef):
            base = data[value.key][value.offset:]
            strides = tuple(base.itemsize * s for s in value.stride)
            return np.array(np.lib.stride_tricks.as_strided(base, value.size, strides))
        if isinstance(value, dict):
            return {k: materialise(v) for k, v in value.items()}
        return value

    return materialise(obj)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow warnings for large negative x


class VoiceNet:
    """GE2E's network in numpy: a 3-layer LSTM (PyTorch's gate order i, f, g, o), the last layer's final
    hidden state through Linear(256, 256) and ReLU, normalised to unit length."""

    def __init__(self, state: dict[str, np.ndarray], layers: int = 3) -> None:
        self.layers = [
            (state[f"lstm.weight_ih_l{k}"].T.copy(), state[f"lstm.weight_hh_l{k}"].T.copy(),
             state[f"lstm.bias_ih_l{k}"] + state[f"lstm.bias_hh_l{k}"])
            for k in range(layers)
        ]
        self.linear_w = state["linear.weight"].T.copy()
        self.linear_b = state["linear.bias"]

    def __call__(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) -> (batch, 256) unit-length embeddings."""
        x = np.asarray(mels, dtype=np.float32)
        batch, frames, _ = x.shape
        for w_ih, w_hh, bias in self.layers:
            hidden = w_hh.shape[0]
            gates_in = (x.reshape(batch * frames, -1) @ w_ih + bias).reshape(batch, frames, 4 * hidden)
            h = np.zeros((batch, hidden), dtype=np.float32)
            c = np.zeros((batch, hidden), dtype=np.float32)
            out = np.empty((batch, frames, hidden), dtype=np.float32)
            for t in range(frames):
                g = gates_in[:, t] + h @ w_hh
                i, f = _sigmoid(g[:, :hidden]), _sigmoid(g[:, hidden:2 * hidden])
                cell, o = np.tanh(g[:, 2 * hidden:3 * hidden]), _sigmoid(g[:, 3 * hidden:])
                c = f * c + i * cell
                h = o * np.tanh(c)
                out[:, t] = h
            x = out
        raw = np.maximum(h @ self.linear_w + self.linear_b, 0.0)
        return (raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-8)).astype(np.float32)


class SpeakerEncoder:
    """Embeds windows of a recording; one instance per process (see `shared_encoder`)."""

    def __init__(self) -> None:
        path = weights_path()
        if file_sha256(path) != WEIGHTS_SHA256:
            raise ModelError(f"{path} does not match the pinned sha256: reinstall resemblyzer==0.1.4")
        # The checkpoint also holds GE2E's similarity scale and bias, used only in training.
        self.net = VoiceNet(load_checkpoint(path)["model_state"])
        self._mel_basis = slaney_mel_basis(SAMPLE_RATE, N_FFT, N_MELS)
        self._window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann

    def mel(self, samples: np.ndarray) -> np.ndarray:
        """(frames, 40) power mel spectrogram at 10 ms steps, as Resemblyzer computes it (librosa defaults:
        centred frames, zero padding, periodic Hann window, Slaney mel), after bringing the audio to the
        training loudness."""
        x = np.asarray(samples, dtype=np.float32)
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
        if rms > 1e-6:
            x = x * np.float32(10 ** (TARGET_DBFS / 20) / rms)
        padded = np.pad(x, N_FFT // 2)
        count = 1 + (len(padded) - N_FFT) // HOP
        frames = np.lib.stride_tricks.as_strided(padded, (count, N_FFT), (HOP * padded.itemsize, padded.itemsize))
        spec = np.abs(np.fft.rfft(frames * self._window, axis=1)) ** 2
        return (spec.astype(np.float32) @ self._mel_basis.T).astype(np.float32)

    def embed(self, samples: np.ndarray, windows: Sequence[tuple[float, float]], batch: int = 64) -> np.ndarray:
        """Unit-length embeddings (n, 256) of ``windows`` ((start, end) seconds) of 16 kHz ``samples``.

        The mel spectrogram is computed per window and per batch, so memory does not grow with the length
        of the recording beyond the (n, 256) result."""
        if not windows:
            return np.zeros((0, 256), dtype=np.float32)
        from threadpoolctl import threadpool_limits

        out = np.empty((len(windows), 256), dtype=np.float32)
        # One BLAS thread: the recurrence multiplies small matrices 480 times per batch, and more threads
        # spend longer waiting for each other than multiplying (several times the CPU on two cores).
        with threadpool_limits(limits=1, user_api="blas"):
            # One batch of spectrograms at a time: an hour's would not fit in the memory budget.
            for i in range(0, len(windows), batch):
                mels = np.stack([self._window_mel(samples, start, end) for start, end in windows[i:i + batch]])
                out[i:i + len(mels)] = self.net(mels)
        return out

    def _window_mel(self, samples: np.ndarray, start: float, end: float) -> np.ndarray:
        lo = max(0, int(start * SAMPLE_RATE))
        hi = max(lo + HOP, int(end * SAMPLE_RATE))
        m = self.mel(samples[lo:hi])[:FRAMES_PER_WINDOW]
        if len(m) < FRAMES_PER_WINDOW:  # short speech: zero frames, as Resemblyzer pads short audio
            m = np.pad(m, ((0, FRAMES_PER_WINDOW - len(m)), (0, 0)))
        return m


_shared: list[SpeakerEncoder] = []
_shared_lock = threading.Lock()


def shared_encoder() -> SpeakerEncoder:
    """The process-wide encoder (the network is 17 MB)."""
    with _shared_lock:
        if not _shared:
            _shared.append(SpeakerEncoder())
        return _shared[0]
