"""Speech activity: where people speak in the audio, whatever else is in it.

Silero VAD (the `silero-vad` package, MIT; its model ships inside the wheel, so nothing is
downloaded) gives a speech probability for every 32 ms frame of 16 kHz audio, and it was trained
to hold under music and noise, which an energy threshold does not. It is a small recurrent
network meant to run frame by frame on a stream; run that way it takes about 20 s for 10 minutes
of audio on one core. Here the file is cut into `rows` segments that run side by side as one
batch, each starting `WARMUP` frames early so its recurrent state has settled when its own frames
begin: the same probabilities (within the warm-up's effect) in about a tenth of the time.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ModelError

__all__ = ["FRAME_SECONDS", "SpeechActivity", "speech_activity"]

SAMPLE_RATE = 16_000
HOP = 512  # samples per VAD frame at 16 kHz
FRAME_SECONDS = HOP / SAMPLE_RATE  # 0.032 s
#: Frames each batched segment starts early, for the recurrent state to settle (about 1 s).
WARMUP = 32
#: Frames per batched segment (about 10 s): long enough that the warm-up is a small overhead.
SEGMENT = 300

_lock = threading.Lock()
_model: list[object] = []


def _load() -> object:
    """The Silero VAD network (loaded once per process)."""
    with _lock:
        if not _model:
            threads = torch.get_num_threads()
            try:
                from silero_vad import load_silero_vad
            except ImportError as exc:  # pragma: no cover - a dependency of subalign
                raise ModelError(f"speech detection needs the silero-vad package: {exc}") from exc
            finally:
                torch.set_num_threads(threads)  # importing silero_vad sets torch to one thread
            with warnings.catch_warnings():  # its loader uses deprecated torch/importlib calls
                warnings.simplefilter("ignore", DeprecationWarning)
                _model.append(load_silero_vad())
        return _model[0]


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


def speech_activity(waveform: np.ndarray, sample_rate: int = SAMPLE_RATE) -> SpeechActivity:
    """Speech probabilities of a float32 mono 16 kHz waveform (see the module docstring)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"speech detection runs on {SAMPLE_RATE} Hz audio, got {sample_rate}")
    wav = np.ascontiguousarray(np.asarray(waveform, dtype=np.float32).reshape(-1))
    n = len(wav) // HOP
    if n == 0:
        return SpeechActivity(np.zeros(0, dtype=np.float32))
    model = _load()
    rows = [(max(0, s - WARMUP), s, min(n, s + SEGMENT)) for s in range(0, n, SEGMENT)]
    length = max(e - a for a, _, e in rows)
    batch = np.zeros((length, len(rows), HOP), dtype=np.float32)  # frame-major: one slice per step
    for i, (a, _, e) in enumerate(rows):
        batch[: e - a, i, :] = wav[a * HOP : e * HOP].reshape(e - a, HOP)
    steps = torch.from_numpy(batch)
    out = np.empty((length, len(rows)), dtype=np.float32)
    threads = torch.get_num_threads()
    try:
        # One thread: each step is small, and torch's threads waiting on each other make it up
        # to 40 times slower as soon as another process wants the same cores (measured).
        torch.set_num_threads(1)
        with _lock, torch.inference_mode():
            model.reset_states()  # type: ignore[attr-defined]
            for k in range(length):
                out[k] = model(steps[k], SAMPLE_RATE).reshape(-1).numpy()  # type: ignore[operator]
    finally:
        torch.set_num_threads(threads)
    probs = np.empty(n, dtype=np.float32)
    for i, (a, s, e) in enumerate(rows):
        probs[s:e] = out[s - a : e - a, i]
    return SpeechActivity(probs)
