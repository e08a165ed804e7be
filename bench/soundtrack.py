"""Film-like sound for the benchmarks: synthesized music, noise, reverberation and levels.

Everything is made here with numpy from a seed (no recordings, so nothing to license): music
beds of chords, plucked notes and drums; pink noise; babble from speech; a room's reverberation
as a decaying noise impulse response; level helpers that set a signal-to-noise ratio against the
*active* speech level (the loud frames), the way film mixes are described.
"""

from __future__ import annotations

import numpy as np

SR = 16_000

# Chord progressions (semitones from A4 = 440 Hz of each chord's notes), one bar per chord.
_PROGRESSIONS = (
    [(-9, -5, -2), (-14, -10, -7), (-11, -7, -4), (-16, -12, -9)],  # C  G  Am F   (low)
    [(-12, -9, -5), (-7, -3, 0), (-10, -7, -3), (-5, -2, 2)],       # Am F  C  G
    [(-4, 0, 3), (-9, -5, -2), (-2, 2, 5), (-7, -4, 0)],            # E  C  G  D-ish
)


def _hz(semitones: float) -> float:
    return 440.0 * 2.0 ** (semitones / 12.0)


def _envelope(n: int, attack: float, release: float) -> np.ndarray:
    a = max(1, int(attack * SR))
    r = max(1, int(release * SR))
    env = np.ones(n)
    env[:a] = np.linspace(0, 1, min(a, n))[: min(a, n)]
    if r < n:
        env[-r:] *= np.linspace(1, 0, r)
    return env


def _pad(freqs: tuple[float, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    """A soft sustained chord: detuned saw-like partials, slow attack."""
    t = np.arange(n) / SR
    out = np.zeros(n)
    for f in freqs:
        for detune in (-0.003, 0.003):
            ff = f * (1 + detune)
            phase = rng.uniform(0, 2 * np.pi)
            for k in range(1, 6):  # a few harmonics of a sawtooth, falling as 1/k
                out += np.sin(2 * np.pi * ff * k * t + phase * k) / k
    return out * _envelope(n, 0.25, 0.3) / (len(freqs) * 4)


def _pluck(freq: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """A plucked string (Karplus-Strong)."""
    period = max(2, int(SR / freq))
    buf = rng.uniform(-1, 1, period)
    blocks = []
    for _ in range(n // period + 1):  # one period at a time: y[i] = k (y[i-P] + y[i-P+1]) / 2
        blocks.append(buf)
        nxt = np.empty(period)
        nxt[:-1] = 0.498 * (buf[:-1] + buf[1:])
        nxt[-1] = 0.498 * (buf[-1] + nxt[0])
        buf = nxt
    return np.concatenate(blocks)[:n] * 0.5


def _kick(n: int) -> np.ndarray:
    t = np.arange(n) / SR
    f = 50 + 100 * np.exp(-t * 30)
    return np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t * 8)


def _noise_hit(n: int, rng: np.random.Generator, decay: float, highpass: bool) -> np.ndarray:
    x = rng.standard_normal(n)
    if highpass:
        x = np.diff(x, prepend=0.0)
    return x * np.exp(-np.arange(n) / SR * decay) * 0.3


def music(seconds: float, seed: int = 0, *, drums: bool = True, plucks: bool = True) -> np.ndarray:
    """`seconds` of music at 16 kHz: a chord progression (pads), a plucked melody and a drum kit,
    at a random tempo; peak-normalised to 0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    bpm = rng.uniform(80, 130)
    beat = int(SR * 60 / bpm)
    bar = 4 * beat
    prog = _PROGRESSIONS[rng.integers(len(_PROGRESSIONS))]
    transpose = int(rng.integers(-3, 4))
    out = np.zeros(n + bar)
    for k, start in enumerate(range(0, n, bar)):
        chord = prog[k % len(prog)]
        freqs = tuple(_hz(s + transpose) for s in chord)
        out[start : start + bar] += _pad(freqs, bar, rng)
        if plucks:
            for b in range(8):  # eighth notes, some rests
                if rng.random() < 0.35:
                    continue
                note = chord[rng.integers(3)] + 12 * int(rng.integers(0, 2))
                pos = start + b * beat // 2
                length = min(beat, len(out) - pos)
                out[pos : pos + length] += 0.6 * _pluck(_hz(note + transpose), length, rng)
        if drums:
            for b in range(4):
                pos = start + b * beat
                length = min(beat, len(out) - pos)
                if b in (0, 2):
                    out[pos : pos + length] += 0.9 * _kick(length)
                else:
                    out[pos : pos + length] += _noise_hit(length, rng, 18.0, False)
                for h in (0, beat // 2):  # hi-hats on eighths
                    p = pos + h
                    ln = min(beat // 4, len(out) - p)
                    if ln > 0:
                        out[p : p + ln] += 0.4 * _noise_hit(ln, rng, 60.0, True)
    out = out[:n]
    return (0.5 * out / (np.max(np.abs(out)) + 1e-9)).astype(np.float32)


def pink_noise(seconds: float, seed: int = 0) -> np.ndarray:
    """Pink (1/f power) noise, unit RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec /= np.sqrt(f)
    x = np.fft.irfft(spec, n)
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def babble(utterances: list[np.ndarray], seconds: float, talkers: int = 6, seed: int = 0) -> np.ndarray:
    """Several talkers at once: `talkers` streams of the given speech (concatenated in a random
    order, each starting at a random point), summed; unit RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n)
    for _ in range(talkers):
        order = rng.permutation(len(utterances))
        stream = np.concatenate([utterances[i] for i in order])
        while len(stream) < 2 * n:
            stream = np.concatenate([stream, stream])
        start = int(rng.integers(0, len(stream) - n))
        out += stream[start : start + n] / (np.sqrt(np.mean(stream**2)) + 1e-12)
    return (out / (np.sqrt(np.mean(out**2)) + 1e-12)).astype(np.float32)


def room_tone(seconds: float, level_db: float = -60.0, seed: int = 0) -> np.ndarray:
    """Quiet pink-ish room noise at `level_db` dBFS RMS."""
    return (pink_noise(seconds, seed) * 10 ** (level_db / 20)).astype(np.float32)


def reverb(x: np.ndarray, rt60: float = 0.6, seed: int = 0, wet: float = 0.5) -> np.ndarray:
    """A room's reverberation: convolution with an exponentially decaying noise impulse
    response (decaying 60 dB in `rt60` seconds), mixed `wet` with the dry signal, same RMS."""
    rng = np.random.default_rng(seed)
    n = int(rt60 * SR)
    t = np.arange(n) / SR
    ir = rng.standard_normal(n) * np.exp(-6.91 * t / rt60)
    ir[: int(0.002 * SR)] = 0.0
    ir /= np.sqrt(np.sum(ir**2)) + 1e-12
    size = 1 << int(np.ceil(np.log2(len(x) + n)))
    wet_sig = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: len(x)]
    out = (1 - wet) * x + wet * wet_sig
    return (out * rms(x) / (rms(out) + 1e-12)).astype(np.float32)


def telephone(x: np.ndarray) -> np.ndarray:
    """A telephone band: 300-3400 Hz (brick-wall in the frequency domain), same RMS."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / SR)
    spec[(f < 300) | (f > 3400)] = 0
    out = np.fft.irfft(spec, len(x))
    return (out * rms(x) / (rms(out) + 1e-12)).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)) + 1e-12)


def active_level(x: np.ndarray, frame: float = 0.02) -> float:
    """RMS of the loud frames of speech (those within 30 dB of the loudest), the 'active speech
    level' mixing is referenced to, so pauses do not change the SNR."""
    hop = int(frame * SR)
    n = len(x) // hop
    if n == 0:
        return rms(x)
    frames = np.asarray(x[: n * hop], dtype=np.float64).reshape(n, hop)
    e = np.mean(frames**2, axis=1)
    loud = e > np.max(e) * 1e-3
    return float(np.sqrt(np.mean(e[loud])) + 1e-12)


def mix_at(speech: np.ndarray, other: np.ndarray, snr_db: float, speech_level: float | None = None) -> np.ndarray:
    """`speech` + `other` scaled so the active speech level is `snr_db` above other's RMS."""
    level = active_level(speech) if speech_level is None else speech_level
    other = np.resize(other, len(speech))
    gain = level / (rms(other) * 10 ** (snr_db / 20))
    return (speech + gain * other).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Conditions a film puts speech under: each takes one utterance (16 kHz float) and returns the
# new audio and how far (s) the utterance moved in it. Used by bench/accuracy_soundtracks.py
# (scoring) and bench/fit_boundaries.py --augment (fitting), with disjoint seeds.

#: Silence (s) before and after the utterance where a bed plays on its own: the first and the
#: last word of a file have music or noise on one side, not room tone.
PAD = 1.0

CONDITIONS = ("clean", "music 20 dB", "music 10 dB", "music 5 dB", "babble 20 dB", "babble 10 dB",
              "pink 20 dB", "pink 10 dB", "reverb", "telephone", "digital silence", "level changes")


def _padded(x: np.ndarray, seed: int, level_db: float = -60.0) -> np.ndarray:
    n = int(PAD * SR)
    return np.concatenate([room_tone(PAD, level_db, seed), x, room_tone(PAD, level_db, seed + 1)])[: len(x) + 2 * n]


def condition(name: str, x: np.ndarray, seed: int, others: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Utterance `x` under condition `name` (one of CONDITIONS; `others`: other speakers'
    utterances for babble). Beds run through the padding, so the speech starts and ends inside them."""
    x = np.asarray(x, dtype=np.float32)
    level = active_level(x)
    kind, _, db = name.partition(" ")
    if name == "clean":
        return x, 0.0
    if kind in ("music", "babble", "pink"):
        padded = _padded(x, seed)
        seconds = len(padded) / SR + 0.1
        bed = (music(seconds, seed) if kind == "music" else babble(others, seconds, seed=seed) if kind == "babble"
               else pink_noise(seconds, seed))
        return mix_at(padded, bed, float(db.split()[0]), speech_level=level), PAD
    if name == "reverb":
        return reverb(_padded(x, seed), rt60=0.7, seed=seed, wet=0.6), PAD
    if name == "telephone":
        return telephone(_padded(x, seed, -50.0)), PAD
    if name == "digital silence":
        # an edit: exact zeros joined to the recording's own background, no fade
        n = int(PAD * SR)
        return np.concatenate([np.zeros(n, np.float32), x, np.zeros(n, np.float32)]), PAD
    if name == "level changes":
        # a loud scene cut to quiet dialogue and back: music at the speech's level before and
        # after, the speech itself 20 dB down (its own leading and trailing silence between)
        quiet = x * 10 ** (-20 / 20)
        loud = music(PAD * 2 + 0.1, seed)
        loud = loud * level / rms(loud)
        n = int(PAD * SR)
        return np.concatenate([loud[:n], quiet, loud[n : 2 * n]]).astype(np.float32), PAD
    raise ValueError(f"unknown condition {name!r}")


def augment(x: np.ndarray, rng: np.random.Generator, others: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """One random film-like condition for fitting (a wider, randomized family around the scored
    CONDITIONS: any bed level from 0 to 25 dB, brown noise too, rooms of 0.3-1.0 s, a bed under a
    reverberant voice, varied padding). Returns the audio and where the utterance starts in it."""
    x = np.asarray(x, dtype=np.float32)
    level = active_level(x)
    seed = int(rng.integers(1 << 30))
    pad = float(rng.uniform(0.3, 1.5))
    n = int(pad * SR)
    kind = rng.choice(["music", "music", "pink", "brown", "babble", "reverb", "reverb+music", "telephone",
                       "zeros", "levels"])
    if kind == "zeros":
        return np.concatenate([np.zeros(n, np.float32), x, np.zeros(n, np.float32)]), pad
    if kind == "levels":
        loud = music(2 * pad + 0.1, seed)
        loud = loud * level / rms(loud) * 10 ** (rng.uniform(-6, 6) / 20)
        quiet = x * 10 ** (rng.uniform(-30, -10) / 20)
        return np.concatenate([loud[:n], quiet, loud[n : 2 * n]]).astype(np.float32), pad
    padded = np.concatenate([room_tone(pad, -60.0, seed), x, room_tone(pad, -60.0, seed + 1)])
    seconds = len(padded) / SR + 0.1
    if kind == "telephone":
        return telephone(padded), pad
    if kind.startswith("reverb"):
        padded = reverb(padded, rt60=float(rng.uniform(0.3, 1.0)), seed=seed, wet=float(rng.uniform(0.3, 0.7)))
        if kind == "reverb":
            return padded, pad
        kind = "music"
    if kind == "music":
        bed = music(seconds, seed, drums=bool(rng.random() < 0.7), plucks=bool(rng.random() < 0.7))
    elif kind == "pink":
        bed = pink_noise(seconds, seed)
    elif kind == "brown":
        bed = np.cumsum(np.random.default_rng(seed).standard_normal(int(seconds * SR)))
        bed = bed - np.convolve(bed, np.ones(801) / 801, mode="same")  # no DC drift
        bed = (bed / rms(bed)).astype(np.float32)
    else:
        bed = babble(others, seconds, seed=seed)
    return mix_at(padded, bed, float(rng.uniform(0, 25)), speech_level=level), pad
