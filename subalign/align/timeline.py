"""Map a subtitle file's cue pattern onto the speech in the audio, without reading the words.

Subtitles are made to the speech: each cue shows while someone speaks, and the gaps between cues
are the pauses. So the cue timeline, as a pattern of on and off, matches the audio's speech
activity once the damage done to the times is undone: a constant offset of any size, a frame-rate
stretch, a stretch that was cut from (or added to) the video, and cues that are each a little off.
This works whatever language the cues are in.

Three steps, each a search over the whole file:

1. **rate and offset** (`fit_global`, `per_rate`): for each usual rate ratio (film and video
   frame rates 23.976, 24, 25, 29.97 against each other, and 1), the cue pattern scaled by the
   ratio is cross-correlated with the speech score (speech probability minus one half: speech
   under a cue counts for it, silence or music under a cue against it; plus `ONSET` times the
   rise of speech at each cue's start, as in step 3) by FFT, over every offset. The rate is the
   one at which the two halves of the cues, each at its own best offset, fit best together
   (scores per second of subtitle time): a cut or an added stretch in the middle leaves each
   half whole, while the file as one may fit best at a wrong rate that pulls its two parts
   together (measured: 4 minutes of speech under music, reading-time cues, 40 s cut from the
   middle: 0.8 for the file as one). The offset is the whole pattern's best at that rate.
2. **splits** (`place_cues`, coarse pass): a dynamic programme over the cues, in order, gives
   each cue an offset on a 0.1 s grid near the global one, or *skips* it (a cue whose speech is
   not in the audio: a cut scene, a cue with nothing spoken). Consecutive cues keep the same
   offset; changing it costs `SPLIT_COST` (a cut or an added stretch), and a cue placed after a
   change may not start before the last placed cue ends. A cue scores the speech under it and,
   when positive, the rise of speech at its start (cues that cover 90 % of the timeline cover
   speech almost as well off their place; their starts tell; a start off its onset costs
   nothing here, as the cues of a stretch are each a little off before step 3). alass and
   ffsubsync taught the idea of a split penalty over an interval pattern; this formulation (with
   skips and the order constraint) is ours.
3. **each cue** (fine pass): a second programme moves each placed cue by up to `LOCAL` seconds
   on the 20 ms grid, so cues that were each a little off land on their speech, never before the
   cue before them ends. Besides the speech under it, a cue's start on a rise of speech counts
   (`ONSET`): subtitles come up with the words and stay up for reading, so a cue is longer than
   its speech and would otherwise fit as well a little early.

`confidence` says how much better the pattern fits than the same cues with their order of
durations and gaps shuffled would (a wrong video fits no better than a shuffled pattern): in
standard deviations of `SHUFFLES` shuffled patterns' best scores (on the COARSE grid), for the
whole file or either half of the cues, whichever is more, so that a cut does not hide a pattern
that fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["GRID", "PatternFit", "Placement", "RATES", "fit_global", "fit_pattern", "per_rate", "place_cues"]

#: Grid step (s) of the speech score and of the fine pass.
GRID = 0.02
#: Grid step (s) of the coarse pass (offsets of segments between splits).
COARSE = 0.1
#: Speech probability above which a frame counts as speech for the score.
THRESHOLD = 0.5
#: Cost of changing the offset between two consecutive cues (score units: seconds of speech
#: probability above THRESHOLD), so that only a real cut or added stretch splits the file.
SPLIT_COST = 3.0
#: Cost per second of cue of leaving a cue out (a cue is skipped where its mean speech
#: probability would be under THRESHOLD - SKIP_COST).
SKIP_COST = 0.25
#: How far (s) from its segment's offset each cue may move in the fine pass.
LOCAL = 1.5
#: Cost per second of difference between the local moves of consecutive cues.
SMOOTH = 0.1
#: Weight of a cue's start on a rise of speech in the fine pass: the mean speech score over
#: ONSET_WINDOW seconds after the start minus that before it, times ONSET_WINDOW. Subtitles
#: come up with the words and stay up for reading: a cue longer than its speech otherwise fits
#: as well early, its head in the pause before (or on the previous speech's tail). 90 such cues
#: of a synthetic dialogue (tests/test_timeline.py): starts a median 0.74 s off without this
#: term, 0.01 s with it.
ONSET = 1.0
ONSET_WINDOW = 0.4
#: Shuffled patterns the real one is measured against (`fit_pattern`'s confidence).
SHUFFLES = 32
#: Fewest cues in each half of the file for the halves to be scored on their own.
MIN_PART = 10
#: How far (s) around the global offset the coarse pass looks for the segments' offsets.
SPAN = 150.0
#: Cues may overlap by this much (s) where the order constraint applies.
TOLERANCE = 0.06
#: Most cues a split may give up before it (the cues of a cut scene).
DROP = 24

_FPS = (24000 / 1001, 24.0, 25.0, 30000 / 1001)
#: Rate ratios tried: audio time = ratio x subtitle time + offset.
RATES = tuple(sorted({round(a / b, 9) for a in _FPS for b in _FPS}))


@dataclass(frozen=True)
class Placement:
    """Where a cue goes in the audio: its start and end (s), or None for both when it was
    skipped (its speech was not found), the mean speech probability under it, and the offset
    (s) of its stretch of the file (audio = rate x subtitle time + offset), which places a
    skipped cue too."""

    start: float | None
    end: float | None
    coverage: float
    offset: float = 0.0


@dataclass(frozen=True)
class PatternFit:
    """The cue pattern mapped onto the speech: the rate and global offset (audio = rate x
    subtitle time + offset), each cue's placement, the cues where the offset changes (splits),
    and how much better than chance the pattern fits (`confidence`, a z-score)."""

    rate: float
    offset: float
    placements: tuple[Placement, ...]
    splits: tuple[int, ...]
    confidence: float

    @property
    def placed(self) -> int:
        return sum(p.start is not None for p in self.placements)


def _score(probs: np.ndarray) -> np.ndarray:
    return probs.astype(np.float64) - THRESHOLD


def _prefix(score: np.ndarray, pad: int) -> tuple[np.ndarray, int]:
    """Prefix sums of the score padded with `pad` frames of non-speech on both sides (a cue
    mapped outside the audio covers no speech); returns them and the index of frame 0."""
    padded = np.concatenate([np.full(pad, -THRESHOLD), score, np.full(pad, -THRESHOLD)])
    return np.concatenate([[0.0], np.cumsum(padded)]), pad


def fit_global(spans: Sequence[tuple[float, float]], probs: np.ndarray,
               rates: Sequence[float] = RATES, ffts: dict[tuple[int, int], np.ndarray] | None = None,
               grid: float = GRID) -> tuple[float, float, float]:
    """The best (rate, offset (s), score) for the cue spans (subtitle seconds) against the speech
    probabilities on the grid (see `per_rate`)."""
    return max(per_rate(spans, probs, rates, ffts, grid), key=lambda r: r[2])


def per_rate(spans: Sequence[tuple[float, float]], probs: np.ndarray,
             rates: Sequence[float] = RATES, ffts: dict[tuple[int, int], np.ndarray] | None = None,
             grid: float = GRID) -> list[tuple[float, float, float]]:
    """For each rate, the best (rate, offset (s), score) of the cue spans against the speech
    probabilities on frames of `grid` seconds. A placement's score is the fine pass's: the speech
    score under the cues plus `ONSET` times the rise of speech at each cue's start, divided by the
    rate (a pattern stretched by 1.25 covers 25 % more frames, and would otherwise sum more speech
    for its length alone). `ffts` keeps the padded score's transforms (by size and padding)
    between calls on the same `probs`."""
    score = _score(probs)
    k_on = int(round(ONSET_WINDOW / grid))
    ffts = {} if ffts is None else ffts
    out = []
    for rate in rates:
        last = max(e for _, e in spans) * rate
        n_cue = int(np.ceil(last / grid)) + 1 + k_on
        ind = np.zeros(n_cue)
        for s, e in spans:
            a, b = int(round(s * rate / grid)), int(round(e * rate / grid))
            ind[max(0, a) : max(0, b)] += 1.0
            ind[max(0, a) : max(0, a + k_on)] += ONSET
            ind[max(0, a - k_on) : max(0, a)] -= ONSET
        # offsets o (frames) from -n_cue to len(score): correlate ind with the padded score
        size = 1 << int(np.ceil(np.log2(len(score) + 3 * n_cue)))
        if (size, n_cue) not in ffts:
            padded = np.concatenate([np.full(n_cue, -THRESHOLD), score,
                                     np.full(size - n_cue - len(score), -THRESHOLD)])
            ffts[size, n_cue] = np.fft.rfft(padded)
        corr = np.fft.irfft(ffts[size, n_cue] * np.conj(np.fft.rfft(ind, size)), size)
        corr = corr[: len(score) + n_cue + 1]  # corr[k]: ind placed at padded index k
        k = int(np.argmax(corr))
        out.append((rate, (k - n_cue) * grid, float(corr[k]) / rate))  # per second of subtitle time
    return out


def place_cues(spans: Sequence[tuple[float, float]], probs: np.ndarray, rate: float,
               offset: float) -> tuple[list[Placement], list[int]]:
    """Each cue's placement and the splits (see the module docstring, steps 2 and 3)."""
    n = len(spans)
    score = _score(probs)
    step = int(round(COARSE / GRID))
    n_off = int(round(SPAN / COARSE))
    offs = int(round(offset / GRID)) + step * np.arange(-n_off, n_off + 1)  # coarse offsets, frames
    pad = int(max(abs(offs).max() + max(e for _, e in spans) * rate / GRID, 1)) + 2
    W, zero = _prefix(score, pad)
    a0 = np.array([int(round(s * rate / GRID)) for s, _ in spans])
    b0 = np.maximum(a0 + 1, [int(round(e * rate / GRID)) for _, e in spans])
    length = (b0 - a0) * GRID

    def total(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The score summed over padded frames [a, b), in seconds."""
        return (W[np.clip(b, 0, len(W) - 1)] - W[np.clip(a, 0, len(W) - 1)]) * GRID

    def cover(i: int, o: np.ndarray) -> np.ndarray:
        return total(zero + a0[i] + o, zero + b0[i] + o)

    k_on = int(round(ONSET_WINDOW / GRID))

    def onset(i: int, o: np.ndarray) -> np.ndarray:
        """How much more speech there is right after the cue's start than right before it."""
        a = zero + a0[i] + o
        return ONSET * (total(a, a + k_on) - total(a - k_on, a))

    # Coarse pass. D[o]: best total with the cues so far, the last one at offset offs[o]
    # (placed or skipped). Keeping an offset costs nothing; jumping to another one costs
    # SPLIT_COST and the cue jumped to may not start before the last placed cue ends. A jump may
    # also give up the last m <= DROP cues of the path it leaves (they become skipped), so that
    # the cues of a cut scene, which fit the speech after the cut at the old offset, do not
    # block the jump back; those cues and the one kept before them must have stayed at the
    # offset left (`run`: how many cues the path has kept its offset), which makes the cost of
    # giving them up and the end of the kept cue exact.
    S = len(offs)
    D = np.zeros(S)
    run = np.full(S, n + 1, dtype=np.int64)
    came = np.zeros((n, S), dtype=np.int32)  # predecessor state
    drop = np.zeros((n, S), dtype=np.int16)  # cues given up by the jump into this state
    placed = np.zeros((n, S), dtype=bool)
    # What giving up each of the last DROP cues would lose, per offset (row 0: the cue before).
    gains = np.zeros((DROP, S))
    tol = int(round(TOLERANCE / GRID))
    base = offs[0]
    cols = np.arange(S)
    for i in range(n):
        c = cover(i, offs) + np.maximum(onset(i, offs), 0.0)
        M = min(DROP, i) + 1
        ms = np.arange(M)
        lost = np.vstack([np.zeros((1, S)), np.cumsum(gains[: M - 1], axis=0)])
        value = np.where(run[None, :] >= ms[:, None] + 1, D[None, :] - lost, -np.inf)
        pm = np.maximum.accumulate(value, axis=1)
        pa = np.maximum.accumulate(np.where(value >= pm, cols[None, :], 0), axis=1)
        j = i - 1 - ms  # the last cue kept on the path left, for each m
        # offs[k] + b0[j] <= a0[i] + offs + tol, k on the arithmetic grid
        ends = np.where(j >= 0, b0[np.maximum(j, 0)], -(10**12))
        k = np.floor((a0[i] + offs[None, :] + tol - ends[:, None] - base) / step).astype(np.int64)
        kk = np.clip(k, 0, S - 1)
        cand = np.where(k >= 0, np.take_along_axis(pm, kk, axis=1), -np.inf)
        best_m = np.argmax(cand, axis=0)
        jump_val = cand[best_m, cols] - SPLIT_COST
        jump_arg = pa[best_m, kk[best_m, cols]]
        use_jump = jump_val > D
        place_val = np.where(use_jump, jump_val, D) + c
        skip_val = D - SKIP_COST * length[i]
        take = place_val > skip_val
        placed[i] = take
        came[i] = np.where(take & use_jump, jump_arg, cols)
        drop[i] = np.where(take & use_jump, best_m, 0)
        D = np.where(take, place_val, skip_val)
        run = np.where(take & use_jump, 1, run[came[i]] + 1)
        gains = np.roll(gains, 1, axis=0)
        gains[0] = np.maximum(c + SKIP_COST * length[i], 0.0)
    # Backtrack the coarse path.
    state = int(np.argmax(D))
    cue_off = np.zeros(n, dtype=np.int64)
    cue_placed = np.zeros(n, dtype=bool)
    given_up = 0
    for i in range(n - 1, -1, -1):
        cue_off[i] = offs[state]
        cue_placed[i] = placed[i, state] and given_up == 0
        if given_up:
            given_up -= 1
        nxt = int(came[i, state])
        if placed[i, state] and drop[i, state]:
            given_up = int(drop[i, state])
        state = nxt
    splits = [i for i in range(1, n) if cue_placed[i] and cue_off[i] != cue_off[i - 1]]

    # Fine pass over the placed cues: a local move d (frames) in [-R, R] for each.
    R = int(round(LOCAL / GRID))
    moves = np.arange(-R, R + 1)
    idx = [i for i in range(n) if cue_placed[i]]
    out = [Placement(None, None, 0.0, float(cue_off[i] * GRID)) for i in range(n)]
    if not idx:
        return out, splits
    F = None
    back = []
    prev = None
    for i in idx:
        c = cover(i, cue_off[i] + moves) + onset(i, cue_off[i] + moves)
        if F is None:
            F = c
            back.append(np.zeros(len(moves), dtype=np.int64))
        else:
            gap = (a0[i] + cue_off[i]) - (b0[prev] + cue_off[prev]) + TOLERANCE / GRID
            # allowed: d' <= d + gap  (this cue starts after the previous one ends)
            trans = F[None, :] - SMOOTH * GRID * np.abs(moves[:, None] - moves[None, :])
            trans = np.where(moves[None, :] <= moves[:, None] + gap, trans, -np.inf)
            arg = np.argmax(trans, axis=1)
            best = trans[np.arange(len(moves)), arg]
            # if no earlier move fits (the previous cue would have to end later), keep the best
            best = np.where(np.isfinite(best), best, F.max() - 10.0)
            F = best + c
            back.append(arg)
        prev = i
    k = int(np.argmax(F))
    chosen = {}
    for pos in range(len(idx) - 1, -1, -1):
        chosen[idx[pos]] = moves[k]
        k = int(back[pos][k])
    for i in idx:
        o = cue_off[i] + chosen[i]
        a, b = a0[i] + o, b0[i] + o
        cov = (W[zero + b] - W[zero + a]) / max(1, b - a) + THRESHOLD if 0 <= zero + a < len(W) and zero + b < len(W) else 0.0
        out[i] = Placement(a * GRID, b * GRID, float(cov), float(o * GRID))
    return out, splits


def fit_pattern(spans: Sequence[tuple[float, float]], probs: np.ndarray, *, seed: int = 0,
                shuffles: int = SHUFFLES) -> PatternFit:
    """The whole fit (steps 1-3) of cue spans (subtitle seconds) to speech probabilities on the
    GRID, with its confidence against shuffled patterns. The rate and the confidence are
    judged on the COARSE grid (a rate's drift and a pattern's fit show there, at a 25th of the
    cost); the offset and the placements on the GRID."""
    coarse = _coarsened(probs)
    ffts: dict[tuple[int, int], np.ndarray] = {}
    half = len(spans) // 2
    halves = half >= MIN_PART  # a cut or an added stretch leaves a half whole
    if halves:  # the rate both halves fit best, each at its own offset
        first = per_rate(spans[:half], coarse, RATES, ffts, COARSE)
        second = per_rate(spans[half:], coarse, RATES, ffts, COARSE)
        rate = max(zip(first, second, strict=True), key=lambda ab: ab[0][2] + ab[1][2])[0][0]
    else:
        rate = fit_global(spans, coarse, RATES, ffts, COARSE)[0]
    _, offset, _ = fit_global(spans, probs, (rate,))
    placements, splits = place_cues(spans, probs, rate, offset)
    confidence = _z(spans, coarse, rate, seed, shuffles, ffts)
    if halves:
        confidence = max(confidence, _z(spans[:half], coarse, rate, seed + 1, shuffles, ffts),
                         _z(spans[half:], coarse, rate, seed + 2, shuffles, ffts))
    return PatternFit(rate, offset, tuple(placements), tuple(splits), confidence)


def _coarsened(probs: np.ndarray) -> np.ndarray:
    """The speech probabilities on the COARSE grid (means of GRID frames)."""
    k = int(round(COARSE / GRID))
    n = len(probs) // k * k
    out = probs[:n].reshape(-1, k).mean(axis=1)
    return np.concatenate([out, [probs[n:].mean()]]) if n < len(probs) else out


def _z(spans: Sequence[tuple[float, float]], coarse: np.ndarray, rate: float, seed: int,
       shuffles: int, ffts: dict[tuple[int, int], np.ndarray]) -> float:
    """How many standard deviations the best global score of the cues at `rate` lies above
    those of the same cues with their durations and gaps shuffled (on the COARSE grid)."""
    real = fit_global(spans, coarse, (rate,), ffts, COARSE)[2]
    rng = np.random.default_rng(seed)
    durs = np.array([e - s for s, e in spans])
    gaps = np.diff([s for s, _ in spans], prepend=spans[0][0]) - np.concatenate([[0.0], durs[:-1]])
    null = []
    for _ in range(shuffles):
        d = rng.permutation(durs)
        g = rng.permutation(np.maximum(gaps, 0.0))
        starts = spans[0][0] + np.cumsum(np.concatenate([[0.0], d[:-1]]) + g)
        null.append(fit_global(list(zip(starts, starts + d, strict=True)), coarse, (rate,), ffts, COARSE)[2])
    null_arr = np.array(null)
    return float((real - null_arr.mean()) / (null_arr.std() + 1e-9))
