"""Speech activity: where people speak in the audio, whatever else is in it.

The model is Silero VAD's (the `silero-vad` package, MIT; its weights ship inside the wheel, so
nothing is downloaded), trained to hold under music and noise, which an energy threshold does
not. It gives a speech probability for every 32 ms frame of 16 kHz audio.

It is run here with numpy, from the weights file of that package, not with the package's
TorchScript model, for two measured reasons. (1) Start-up: `subalign sync --fast` then never
imports torch, which alone takes over a second — half of what the whole fast sync of a film takes.
(2) Speed: the network is a short stack of convolutions over each 32 ms frame (with 4 ms of the
frame before) and one LSTM cell; the convolutions depend on nothing but the frame, so they run for
every frame of the file at once, and only the LSTM steps one frame at a time. Run frame by frame
with torch it takes about 20 s for 10 minutes of audio. The output equals the package's own model
run on the same stream (tests/test_vad.py).
"""

from __future__ import annotations

import importlib.util
import json
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError

__all__ = ["FRAME_SECONDS", "SpeechActivity", "speech_activity"]

SAMPLE_RATE = 16_000
HOP = 512  # samples per VAD frame at 16 kHz
CONTEXT = 64  # samples of the frame before that each frame also sees
FRAME_SECONDS = HOP / SAMPLE_RATE  # 0.032 s
_N_FFT, _STRIDE = 256, 128
_WEIGHTS = "silero_vad_16k.safetensors"

_lock = threading.Lock()
_weights: list[dict[str, np.ndarray]] = []


def _load() -> dict[str, np.ndarray]:
    """The network's weights from the silero-vad package's safetensors file (loaded once)."""
    with _lock:
        if not _weights:
            try:  # found without importing the package (its __init__ imports torch)
                spec = importlib.util.find_spec("silero_vad")
                if spec is None or spec.origin is None:
                    raise ModuleNotFoundError("No module named 'silero_vad'")
                data = (Path(spec.origin).parent / "data" / _WEIGHTS).read_bytes()
            except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
                raise ModelError(f"speech detection needs the silero-vad package ({exc}); "
                                 "pip install silero-vad") from None
            _weights.append(_read_safetensors(data))
        return _weights[0]


def _read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """Float32 tensors of a safetensors file (an 8-byte header length, a JSON header, the data)."""
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    out: dict[str, np.ndarray] = {}
    base = 8 + size
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        if spec["dtype"] != "F32":
            raise ModelError(f"unexpected {spec['dtype']} tensor {name} in {_WEIGHTS}")
        a, b = spec["data_offsets"]
        out[name] = np.frombuffer(data[base + a : base + b], dtype="<f4").reshape(spec["shape"]).astype(np.float32)
    return out


@dataclass(frozen=True)
class SpeechActivity:
    """Speech probability (0..1) of each `frame_seconds` frame of the audio, from its start."""

    probs: np.ndarray
    frame_seconds: float = FRAME_SECONDS

    @property
    def duration(self) -> float:
        return len(self.probs) * self.frame_seconds

    def on_grid(self, step: float) -> np.ndarray:
        """The probabilities resampled to frames of `step` seconds (linear interpolation
        between frame centres)."""
        n = int(np.ceil(self.duration / step))
        centres = (np.arange(len(self.probs)) + 0.5) * self.frame_seconds
        at = (np.arange(n) + 0.5) * step
        return np.interp(at, centres, self.probs).astype(np.float32)

    def segments(self, threshold: float = 0.5, min_gap: float = 0.1) -> list[tuple[float, float]]:
        """(start, end) seconds of the stretches above `threshold`, gaps under `min_gap` closed."""
        on = self.probs > threshold
        edges = np.flatnonzero(np.diff(np.concatenate(([False], on, [False])).astype(np.int8)))
        spans = [(a * self.frame_seconds, b * self.frame_seconds) for a, b in zip(edges[::2], edges[1::2], strict=True)]
        merged: list[tuple[float, float]] = []
        for a, b in spans:
            if merged and a - merged[-1][1] < min_gap:
                merged[-1] = (merged[-1][0], b)
            else:
                merged.append((a, b))
        return merged


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """A kernel-3, padding-1 1-D convolution over the short time axis of each frame, as one
    matrix product per tap: x (T, L, Cin), w (Cout, Cin, 3) → (T, L_out, Cout)."""
    t, length, cin = x.shape
    padded = np.concatenate([np.zeros_like(x[:, :1]), x, np.zeros_like(x[:, :1])], axis=1)
    out_len = (length + 2 - 3) // stride + 1
    out = np.broadcast_to(b, (t, out_len, w.shape[0])).copy()
    for k in range(3):
        tap = padded[:, k : k + stride * (out_len - 1) + 1 : stride]  # (T, L_out, Cin)
        out += (tap.reshape(-1, cin) @ w[:, :, k].T).reshape(t, out_len, -1)
    return out


def _features(frames: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """The 128 features each frame gives the LSTM, for frames (T, CONTEXT + HOP) at once."""
    right = frames[:, -2 : -CONTEXT - 2 : -1]  # the model reflect-pads 64 samples on the right
    padded = np.concatenate([frames, right], axis=1)  # (T, 640)
    windows = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT, axis=1)[:, ::_STRIDE]  # (T, 4, 256)
    spec = windows @ p["stft_conv.weight"][:, 0, :].T  # the STFT as a conv of stride 128: (T, 4, 258)
    half = _N_FFT // 2 + 1
    mag = np.sqrt(spec[..., :half] ** 2 + spec[..., half:] ** 2)
    h = np.maximum(_conv(mag, p["conv1.weight"], p["conv1.bias"], 1), 0)
    h = np.maximum(_conv(h, p["conv2.weight"], p["conv2.bias"], 2), 0)
    h = np.maximum(_conv(h, p["conv3.weight"], p["conv3.bias"], 2), 0)
    h = np.maximum(_conv(h, p["conv4.weight"], p["conv4.bias"], 1), 0)
    return h[:, 0, :].astype(np.float32)  # (T, 128)


def speech_activity(waveform: np.ndarray, sample_rate: int = SAMPLE_RATE) -> SpeechActivity:
    """Speech probabilities of a float32 mono 16 kHz waveform, one per 32 ms frame, as the
    Silero VAD model gives them when the audio is streamed through it from the start."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"speech detection runs on {SAMPLE_RATE} Hz audio, got {sample_rate}")
    wav = np.ascontiguousarray(np.asarray(waveform, dtype=np.float32).reshape(-1))
    n = len(wav) // HOP
    if n == 0:
        return SpeechActivity(np.zeros(0, dtype=np.float32))
    p = _load()
    probs = np.empty(n, dtype=np.float32)
    hidden = np.zeros(128, dtype=np.float32)
    cell = np.zeros(128, dtype=np.float32)
    w_hh = np.ascontiguousarray(p["lstm_cell.weight_hh"].T)
    w_out = p["final_conv.weight"][0, :, 0]
    b_out = float(p["final_conv.bias"][0])
    x = np.concatenate([np.zeros(CONTEXT, dtype=np.float32), wav[: n * HOP]])  # frame t: x[t*HOP:][:576]
    block = 4096  # frames whose convolutions are computed together (bounds the memory)
    for start in range(0, n, block):
        stop = min(n, start + block)
        frames = np.lib.stride_tricks.sliding_window_view(x[start * HOP : stop * HOP + CONTEXT], CONTEXT + HOP)[::HOP]
        feats = _features(frames[: stop - start], p)
        gates_x = feats @ p["lstm_cell.weight_ih"].T + p["lstm_cell.bias_ih"] + p["lstm_cell.bias_hh"]
        out = np.empty(stop - start, dtype=np.float32)
        # the LSTM cell, one frame at a time; the gates are i, f, g, o, and sigmoid(x) is
        # (1 + tanh(x / 2)) / 2, so one tanh call does all four
        scale = np.concatenate([np.full(256, 0.5), np.ones(128), np.full(128, 0.5)]).astype(np.float32)
        gates_x *= scale
        w_hh_scaled = w_hh * scale
        for k in range(stop - start):
            t = np.tanh(gates_x[k] + hidden @ w_hh_scaled)
            i, f, o = (t[:128] + 1) * 0.5, (t[128:256] + 1) * 0.5, (t[384:] + 1) * 0.5
            cell = f * cell + i * t[256:384]
            hidden = o * np.tanh(cell)
            out[k] = np.maximum(hidden, 0) @ w_out
        probs[start:stop] = _sigmoid(out + b_out)
    return SpeechActivity(probs)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
