"""align/timeline.py: mapping a cue pattern onto speech activity, without words.

The speech here is made from a known list of utterances (probability 0.9 while someone speaks,
0.05 in the pauses, with a little noise), so every answer is known: the offset, the rate, the
cut, which cues have no speech, and where each cue belongs.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import music_bed, reading_time, timit_utterances

from subalign.align.timeline import GRID, RATES, fit_global, fit_pattern


def speech(utterances: list[tuple[float, float]], seconds: float, seed: int = 0) -> np.ndarray:
    """Speech probabilities on the GRID for utterances (start, end) in seconds."""
    rng = np.random.default_rng(seed)
    n = int(seconds / GRID)
    p = np.full(n, 0.05)
    for a, b in utterances:
        p[int(a / GRID) : int(b / GRID)] = 0.9
    return np.clip(p + rng.normal(0, 0.03, n), 0, 1).astype(np.float32)


def dialogue(n: int = 80, seed: int = 1, start: float = 5.0) -> list[tuple[float, float]]:
    """n utterances of 0.8-4 s with pauses of 0.3-2.5 s: the true speech (and the true cues)."""
    rng = np.random.default_rng(seed)
    t, out = start, []
    for _ in range(n):
        d = rng.uniform(0.8, 4.0)
        out.append((t, t + d))
        t += d + rng.uniform(0.3, 2.5)
    return out


def start_errors(fit, truth) -> np.ndarray:
    return np.array([abs(p.start - a) for p, (a, _) in zip(fit.placements, truth, strict=True)
                     if p.start is not None and a is not None])


@pytest.mark.parametrize("offset, rate", [(0.0, 1.0), (-37.5, 1.0), (250.0, 1.0),
                                          (4.0, 25 / 23.976), (-3.0, 24 / 25)])
def test_offset_and_rate_are_recovered(offset, rate):
    truth = dialogue(start=max(5.0, offset + 5.0))  # subtitle times stay above 0
    probs = speech(truth, truth[-1][1] + 10)
    # subtitles whose times went through audio = rate x subs + offset the other way
    subs = [((a - offset) / rate, (b - offset) / rate) for a, b in truth]
    subs = [(max(0.0, a), max(0.0, b)) for a, b in subs]
    fit = fit_pattern(subs, probs)
    assert fit.rate == pytest.approx(rate, rel=1e-3)
    assert fit.placed == len(truth) and not fit.splits
    assert np.median(start_errors(fit, truth)) <= 0.05
    assert fit.confidence > 10


def test_a_cut_stretch_is_a_split_and_its_cues_are_skipped():
    truth = dialogue(90)
    cut_from, cut_to = truth[40][0], truth[48][0]  # the video lost utterances 40-47
    length = cut_to - cut_from
    audio = [(a, b) if b <= cut_from else (a - length, b - length) for a, b in truth if not cut_from <= a < cut_to]
    probs = speech(audio, audio[-1][1] + 10)
    fit = fit_pattern(truth, probs)  # the subtitles still have every cue, at its old time
    expected = [a if a < cut_from else (None if a < cut_to else a - length) for a, _ in truth]
    assert fit.splits and all(40 <= s <= 48 for s in fit.splits)
    skipped = [i for i, p in enumerate(fit.placements) if p.start is None]
    assert set(skipped) == set(range(40, 48))
    errs = [abs(p.start - e) for p, e in zip(fit.placements, expected, strict=True) if e is not None]
    assert max(errs) <= 0.1


def test_each_cue_moves_to_its_own_speech():
    truth = dialogue(60)
    probs = speech(truth, truth[-1][1] + 10)
    rng = np.random.default_rng(3)
    jitter = rng.uniform(-1.0, 1.0, len(truth))
    subs = [(a + d + 3.0, b + d + 3.0) for (a, b), d in zip(truth, jitter, strict=True)]
    fit = fit_pattern(subs, probs)
    errs = start_errors(fit, truth)
    assert np.median(errs) <= 0.05 and np.mean(errs <= 0.3) >= 0.9
    starts = [p.start for p in fit.placements]
    assert starts == sorted(starts)  # order kept


def test_cues_without_speech_are_skipped():
    truth = dialogue(60)
    probs = speech(truth, truth[-1][1] + 10)
    subs = list(truth)
    fakes = []
    for k in (10, 25, 40):  # cues in the pauses: text that is not spoken
        a, b = truth[k][1], truth[k + 1][0]
        if b - a > 0.6:
            fakes.append(len(subs))
            subs.append((a + 0.1, b - 0.1))
    order = np.argsort([a for a, _ in subs], kind="stable")
    subs = [subs[i] for i in order]
    fake_pos = [int(np.flatnonzero(order == f)[0]) for f in fakes]
    fit = fit_pattern(subs, probs)
    assert fake_pos and all(fit.placements[i].start is None for i in fake_pos)
    assert fit.placed == len(truth)


def test_another_recording_does_not_fit():
    truth = dialogue(80, seed=1)
    probs = speech(dialogue(80, seed=9), truth[-1][1] + 10)  # someone else's pauses
    fit = fit_pattern(truth, probs)
    assert fit.confidence < 6


def test_the_rates_are_the_usual_frame_rate_ratios():
    assert 1.0 in RATES and len(RATES) == 13
    assert any(abs(r - 25 / 23.976) < 1e-3 for r in RATES) and any(abs(r - 24 / 25) < 1e-6 for r in RATES)
    truth = dialogue(30)
    rate, offset, score = fit_global(truth, speech(truth, truth[-1][1] + 5))
    assert rate == 1.0 and abs(offset) <= GRID and score > 0


def test_cues_that_stay_up_for_reading_land_on_their_speech_onset(monkeypatch):
    """Subtitles come up with the words (here 0.05-0.3 s before) and stay up for reading (0.5-1.2 s
    after, ending 0.3 s before the next cue): such a cue fits the speech as well 0.3-0.6 s early.
    The fine pass weighs a rise of speech at the cue's start, so each cue starts at its speech;
    without that weight many are placed early."""
    from subalign.align import timeline

    truth = dialogue(90, seed=4)
    probs = speech(truth, truth[-1][1] + 10)
    subs = [(a + 12.5, b + 12.5) for a, b in reading_time(truth, seed=2)]
    fit = fit_pattern(subs, probs)
    assert fit.placed == len(truth) and not fit.splits
    errors = start_errors(fit, truth)
    assert np.median(errors) <= 0.05 and np.mean(errors > 0.25) <= 0.03, np.round(errors, 2)
    monkeypatch.setattr(timeline, "ONSET", 0.0)
    before = start_errors(fit_pattern(subs, probs), truth)
    assert np.mean(before > 0.25) > 0.2, np.round(before, 2)


def _timit_mix(timit, n: int, seed: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """n TIMIT utterances (a random pick) joined with 0.3-1.5 s pauses under a music bed 15 dB
    below the speech, and the utterances' true spans (human word labels)."""
    from subalign.media import load_audio

    rng = random.Random(seed)
    parts, spans, t = [], [], 0.0
    for _, wav, _, first, last in rng.sample(list(timit_utterances(timit)), n):
        audio = load_audio(wav, sample_rate=16_000)
        pause = np.zeros(int(rng.uniform(0.3, 1.5) * 16_000), dtype=np.float32)
        t += len(pause) / 16_000
        spans.append((t + first, t + last))
        parts += [pause, audio]
        t += len(audio) / 16_000
    x = np.concatenate(parts)
    level = np.sqrt(np.mean(x**2))
    return x + music_bed(len(x) / 16_000 + 1, seed=seed)[: len(x)] * level * 10 ** (-15 / 20), spans


def test_a_long_cut_does_not_hide_the_pattern(timit, monkeypatch):
    """Real speech under music (the speech detector's probabilities, not a clean toy), subtitles
    that stay up for reading (90 % of the timeline under a cue), and 40 s cut from the middle of
    a 4-minute file: the pattern of the whole file fits no better than chance (at the rate that
    fits it best, about 0.8, the two parts are stretched to meet), but each half fits on its own.
    The rate is the one both halves fit, every cue outside the cut is placed on its speech, and
    the confidence clears MIN_PATTERN while the same subtitles on another recording do not."""
    from subalign.align import timeline
    from subalign.models.vad import speech_activity
    from subalign.sync import MIN_PATTERN

    x, truth = _timit_mix(timit, 60, seed=0)
    subs = reading_time(truth, seed=0)
    cut = truth[30][0]
    probs = speech_activity(np.concatenate([x[: int(cut * 16_000)], x[int((cut + 40) * 16_000) :]])).on_grid(GRID)
    fit = fit_pattern(subs, probs)
    assert abs(fit.rate - 1.0) < 2e-3 and fit.confidence >= MIN_PATTERN
    kept = [(p, a if a < cut else a - 40) for p, (a, _) in zip(fit.placements, truth, strict=True)
            if not cut <= a < cut + 40]
    errors = np.array([abs(p.start - a) for p, a in kept if p.start is not None])
    assert len(errors) >= 0.95 * len(kept) and np.median(errors) <= 0.03 and np.percentile(errors, 90) <= 0.1
    other, _ = _timit_mix(timit, 60, seed=9)
    assert fit_pattern(subs, speech_activity(other).on_grid(GRID)).confidence < MIN_PATTERN
    monkeypatch.setattr(timeline, "MIN_PART", 10**6)  # the whole file alone
    alone = fit_pattern(subs, probs)
    assert alone.confidence < MIN_PATTERN and abs(alone.rate - 1.0) > 0.1
