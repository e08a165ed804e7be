"""Reference CTC forced aligner: a batched Viterbi over the CTC trellis, in NumPy.

This is the fallback and the test oracle for the compiled extension, so it favours clarity
and exact, documented tie-breaking over speed.  The trellis for targets ``y1..yL`` has the
states ``blank, y1, blank, y2, ..., yL, blank`` (S = 2L + 1); state ``s`` at frame ``t`` is
entered from ``s`` (stay), ``s - 1`` (advance) or ``s - 2`` (skip, only into a token that
differs from the previous token).  Blank states and token states are kept in separate arrays
so that every frame is a handful of whole-array operations, vectorised over batch and states.

The per-frame loop runs in NumPy rather than PyTorch: each frame is a dozen operations on
small arrays, where PyTorch's per-call overhead and its intra-op threads (which oversubscribe
small machines) make it several times slower.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from subalign.errors import AlignmentError

__all__ = ["AlignmentInputs", "check_inputs", "forced_align"]

_FLOAT_TYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INDEX_TYPES = (torch.int32, torch.int64)
_LENGTH_TYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)

# Frames of emissions gathered per block: bounds the (block, B, L) scratch array.
_GATHER_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class AlignmentInputs:
    """Validated inputs of one forced-alignment call, on the CPU, lengths as int64 NumPy arrays.

    ``check_inputs`` builds it, so any backend (this reference or a compiled one) can share
    the exact same validation and error messages.
    """

    log_probs: torch.Tensor  # (B, T, C) on the CPU, original float dtype
    targets: torch.Tensor  # (B, L) int64 on the CPU, padding replaced by a valid class id
    input_lengths: np.ndarray  # (B,) int64
    target_lengths: np.ndarray  # (B,) int64
    blank: int
    device: torch.device  # where the results go back to


def _length_tensor(
    value: torch.Tensor | Sequence[int] | None,
    name: str,
    batch: int,
    default: int,
    limit: int,
    axis: str,
) -> np.ndarray:
    """Turn a lengths argument into a (B,) int64 array, checking shape, dtype and range."""
    if value is None:
        return np.full(batch, default, dtype=np.int64)
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise AlignmentError(
                f"{name} must be a 1-D integer tensor, got {type(value).__name__}"
            ) from exc
    if value.dtype not in _LENGTH_TYPES:
        raise AlignmentError(f"{name} must have an integer dtype, got {value.dtype}")
    if value.dim() == 0 and batch == 1:
        value = value.reshape(1)
    if value.dim() != 1 or value.shape[0] != batch:
        raise AlignmentError(f"{name} must have shape ({batch},), got {tuple(value.shape)}")
    lengths = value.detach().cpu().to(torch.int64).numpy()
    bad = np.flatnonzero((lengths < 0) | (lengths > limit))
    if bad.size:
        b = int(bad[0])
        raise AlignmentError(
            f"{name}[{b}] = {int(lengths[b])} is outside [0, {limit}] (the {axis} of the padded tensor)"
        )
    return lengths


def check_inputs(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor | Sequence[int] | None = None,
    target_lengths: torch.Tensor | Sequence[int] | None = None,
    blank: int = 0,
) -> AlignmentInputs:
    """Validate a forced-alignment call and return its inputs in canonical form.

    Everything is checked before the trellis is allocated: ndim, dtypes, batch sizes, the blank
    id, target ids within each item's length, the lengths, NaN/+inf log-probs inside each item's
    frames, and feasibility (T_b >= L_b + R_b).  Raises AlignmentError with a message naming the
    offending item.
    """
    if not isinstance(log_probs, torch.Tensor):
        raise AlignmentError(f"log_probs must be a torch.Tensor, got {type(log_probs).__name__}")
    if not isinstance(targets, torch.Tensor):
        raise AlignmentError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    if log_probs.dim() != 3:
        raise AlignmentError(
            f"log_probs must be 3-D (batch, frames, classes), got shape {tuple(log_probs.shape)}"
        )
    if targets.dim() != 2:
        raise AlignmentError(
            f"targets must be 2-D (batch, tokens), got shape {tuple(targets.shape)}"
        )
    if log_probs.dtype not in _FLOAT_TYPES:
        raise AlignmentError(
            f"log_probs must be float16, bfloat16, float32 or float64, got {log_probs.dtype}"
        )
    if targets.dtype not in _INDEX_TYPES:
        raise AlignmentError(f"targets must be int32 or int64, got {targets.dtype}")
    batch, frames, classes = log_probs.shape
    if targets.shape[0] != batch:
        raise AlignmentError(
            f"batch size mismatch: log_probs has {batch} items, targets has {targets.shape[0]}"
        )
    if classes == 0:
        raise AlignmentError("log_probs has no classes (C = 0)")
    if frames == 0:
        raise AlignmentError("log_probs has no frames (T = 0): there is nothing to align")
    if isinstance(blank, bool) or not isinstance(blank, int | np.integer):
        raise AlignmentError(f"blank must be an int, got {type(blank).__name__}")
    blank = int(blank)
    if not 0 <= blank < classes:
        raise AlignmentError(f"blank = {blank} is outside [0, {classes}) (the number of classes)")
    max_tokens = targets.shape[1]
    in_len = _length_tensor(input_lengths, "input_lengths", batch, frames, frames, "frame count")
    tg_len = _length_tensor(
        target_lengths, "target_lengths", batch, max_tokens, max_tokens, "token count"
    )

    # Target ids: only entries inside each item's length count; padding may hold anything.
    tg = targets.detach().cpu().to(torch.int64).numpy()
    valid = np.arange(max_tokens)[None, :] < tg_len[:, None]
    bad = valid & ((tg < 0) | (tg >= classes) | (tg == blank))
    if bad.any():
        b, k = (int(i) for i in np.argwhere(bad)[0])
        value = int(tg[b, k])
        why = "is the blank id" if value == blank else f"is outside [0, {classes})"
        raise AlignmentError(
            f"item {b}: target {k} = {value} {why}; target ids must be classes of log_probs "
            f"other than blank ({blank})"
        )
    clean = np.where(valid, tg, 0)  # any in-range id: padded states are never read

    # Feasibility: every token needs a frame, and each repeat needs a blank frame between.
    repeats = (
        (valid[:, 1:] & (clean[:, 1:] == clean[:, :-1])).sum(axis=1)
        if max_tokens > 1
        else np.zeros(batch, dtype=np.int64)
    )
    short = np.flatnonzero(in_len < tg_len + repeats)
    if short.size:
        b = int(short[0])
        raise AlignmentError(
            f"item {b}: {int(tg_len[b])} tokens (+{int(repeats[b])} repeats) need at least "
            f"{int(tg_len[b] + repeats[b])} frames, got {int(in_len[b])}"
        )

    # NaN or +inf inside an item's frames make the maximum meaningless; -inf is allowed.
    cpu_lp = log_probs.detach().cpu()
    bad_frames = (torch.isnan(cpu_lp) | torch.isposinf(cpu_lp)).any(dim=2).numpy()
    bad_frames &= np.arange(frames)[None, :] < in_len[:, None]
    if bad_frames.any():
        b, t = (int(i) for i in np.argwhere(bad_frames)[0])
        raise AlignmentError(
            f"item {b}: log_probs at frame {t} contain NaN or +inf; log-probabilities must be "
            "finite or -inf"
        )
    return AlignmentInputs(
        log_probs=cpu_lp,
        targets=torch.from_numpy(np.ascontiguousarray(clean)),
        input_lengths=in_len,
        target_lengths=tg_len,
        blank=blank,
        device=log_probs.device,
    )


def forced_align(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor | Sequence[int] | None = None,
    target_lengths: torch.Tensor | Sequence[int] | None = None,
    blank: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Find the most likely CTC alignment of each item's targets to its frames (batched Viterbi).

    Args:
        log_probs: (B, T, C) log-probabilities, float16/bfloat16/float32/float64.  Half types
            are accumulated in float32, float64 in float64.  Rows need not be normalised.
        targets: (B, L) int32/int64 target ids, padded; never the blank id.
        input_lengths: (B,) frames per item (default: all T).  Frames beyond are ignored.
        target_lengths: (B,) tokens per item (default: all L).  Tokens beyond are ignored.
        blank: the blank class id.

    Returns:
        ``(paths, scores)``: (B, T) int64 frame labels (``blank`` beyond an item's length) and
        (B, T) float32 log-probs of those labels, taken from the input (0 beyond the length).

    Ties go to the true maximum with the preference stay > advance > skip, and at the last frame
    the last token beats the final blank.  Raises AlignmentError for invalid or infeasible input,
    including items whose every alignment has a -inf score.  Memory: T * B * (2L + 1) bytes of
    back-pointers.
    """
    inputs = check_inputs(log_probs, targets, input_lengths, target_lengths, blank)
    paths, scores = _viterbi(inputs)
    return paths.to(inputs.device), scores.to(inputs.device)


def _viterbi(inputs: AlignmentInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the forward max-sum pass and the backtrack on validated inputs."""
    lp_t = inputs.log_probs
    acc = torch.float64 if lp_t.dtype == torch.float64 else torch.float32
    lp = lp_t.to(acc).numpy()  # a view when already float32/float64 on the CPU
    dtype = lp.dtype
    tg = inputs.targets.numpy()
    in_len, tg_len, blank = inputs.input_lengths, inputs.target_lengths, inputs.blank
    batch, frames, _ = lp.shape
    n_tok = tg.shape[1]
    n_states = 2 * n_tok + 1
    rows = np.arange(batch)
    neg_inf = dtype.type(-np.inf)

    # Emissions beyond an item's length are replaced by 0 so padding can never produce
    # warnings or NaNs in that item's (unused) trellis columns.
    live = np.arange(frames)[:, None] < in_len[None, :]  # (T, B)
    e_blank = np.where(live, lp[:, :, blank].T, 0).astype(dtype)[:, :, None]  # (T, B, 1)

    # Skipping into token k (from token k-1) is allowed unless the two tokens are equal.
    skip_pen = np.full((batch, n_tok), neg_inf, dtype=dtype)
    if n_tok > 1:
        skip_pen[:, 1:] = np.where(tg[:, 1:] != tg[:, :-1], 0, neg_inf)

    try:
        # Back-pointers, time-major: bp[t, b, s] = how many states back the best entry came from.
        bp = np.empty((frames, batch, n_states), dtype=np.uint8)
    except MemoryError as exc:
        need = frames * batch * n_states / 2**30
        raise AlignmentError(
            f"not enough memory for the trellis: {need:.1f} GiB of back-pointers "
            f"(T={frames}, B={batch}, {n_states} states); split the input into shorter pieces"
        ) from exc
    bp_blank, bp_tok = bp[:, :, 0::2], bp[:, :, 1::2]

    # Scores of the previous frame.  tok[:, 0] is a permanent -inf sentinel so that
    # tok[:, k + 1] is token k, tok[:, :L+1] feeds "advance into blank k" and tok[:, :L]
    # feeds "skip into token k".  The virtual frame -1 sits in blank 0 with score 0.
    blank_prev = np.full((batch, n_tok + 1), neg_inf, dtype=dtype)
    blank_prev[:, 0] = 0
    tok_prev = np.full((batch, n_tok + 1), neg_inf, dtype=dtype)
    blank_next, tok_next = np.empty_like(blank_prev), np.empty_like(tok_prev)
    tok_next[:, 0] = neg_inf
    best = np.empty((batch, n_tok), dtype=dtype)
    skip = np.empty((batch, n_tok), dtype=dtype)
    wins = np.empty((batch, n_tok), dtype=bool)

    final_blank = np.full(batch, neg_inf, dtype=dtype)
    final_tok = np.full(batch, neg_inf, dtype=dtype)
    # Items whose last frame is t, so their end scores can be read as the loop passes t.
    ends_at: dict[int, list[int]] = {}
    for b in range(batch):
        if in_len[b] > 0:
            ends_at.setdefault(int(in_len[b]) - 1, []).append(b)
    ends = {t: np.asarray(items, dtype=np.int64) for t, items in ends_at.items()}

    block = max(1, _GATHER_ELEMENTS // max(1, batch * n_tok))
    e_tok = np.zeros((min(block, frames), batch, n_tok), dtype=dtype)  # emissions of a block
    for t in range(frames):
        k = t % block
        if k == 0:
            stop = min(frames, t + block)
            for b in range(batch):
                live_to = max(0, min(stop, int(in_len[b])) - t)
                e_tok[:live_to, b, :] = np.take(lp[b, t : t + live_to], tg[b], axis=1)
                e_tok[live_to:, b, :] = 0

        # Blank k: stay, or advance from token k-1 (strictly better only).
        np.greater(tok_prev, blank_prev, out=bp_blank[t])
        np.maximum(blank_prev, tok_prev, out=blank_next)
        blank_next += e_blank[t]

        # Token k: stay, advance from blank k, skip from token k-1; earlier wins ties.
        stay, advance = tok_prev[:, 1:], blank_prev[:, :n_tok]
        np.greater(advance, stay, out=bp_tok[t])
        np.maximum(stay, advance, out=best)
        np.add(tok_prev[:, :n_tok], skip_pen, out=skip)
        np.greater(skip, best, out=wins)
        np.copyto(bp_tok[t], 2, where=wins)
        np.maximum(best, skip, out=best)
        np.add(best, e_tok[k], out=tok_next[:, 1:])

        blank_prev, blank_next = blank_next, blank_prev
        tok_prev, tok_next = tok_next, tok_prev
        done = ends.get(t)
        if done is not None:
            final_blank[done] = blank_prev[done, tg_len[done]]
            final_tok[done] = tok_prev[done, tg_len[done]]  # token L-1, or the sentinel if L = 0

    # The last token wins a tie against the final blank.
    end_on_tok = final_tok >= final_blank
    best_final = np.maximum(final_tok, final_blank)
    dead = np.flatnonzero((in_len > 0) & ~(best_final > neg_inf))
    if dead.size:
        b = int(dead[0])
        raise AlignmentError(
            f"item {b}: no alignment has a finite score (every path crosses a -inf log-prob)"
        )

    # Backtrack all items at once.  Before an item's last frame it waits in state 0, whose
    # back-pointer is always 0 (nothing can beat "stay" there), so no masking is needed.
    state = np.zeros(batch, dtype=np.int64)
    start = np.where(end_on_tok, 2 * tg_len - 1, 2 * tg_len)
    states = np.empty((frames, batch), dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        done = ends.get(t)
        if done is not None:
            state[done] = start[done]
        states[t] = state
        state -= bp[t, rows, state]

    states = states.T  # (B, T)
    is_tok = (states & 1).astype(bool)
    token_idx = np.minimum(states >> 1, max(n_tok - 1, 0))
    labels = tg[rows[:, None], token_idx] if n_tok else np.zeros_like(states)
    paths = np.where(is_tok, labels, blank)
    paths[~live.T] = blank
    paths_t = torch.from_numpy(np.ascontiguousarray(paths))
    scores = torch.gather(lp_t, 2, paths_t.unsqueeze(2)).squeeze(2).to(torch.float32)
    scores[torch.from_numpy(np.ascontiguousarray(~live.T))] = 0
    return paths_t, scores
