"""Word-boundary accuracy against human labels: the TIMIT sample in ../shared.

For each utterance the transcript (the prompt with its punctuation) is aligned to the audio
with `subalign.align_media`, and every word's start and end is compared with the hand-labelled
`.wrd` times. Prints the share of boundaries within 10/25/50/100 ms, mean and median absolute
error, and the real-time factor (processing time / audio duration).

    python bench/accuracy.py [--corpus ../shared/corpus/timit_nltk_sample] [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import difflib
import json
import platform
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from subalign import align_media  # noqa: E402
from subalign.align import forced_align_backend  # noqa: E402
from subalign.models import get_model  # noqa: E402

SR = 16_000
THRESHOLDS_MS = (10, 25, 50, 100)


def utterances(root: Path) -> list[Path]:
    """Every utterance (wav path) of the sample; the SPHERE file's RIFF copy stands in for it."""
    out = []
    for txt in sorted(root.glob("dr*/*.txt")):
        wav = txt.with_suffix(".wav")
        riff = txt.with_suffix(".riff.wav")
        out.append(riff if riff.exists() else wav)
    return out


def gold_words(wav: Path) -> list[tuple[str, float, float]]:
    stem = wav.name.split(".")[0]
    rows = (wav.parent / f"{stem}.wrd").read_text().split("\n")
    return [(w, int(a) / SR, int(b) / SR) for a, b, w in (r.split() for r in rows if r.strip())]


def transcript(wav: Path) -> str:
    stem = wav.name.split(".")[0]
    return (wav.parent / f"{stem}.txt").read_text().split(maxsplit=2)[2].strip()


def norm(word: str) -> str:
    return re.sub(r"[^a-z']", "", word.lower())


def match(ours: list, gold: list) -> list[tuple[object, tuple[str, float, float]]]:
    """Pairs (our WordSpan, gold word) for words that agree in the two word sequences."""
    a = [norm(w.text) for w in ours]
    b = [norm(g[0]) for g in gold]
    pairs = []
    for blk in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
        for k in range(blk.size):
            pairs.append((ours[blk.a + k], gold[blk.b + k]))
    return pairs


def summarise(errors_ms: list[float]) -> dict:
    n = len(errors_ms)
    out = {f"within_{t}ms": sum(e <= t for e in errors_ms) / n for t in THRESHOLDS_MS}
    out["mean_ms"] = statistics.fmean(errors_ms)
    out["median_ms"] = statistics.median(errors_ms)
    out["n"] = n
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "timit_nltk_sample")
    ap.add_argument("--limit", type=int, default=0, help="only the first N utterances")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()

    wavs = utterances(args.corpus)[: args.limit or None]
    if not wavs:
        print(f"no utterances under {args.corpus}", file=sys.stderr)
        return 2
    get_model("hama")  # load once, outside the timed part
    starts, ends, audio_s, proc_s, unmatched = [], [], 0.0, 0.0, 0
    split = {"text": 0.0, "decode": 0.0, "emissions": 0.0, "align": 0.0}
    for wav in wavs:
        gold = gold_words(wav)
        t = time.perf_counter()
        res = align_media(wav, transcript(wav))
        proc_s += time.perf_counter() - t
        audio_s += res.duration
        for k in split:
            split[k] += res.timings.get(k, 0.0)
        pairs = match(res.words, gold)
        unmatched += len(gold) - len(pairs)
        for w, (_, gs, ge) in pairs:
            starts.append(abs(w.start - gs) * 1000)
            ends.append(abs(w.end - ge) * 1000)

    rows = {"starts": summarise(starts), "ends": summarise(ends), "all": summarise(starts + ends)}
    print(f"TIMIT sample: {len(wavs)} utterances, {len(starts)} words matched, {unmatched} unmatched; "
          f"model hama, aligner {forced_align_backend()}")
    print(f"{'boundaries':<10} {'n':>5} " + " ".join(f"{'≤' + str(t) + 'ms':>7}" for t in THRESHOLDS_MS)
          + f" {'mean':>8} {'median':>8}")
    for name, r in rows.items():
        print(f"{name:<10} {r['n']:>5} " + " ".join(f"{r[f'within_{t}ms']:>7.1%}" for t in THRESHOLDS_MS)
              + f" {r['mean_ms']:>6.1f}ms {r['median_ms']:>6.1f}ms")
    rtf = proc_s / audio_s
    print(f"audio {audio_s:.1f} s, processing {proc_s:.1f} s, real-time factor {rtf:.3f} "
          f"(text {split['text']:.1f} s, decode {split['decode']:.1f} s, "
          f"emissions {split['emissions']:.1f} s, align+cues {split['align']:.1f} s)")
    print(f"machine: {platform.machine()}, {platform.processor() or platform.platform()}, "
          f"python {platform.python_version()}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "rtf": rtf, "split_s": split,
                                         "utterances": len(wavs)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
