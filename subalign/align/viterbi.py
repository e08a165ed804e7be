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

import numpy as np
import torch

from subalign.errors import AlignmentError

from .checks import AlignmentInputs, check_inputs, entry_point

__all__ = ["AlignmentInputs", "check_inputs", "forced_align"]

# Frames of emissions gathered per block: bounds the (block, B, L) scratch array.
_GATHER_ELEMENTS = 1 << 20


@entry_point
def forced_align(inputs: AlignmentInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Find the most likely CTC alignment of each item's targets to its frames (batched Viterbi).

    Takes the arguments of ``subalign.forced_align`` (see ``check_inputs``):

    Args:
        log_probs: (B, T, C) log-probabilities, float16/bfloat16/float32/float64.  Half types
            are accumulated in float32, float64 in float64.  Rows need not be normalised.
        targets: (B, L) int32/int64 target ids, padded; never the blank id.
        input_lengths: (B,) frames per item (default: all T).  Frames beyond are ignored.
        target_lengths: (B,) tokens per item (default: all L).  Tokens beyond are ignored.
        blank: the blank class id.
        star: a wildcard class id in [0, C] (not blank), or None: a target equal to it scores
            log-prob 0 on every frame whatever log_probs holds; C itself needs no column.
        mode, memory_budget: checked as the extension checks them, then ignored: they only
            choose how the compiled op stores its back-pointers.

    Returns:
        ``(paths, scores)``: (B, T) frame labels in the targets' dtype (``blank`` beyond an
        item's length) and (B, T) log-probs of those labels in log_probs' dtype, taken from the
        input (0 beyond the length and on star frames), on log_probs' device.

    Ties go to the true maximum with the preference stay > advance > skip, and at the last frame
    the last token beats the final blank.  Raises AlignmentError (a ValueError and a
    RuntimeError) for invalid or infeasible input, including items whose every alignment has a
    -inf score.  Memory: T * B * (2L + 1) bytes of back-pointers.
    """
    return _viterbi(inputs)


def _viterbi(inputs: AlignmentInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the forward max-sum pass and the backtrack on validated inputs: int64 paths and
    scores in log_probs' dtype, on the CPU."""
    lp_t = inputs.log_probs.cpu()
    acc = torch.float64 if lp_t.dtype == torch.float64 else torch.float32
    lp = lp_t.to(acc).numpy()  # a view when already float32/float64 on the CPU
    dtype = lp.dtype
    tg = inputs.targets.numpy()
    in_len, tg_len, blank = inputs.input_lengths, inputs.target_lengths, inputs.blank
    # Star tokens read no column (the star may be C itself) and score 0 on every frame.
    is_star = tg == inputs.star if inputs.star >= 0 else np.zeros(tg.shape, dtype=bool)
    columns = np.where(is_star, blank, tg)  # any valid column: its value is replaced by 0
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
                e_tok[:live_to, b, :] = np.take(lp[b, t : t + live_to], columns[b], axis=1)
                e_tok[:live_to, b, is_star[b]] = 0
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
    on_star = is_tok & is_star[rows[:, None], token_idx] if n_tok else np.zeros_like(is_tok)
    read = torch.from_numpy(np.where(is_tok, columns[rows[:, None], token_idx], blank) if n_tok else paths)
    scores = torch.gather(lp_t, 2, read.unsqueeze(2)).squeeze(2)
    scores[torch.from_numpy(np.ascontiguousarray(~live.T | on_star))] = 0
    return torch.from_numpy(np.ascontiguousarray(paths)), scores
