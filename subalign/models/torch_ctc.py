"""What the torch CTC models (Hugging Face `hf`, torchaudio `mms`) share.

* device and precision: `auto` picks CUDA when torch sees one; fp16/bf16 run on CUDA (bf16 also on
  CPU), log-probabilities are always computed in float32;
* emissions in overlapping windows of equal length, run in batches, each window padded so that the
  conv front end emits exactly one frame per hop, centred on it (the stitching contract of
  `plan_windows`);
* a tokenizer over the model's own output vocabulary: characters or word pieces (SentencePiece `▁`
  or WordPiece `##` markers), an optional word-delimiter token, case folded to the vocabulary's.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..errors import ModelError
from .base import EmissionModel, iter_chunks, plan_windows

log = logging.getLogger(__name__)

_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
}  # fmt: skip
DTYPE_CHOICES = ("auto", "float32", "float16", "bfloat16")


def resolve_device(device: str | None) -> torch.device:
    """`auto`/None → CUDA when available, else CPU; anything else must name a usable device."""
    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise ModelError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelError(
                f"--device {device} asked for CUDA, but this torch ({torch.__version__}) sees no "
                "CUDA GPU; use --device cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ModelError(
                f"--device {device}: there are only {torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type != "cpu":
        raise ModelError(f"device {device!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev


def resolve_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    """`auto`/None → float16 on CUDA, float32 on CPU; float16 on CPU is refused (too slow/unsupported)."""
    name = (dtype or "auto").strip().lower()
    if name == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if name not in _DTYPES:
        raise ModelError(f"unknown precision {dtype!r}; use one of {', '.join(DTYPE_CHOICES)}")
    chosen = _DTYPES[name]
    if chosen is torch.float16 and device.type != "cuda":
        raise ModelError("float16 runs on CUDA only; use --dtype float32 or bfloat16 on the CPU")
    return chosen


def conv_geometry(kernels: Sequence[int], strides: Sequence[int]) -> tuple[int, int]:
    """Receptive field and hop (samples) of a stack of 1-D convolutions without padding."""
    field, jump = 1, 1
    for k, s in zip(kernels, strides, strict=True):
        field += (k - 1) * jump
        jump *= s
    return field, jump


def batched_windowed_emissions(
    run_batch: Callable[[torch.Tensor], torch.Tensor],
    waveform: np.ndarray,
    *,
    hop: int,
    receptive_field: int,
    window: int,
    context: int,
    batch_size: int,
    normalize: bool = False,
    progress: Callable[[float], None] | None = None,
) -> torch.Tensor:
    """Log-probs (T, C), T = len // hop + 1, from a conv-front-end model run on batched windows.

    `run_batch` maps (B, n) float samples to (B, frames, C) log-probs, frames = (n - field) // hop
    + 1. Each window is padded with zeros by (field - hop) // 2 on the left and the rest of the
    field on the right, so frame k covers samples centred on [k*hop, (k+1)*hop) and a window of n
    samples yields n // hop + 1 frames, which is what `plan_windows` needs. Windows of equal length
    share a batch (no padding between items, so no attention mask is needed). With `normalize`,
    each window's real samples are scaled to zero mean and unit variance before padding.
    """
    plan = plan_windows(len(waveform), hop, window, context)
    left = (receptive_field - hop) // 2
    right = receptive_field - left
    parts: list[np.ndarray | None] = [None] * len(plan)
    by_length: dict[int, list[int]] = {}
    for i, w in enumerate(plan):
        by_length.setdefault(w.stop - w.start, []).append(i)
    for length, members in by_length.items():
        for chunk in iter_chunks(members, max(1, batch_size)):
            batch = np.zeros((len(chunk), left + length + right), dtype=np.float32)
            for row, i in enumerate(chunk):
                samples = waveform[plan[i].start : plan[i].stop]
                batch[row, left : left + length] = normalized(samples) if normalize else samples
            out = run_batch(torch.from_numpy(batch))
            for row, i in enumerate(chunk):
                w = plan[i]
                parts[i] = w.core(out[row], hop).float().cpu().numpy()
                if progress is not None:
                    progress((w.keep_stop - w.keep_start) * hop)
    return torch.from_numpy(np.concatenate(parts, axis=0))


def normalized(samples: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance (what wav2vec2 models trained with normalised input expect)."""
    x = np.asarray(samples, dtype=np.float64)
    return ((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32) if len(x) else x.astype(np.float32)


class VocabTokenizer:
    """Spell words in a CTC model's output vocabulary.

    Handles character vocabularies (wav2vec2 `|`-delimited letters, MMS romanised letters) and
    word-piece vocabularies (`▁word` SentencePiece or `##piece` WordPiece) by greedy longest match;
    accents missing from the vocabulary are stripped ("é" → "e"), other unknown characters are
    dropped (logged at debug level).
    """

    def __init__(
        self,
        vocabulary: Sequence[str],
        *,
        blank: int,
        word_delimiter: str | None = None,
        exclude: Sequence[str] = (),
    ) -> None:
        self.vocabulary = list(vocabulary)
        specials = {self.vocabulary[blank], *exclude}
        if word_delimiter is not None:
            specials.add(word_delimiter)
        self.word_delimiter = (
            self.vocabulary.index(word_delimiter)
            if word_delimiter is not None and word_delimiter in self.vocabulary
            else None
        )
        self._ids: dict[str, int] = {}
        for i, tok in enumerate(self.vocabulary):
            if tok not in specials and not (tok.startswith("<") and tok.endswith(">") and len(tok) > 2):
                self._ids.setdefault(tok, i)
        if not self._ids:
            raise ModelError("the model's vocabulary has no tokens that text can be spelled with")
        pieces = list(self._ids)
        self.sentencepiece = any(p.startswith("▁") for p in pieces)
        self.wordpiece = any(p.startswith("##") and len(p) > 2 for p in pieces)
        self._max_len = max(len(p) for p in pieces)
        letters = [p for p in pieces if p.isalpha()]
        upper = sum(p.isupper() for p in letters)
        lower = sum(p.islower() for p in letters)
        self.case = "upper" if upper > lower else "lower"
        self._chars = {c for p in pieces for c in p.removeprefix("▁").removeprefix("##")}

    def _fold(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text.replace("’", "'").replace("‘", "'"))
        text = text.upper() if self.case == "upper" else text.lower()
        out = []
        for ch in text:
            if ch in self._chars or ch.isspace():
                out.append(ch)
                continue
            base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
            if base and all(c in self._chars for c in base):
                out.append(base)
            else:
                log.debug("character %r is not in the model's vocabulary; skipped", ch)
        return "".join(out)

    def _spell(self, part: str) -> list[int]:
        """Greedy longest-match segmentation of one whitespace-free part."""
        ids: list[int] = []
        i = 0
        if self.sentencepiece:  # a word starts with a `▁` piece, or the bare `▁` token
            for n in range(min(self._max_len - 1, len(part)), 0, -1):
                if "▁" + part[:n] in self._ids:
                    ids.append(self._ids["▁" + part[:n]])
                    i = n
                    break
            else:
                if "▁" in self._ids:
                    ids.append(self._ids["▁"])
        while i < len(part):
            for n in range(min(self._max_len, len(part) - i), 0, -1):
                piece = part[i : i + n]
                if i > 0 and self.wordpiece and "##" + piece in self._ids:
                    ids.append(self._ids["##" + piece])
                    break
                if piece in self._ids:
                    ids.append(self._ids[piece])
                    break
            else:
                log.debug("no vocabulary entry starts %r; skipped", part[i:])
                n = 1
            i += n
        return ids

    def __call__(self, words: Sequence[str]) -> list[list[int]]:
        """Token ids per word; the parts of a multi-word spoken form are joined by the delimiter."""
        out: list[list[int]] = []
        for word in words:
            ids: list[int] = []
            for part in self._fold(word).split():
                spelled = self._spell(part)
                if spelled and ids and self.word_delimiter is not None:
                    ids.append(self.word_delimiter)
                ids.extend(spelled)
            out.append(ids)
        return out


class TorchCTCModel(EmissionModel):
    """What the torch CTC models (hf, mms) share: device and precision, the frame geometry of a
    conv front end, and emissions in batched windows. A subclass sets `_net`, calls
    `_setup_frames` and implements `_run` ((B, n) samples → (B, frames, C) log-probs)."""

    _normalize = True

    def _setup_device(self, device: str, dtype: str) -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)

    def _setup_frames(self, kernels: Sequence[int], strides: Sequence[int], window_seconds: float,
                      context_seconds: float, batch_size: int | None) -> None:
        self._field, self._hop = conv_geometry(kernels, strides)
        self.frame_seconds = self._hop / self.sample_rate
        self._window = int(window_seconds * self.sample_rate) // self._hop * self._hop
        self._context = int(context_seconds * self.sample_rate) // self._hop * self._hop
        self._batch = batch_size or (8 if self.device.type == "cuda" else 1)

    def num_frames(self, num_samples: int) -> int:
        """Frames `emit` returns for `num_samples` samples."""
        return num_samples // self._hop + 1

    def _run(self, batch: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def emit(self, waveform: np.ndarray, progress: Callable[[float], None] | None = None) -> torch.Tensor:
        """Log-probabilities (T, C), T = len // hop + 1, computed in overlapping batched windows."""
        wav = np.asarray(waveform, dtype=np.float32)
        if wav.ndim != 1:
            raise ModelError("the waveform must be mono (one dimension)")
        return batched_windowed_emissions(
            self._run, wav, hop=self._hop, receptive_field=self._field, window=self._window,
            context=self._context, batch_size=self._batch, normalize=self._normalize,
            progress=(lambda n: progress(n / self.sample_rate)) if progress else None,
        )
