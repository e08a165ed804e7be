"""Word-boundary refinement: move each word boundary from the CTC spikes to where the sound changes.

A peaky CTC model fires each phoneme in one frame, usually late (hama's word starts come ~80 ms
after the human label), and only knows time in 20 ms steps. The Viterbi path still says *which*
gap between two words a boundary belongs to; this module decides *where* in that gap it is, on a
5 ms grid:

* Every junction between two spoken words (and the start of the first and the end of the last)
  gets a window of candidate times around the spikes of the two phonemes that meet there.
* Each candidate is described by what changes there — energy and spectrum (log-mel) on both
  sides at 10/20/40 ms, long-range silence, the model's posteriors of the phonemes, `<blank>` and
  `<wb>` — and where it sits relative to the spikes (per phoneme class: stops, fricatives, …).
* A junction picks a pair (end of the left word, start of the right word); the pair differs when
  there is a pause between them. Two small scorers (one for word ends, one for word starts; a
  32-unit tanh layer each) plus a linear pause term score the pairs, and a dynamic programme
  over the junctions picks the best sequence that keeps every word at least 10 ms long and in
  order. The pause term sees the pause's length and loudness, the quiet time between the two
  words' spikes that an option leaves inside a word, the model's `<blank>`/`<wb>` posteriors in
  it, and the classes of the phonemes on both sides (a quiet gap before a stop is usually its
  closure, not a pause). The scores are read as probabilities within a junction, and the
  programme weighs each pair by the probability within ~25 ms of it (`spread`; 40 ms for the
  noisy scorers below), the pick most often near the truth when the scorers are unsure.

* Where music or noise masks the edges of speech, the energy features see no onset and the scorers
  would push a start (or an end) to the edge of its window; a speech detector that holds under
  them (Silero, `models.vad`) bounds the candidates: a start no earlier than GUARD before the
  detected onset of its speech, an end no later than GUARD_END after its end (only where the
  background there is loud; in a quiet pause the energy features are right).

* Inside a music bed or noise the energy and spectral changes the scorers read are masked too, so
  a model may ship a second pair of scorers, the *noisy* ones, fitted on speech under film-like
  conditions (music, noise, babble, reverberation, ...). A junction whose surroundings (5 s either
  side) never get NOISY_DB under loud speech is scored by them; they also read the energy above
  the background floor and the speech detector's probability around each candidate. Clean
  recordings (pauses far under the speech) keep the clean scorers, so their times do not change.

The scorers' weights are data that a model ships (`EmissionModel.boundary_weights`; hama's are
`models/hama_boundaries.py`), fitted by `bench/fit_boundaries.py` as a
conditional logit over the candidates, on human word labels the weights file names. They belong
to one acoustic model (its emissions' timing), so models without weights keep the plain Viterbi
times.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..models.base import EmissionModel
from ..types import TokenSpan
from .words import Refiner

__all__ = ["AcousticGrid", "Junction", "boundary_refiner", "decode", "junctions", "load_weights", "noisy_junctions",
           "phone_class", "refinable", "refine_words", "scorers", "speech_on_grid", "spread",
           "spread_scores"]

SAMPLE_RATE = 16_000
GRID_HOP = 80  # samples: a 5 ms grid
GRID_SECONDS = GRID_HOP / SAMPLE_RATE
FRAME_WINDOW = 400  # 25 ms analysis window
N_FFT = 512
N_MELS = 24
MIN_WORD = 2  # grid steps (10 ms): the shortest word the decoder allows
REACH = 25  # model frames (500 ms): how far past its own spike a word's start or end may move
#: The speech detector's probability above which a grid point is speech.
SPEECH = 0.5
#: How far (grid steps) a word's start may lie before the onset of the detected speech its first
#: spike is in, and its end after that speech's end. Music, noise and a quiet start fool the
#: energy features (the scorers then push a file's first word up to REACH early); the detector
#: (Silero, `models.vad`) holds under them. Its onsets come 20-40 ms after the human labels
#: (median; 99 % within 100 ms on TIMIT, clean or under a music bed) and its ends 90 ms after
#: (bench/accuracy_soundtracks.py measures what the guard does).
GUARD = 12
GUARD_END = 2
#: Where the detector's edge lags the model's spike, a start may still lie this far (grid steps)
#: before the spike (an end after it); a run of detected speech starting or ending within NEAR
#: of the spike is the spike's speech.
LATE = 30
NEAR = 40
#: The guard applies only where the 100 ms beyond it are no more than this (dB) under loud
#: speech: in a quiet pause the energy features are right and the detector's edges are coarser.
QUIET_DB = 30.0
#: The background floor for the noisy scorers' features: the quietest 20 ms within FLOOR_REACH
#: grid steps (1 s) either side, searched in blocks of FLOOR_BLOCK, subtracted FLOOR_OVER times
#: (3 dB over it: 88.4 % instead of 87.6 % of boundaries within 50 ms in pink noise at 10 dB,
#: the rest alike); energy under it is clipped FLOOR_DEPTH dB below it.
FLOOR_REACH = 200
FLOOR_BLOCK = 20
FLOOR_DEPTH = 20.0
FLOOR_OVER = 2.0
#: A junction whose surroundings (NOISY_REACH grid steps either side, 5 s) never get more than
#: NOISY_DB under loud speech (their 5th percentile of energy) lies in a music bed or noise: the
#: model's noisy scorers decide it (`EmissionModel.boundary_weights["noisy"]`). Clean TIMIT
#: stays above 42 dB; beds 20 dB under speech are at 23-33 dB, 10 dB under at 16-25 dB
#: (bench/accuracy_soundtracks.py); the EMU Australian English recordings (bench/accuracy.py),
#: plain speech with some hiss, at 33-35 dB, where the clean scorers are better (82 % within
#: 25 ms against 74 % with the noisy ones at 36 dB): so 30 dB.
NOISY_DB = 30.0
NOISY_REACH = 1000
#: Decoding picks the options with the most probability *near* them, not the single likeliest:
#: each option's probability (the scorers' exp(score) within its junction) is spread over its
#: neighbours with a Gaussian of SPREAD grid steps (over the end's and the start's distances,
#: each apart; 5 = 25 ms), which is the pick that is most often within a tolerance when the
#: scorers are unsure. Chosen on a 3-vs-3 speaker split inside half A (bench/fit_boundaries.py),
#: clean: within 25 ms 82.6 % with the likeliest option, 85.4 % with 5 (84.8 % with 3, 83.7 %
#: with 10), within 50 ms 93.1 -> 94.6 %. The noisy scorers are less sure, and a wider spread
#: suits them (their fit on 3 speakers' augmented copies, scored on the other 3's, both ways:
#: within 50 ms 85.6 % with the likeliest option, 86.4 with 5, 87.0 with 8, 87.2 with 12;
#: within 25 ms 70.3, 72.5, 72.1, 71.5 %): 8 (40 ms).
SPREAD = 5
SPREAD_NOISY = 8

# Phoneme classes by IPA symbol; boundaries behave differently after and before each.
_STOPS = {"p", "b", "t", "d", "k", "g", "ɡ", "t͡ʃ", "d͡ʒ", "ʔ"}
_FRICATIVES = {"f", "v", "θ", "ð", "s", "z", "ʃ", "ʒ", "h"}
_NASALS = {"m", "n", "ŋ"}
_LIQUIDS = {"l", "ɹ", "w", "j", "ɫ", "ɾ"}
NUM_CLASSES = 5
NOISY_COLUMNS = 7


def phone_class(symbol: str) -> int:
    """0 stop, 1 fricative, 2 nasal, 3 liquid/glide, 4 vowel or anything else."""
    if symbol in _STOPS:
        return 0
    if symbol in _FRICATIVES:
        return 1
    if symbol in _NASALS:
        return 2
    if symbol in _LIQUIDS:
        return 3
    return 4


def _mel_filters() -> np.ndarray:
    freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)

    def mel(f: np.ndarray | float) -> np.ndarray:
        return 2595 * np.log10(1 + np.asarray(f) / 700)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700 * (10 ** (m / 2595) - 1)

    pts = hz(np.linspace(mel(60.0), mel(7600.0), N_MELS + 2))
    fb = np.zeros((N_MELS, freqs.size))
    for i in range(N_MELS):
        lo, mid, hi = pts[i : i + 3]
        fb[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return fb


_MEL = _mel_filters()
_WINDOW = np.hanning(FRAME_WINDOW)


class AcousticGrid:
    """Energy and spectrum of a 16 kHz waveform on the 5 ms grid, with running sums for window means.

    Grid point g is centred on sample g * 80; the whole file is analysed in chunks so that only a
    few numbers per grid point are kept (about 100 bytes per 5 ms).
    """

    def __init__(self, waveform: np.ndarray, chunk: int = 8192) -> None:
        wav = np.asarray(waveform, dtype=np.float32)
        n = wav.size // GRID_HOP + 1
        pad = np.pad(wav, (FRAME_WINDOW // 2, FRAME_WINDOW // 2 + GRID_HOP))
        log_e = np.empty(n)
        mel = np.empty((n, N_MELS))
        offsets = np.arange(FRAME_WINDOW)
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            frames = pad[np.arange(a, b)[:, None] * GRID_HOP + offsets] * _WINDOW
            power = np.abs(np.fft.rfft(frames, N_FFT)) ** 2
            log_e[a:b] = 10 * np.log10(power.sum(1) + 1e-10)
            mel[a:b] = np.log(power @ _MEL.T + 1e-10)
        self.size = n
        self.log_e = log_e
        self.ref = float(np.percentile(log_e, 95))  # "loud speech" level of this recording
        high = np.log(np.exp(mel[:, 14:]).sum(1) + 1e-10)
        low = np.log(np.exp(mel[:, :8]).sum(1) + 1e-10)
        self._c_e = _cumsum(log_e)
        # Running counts of quiet grid points (20, 30, 35, 40 dB under loud speech): pauses.
        self.quiet = {db: _cumsum((log_e < self.ref - db).astype(np.float64)) for db in (20, 30, 35, 40)}
        c_mel = _cumsum(mel)  # only the changes below are kept, not the spectra
        g = np.arange(n)
        # Changes at 10, 20 and 40 ms: after minus before (energy, high and low bands), and the
        # RMS distance between the log-mel spectra on the two sides.
        self.change: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        c_hi, c_lo = _cumsum(high), _cumsum(low)
        for k in (2, 4, 8):
            d_e = (self.mean_e(g, g + k) - self.mean_e(g - k, g)) / 10
            d_m = np.sqrt(((_wmean(c_mel, g, g + k) - _wmean(c_mel, g - k, g)) ** 2).mean(1))
            d_h = _wmean(c_hi, g, g + k) - _wmean(c_hi, g - k, g)
            d_l = _wmean(c_lo, g, g + k) - _wmean(c_lo, g - k, g)
            self.change[k] = (d_e, d_m, d_h, d_l)
        self.left6 = (self.mean_e(g - 6, g) - self.ref) / 10
        self.right6 = (self.mean_e(g, g + 6) - self.ref) / 10
        # Energy above the background (the quietest stretch within FLOOR_REACH, from 20 ms
        # means): a steady music bed or noise shrinks the changes of log_e at a word's edge;
        # above the floor they stand out again (features of the noisy scorers only).
        above = _above_floor(self.mean_e(g - 2, g + 2))
        c_above = _cumsum(above)
        self.change_above = {k: (_wmean(c_above, g, g + k) - _wmean(c_above, g - k, g)) / 10 for k in (2, 4, 8)}
        floor = log_e.min()
        after = np.concatenate([log_e, np.full(20, floor)])
        before = np.concatenate([np.full(20, floor), log_e])
        view = np.lib.stride_tricks.sliding_window_view
        self.max_after = (view(after, 20)[:n].max(1) - self.ref) / 10  # loudest in [g, g+100 ms)
        self.max_before = (view(before, 20)[:n].max(1) - self.ref) / 10  # loudest in [g-100 ms, g)

    def mean_e(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Mean log-energy (dB) over grid points [a, b), clipped to the file (never empty)."""
        return _wmean(self._c_e, a, b)


def _above_floor(smooth_db: np.ndarray) -> np.ndarray:
    """Energy (dB) above the background floor: the floor at each grid point is the lowest 20 ms
    mean within FLOOR_REACH either side (block minima, so long files stay linear), subtracted
    FLOOR_OVER times (the lowest mean is under the background's usual level); the result is
    floored FLOOR_DEPTH dB under the floor, so that in the background alone little varies."""
    n = smooth_db.size
    nb = -(-n // FLOOR_BLOCK)
    blocks = np.pad(smooth_db, (0, nb * FLOOR_BLOCK - n), mode="edge").reshape(nb, FLOOR_BLOCK).min(1)
    r = FLOOR_REACH // FLOOR_BLOCK
    padded = np.pad(blocks, r, mode="edge")
    floor = np.lib.stride_tricks.sliding_window_view(padded, 2 * r + 1).min(1)
    floor = np.repeat(floor, FLOOR_BLOCK)[:n]
    power = 10 ** (smooth_db / 10) - FLOOR_OVER * 10 ** (floor / 10)
    return 10 * np.log10(np.maximum(power, 10 ** ((floor - FLOOR_DEPTH) / 10)))


def _cumsum(x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, 0)])


def _wmean(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of the rows [a, b) from running sums `c`, with the window clipped to the data and at
    least one row long."""
    n = len(c) - 1
    # (np.clip: 4.0 us on a 50-element array; minimum/maximum: 1.2 us — a junction's arrays are short)
    a = np.minimum(np.maximum(a, 0), n - 1)
    b = np.minimum(np.maximum(b, a + 1), n)
    if c.ndim == 2:
        return (c[b] - c[a]) / (b - a)[:, None]
    return (c[b] - c[a]) / (b - a)


@dataclass
class Junction:
    """One place where a word boundary is decided: between words j-1 and j (j = 0: before the
    first word; j = n: after the last). `ends` / `starts` are the candidate grid indices for the
    left word's end and the right word's start (None at the edges), `x_end` / `x_start` their
    features; inside, `pairs` lists the (end, start) index pairs with end <= start."""

    index: int
    ends: np.ndarray | None
    starts: np.ndarray | None
    x_end: np.ndarray | None
    x_start: np.ndarray | None
    pairs: tuple[np.ndarray, np.ndarray] | None
    x_pause: np.ndarray  # per pair (inside) or per candidate (edges)


def _side_features(
    grid: AcousticGrid, probs: np.ndarray, logp: np.ndarray, cands: np.ndarray, start: bool,
    token: int, token_class: int, anchor: float, wb_mid: float | None, blank: int, wb: int | None,
    sub: int, speech: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Features of each candidate as the start (start=True) of the word on its right, or the end
    of the word on its left: 52 columns (see the module docstring), then NOISY_COLUMNS more that
    only the noisy scorers read (energy changes above the background floor, the speech
    detector's probability around the candidate, given with its running sums; zeros without
    it)."""
    c = cands
    sign = 1.0 if start else -1.0
    cols: list[np.ndarray] = []
    for k in (2, 4, 8):
        d_e, d_m, d_h, d_l = grid.change[k]
        cols += [sign * d_e[c], d_m[c], sign * d_h[c], sign * d_l[c]]
    inside = grid.right6[c] if start else grid.left6[c]
    outside = grid.left6[c] if start else grid.right6[c]
    cols += [inside, outside, np.maximum(0.0, -4.0 - outside)]
    for k in (12, 24):
        out_ab = (c - k, c) if start else (c, c + k)
        in_ab = (c, c + k) if start else (c - k, c)
        cols += [(grid.mean_e(*out_ab) - grid.ref) / 10, (grid.mean_e(*in_ab) - grid.ref) / 10]
    cols += [grid.max_before[c] if start else grid.max_after[c]]
    t = probs.shape[0]
    fr = np.minimum(c // sub, t - 1)
    f_in = np.clip(fr if start else fr - 1, 0, t - 1)
    f_out = np.clip(fr - 1 if start else fr, 0, t - 1)
    f_in2 = np.clip(f_in + (1 if start else -1), 0, t - 1)
    zero = np.zeros(len(c))
    p_wb_out = probs[f_out, wb] if wb is not None else zero
    p_wb_in = probs[f_in, wb] if wb is not None else zero
    cols += [probs[f_out, blank], probs[f_in, blank], p_wb_out, p_wb_in,
             probs[f_in, token], probs[f_out, token], probs[f_in2, token]]
    lp = np.maximum(logp, -20.0) / 10
    cols += [lp[f_out, token], lp[f_in, token], lp[f_in2, token], lp[f_out, blank], lp[f_in, blank]]
    u = (c / sub - anchor) / 5
    per_class = np.zeros((len(c), NUM_CLASSES * 3))
    per_class[:, token_class * 3] = u
    per_class[:, token_class * 3 + 1] = u**2
    per_class[:, token_class * 3 + 2] = np.abs(u)
    cols += [u, u**2]
    if wb_mid is not None:
        v = (c / sub - wb_mid) / 5
        tail = [np.abs(v), v, np.ones(len(c))]
    else:
        tail = [zero, zero, zero]
    extra = [sign * grid.change_above[k][c] for k in (2, 4, 8)]
    if speech is not None:
        speech, cs = speech  # the probabilities and their running sums
        out_p = _wmean(cs, c - 8, c) if start else _wmean(cs, c, c + 8)
        in_p = _wmean(cs, c, c + 8) if start else _wmean(cs, c - 8, c)
        extra += [speech[np.clip(c, 0, len(speech) - 1)], out_p, in_p, in_p - out_p]
    else:
        extra += [zero, zero, zero, zero]
    x = np.column_stack([np.asarray(col, dtype=np.float64) for col in cols[:-2]]
                        + [per_class] + [cols[-2], cols[-1]] + tail + extra)
    return x.astype(np.float32)


def _count(c: np.ndarray, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """How many marked grid points lie in [a, b) (running sums `c`; empty when b <= a)."""
    n = len(c) - 1
    a = np.clip(a, 0, n)
    b = np.clip(b, 0, n)
    return np.where(b > a, c[b] - c[a], 0.0)


def _pause_features(grid: AcousticGrid, e: np.ndarray, s: np.ndarray, frames: FrameSums, sub: int,
                    between: tuple[int, int] | None = None,
                    around: tuple[int, int] | None = None) -> np.ndarray:
    """Features of a pause [e, s) between two words: is there one, how long, how quiet, how it
    compares with the gap between the two words' spikes (`between`, grid points; none at the
    edges), and what the model heard in it."""
    length = (s - e).astype(np.float64)
    has = (length > 0).astype(np.float64)
    quiet = np.where(length > 0, (grid.mean_e(e, s) - grid.ref) / 10, 0.0)
    q20 = np.where(length > 0, _wmean(grid.quiet[20], e, s), 0.0)
    q35 = np.where(length > 0, _wmean(grid.quiet[35], e, s), 0.0)
    fe, fs = e // sub, np.maximum(s // sub, e // sub + 1)
    blank = np.where(length > 0, _wmean(frames.blank, fe, fs), 0.0)
    wb = np.where(length > 0, _wmean(frames.wb, fe, fs), 0.0)
    spikes = float(max(0, between[1] - between[0])) if between is not None else 0.0
    gap = spikes / 20
    share = np.where(length > 0, length / max(spikes, 1.0), 0.0)
    # Quiet time between the two words' spikes that this option leaves inside a word.
    left_out = []
    for c in (grid.quiet[30], grid.quiet[40]):
        if between is None:
            left_out.append(np.zeros(len(e)))
            continue
        lo, hi = between
        total = _count(c, lo, hi)
        inside = _count(c, np.maximum(e, lo), np.minimum(s, hi))
        left_out += [(total - inside) / 20]
    return np.column_stack([
        has, length / 20, np.sqrt(length / 20), has * quiet, quiet * length / 20,
        has * gap, has * np.sqrt(gap), share, share * quiet, q20, q35, q20 * length / 20, blank, wb,
        has * gap * quiet, *left_out, np.sqrt(left_out[0]), np.sqrt(left_out[1]),
        *_around_features(has, length, around),
    ]).astype(np.float32)


def _around_features(has: np.ndarray, length: np.ndarray, around: tuple[int, int] | None) -> list[np.ndarray]:
    """The classes of the phonemes on either side (left word's last, right word's first): a quiet
    gap before a stop is usually its closure, inside the word, not a pause."""
    cols = []
    for cls in around if around is not None else (-1, -1):
        for k in range(NUM_CLASSES):
            on = float(cls == k)
            cols += [has * on, length / 20 * on]
    return cols


@dataclass
class FrameSums:
    """Running sums over emission frames of the `<blank>` and `<wb>` posteriors."""

    blank: np.ndarray
    wb: np.ndarray


def _speech_edges(speech: np.ndarray | None, g: int) -> tuple[int | None, int | None]:
    """The grid points where the speech-activity run at grid point `g` starts and ends; a run
    that starts (or ends) within NEAR of `g` counts too, since the detector's edges lag. (None,
    None) when it hears no speech there."""
    if speech is None or not 0 <= g < len(speech):
        return None, None
    on = speech > SPEECH
    a, b = max(0, g - NEAR), min(len(speech), g + NEAR + 1)
    if not on[a:b].any():
        return None, None
    if not on[g]:  # between runs: the nearest edges within NEAR
        nxt = np.flatnonzero(on[g:b])
        prv = np.flatnonzero(on[a:g])
        return (g + int(nxt[0]) if nxt.size else g), (a + int(prv[-1]) + 1 if prv.size else g)
    before = np.flatnonzero(~on[:g])
    after = np.flatnonzero(~on[g:])
    return (int(before[-1]) + 1 if before.size else 0), (g + int(after[0]) if after.size else len(speech))


def _loud(grid: AcousticGrid, a: int, b: int) -> bool:
    """Whether grid points [a, b) are loud enough (within QUIET_DB of loud speech) to fool the
    energy features; where they are quiet the scorers' own view is kept."""
    return bool(grid.mean_e(np.array([a]), np.array([b]))[0] > grid.ref - QUIET_DB)


def junctions(
    words: Sequence[Sequence[TokenSpan]], separators: Sequence[TokenSpan | None], grid: AcousticGrid,
    emissions: np.ndarray, classes: Sequence[int], blank: int, wb: int | None, sub: int,
    speech: np.ndarray | None = None, guard: bool = True,
) -> list[Junction]:
    """The junctions of one aligned stretch: `words` are the token spans of each spoken word (in
    emission frames), `separators` the `<wb>` span after each word (or None). `speech` (the
    speech detector's probability on the grid) bounds how far a start may move before the onset
    of the speech its first spike is in, and an end past that speech's end (`GUARD`; not with
    `guard` False) and is a feature of the noisy scorers."""
    probs = np.exp(emissions)
    heard = (speech, _cumsum(np.asarray(speech, dtype=np.float64))) if speech is not None else None
    frames = FrameSums(_cumsum(probs[:, blank]), _cumsum(probs[:, wb] if wb is not None else np.zeros(len(probs))))
    n = len(words)
    size = grid.size
    out: list[Junction] = []
    for j in range(n + 1):
        left = words[j - 1] if j > 0 else None
        right = words[j] if j < n else None
        # The window runs from a little before the left word's last spike to just after the right
        # word's first one; a side never reaches more than REACH frames past its own spike, so a
        # long pause gives two windows (one per side) instead of one huge one.
        lo = max((left[-1].start - 6) * sub, (left[0].start - 3) * sub) if left is not None else 0
        hi = min((right[0].end + 2) * sub, right[-1].end * sub) if right is not None else size - 1
        if left is None:
            assert right is not None
            lo = (right[0].start - REACH) * sub
        if right is None:
            hi = (left[-1].end + REACH) * sub
        lo = int(max(0, lo))
        hi = int(min(size - 1, max(hi, lo)))
        first_start, last_end = lo, hi  # the speech detector's bounds (none without it)
        if guard and speech is not None and right is not None:
            onset, _ = _speech_edges(speech, min(right[0].start * sub + sub, size - 1))
            if onset is not None and _loud(grid, onset - GUARD - 20, onset - GUARD):
                spike = right[0].start * sub
                first_start = max(lo, min(onset - GUARD if onset <= spike else spike - LATE, hi))
        if guard and speech is not None and left is not None:
            _, offset = _speech_edges(speech, max(left[-1].end * sub - sub, 0))
            if offset is not None and _loud(grid, offset + GUARD_END, offset + GUARD_END + 20):
                spike = left[-1].end * sub
                last_end = min(hi, max(offset + GUARD_END if offset >= spike else spike + LATE, lo))
        sep = separators[j - 1] if left is not None else None
        wb_mid = (sep.start + sep.end) / 2 if sep is not None else None
        ends = starts = x_end = x_start = None
        if left is not None:
            ends = np.arange(lo, max(lo, min(hi, last_end, (left[-1].end + REACH) * sub)) + 1)
            tok = left[-1].token
            x_end = _side_features(grid, probs, emissions, ends, False, tok, classes[tok], left[-1].end,
                                   wb_mid, blank, wb, sub, heard)
        if right is not None:
            starts = np.arange(min(hi, max(first_start, (right[0].start - REACH) * sub)), hi + 1)
            tok = right[0].token
            x_start = _side_features(grid, probs, emissions, starts, True, tok, classes[tok], right[0].start,
                                     wb_mid, blank, wb, sub, heard)
        pairs: tuple[np.ndarray, np.ndarray] | None = None
        if ends is not None and starts is not None:
            ei, si = np.nonzero(ends[:, None] <= starts[None, :])
            pairs = (ei, si)
            x_pause = _pause_features(grid, ends[ei], starts[si], frames, sub,
                                      (left[-1].end * sub, right[0].start * sub),
                                      (classes[left[-1].token], classes[right[0].token]))
        elif starts is not None:
            x_pause = _pause_features(grid, np.full(len(starts), max(0, lo - 40)), starts, frames, sub)
        else:
            assert ends is not None
            x_pause = _pause_features(grid, ends, np.full(len(ends), min(size, hi + 40)), frames, sub)
        out.append(Junction(j, ends, starts, x_end, x_start, pairs, x_pause))
    return out


# --------------------------------------------------------------------------------------------
# Scoring and decoding


def _mlp(x: np.ndarray, p: Mapping[str, np.ndarray]) -> np.ndarray:
    x = x[:, : len(p["mean"])]  # the clean scorers read the first 52 columns only
    h = np.tanh(((x - p["mean"]) / p["std"]) @ p["w1"] + p["b1"])
    return h @ p["w2"] + p["b2"]


def load_weights(raw: Mapping) -> dict:
    """Weights as numpy arrays from the plain lists a model ships; an optional "noisy" entry
    holds a second set (same form) for junctions in a music bed or noise (`NOISY_DB`)."""
    out = {
        "end": {k: np.asarray(v, dtype=np.float64) for k, v in raw["end"].items()},
        "start": {k: np.asarray(v, dtype=np.float64) for k, v in raw["start"].items()},
        "pause": np.asarray(raw["pause"], dtype=np.float64),
    }
    if raw.get("noisy") is not None:
        out["noisy"] = load_weights(raw["noisy"])
    return out


def noisy_junctions(js: Sequence[Junction], grid: AcousticGrid) -> list[bool]:
    """Which junctions lie in a music bed or noise: their surroundings (NOISY_REACH either side)
    never get NOISY_DB under the recording's loud speech."""
    out = []
    for j in js:
        c = int(np.mean(j.starts if j.starts is not None else j.ends))  # type: ignore[arg-type]
        near = grid.log_e[max(0, c - NOISY_REACH) : c + NOISY_REACH + 1]
        out.append(bool(grid.ref - np.percentile(near, 5) < NOISY_DB))
    return out


def scorers(js: Sequence[Junction], grid: AcousticGrid, weights: Mapping) -> list[Mapping]:
    """The weights each junction is scored with: the noisy set where `noisy_junctions` says so
    (when the model ships one), else the clean set."""
    noisy = weights.get("noisy")
    if noisy is None:
        return [weights] * len(js)
    return [noisy if n else weights for n in noisy_junctions(js, grid)]


def option_scores(j: Junction, weights: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(end grid, start grid, score) of every option of a junction; an edge junction's missing
    side is -inf/+inf so that it never constrains its neighbour."""
    pause = weights["pause"]
    if j.pairs is not None:
        ei, si = j.pairs
        score = _mlp(j.x_end, weights["end"])[ei] + _mlp(j.x_start, weights["start"])[si] + j.x_pause @ pause[0]
        return j.ends[ei], j.starts[si], score
    if j.starts is not None:
        never = np.full(len(j.starts), np.iinfo(np.int64).min // 2)
        return never, j.starts, _mlp(j.x_start, weights["start"]) + j.x_pause @ pause[1]
    never = np.full(len(j.ends), np.iinfo(np.int64).max // 2)
    return j.ends, never, _mlp(j.x_end, weights["end"]) + j.x_pause @ pause[2]


def spread(option: tuple[np.ndarray, np.ndarray, np.ndarray], width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The option's scores as log of the probability within about `width` grid steps of each
    option (a Gaussian over end and start apart; `option_scores`' form, no change for width 0).
    Each option is one distinct (end, start) pair, as `junctions` makes them."""
    ends, starts, score = option
    if width <= 0 or len(score) < 2:
        return option
    score = np.asarray(score, dtype=np.float64)
    top = float(score.max())
    p = np.exp(score - top)
    huge = np.iinfo(np.int64).max // 4
    if abs(int(ends[0])) > huge or abs(int(starts[0])) > huge:  # an edge: one side only
        at = starts if abs(int(ends[0])) > huge else ends
        at = at - at.min()
        mass = np.zeros(int(at.max()) + 1)
        mass[at] = p
        return ends, starts, np.log(_gauss(len(mass), width) @ mass + 1e-300)[at] + top
    ie, is_ = ends - ends.min(), starts - starts.min()
    mass = np.zeros((int(ie.max()) + 1, int(is_.max()) + 1))
    mass[ie, is_] = p
    near = _gauss(mass.shape[0], width) @ mass @ _gauss(mass.shape[1], width)
    return ends, starts, np.log(near[ie, is_] + 1e-300) + top


def spread_scores(j: Junction, chosen: Mapping, weights: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`option_scores` of junction `j` with the set `chosen` (`weights` or its noisy set), spread
    by that set's width (SPREAD_NOISY for the noisy scorers, else SPREAD)."""
    return spread(option_scores(j, chosen), SPREAD_NOISY if chosen is weights.get("noisy") else SPREAD)


@functools.lru_cache(maxsize=64)
def _gauss(n: int, width: float) -> np.ndarray:
    """(n, n) Gaussian weights of grid distance, `width` steps wide (symmetric; a junction's side
    spans ~50-120 grid steps, so the cache holds a few MB)."""
    d = np.arange(n)
    return np.exp(-0.5 * ((d[:, None] - d[None, :]) / width) ** 2)


def decode(options: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], min_word: int = MIN_WORD) -> list[tuple[int, int]]:
    """Best (end, start) per junction such that every word lasts at least `min_word` grid steps:
    start of word j-1 + min_word <= end of word j-1 (the next junction's end)."""
    prev_start: np.ndarray | None = None
    prev_best: np.ndarray | None = None
    back: list[np.ndarray] = []
    for ends, starts, score in options:
        score = np.asarray(score, dtype=np.float64)
        if prev_start is None or prev_best is None:
            total = score
            bp = np.full(len(score), -1)
        else:
            order = np.argsort(prev_start, kind="stable")
            pos, best = prev_start[order], prev_best[order]
            run_max = np.maximum.accumulate(best)
            # index of the running maximum (first one reaching it)
            is_new = np.concatenate([[True], best[1:] > run_max[:-1]])
            arg = np.maximum.accumulate(np.where(is_new, np.arange(len(best)), 0))
            k = np.searchsorted(pos, ends - min_word, side="right") - 1
            ok = k >= 0
            kk = np.maximum(k, 0)
            total = np.where(ok, score + run_max[kk], -np.inf)
            bp = np.where(ok, order[arg[kk]], -1)
        back.append(bp)
        prev_start, prev_best = starts, total
    assert prev_best is not None
    k = int(np.argmax(prev_best))
    picks: list[tuple[int, int]] = []
    for (ends, starts, _), bp in zip(reversed(options), reversed(back), strict=True):
        picks.append((int(ends[k]), int(starts[k])))
        k = int(bp[k])
    return picks[::-1]


def refine_words(
    words: Sequence[Sequence[TokenSpan]], separators: Sequence[TokenSpan | None], emissions: np.ndarray,
    waveform: np.ndarray, frame_seconds: float, vocabulary: Sequence[str], blank: int, wb: int | None,
    weights: Mapping, grid: AcousticGrid | None = None, speech: np.ndarray | None = None,
) -> list[tuple[float, float]]:
    """(start, end) in seconds for each spoken word, given its token spans from the Viterbi path.

    `waveform` is 16 kHz mono; `emissions` the (T, C) log-probabilities the path came from;
    `speech` the speech detector's probability on the 5 ms grid (`speech_on_grid`), if any.
    """
    if not words:
        return []
    sub = round(frame_seconds / GRID_SECONDS)
    if abs(sub * GRID_SECONDS - frame_seconds) > 1e-9 or sub < 1:
        raise ValueError(f"frame length {frame_seconds} s is not a multiple of the 5 ms grid")
    grid = grid if grid is not None else AcousticGrid(waveform)
    classes = [phone_class(s) for s in vocabulary]
    js = junctions(words, separators, grid, np.asarray(emissions, dtype=np.float64), classes, blank, wb, sub,
                   speech)
    # The noisy scorers read the detector's probability: without it, the clean ones everywhere.
    chosen = scorers(js, grid, weights) if speech is not None else [weights] * len(js)
    picks = decode([spread_scores(j, w, weights) for j, w in zip(js, chosen, strict=True)])
    return [(picks[i][1] * GRID_SECONDS, picks[i + 1][0] * GRID_SECONDS) for i in range(len(words))]


_LOADED: dict[int, dict] = {}


def _weights(model: EmissionModel) -> dict | None:
    """The model's boundary weights as arrays (converted once per weights object), or None."""
    raw = model.boundary_weights
    if raw is None or model.sample_rate != SAMPLE_RATE:
        return None
    key = id(raw)
    if key not in _LOADED:
        _LOADED[key] = load_weights(raw)
    return _LOADED[key]


def refinable(model: EmissionModel) -> bool:
    """Whether `model` ships boundary weights (`EmissionModel.boundary_weights`) for 16 kHz audio."""
    return _weights(model) is not None


def speech_on_grid(waveform: np.ndarray) -> np.ndarray:
    """The speech detector's probability (`models.vad`, Silero) on the 5 ms grid of a 16 kHz waveform."""
    from ..models.vad import speech_activity

    return speech_activity(waveform).on_grid(GRID_SECONDS)


def boundary_refiner(model: EmissionModel, waveform: np.ndarray, emissions: object,
                     speech: bool = True) -> Refiner | None:
    """A `refine` step for `align_words` when `model` ships fitted weights, else None: the
    weights describe one model's emission timing and would misplace another's. `speech` bounds
    the moves by the speech detector's onsets and ends (`GUARD`; about 0.5 % of real time)."""
    weights = _weights(model)
    if weights is None:
        return None
    frame_seconds = float(model.frame_seconds)
    vocabulary = list(model.vocabulary)
    blank = int(model.blank)
    wb = model.word_boundary
    log_probs = np.asarray(emissions.detach().cpu().numpy() if hasattr(emissions, "detach") else emissions,
                           dtype=np.float64)

    activity: list[np.ndarray] = []  # computed at the first call

    def run(words: list[list[TokenSpan]], separators: list[TokenSpan | None]) -> list[tuple[float, float]]:
        if speech and not activity:
            activity.append(speech_on_grid(waveform))
        return refine_words(words, separators, log_probs, waveform, frame_seconds, vocabulary, blank, wb, weights,
                            speech=activity[0] if activity else None)

    return run
