"""Forced alignment: CTC Viterbi over emissions, token spans, and timed words.

`forced_align` has the contract of torchaudio.functional.forced_align, batched. It runs our
C++/CUDA extension when that is built and loads, else the PyTorch reference in `viterbi`; both
give the same answers (the reference is the extension's test oracle).
"""

from __future__ import annotations

import importlib

import torch

from .spans import merge_tokens, token_spans_to_words
from .viterbi import forced_align as forced_align_reference


def _ext_module():
    try:
        return importlib.import_module("._extension", __name__)
    except ImportError:
        return None


def forced_align_backend() -> str:
    """Which implementation `forced_align` uses: "extension-cpu", "extension-cuda" or "reference (…)"."""
    ext = _ext_module()
    if ext is None:
        return "reference (extension not included)"
    return ext.backend()


def forced_align(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor | None = None,
    target_lengths: torch.Tensor | None = None,
    blank: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best CTC path for each item of a batch.

    log_probs (B, T, C) log-probabilities; targets (B, L) token ids, padded; optional per-item
    lengths (B,). Returns paths (B, T) int64 (blank beyond each input length) and scores (B, T),
    the log-probability of the chosen label at each frame. Raises AlignmentError (a ValueError)
    on invalid input, e.g. when an item has fewer frames than its tokens need.
    """
    ext = _ext_module()
    if ext is not None and ext.load_op() is not None:
        return ext.forced_align_ext(log_probs, targets, input_lengths, target_lengths, blank)
    return forced_align_reference(log_probs, targets, input_lengths, target_lengths, blank)


__all__ = [
    "forced_align",
    "forced_align_backend",
    "forced_align_reference",
    "merge_tokens",
    "token_spans_to_words",
]
