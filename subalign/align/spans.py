"""From a frame path to token spans, and from token spans back to words.

A CTC path labels every frame; the tokens are its runs of identical non-blank labels.  In a
valid path each target token is exactly one run (equal neighbouring targets are kept apart by a
blank), so the spans line up one-to-one with the targets and can be cut back into words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from subalign.errors import AlignmentError
from subalign.types import TokenSpan

if TYPE_CHECKING:  # merge_tokens imports it: cutting spans back into words needs no torch
    import torch

__all__ = ["merge_tokens", "token_spans_to_words"]


def merge_tokens(path: torch.Tensor, scores: torch.Tensor, blank: int = 0) -> list[TokenSpan]:
    """Turn one item's frame labels into TokenSpans: one per run of a non-blank label.

    torchaudio.functional.merge_tokens' contract: ``path`` is (T,) labels and ``scores`` (T,)
    per-frame values, e.g. ``paths[0]`` and ``scores[0].exp()`` from forced_align for one batch
    item.  A span covers frames [start, end) and its score is the plain mean of ``scores`` over
    those frames, exactly as given: pass probabilities to get probabilities (nothing is
    exponentiated or clipped).  The mean is summed in float64 and rounded to the scores' dtype.
    """
    import torch

    if not isinstance(path, torch.Tensor) or not isinstance(scores, torch.Tensor):
        raise AlignmentError("merge_tokens takes a path tensor and a scores tensor")
    if path.dim() != 1 or scores.dim() != 1:
        raise AlignmentError(
            f"merge_tokens takes one item: path and scores must be 1-D, got shapes "
            f"{tuple(path.shape)} and {tuple(scores.shape)}"
        )
    if path.shape[0] != scores.shape[0]:
        raise AlignmentError(f"path has {path.shape[0]} frames but scores has {scores.shape[0]}")
    if path.is_floating_point() or path.is_complex():
        raise AlignmentError(f"path must hold integer labels, got {path.dtype}")
    labels = path.detach().cpu().to(torch.int64).numpy()
    if labels.size == 0:
        return []
    # A run starts wherever the label changes; keep the runs that are not blank.
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [labels.size]))
    keep = labels[starts] != blank
    starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        return []
    values = scores.detach().cpu()
    # Per-span sums (values[start:end].sum()) in one vectorised reduction.
    order = np.stack((starts, ends), axis=1).ravel()
    sums = np.add.reduceat(np.append(values.to(torch.float64).numpy(), 0.0), order)[0::2]
    means = torch.from_numpy(sums / (ends - starts))
    if values.is_floating_point():
        means = means.to(values.dtype).to(torch.float64)  # the precision torch's mean() keeps
    tokens = labels[starts]
    return [
        TokenSpan(token=int(k), start=int(s), end=int(e), score=float(m))
        for k, s, e, m in zip(tokens, starts, ends, means.tolist(), strict=True)
    ]


def token_spans_to_words(
    spans: Sequence[TokenSpan], tokens_per_word: Sequence[int]
) -> list[list[TokenSpan]]:
    """Cut a flat list of token spans into words, given how many tokens each word had.

    The counts must be non-negative and add up to the number of spans (which holds for any
    valid path, one span per target token); a word with 0 tokens gets an empty list.
    """
    counts = [int(n) for n in tokens_per_word]
    negative = [i for i, n in enumerate(counts) if n < 0]
    if negative:
        i = negative[0]
        raise AlignmentError(f"word {i} has a negative token count ({counts[i]})")
    total = sum(counts)
    if total != len(spans):
        raise AlignmentError(
            f"the words have {total} tokens in all but the alignment has {len(spans)} token spans; "
            "the token counts must come from the same tokenisation as the targets"
        )
    words: list[list[TokenSpan]] = []
    pos = 0
    for n in counts:
        words.append(list(spans[pos : pos + n]))
        pos += n
    return words
