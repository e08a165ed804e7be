"""The embedded model on French, German and Spanish: espeak-ng G2P versus hama's English G2P.

Two kinds of evidence, from ../shared/corpus:

* **SPPAS** (fr, fr-CA): human inter-pausal-unit (IPU) boundaries. The whole
  recording's transcript is aligned at once; each IPU's predicted start is its first word's start,
  its end its last word's end; both are compared with the human boundaries.
* **aeneas LibriVox (de, es) and ReadAlongs (fr)**: exact text, no gold timings. Proxy: readers
  pause between the text's lines, so the boundary between the last word of a line and the first of
  the next should fall in a silent stretch of the audio (an energy-based pause: ≥ 100 ms within
  6 dB of the recording's noise floor). Reported: the share of line breaks that do, and the mean word
  score. This is a proxy, not an accuracy against human timings.

    python bench/languages.py [--corpus ../shared/corpus] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from subalign import align_media  # noqa: E402
from subalign.media import load_audio  # noqa: E402
from subalign.text import split_words  # noqa: E402

SR = 16_000
SILENT = {"", "#", "sil", "+", "*", "@", "dummy"}


# -- SPPAS ---------------------------------------------------------------------------------------
def read_ipus(textgrid: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of the non-silent intervals of the first interval tier."""
    data = textgrid.read_bytes()
    raw = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8", "replace")
    out = []
    for xmin, xmax, text in re.findall(
        r'xmin = ([\d.]+)\s*\n\s*xmax = ([\d.]+)\s*\n\s*text = "((?:[^"]|"")*)"', raw
    ):
        text = clean_sppas(text.replace('""', '"'))
        if text:
            out.append((float(xmin), float(xmax), text))
    return out


def clean_sppas(text: str) -> str:
    """SPPAS enriched orthography to plain words: first of [a,b] and <a,b> alternatives, no
    markup, elided letters in parentheses dropped, truncated words without their hyphen."""
    text = re.sub(r"<cut[^>]*/>", " ", text)
    text = re.sub(r"^\s*(?:ipu|gpd|gpf)_\d+\s*", "", text)
    text = re.sub(r"\[([^,\]]*),[^\]]*\]", r"\1", text)
    text = re.sub(r"<([^,>]*),[^>]*>", r"\1", text)
    text = re.sub(r"\([^)]*\)", "", text)
    text = re.sub(r"(\w)-(?=\s|$)", r"\1", text)
    words = [w for w in text.replace("$", " ").split() if w not in SILENT and w.strip("#+*@")]
    return " ".join(words)


def sppas_items(corpus: Path) -> list[tuple[Path, Path, str]]:
    root = corpus / "sppas_samples"
    items = []
    for tg in sorted(root.glob("samples-*/*.TextGrid")):
        lang = {"samples-fra": "fr", "samples-frq": "fr", "samples-eng": "en"}[tg.parent.name]
        if lang != "fr":
            continue
        wav = next((p for p in (tg.with_suffix(".16k.wav"), tg.with_suffix(".wav")) if p.exists()), None)
        if wav is not None:
            items.append((wav, tg, lang))
    return items


def eval_sppas(corpus: Path, g2p_language: dict[str, str]) -> dict:
    errors: list[float] = []
    n_files = audio = took = 0.0
    for wav, tg, lang in sppas_items(corpus):
        ipus = read_ipus(tg)
        if not ipus:
            print(f"  {tg.name}: no transcribed interval found, skipped", file=sys.stderr)
            continue
        counts = [len(split_words(t, language=lang)) for _, _, t in ipus]
        text = "\n\n".join(t for _, _, t in ipus)
        t0 = time.perf_counter()
        result = align_media(wav, text, language=g2p_language.get(lang, lang))
        took += time.perf_counter() - t0
        audio += result.duration
        if len(result.words) != sum(counts):
            print(f"  {tg.name}: word count mismatch, skipped", file=sys.stderr)
            continue
        n_files += 1
        k = 0
        for (gs, ge, _), n in zip(ipus, counts, strict=True):
            words = result.words[k : k + n]
            k += n
            errors += [abs(words[0].start - gs) * 1000, abs(words[-1].end - ge) * 1000]
    return {"files": int(n_files), "boundaries": len(errors), **summary(errors),
            "rtf": took / audio if audio else None}


def summary(errors: list[float]) -> dict:
    return {
        "within_50ms": share(errors, 50), "within_100ms": share(errors, 100),
        "within_200ms": share(errors, 200), "within_500ms": share(errors, 500),
        "mean_ms": statistics.fmean(errors) if errors else None,
        "median_ms": statistics.median(errors) if errors else None,
    }


def share(errors: list[float], limit: float) -> float | None:
    return sum(e <= limit for e in errors) / len(errors) if errors else None


# -- pause proxy -----------------------------------------------------------------------------------
def pauses(wav: np.ndarray, min_s: float = 0.10, margin_db: float = 6.0) -> list[tuple[float, float]]:
    """Stretches of ≥ min_s whose 10 ms frames are all within margin_db of the noise floor (the
    5th percentile of frame energy): room tone between phrases, whatever the recording level."""
    hop = SR // 100
    frames = wav[: len(wav) // hop * hop].reshape(-1, hop)
    db = 10 * np.log10((frames.astype(np.float64) ** 2).mean(1) + 1e-12)
    quiet = db < np.percentile(db, 5) + margin_db
    out, start = [], None
    for i, q in enumerate([*quiet, False]):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if (i - start) * 0.01 >= min_s:
                out.append((start * 0.01, i * 0.01))
            start = None
    return out


def line_items(corpus: Path) -> list[tuple[Path, str, str]]:
    items = []
    ex = corpus / "aeneas_librivox" / "example7"
    for lang in ("de", "es"):
        lines = [ln.split("|", 1)[1] for ln in (ex / f"{lang}.txt").read_text(encoding="utf-8").splitlines() if "|" in ln]
        items.append((ex / f"{lang}.16k.wav", lang, "\n".join(lines)))
    fr = corpus / "readalongs_fra"
    lines = [ln.strip() for ln in (fr / "ej-fra.txt").read_text(encoding="utf-8").splitlines() if ln.strip()]
    items.append((fr / "ej-fra.16k.wav", "fr", "\n".join(lines)))
    return items


def eval_lines(wav_path: Path, text: str, language: str) -> dict:
    wav = load_audio(wav_path, sample_rate=SR)
    quiet = pauses(wav)
    words = align_media(wav_path, text, language=language).words
    counts = [len(split_words(line, language=language)) for line in text.split("\n")]
    if sum(counts) != len(words):
        return {"error": "word count mismatch"}
    hits = total = 0
    k = 0
    for n in counts[:-1]:
        k += n
        a, b = words[k - 1], words[k]
        point = (a.end + b.start) / 2
        total += 1
        hits += any(s - 0.05 <= point <= e + 0.05 for s, e in quiet)
    return {"line_breaks": total, "in_pause": hits / total if total else None,
            "mean_score": statistics.fmean(w.score for w in words)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    report: dict = {}

    print("SPPAS inter-pausal-unit boundaries vs human segmentation")
    print(f"{'set / G2P':<28}{'files':>6}{'n':>6}{'≤50ms':>8}{'≤100ms':>8}{'≤200ms':>8}{'≤500ms':>8}"
          f"{'mean':>9}{'median':>9}{'RTF':>7}")
    for label, mapping in (("fr: espeak-ng → hama", {"fr": "fr", "en": "en"}),
                           ("fr: hama English G2P", {"fr": "en", "en": "en"})):
        r = eval_sppas(args.corpus, mapping)
        report[label] = r
        print(f"{label:<28}{r['files']:>6}{r['boundaries']:>6}{r['within_50ms']:>8.1%}{r['within_100ms']:>8.1%}"
              f"{r['within_200ms']:>8.1%}{r['within_500ms']:>8.1%}{r['mean_ms']:>7.0f}ms{r['median_ms']:>7.0f}ms"
              f"{r['rtf']:>7.3f}")

    print("\nLine breaks that fall in a pause (proxy, no gold), and mean word score")
    print(f"{'recording':<22}{'G2P':<22}{'breaks':>7}{'in pause':>10}{'score':>8}")
    for wav, lang, text in line_items(args.corpus):
        for g2p, language in (("espeak-ng → hama", lang), ("hama English G2P", "en")):
            r = eval_lines(wav, text, language)
            report[f"{wav.name} {g2p}"] = r
            if "error" in r:
                print(f"{wav.name:<22}{g2p:<22} {r['error']}")
                continue
            print(f"{wav.name:<22}{g2p:<22}{r['line_breaks']:>7}{r['in_pause']:>10.1%}{r['mean_score']:>8.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
