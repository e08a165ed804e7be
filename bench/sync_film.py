"""Benchmark of `subalign sync` on a film-like file, against ffsubsync, for every kind of damage and
every kind of subtitle text (see bench/film_data.py for the material).

For each text variant (exact, condensed, another language) and each damage, the damaged SRT is
re-timed by the real commands, in the same run: `subalign sync FILM.mkv damaged.srt -o out.json`
(default mode), the same with `--fast` (speech pattern only), and ffsubsync when it is installed
(in a virtualenv of its own: it is not a dependency; on PATH, in ../ffs_venv or /work/ffs_venv, or
--ffsubsync). Each cue's output start is compared with the true start of its speech (the human
label of its first word); cues whose speech is not in the film (inserted cues, the cues of the cut
stretch) are counted as rejected when subalign did not place them on words or speech. Wall times
include starting the command and loading its models. Last, the subtitles are synced against a
different film (the wrong video): subalign must refuse (exit 2).

    python bench/sync_film.py [--work DIR] [--texts exact,condensed,other-language]
                              [--damages none,jitter,...] [--modes default,fast] [--json OUT]
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import film_data as fd  # noqa: E402

from subalign.formats import read_subtitles  # noqa: E402

SHARED = Path(os.environ.get("SUBALIGN_SHARED", REPO.parent / "shared")) / "corpus"
TARGETS = {  # (median ms, p95 ms) or (median ms, share within 500 ms)
    "exact": ("median <= 30 ms, p95 <= 150 ms", lambda m, p, w: m <= 30 and p <= 150),
    "condensed": ("median <= 50 ms, p95 <= 250 ms", lambda m, p, w: m <= 50 and p <= 250),
    "other-language": ("median <= 80 ms, >= 95 % within 500 ms", lambda m, p, w: m <= 80 and w >= 0.95),
    # not in issue 13's list: the exact words with reading-time padding, held to exact's targets
    "padded": ("median <= 30 ms, p95 <= 150 ms", lambda m, p, w: m <= 30 and p <= 150),
}


def find_ffsubsync(given: str | None) -> str | None:
    if given:
        return given
    for cand in (shutil.which("ffsubsync"), REPO.parent / "ffs_venv" / "bin" / "ffsubsync",
                 Path("/work/ffs_venv/bin/ffsubsync")):
        if cand and Path(cand).exists():
            return str(cand)
    return None


def run(cmd: list[str], env: dict | None = None) -> tuple[int, float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return proc.returncode, time.perf_counter() - t, proc.stderr


def starts_from_json(path: Path) -> tuple[list[float], list[str]]:
    doc = json.loads(path.read_text())
    return [c["start"] for c in doc["cues"]], [c.get("method", "") for c in doc["cues"]]


def starts_from_srt(path: Path, texts: list[str]) -> list[float | None]:
    """ffsubsync's output starts, matched to the input cues by text (it may drop cues)."""
    subs = read_subtitles(path)
    got = [" ".join(c.text.split()) for c in subs.cues]
    want = [" ".join(fd._wrap(t)).replace("\n", " ") for t in texts]
    out: list[float | None] = [None] * len(texts)
    sm = difflib.SequenceMatcher(a=want, b=got, autojunk=False)
    for a, b, n in sm.get_matching_blocks():
        for k in range(n):
            out[a + k] = subs.cues[b + k].start
    return out


def score(cues: list[fd.FilmCue], starts: list[float | None], methods: list[str] | None = None) -> dict:
    errs, lost, fakes, rejected = [], 0, 0, 0
    for k, c in enumerate(cues):
        s = starts[k] if k < len(starts) else None
        if c.true_start is None:
            fakes += 1
            if methods is not None and methods[k] not in ("words", "speech"):
                rejected += 1
            continue
        if s is None:
            lost += 1
            continue
        errs.append(abs(s - c.true_start) * 1000)
    e = np.array(errs) if errs else np.array([np.inf])
    return {"n": len(errs), "lost": lost, "median": float(np.median(e)), "p95": float(np.percentile(e, 95)),
            "within100": float(np.mean(e <= 100)), "within500": float(np.mean(e <= 500)),
            "max": float(e.max()), "fakes": fakes, "rejected": rejected}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/sync_film")
    ap.add_argument("--texts", default=",".join(fd.TEXTS))
    ap.add_argument("--damages", default=",".join(fd.DAMAGES))
    ap.add_argument("--modes", default="default,fast")
    ap.add_argument("--ffsubsync")
    ap.add_argument("--json")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    timit = SHARED / "timit_nltk_sample"
    cache = work / "film.pkl"
    if cache.exists():
        film = pickle.loads(cache.read_bytes())
    else:
        film = fd.build_film(timit, work)
        cache.write_bytes(pickle.dumps(film))
    cut, _, cut_len = fd.cut_film(film, work, at_cue=60)
    other = fd.build_other_film(SHARED, work)
    fillers = fd.english_fillers(timit, film)
    english = [w for c in film.cues for w in c.text.split()]
    foreign = fd.foreign_pool(SHARED)
    ffs = find_ffsubsync(args.ffsubsync)
    modes = args.modes.split(",")
    sub = [sys.executable, "-m", "subalign.cli"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    print(f"subalign sync on a film-like file ({film.duration:.0f} s, {len(film.cues)} cues, music bed, "
          f"digital-silence joins, 23.976 fps .mkv); cut: {cut_len:.1f} s; ffsubsync: {ffs or 'not installed'}")
    print(f"load average before: {os.getloadavg()}")
    head = f"{'text':14s} {'damage':14s} {'cues':>4s}"
    for m in modes:
        head += f" | {m:7s} {'med':>5s} {'p95':>6s} {'≤0.1s':>5s} {'≤0.5s':>5s} {'rej':>5s} {'time':>5s}"
    head += f" | {'ffsubsync':9s} {'med':>6s} {'p95':>7s} {'time':>5s}"
    print(head)
    rows = []
    for text in args.texts.split(","):
        for damage in args.damages.split(","):
            media = cut if damage == "cut30s" else film
            cues = fd.retext(fd.damage(media.cues, damage, fillers), text, english, foreign)
            srt = work / f"{text}_{damage}.srt"
            fd.write_srt(srt, cues)
            row = {"text": text, "damage": damage, "cues": sum(c.true_start is not None for c in cues)}
            line = f"{text:14s} {damage:14s} {row['cues']:4d}"
            for m in modes:
                out = work / f"{text}_{damage}.{m}.json"
                cmd = [*sub, "sync", str(media.media), str(srt), "-o", str(out), "-q"]
                if m == "fast":
                    cmd.append("--fast")
                rc, secs, err = run(cmd, env)
                if rc != 0:
                    row[m] = {"error": err.strip()[-300:], "seconds": secs}
                    line += f" | {m:7s} failed (exit {rc})".ljust(52)
                    continue
                starts, methods = starts_from_json(out)
                res = score(cues, starts, methods) | {"seconds": secs}
                row[m] = res
                line += (f" | {m:7s} {res['median']:5.0f} {res['p95']:6.0f} {res['within100']:5.0%} "
                         f"{res['within500']:5.0%} {res['rejected']:2d}/{res['fakes']:<2d} {secs:5.1f}")
            if ffs:
                out = work / f"{text}_{damage}.ffs.srt"
                rc, secs, err = run([ffs, str(media.media), "-i", str(srt), "-o", str(out)])
                if rc == 0 and out.exists():
                    res = score(cues, starts_from_srt(out, [c.text for c in cues])) | {"seconds": secs}
                    row["ffsubsync"] = res
                    lost = f" ({res['lost']} lost)" if res["lost"] else ""
                    line += f" | {'':9s} {res['median']:6.0f} {res['p95']:7.0f} {secs:5.1f}{lost}"
                else:
                    row["ffsubsync"] = {"error": err.strip()[-300:], "seconds": secs}
                    line += " | ffsubsync failed"
            print(line, flush=True)
            rows.append(row)

    # The wrong video.
    wrong = {}
    srt = work / "exact_none.srt"
    fd.write_srt(srt, film.cues)
    for m in modes:
        cmd = [*sub, "sync", str(other.media), str(srt), "-o", str(work / f"wrong.{m}.json"), "-q"]
        if m == "fast":
            cmd.append("--fast")
        rc, secs, err = run(cmd, env)
        wrong[m] = {"exit": rc, "message": err.strip(), "seconds": secs}
        print(f"wrong video, {m}: exit {rc} ({'refused' if rc == 2 else 'NOT refused'}) in {secs:.1f} s: {err.strip()[:160]}")

    # Targets.
    print("targets:")
    ok_all = True
    for text in args.texts.split(","):
        label, test = TARGETS[text]
        for m in modes:
            if m == "fast" and text != "other-language":
                continue
            bad = [r["damage"] for r in rows if r["text"] == text and (
                "error" in r.get(m, {"error": 1}) or not test(r[m]["median"], r[m]["p95"], r[m]["within500"]))]
            ok_all &= not bad
            print(f"  {text} ({label}), {m}: {'met' if not bad else 'NOT met: ' + ', '.join(bad)}")
    if ffs:
        for m, limit in (("default", 15.0), ("fast", 2.0)):
            if m not in modes:
                continue
            ratios = [r[m]["seconds"] / r["ffsubsync"]["seconds"] for r in rows
                      if "seconds" in r.get(m, {}) and "error" not in r.get(m, {}) and "seconds" in r.get("ffsubsync", {})]
            if ratios:
                worst = max(ratios)
                ok_all &= worst <= limit
                print(f"  time, {m}: {np.median(ratios):.1f}x ffsubsync (median), worst {worst:.1f}x "
                      f"(target <= {limit:g}x): {'met' if worst <= limit else 'NOT met'}")
    refused = all(w["exit"] == 2 for w in wrong.values())
    ok_all &= refused
    print(f"  the wrong video refused: {'met' if refused else 'NOT met'}")
    print(f"load average after: {os.getloadavg()}; machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "wrong": wrong, "ok": ok_all}, indent=1))


if __name__ == "__main__":
    main()
