"""What the model windows' context costs and buys on long audio.

The embedded model takes at most 30 s per call, so long audio runs in windows (12 s by default,
29.5 s before) that carry `context` seconds on each side, of which only the core frames are kept
(`--contexts` varies the context of 29.5 s windows). This benchmark joins all 120 TIMIT sample utterances (human word labels)
with room-tone pauses of 0.3-1.2 s into one file of about 7 minutes, aligns it with
`subalign.align_media` for each context length, and prints the word-boundary accuracy (columns of
bench/accuracy.py), the emission time, and how far the emissions move from those of the longest
configuration (largest absolute log-probability difference, and the frames whose best token
changes).

The engine's cost per second of audio grows with the call's length (attention), so shorter
windows can cost less even with their larger share of context: `--configs WINDOW:CONTEXT,...`
compares window lengths too (the emission time is one process, this machine).

    python bench/context.py [--contexts 4,2,1,0.5] [--configs 29.5:2,16:2,12:1] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import accuracy as acc  # noqa: E402
import soundtrack as st  # noqa: E402

from subalign import align_media  # noqa: E402
from subalign.media import load_audio  # noqa: E402
from subalign.models import load_model  # noqa: E402


def build(corpus: Path, out: Path, seed: int = 0) -> tuple[str, list]:
    """The joined file at `out`; returns its transcript and the human word labels (shifted)."""
    rng = np.random.default_rng(seed)
    parts, texts, gold, t = [], [], [], 0.0
    for wav in acc.utterances(corpus):
        gap = st.room_tone(float(rng.uniform(0.3, 1.2)), -60.0, int(rng.integers(1 << 30)))
        x = load_audio(wav, sample_rate=st.SR)
        t += len(gap) / st.SR
        gold += [(w, a + t, b + t) for w, a, b in acc.gold_words(wav)]
        parts += [gap, x]
        t += len(x) / st.SR
        texts.append(acc.transcript(wav))
    audio = np.concatenate(parts + [st.room_tone(0.5, -60.0, 1)])
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(st.SR)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return "\n\n".join(texts), gold


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "timit_nltk_sample")
    ap.add_argument("--contexts", default="4,2,1,0.5", help="seconds of context on each side, comma-separated")
    ap.add_argument("--configs", help="WINDOW:CONTEXT seconds, comma-separated (instead of --contexts)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    configs = ([tuple(float(x) for x in c.split(":")) for c in args.configs.split(",")] if args.configs
               else [(29.5, float(c)) for c in args.contexts.split(",")])
    model = load_model("hama", "auto", "auto")  # the very instance align_media uses (cached per arguments)
    rows, out = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "joined.wav"
        text, gold = build(args.corpus, path)
        audio = load_audio(path, sample_rate=model.sample_rate)
        ref = None
        print(f"{len(gold)} labelled words, {len(audio) / model.sample_rate:.0f} s of audio")
        print(f"{'window:context':<14}" + acc._header()[40:] + f" {'emit s':>7} {'extra':>6} {'max Δlogp':>9} {'argmax≠':>8}")
        window0, context0 = model._window, model._context
        for w, c in configs:
            model._window, model._context = int(w * model.sample_rate), int(c * model.sample_rate)
            plan = model.window_plan(len(audio))
            computed = sum(w.stop - w.start for w in plan) / len(audio) - 1
            em = model.emit(audio).numpy()
            if ref is None:
                ref = em
            diff = float(np.max(np.abs(em - ref)))
            changed = float(np.mean(em.argmax(1) != ref.argmax(1)))
            res = align_media(path, text, jobs=1, long=False)
            sc = acc.score([(res.words, res.cues, gold)])
            rows[(w, c)] = sc
            r = sc["all"]
            print(f"{w:>5.1f}:{c:<4.1f} s  " + acc._row("", sc)[40:].rstrip()
                  + f" {res.timings['emissions']:>7.1f} {computed:>6.1%} {diff:>9.3f} {changed:>8.2%}")
            out[f"{w}:{c}"] = {"all": r, "emissions_s": res.timings["emissions"], "extra_audio": computed,
                               "max_dlogp": diff, "argmax_changed": changed}
        model._window, model._context = window0, context0
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
