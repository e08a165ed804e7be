"""Word-boundary accuracy against human labels: the TIMIT sample in ../shared.

For each utterance the transcript (the prompt with its punctuation) is aligned to the audio
with `subalign.align_media`, and every word's start and end is compared with the hand-labelled
`.wrd` times. Rows: the plain Viterbi times (`refine=False`), the refined times (the default,
subalign/align/refine.py) on all utterances and on the speakers its weights were / were not
fitted on, and PocketSphinx's forced alignment when `pocketsphinx` is installed. Each row gives
the share of boundaries within 10/25/50/100 ms, mean and median absolute error, the share of cue
starts within 100 ms of the human start of the cue's first word, and the real-time factor
(processing time / audio duration). The EMU "ae" demo (hand-labelled Australian English, never
used for fitting) is a second check when present.

    python bench/accuracy.py [--corpus ../shared/corpus/timit_nltk_sample] [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
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
from subalign.media import load_audio  # noqa: E402
from subalign.models import get_model  # noqa: E402
from subalign.models.hama_boundaries import FITTED_ON  # noqa: E402

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
    if n == 0:
        return {"n": 0}
    out = {f"within_{t}ms": sum(e <= t for e in errors_ms) / n for t in THRESHOLDS_MS}
    out["mean_ms"] = statistics.fmean(errors_ms)
    out["median_ms"] = statistics.median(errors_ms)
    out["n"] = n
    return out


class _Word:
    def __init__(self, text: str, start: float, end: float) -> None:
        self.text, self.start, self.end = text, start, end


def score(results: list[tuple[list, list, list]]) -> dict:
    """Errors of (words, cues, gold) per utterance: boundaries and cue starts."""
    starts, ends, cues, unmatched = [], [], [], 0
    for words, utt_cues, gold in results:
        pairs = match(words, gold)
        unmatched += len(gold) - len(pairs)
        for w, (_, gs, ge) in pairs:
            starts.append(abs(w.start - gs) * 1000)
            ends.append(abs(w.end - ge) * 1000)
        truth = {id(w): g for w, g in pairs}
        for c in utt_cues:
            if c.words and id(c.words[0]) in truth:
                cues.append(abs(c.start - truth[id(c.words[0])][1]) * 1000)
    return {"starts": summarise(starts), "ends": summarise(ends), "all": summarise(starts + ends),
            "cue_starts": summarise(cues), "unmatched": unmatched}


def run_subalign(items: list[tuple[Path, str, list]]) -> dict[str, tuple[dict, dict]]:
    """Align every (media, text, gold) with align_media, plain and refined; per-speaker results
    and timings for each. The two runs alternate per utterance (which goes first alternates too)
    so that a busy machine slows both alike."""
    runs: dict[str, tuple[dict, dict]] = {}
    for mode in ("plain", "refined"):
        runs[mode] = ({}, {"proc_s": 0.0, "audio_s": 0.0, "boundaries": "",
                           "split_s": {"text": 0.0, "decode": 0.0, "emissions": 0.0, "align": 0.0}})
    for i, (media, text, gold) in enumerate(items):
        for mode in (("plain", "refined") if i % 2 == 0 else ("refined", "plain")):
            by_speaker, t_ = runs[mode]
            t = time.perf_counter()
            res = align_media(media, text, refine=mode == "refined")
            t_["proc_s"] += time.perf_counter() - t
            t_["audio_s"] += res.duration
            t_["boundaries"] = res.boundaries
            for k in t_["split_s"]:
                t_["split_s"][k] += res.timings.get(k, 0.0)
            by_speaker.setdefault(media.parent.name, []).append((res.words, res.cues, gold))
    for _, t_ in runs.values():
        t_["rtf"] = t_["proc_s"] / t_["audio_s"]
    return runs


def run_pocketsphinx(items: list[tuple[Path, str, list]]) -> tuple[dict, dict] | None:
    """PocketSphinx 5 forced alignment (its own US English model and dictionary), or None."""
    try:
        from pocketsphinx import Decoder
    except ImportError:
        return None
    decoder = Decoder(samprate=SR, loglevel="FATAL")
    by_speaker: dict[str, list] = {}
    proc_s = audio_s = 0.0
    for media, text, gold in items:
        t = time.perf_counter()
        words = [w for w in (norm(x) for x in re.split(r"[\s-]+", text)) if w]
        known = [w for w in words if decoder.lookup_word(w) is not None]
        audio = load_audio(media, sample_rate=SR)
        pcm = (audio.clip(-1, 1) * 32767).astype("int16").tobytes()
        decoder.set_align_text(" ".join(known))
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        segs = [_Word(s.word, s.start_frame / 100, (s.end_frame + 1) / 100) for s in decoder.seg()
                if s.word not in ("<s>", "</s>", "<sil>")]
        proc_s += time.perf_counter() - t
        audio_s += len(audio) / SR
        by_speaker.setdefault(media.parent.name, []).append((segs, [], gold))
    return by_speaker, {"proc_s": proc_s, "audio_s": audio_s, "rtf": proc_s / audio_s}


def emur_items(root: Path) -> list[tuple[Path, str, list]]:
    """The EMU "ae" demo: audio, lower-case text and the Text tier's word intervals."""
    items = []
    for tg in sorted((root / "annotationFiles").glob("*.TextGrid")):
        stem = tg.stem
        wav = root / "wavFiles" / f"{stem}.16k.wav"
        txt = root / "txtFiles" / f"{stem}.txt"
        if not wav.exists() or not txt.exists():
            continue
        words, tier = [], None
        lines = tg.read_text(encoding="utf-8", errors="replace").splitlines()
        for i, line in enumerate(lines):
            line = line.strip()
            if line.startswith("name ="):
                tier = line.split("=", 1)[1].strip().strip('"')
            elif tier == "Text" and line.startswith("xmin") and i + 2 < len(lines) and "text" in lines[i + 2]:
                a = float(line.split("=")[1])
                b = float(lines[i + 1].split("=")[1])
                w = lines[i + 2].split("=", 1)[1].strip().strip('"')
                if w and w != "*":
                    words.append((w, a, b))
        items.append((wav, txt.read_text().strip(), words))
    return items


def _row(name: str, sc: dict, rtf: float | None = None) -> str:
    r = sc["all"]
    cue = sc["cue_starts"]
    cue_s = f"{cue['within_100ms']:>7.1%}" if cue.get("n") else f"{'-':>7}"
    rtf_s = f"{rtf:>6.3f}" if rtf is not None else f"{'':>6}"
    return (f"{name:<40} {r['n']:>5} " + " ".join(f"{r[f'within_{t}ms']:>6.1%}" for t in THRESHOLDS_MS)
            + f" {r['mean_ms']:>6.1f}ms {r['median_ms']:>6.1f}ms {cue_s} {rtf_s}")


def _header() -> str:
    return (f"{'':<40} {'n':>5} " + " ".join(f"{'≤' + str(t) + 'ms':>6}" for t in THRESHOLDS_MS)
            + f" {'mean':>8} {'median':>8} {'cue≤100':>7} {'RTF':>6}")


def _flat(by_speaker: dict, speakers=None) -> list:
    return [r for s, rs in by_speaker.items() if speakers is None or s in speakers for r in rs]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "timit_nltk_sample")
    ap.add_argument("--emur", type=Path, default=REPO.parent / "shared" / "corpus" / "emur_ae_demo")
    ap.add_argument("--limit", type=int, default=0, help="only the first N utterances")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()

    wavs = utterances(args.corpus)[: args.limit or None]
    if not wavs:
        print(f"no utterances under {args.corpus}", file=sys.stderr)
        return 2
    items = [(w, transcript(w), gold_words(w)) for w in wavs]
    model = get_model("hama")  # load once, outside the timed part
    from subalign.text import split_words

    for _, text, _ in items:  # G2P is cached per word: warm it so both runs pay the same text cost
        model.tokenize([w.spoken for w in split_words(text)])
    fitted = set(FITTED_ON.split()[3:])  # "TIMIT sample speakers A B C ..."
    runs = run_subalign(items)
    plain, plain_t = runs["plain"]
    refined, refined_t = runs["refined"]
    ps = run_pocketsphinx(items)
    out: dict = {"utterances": len(wavs), "fitted_on": FITTED_ON}

    print(f"TIMIT sample: {len(items)} utterances, {sum(len(g) for *_, g in items)} gold words; model hama, "
          f"aligner {forced_align_backend()}")
    print(f"refinement: {refined_t['boundaries']} (subalign/align/refine.py; weights fitted on {FITTED_ON}: "
          f"{len(fitted & set(refined))} of the {len(refined)} speakers here; the others are held out)")
    print(_header())
    rows = {
        "subalign plain (Viterbi spikes)": (score(_flat(plain)), plain_t["rtf"]),
        "subalign refined (default)": (score(_flat(refined)), refined_t["rtf"]),
        "  refined, held-out speakers": (score(_flat(refined, set(refined) - fitted)), None),
        "  refined, fitted speakers": (score(_flat(refined, fitted)), None),
        "  plain, held-out speakers": (score(_flat(plain, set(plain) - fitted)), None),
    }
    if ps is not None:
        rows["pocketsphinx 5 (own en-us model)"] = (score(_flat(ps[0])), ps[1]["rtf"])
    for name, (sc, rtf) in rows.items():
        if sc["all"].get("n"):
            print(_row(name, sc, rtf))
    if ps is None:
        print("(pocketsphinx not installed: pip install pocketsphinx for its row)")
    print("starts / ends separately (all speakers):")
    for name in ("subalign plain (Viterbi spikes)", "subalign refined (default)", "pocketsphinx 5 (own en-us model)"):
        if name in rows:
            sc = rows[name][0]
            print(f"  {name:<38} starts ≤25ms {sc['starts']['within_25ms']:.1%} (mean {sc['starts']['mean_ms']:.1f} ms), "
                  f"ends ≤25ms {sc['ends']['within_25ms']:.1%} (mean {sc['ends']['mean_ms']:.1f} ms)")
    slow = refined_t["proc_s"] / plain_t["proc_s"] - 1
    sp = refined_t["split_s"]
    print(f"audio {refined_t['audio_s']:.1f} s; processing plain {plain_t['proc_s']:.1f} s, refined "
          f"{refined_t['proc_s']:.1f} s ({slow:+.1%}); refined split: text {sp['text']:.1f} s, decode "
          f"{sp['decode']:.1f} s, emissions {sp['emissions']:.1f} s, align+refine+cues {sp['align']:.1f} s "
          f"(plain {plain_t['split_s']['align']:.1f} s)")
    out["rows"] = {k: v[0] for k, v in rows.items()}
    out["timing"] = {"plain": plain_t, "refined": refined_t, "slowdown": slow}

    emur = emur_items(args.emur) if args.emur.exists() and not args.limit else []
    if emur:
        emur_runs = run_subalign(emur)
        ep, er = emur_runs["plain"][0], emur_runs["refined"][0]
        print(f"EMU ae demo (Australian English, 1 speaker, {len(emur)} utterances; never used for fitting):")
        for name, res in (("subalign plain", ep), ("subalign refined", er)):
            sc = score(_flat(res))
            print(_row("  " + name, sc))
            out["rows"]["emur " + name] = sc
    print(f"machine: {platform.machine()}, {platform.processor() or platform.platform()}, "
          f"{os.cpu_count()} CPUs, python {platform.python_version()}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
