"""Word-boundary accuracy on film-like soundtracks: the TIMIT sample's held-out speakers under
music, noise, reverberation, a telephone band, digital silence and level changes.

Each utterance of the speakers the boundary weights were *not* fitted on (half B of
bench/fit_boundaries.py) is put under every condition of `soundtrack.CONDITIONS` (music beds of
synthesized chords, plucks and drums 20/10/5 dB under the active speech level; babble of other
half-B speakers and pink noise at 20/10 dB SNR; a 0.7 s reverberant room; a 300-3400 Hz band;
exact zeros joined on; loud music cut to speech 20 dB down). Beds start 1 s before the speech and
end 1 s after it, so the first and last word sit inside them. The file goes through the whole
pipeline (`subalign.align_media`: ffmpeg, the model, the aligner, the refinement) and every word's
start and end is compared with the human labels. Columns as in bench/accuracy.py, plus the worst
boundary.

    python bench/accuracy_soundtracks.py [--conditions "music 10 dB,clean"] [--procs 2] [--json OUT]
                                         [--where]   (first start / last end / inner, per row)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import accuracy as acc  # noqa: E402
import soundtrack as st  # noqa: E402
from fit_boundaries import HALF_A  # noqa: E402

from subalign.media import load_audio  # noqa: E402

#: Seeds of the scored material; bench/fit_boundaries.py --augment uses others.
SEED = 10_000


def _write(path: Path, x: np.ndarray) -> None:
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 0.99:  # a mix that would clip is turned down, as a mixer would
        x = x * (0.99 / peak)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(st.SR)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def held_out(corpus: Path, half: str = "B") -> list[Path]:
    """Half B (held out: the default), or half A (the speakers the weights and the guard were
    fitted on; for tuning)."""
    return [w for w in acc.utterances(corpus) if (w.parent.name in HALF_A) == (half == "A")]


def _job(args: tuple) -> tuple[str, int, list, float, float]:
    """Align utterance `k` under `name`: (name, k, [(word, start, end)], seconds, audio seconds)."""
    from subalign import align_media

    name, k, wav, text, audio, work = args
    path = Path(work) / f"{k}-{name.replace(' ', '_')}.wav"
    _write(path, audio)
    t = time.perf_counter()
    res = align_media(path, text, jobs=1)
    spent = time.perf_counter() - t
    path.unlink()
    return name, k, [(w.text, w.start, w.end) for w in res.words], spent, len(audio) / st.SR


def _where(rows: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Errors (s) of the first word's start, of the last word's end, and of every other boundary."""
    first, last, inner = [], [], []
    for ours, _, gold in rows:
        pairs = acc.match(ours, gold)
        for i, (w, g) in enumerate(pairs):
            (first if i == 0 else inner).append(abs(w.start - g[1]))
            (last if i == len(pairs) - 1 else inner).append(abs(w.end - g[2]))
    return np.array(first), np.array(last), np.array(inner)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "timit_nltk_sample")
    ap.add_argument("--conditions", default=",".join(st.CONDITIONS), help="comma-separated, from: "
                    + ", ".join(st.CONDITIONS))
    ap.add_argument("--limit", type=int, default=0, help="only the first N held-out utterances")
    ap.add_argument("--half", choices=("A", "B"), default="B",
                    help="B: the held-out speakers (default); A: the fitted ones, for tuning")
    ap.add_argument("--procs", type=int, default=1, help="worker processes (timings then overlap)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument("--where", action="store_true",
                    help="also split each row: the first word's start, the last word's end, the inner boundaries")
    args = ap.parse_args()
    names = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = [c for c in names if c not in st.CONDITIONS]
    if unknown:
        print(f"unknown condition(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    wavs = held_out(args.corpus, args.half)[: args.limit or None]
    if not wavs:
        print(f"no utterances under {args.corpus}", file=sys.stderr)
        return 2
    audio = [load_audio(w, sample_rate=st.SR) for w in wavs]
    texts = [acc.transcript(w) for w in wavs]
    golds = [acc.gold_words(w) for w in wavs]
    speakers = [w.parent.name for w in wavs]
    jobs, shifts = [], {}
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            for k, x in enumerate(audio):
                others = [a for a, s in zip(audio, speakers, strict=True) if s != speakers[k]]
                y, shift = st.condition(name, x, SEED + 97 * k, others)
                shifts[name, k] = shift
                jobs.append((name, k, wavs[k], texts[k], y, work))
        t0 = time.perf_counter()
        if args.procs > 1:
            import multiprocessing

            with multiprocessing.get_context("forkserver").Pool(args.procs) as pool:
                done = pool.map(_job, jobs, chunksize=4)
        else:
            done = [_job(j) for j in jobs]
        wall = time.perf_counter() - t0
    by_name: dict[str, list] = {n: [] for n in names}
    spent = {n: [0.0, 0.0] for n in names}
    for name, k, words, s, dur in done:
        shift = shifts[name, k]
        ours = [acc._Word(t, a - shift, b - shift) for t, a, b in words]
        by_name[name].append((ours, [], golds[k]))
        spent[name][0] += s
        spent[name][1] += dur
    print(f"TIMIT sample, {'held-out speakers (not in' if args.half == 'B' else 'FITTED speakers (in'} "
          f"{', '.join(HALF_A)}): {len(wavs)} utterances, "
          f"{sum(len(g) for g in golds)} gold words per condition; beds {st.PAD:.0f} s either side")
    print(acc._header() + f" {'max':>8}")
    out: dict = {"utterances": len(wavs), "rows": {}}
    for name in names:
        sc = acc.score(by_name[name])
        errs = [abs(w.start - g[1]) for ws, _, gold in by_name[name] for w, g in acc.match(ws, gold)]
        errs += [abs(w.end - g[2]) for ws, _, gold in by_name[name] for w, g in acc.match(ws, gold)]
        worst = max(errs) * 1000 if errs else float("nan")
        rtf = spent[name][0] / spent[name][1]
        print(acc._row(name, sc, rtf) + f" {worst:>6.0f}ms")
        out["rows"][name] = {**sc, "max_ms": worst, "rtf": rtf, "unmatched": sc["unmatched"]}
    if args.where:
        print("within 50 ms, and words more than 100 ms off:  first start | last end | inner boundaries")
        for name in names:
            print(f"{name:24s} " + " | ".join(f"{np.mean(e <= 0.05) * 100:5.1f} %  {int(np.sum(e > 0.1)):3d} (max {e.max() * 1000:5.0f} ms)"
                                              for e in _where(by_name[name])))
    print(f"wall {wall:.0f} s with {args.procs} process(es); machine: {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
