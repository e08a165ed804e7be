"""The public forced aligner (re-exported by `subalign.align` and `subalign`).

`forced_align` has the contract of torchaudio.functional.forced_align, batched. It runs our
C++/CUDA extension when that is built and loads, else the PyTorch reference in `viterbi`; both
give the same answers (the reference is the extension's test oracle).
"""

from __future__ import annotations

import importlib

import torch

from .checks import AlignmentInputs, entry_point
from .spans import merge_tokens, token_spans_to_words
from .viterbi import forced_align as forced_align_reference


def _ext_module():
    try:
        return importlib.import_module("._extension", __package__)
    except ImportError:
        return None


def forced_align_backend() -> str:
    """Which implementation `forced_align` uses: "extension-cpu", "extension-cuda" or "reference (…)"."""
    ext = _ext_module()
    if ext is None:
        return "reference (extension not included)"
    return ext.backend()


@entry_point
def forced_align(inputs: AlignmentInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Best CTC path for each item of a batch (torchaudio.functional.forced_align, batched).

    ``forced_align(log_probs, targets, input_lengths=None, target_lengths=None, blank=0, *,
    star=None, mode="auto", memory_budget=None)``; the arguments are checked by
    ``checks.check_inputs``.

    log_probs (B, T, C) log-probabilities (float64, float32, float16 or bfloat16); targets
    (B, L) int32 or int64 token ids, padded; optional per-item lengths (B,).  Returns paths
    (B, T) in the targets' dtype (blank beyond each input length) and scores (B, T) in
    log_probs' dtype: the log-probability of the chosen label at each frame (0 beyond the
    length), on log_probs' device.

    Keyword-only extras: ``star`` is a wildcard class id in [0, C] other than blank (or None): a
    target equal to it scores log-prob 0 on every frame, whatever log_probs holds, and C itself
    needs no column (the MMS <star>); its frames get score 0.0.  ``mode`` ("auto", "full" or
    "checkpoint") and ``memory_budget`` (bytes; default $SUBALIGN_FA_MEMORY_BUDGET or 1 GiB)
    only choose how much memory the compiled op spends on back-pointers (see
    ``_extension.forced_align_ext``); the reference checks them and ignores them.  Every
    backend gives the same paths and scores.

    Raises AlignmentError (a ValueError and a RuntimeError, so torchaudio code that catches
    either keeps working) on invalid input, with torchaudio's key phrase in the message where
    torchaudio rejects the same mistake, e.g. "targets length is too long for CTC" when an item
    has fewer frames than its tokens need.
    """
    ext = _ext_module()
    if ext is not None and ext.load_op() is not None:
        return ext.forced_align_ext.backend(inputs)
    return forced_align_reference.backend(inputs)


__all__ = [
    "forced_align",
    "forced_align_backend",
    "forced_align_reference",
    "merge_tokens",
    "token_spans_to_words",
]
