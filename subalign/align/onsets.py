"""Where speech starts and stops, to the 5 ms, near a time that is roughly right.

A cue placed from the speech pattern, or a word whose first phone a CTC model heard late, is
within a few hundred milliseconds of its speech. Its start is moved to the nearest rise of the
speech detector's probability, then to where the sound's energy crosses halfway (in dB) between
the level just before the rise and the level of the speech just after it. Taking the level
*just before* (not the quietest level around) is what makes this hold for recordings joined with
digital silence (the quiet before speech is the recording's room tone, not the zeros), for room
tone, and for music under speech (the music is the level before).
"""

from __future__ import annotations

import numpy as np

from ..models.vad import SpeechActivity

__all__ = ["ENERGY_HOP", "energy_db", "refine_end", "refine_start"]

SAMPLE_RATE = 16_000
#: Energy frames of 5 ms.
ENERGY_HOP = 80
#: How far (s) a start or end may move to the detector's nearest rise or fall.
SNAP = 0.25
#: How far (s) before and after a rising edge the energy crossing is looked for; the detector
#: lets a falling edge lag the end of speech by about 0.1 s, so ends look further back.
BEFORE, AFTER = 0.08, 0.05
END_BEFORE, END_AFTER = 0.25, 0.05
#: Where between the outside and inside levels (dB) the crossing is taken.
FRACTION = 0.4


def energy_db(waveform: np.ndarray) -> np.ndarray:
    """Energy (dB) of each 5 ms frame of 16 kHz audio, over a 10 ms window."""
    x = np.asarray(waveform, dtype=np.float32)
    n = len(x) // ENERGY_HOP
    if n == 0:
        return np.zeros(0)
    power = np.square(x[: n * ENERGY_HOP]).reshape(n, ENERGY_HOP).mean(axis=1, dtype=np.float64)
    power = (power + np.concatenate([power[1:], power[-1:]])) / 2
    return 10 * np.log10(power + 1e-12)


def _edges(activity: SpeechActivity, rising: bool, threshold: float = 0.5) -> np.ndarray:
    on = activity.probs > threshold
    if rising:
        idx = np.flatnonzero(on[1:] & ~on[:-1]) + 1
    else:
        idx = np.flatnonzero(~on[1:] & on[:-1]) + 1
    return idx * activity.frame_seconds


def _nearest(edges: np.ndarray, t: float, lo: float, hi: float) -> float | None:
    if len(edges) == 0:
        return None
    k = np.searchsorted(edges, t)
    best = None
    for j in (k - 1, k):
        if 0 <= j < len(edges) and lo <= edges[j] <= hi and abs(edges[j] - t) <= SNAP:
            if best is None or abs(edges[j] - t) < abs(best - t):
                best = float(edges[j])
    return best


def refine_start(t: float, activity: SpeechActivity, energy: np.ndarray, lo: float = 0.0,
                 hi: float = float("inf")) -> float:
    """`t` moved to the onset of the speech it is near, never outside [lo, hi]."""
    edge = _nearest(_edges(activity, True), t, lo, hi)
    if edge is None:
        return min(max(t, lo), hi)
    return min(max(_crossing(edge, energy, rising=True), lo), hi)


def refine_end(t: float, activity: SpeechActivity, energy: np.ndarray, lo: float = 0.0,
               hi: float = float("inf")) -> float:
    """`t` moved to the end of the speech it is near, never outside [lo, hi]."""
    edge = _nearest(_edges(activity, False), t, lo, hi)
    if edge is None:
        return min(max(t, lo), hi)
    return min(max(_crossing(edge, energy, rising=False), lo), hi)


def _crossing(edge: float, energy: np.ndarray, rising: bool) -> float:
    """The 5 ms frame near `edge` where the energy crosses halfway between the level outside the
    speech and the level inside it (rising: outside is before the edge)."""
    fs = ENERGY_HOP / SAMPLE_RATE
    k = int(round(edge / fs))
    n = len(energy)
    if n == 0:
        return edge
    span = int(0.25 / fs)
    if rising:
        outside = energy[max(0, k - span) : max(1, k - 2)]
        inside = energy[k : min(n, k + span)]
    else:
        outside = energy[min(n - 1, k + 2) : min(n, k + span)]
        inside = energy[max(0, k - span) : max(1, k)]
    if len(outside) == 0 or len(inside) == 0:
        return edge
    low = float(np.percentile(outside, 50 if rising else 90))
    high = float(np.percentile(inside, 75))
    if high - low < 6.0:  # no clear step: keep the detector's edge
        return edge
    level = low + FRACTION * (high - low)
    before, after = (BEFORE, AFTER) if rising else (END_BEFORE, END_AFTER)
    a, b = max(0, k - int(before / fs)), min(n, k + int(after / fs) + 1)
    seg = energy[a:b]
    if rising:
        above = np.flatnonzero(seg > level)
        return (a + above[0]) * fs if len(above) else edge
    above = np.flatnonzero(seg > level)
    return (a + above[-1] + 1) * fs if len(above) else edge
