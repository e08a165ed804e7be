"""Long-form benchmark (issue #7): wall time, peak memory and word-boundary drift on hours of audio.

For each length (default 10 min, 1 h, 3 h) and variant (``clean``: the transcript covers all the
speech; ``cuts``: an intro, an ad break, credits and a paragraph of speech missing from the
transcript, and utterances in the transcript whose audio is gone; see bench/longform_data.py)
the real command runs in a fresh child process:

    python -m subalign align LONG.flac LONG.txt -o OUT.json --quiet

and is measured from outside: wall time, peak RSS (ru_maxrss from wait4: the peak of the child,
or of a process it waited for such as its ffmpeg, whichever is larger; and the largest sum of
RSS over the child and its descendants, sampled every 0.2 s), CPU time, and the stage split when the JSON's ``meta`` has ``timings``. Its words
are scored against the truth: absolute start and end errors of the words it found whose audio is
there (median, 95th percentile, max, share within 25/50 ms, count over 1 s), compared with the
same numbers for the 120 TIMIT utterances aligned one by one with `subalign.align_media` (the
short-utterance reference, cached per version of subalign/ in the data folder). The issue's
rule: |median - reference median| <= 10 ms, |p95 - reference p95| <= 10 ms, no word off by more
than 1 s. For ``cuts`` it also counts words whose audio is absent that came back "not found"
(``"found": false``), present words wrongly not found, and words placed inside audio the
transcript does not cover.

    python bench/longform.py [--seconds 600,3600,10800] [--variant clean|cuts|both] [--seed 0]
                             [--out /tmp/subalign-longform] [--timeout S] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import accuracy  # noqa: E402
import longform_data as ld  # noqa: E402

TOLERANCE_MS = 10.0  # the issue's allowance on the median and the 95th percentile
MAX_OFF_S = 1.0  # ... and no word off by more than this


# ------------------------------------------------------------------------------------------------
# Error statistics


def stats(errors_ms: list[float]) -> dict:
    """Median, 95th percentile, max, share within 25/50 ms and count over 1 s of boundary errors."""
    if not errors_ms:
        return {"n": 0}
    e = np.asarray(errors_ms, dtype=np.float64)
    return {"n": int(e.size), "median_ms": float(np.median(e)), "p95_ms": float(np.percentile(e, 95)),
            "max_ms": float(e.max()), "within_25ms": float(np.mean(e <= 25)),
            "within_50ms": float(np.mean(e <= 50)), "over_1s": int(np.sum(e > MAX_OFF_S * 1000))}


def _code_version() -> str:
    """A hash of subalign's sources, so that the cached reference is redone when the code changes."""
    h = hashlib.sha256()
    for p in sorted((REPO / "subalign").rglob("*")):  # the extension's sources are in it too
        if p.is_file() and p.suffix in {".py", ".cpp", ".h", ".cu", ".cuh"}:
            h.update(str(p.relative_to(REPO)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def reference(out: Path) -> dict:
    """Boundary errors of the 120 TIMIT utterances aligned one at a time with `align_media`
    (refined boundaries, as the CLI's default). Gold per prompt token as in the long files, so
    both distributions cover the same words; cached in `out` per code version."""
    cache = out / f"reference-{_code_version()}.json"
    if cache.exists() and "by_utterance" in (cached := json.loads(cache.read_text())):
        return cached
    from subalign import align_media

    errors: list[float] = []
    starts: list[float] = []
    ends: list[float] = []
    not_found = 0
    by_utt: dict[str, list[list[float] | None]] = {}
    t0 = time.perf_counter()
    for wav in accuracy.utterances(ld.TIMIT):
        text = accuracy.transcript(wav)
        gold = ld.token_times(text, accuracy.gold_words(wav))
        res = align_media(wav, text)
        if len(res.words) != len(gold):
            raise SystemExit(f"{wav}: {len(res.words)} words out, {len(gold)} prompt tokens")
        mine = by_utt[f"{wav.parent.name}/{wav.name.split('.')[0]}"] = []
        for w, (a, b) in zip(res.words, gold, strict=True):
            if getattr(w, "found", True) is False or w.start is None:
                not_found += 1
                mine.append(None)
                continue
            starts.append(abs(w.start - a) * 1000)
            ends.append(abs(w.end - b) * 1000)
            mine.append([starts[-1], ends[-1]])
    errors = starts + ends
    doc = {"code": _code_version(), "utterances": 120, "all": stats(errors), "starts": stats(starts),
           "ends": stats(ends), "not_found": not_found, "seconds": time.perf_counter() - t0,
           "by_utterance": by_utt}
    cache.write_text(json.dumps(doc, indent=1))
    return doc


# ------------------------------------------------------------------------------------------------
# Running the command


def _tree_rss(pid: int) -> int:
    """RSS in bytes of `pid` and all its descendants now (0 when it is gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def run_cli(audio: Path, transcript: Path, out_json: Path, log: Path, timeout: float | None,
            extra: list[str]) -> dict:
    """Run `python -m subalign align` in a fresh child (its own session, so that a timeout kills
    it and its ffmpeg and nothing else); wall time, peak RSS, CPU time and exit status."""
    cmd = [sys.executable, "-m", "subalign", "align", str(audio), str(transcript), "-o", str(out_json),
           "--quiet", *extra]
    out_json.unlink(missing_ok=True)
    peak = [0]
    done = threading.Event()
    with open(log, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                start_new_session=True)

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], _tree_rss(proc.pid))

        def kill() -> None:
            if not done.wait(timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)

        threading.Thread(target=sample, daemon=True).start()
        if timeout:
            threading.Thread(target=kill, daemon=True).start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {"cmd": " ".join(cmd[1:]), "returncode": proc.returncode, "wall_s": wall,
            "timed_out": bool(timeout) and proc.returncode == -signal.SIGKILL and wall >= timeout,
            "peak_rss_mb": usage.ru_maxrss / 1024, "peak_tree_rss_mb": peak[0] / 2**20,
            "cpu_s": usage.ru_utime + usage.ru_stime}


# ------------------------------------------------------------------------------------------------
# Scoring


def pair_words(ours: list[dict], truth: list[dict]) -> tuple[list[tuple[dict, dict]], str]:
    """(output word, truth word) pairs: by index when both lists hold the same words, else by a
    sequence alignment of the normalised texts (as accuracy.match does)."""
    a = [accuracy.norm(w["text"]) for w in ours]
    b = [accuracy.norm(w["text"]) for w in truth]
    if a == b:
        return list(zip(ours, truth, strict=True)), "by index"
    pairs = []
    for blk in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
        pairs.extend((ours[blk.a + k], truth[blk.b + k]) for k in range(blk.size))
    return pairs, f"by sequence alignment ({len(ours)} words out, {len(truth)} in the truth)"


def _found(w: dict) -> bool:
    """A word counts as found unless it says ``"found": false`` or has no times."""
    return w.get("found", True) is not False and w.get("start") is not None and w.get("end") is not None


def score(doc: dict, truth: dict, ref: dict) -> dict:
    """Boundary errors, "not found" bookkeeping and the issue's verdict for one output."""
    pairs, how = pair_words(doc["words"], truth["words"])
    regions = [(r["start"], r["end"], r["kind"]) for r in truth["uncovered"]]
    starts, ends, worst = [], [], []
    same_long, same_alone = [], []  # the long file's errors and the same words' errors alone
    position: dict[int, int] = {}
    c = {"present_found": 0, "present_not_found": 0, "absent_not_found": 0, "absent_found": 0,
         "placed_in_uncovered": 0, "absent_placed_in_uncovered": 0}
    for ours, gold in pairs:
        utt = gold.get("utt")
        k = position[utt] = position.get(utt, -1) + 1
        alone = None
        if utt is not None and ref.get("by_utterance"):
            per_word = ref["by_utterance"].get(truth["utterances"][utt]["id"]) or []
            alone = per_word[k] if k < len(per_word) else None
        found = _found(ours)
        absent = bool(gold.get("absent"))
        if found:
            mid = (ours["start"] + ours["end"]) / 2
            if any(a < mid < b for a, b, _ in regions):
                c["placed_in_uncovered"] += 1
                c["absent_placed_in_uncovered"] += absent
        if absent:
            c["absent_found" if found else "absent_not_found"] += 1
            continue
        if not found:
            c["present_not_found"] += 1
            continue
        c["present_found"] += 1
        es, ee = abs(ours["start"] - gold["start"]) * 1000, abs(ours["end"] - gold["end"]) * 1000
        starts.append(es)
        ends.append(ee)
        if alone is not None:
            same_long += [es, ee]
            same_alone += alone
        if max(es, ee) > MAX_OFF_S * 1000:
            worst.append((max(es, ee), gold["text"], gold["start"], gold["end"], ours["start"], ours["end"]))
    absent_total = sum(1 for w in truth["words"] if w.get("absent"))
    present_total = len(truth["words"]) - absent_total
    out = {"matching": how, "paired": len(pairs), "truth_words": len(truth["words"]),
           "present_words": present_total, "absent_words": absent_total, **c,
           "not_found_recall": c["absent_not_found"] / absent_total if absent_total else None,
           "all": stats(starts + ends), "starts": stats(starts), "ends": stats(ends),
           "words_over_1s": len(worst), "worst": sorted(worst, reverse=True)[:5],
           "same_words": {"long": stats(same_long), "alone": stats(same_alone)}}
    r, a = ref["all"], out["all"]
    if a.get("n") and r.get("n"):
        out["delta_median_ms"] = a["median_ms"] - r["median_ms"]
        out["delta_p95_ms"] = a["p95_ms"] - r["p95_ms"]
        out["pass"] = (abs(out["delta_median_ms"]) <= TOLERANCE_MS and abs(out["delta_p95_ms"]) <= TOLERANCE_MS
                       and not worst and len(pairs) == len(truth["words"]))
    else:
        out["pass"] = None if not r.get("n") else False
    return out


# ------------------------------------------------------------------------------------------------
# Report


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def print_run(name: str, lf: ld.LongFile, run: dict, sc: dict | None, ref: dict) -> None:
    c = lf.counts
    print(f"\n== {name}: {c['duration']:.0f} s of audio, {c['words']} transcript words "
          f"({c['absent_words']} without audio), {c['uncovered_seconds']:.0f} s of audio not in the transcript")
    if run.get("rescored"):
        print("   (scored again from an earlier run's output)")
    else:
        print(f"   {run['cmd']}")
        rtf = run["wall_s"] / c["duration"]
        print(f"   exit {run['returncode']}{' (timed out)' if run['timed_out'] else ''}; wall {run['wall_s']:.1f} s "
              f"(x{rtf:.3f} of real time), CPU {run['cpu_s']:.1f} s, peak RSS {run['peak_rss_mb']:.0f} MB "
              f"(process tree, sampled: {run['peak_tree_rss_mb']:.0f} MB)")
        t = run.get("timings") or {}
        if t:
            split = ", ".join(f"{k} {v:.1f} s ({v / run['wall_s']:.0%})" for k, v in t.items())
            print(f"   stages: {split}; outside the stages {run['wall_s'] - sum(t.values()):.1f} s (start-up, writing)")
        else:
            print("   stages: the JSON's meta has no 'timings'")
    if sc is None:
        return
    a, r = sc["all"], ref["all"]
    print(f"   words paired {sc['matching']}: {sc['paired']} of {sc['truth_words']}")
    print(f"   {'boundaries':<26} {'n':>6} {'median':>7} {'p95':>7} {'max':>8} {'≤25ms':>6} {'≤50ms':>6} {'>1s':>5}")
    for label, s in (("long file (start+end)", a), ("  starts", sc["starts"]), ("  ends", sc["ends"]),
                     ("short utterances (ref.)", r)):
        if s.get("n"):
            print(f"   {label:<26} {s['n']:>6} {s['median_ms']:>7.1f} {s['p95_ms']:>7.1f} {s['max_ms']:>8.0f} "
                  f"{s['within_25ms']:>6.1%} {s['within_50ms']:>6.1%} {s['over_1s']:>5}")
    if sc.get("pass") is not None and a.get("n"):
        print(f"   long - short: median {sc['delta_median_ms']:+.1f} ms, p95 {sc['delta_p95_ms']:+.1f} ms; "
              f"words off > 1 s: {sc['words_over_1s']} -> {'PASS' if sc['pass'] else 'FAIL'} "
              f"(rule: |Δ| ≤ {TOLERANCE_MS:.0f} ms each, none off > {MAX_OFF_S:.0f} s)")
    same = sc.get("same_words") or {}
    if (same.get("long") or {}).get("n"):
        sl, sa = same["long"], same["alone"]
        print(f"   the same words aligned alone (their utterances as short files): n {sa['n']}, median "
              f"{sa['median_ms']:.1f} ms, p95 {sa['p95_ms']:.1f} ms; long file: median {sl['median_ms']:.1f} ms, "
              f"p95 {sl['p95_ms']:.1f} ms; Δ median {sl['median_ms'] - sa['median_ms']:+.1f} ms, "
              f"Δ p95 {sl['p95_ms'] - sa['p95_ms']:+.1f} ms")
    for err, text, gs, ge, os_, oe in sc["worst"][:3]:
        print(f"     off {err / 1000:.1f} s: {text!r} is at {gs:.2f}-{ge:.2f} s, placed at {os_:.2f}-{oe:.2f} s")
    print(f"   present words not found: {sc['present_not_found']} of {sc['present_words']}")
    if sc["absent_words"]:
        print(f"   words without audio reported not found: {sc['absent_not_found']} of {sc['absent_words']} "
              f"({sc['not_found_recall']:.1%}); given times anyway: {sc['absent_found']}")
    print(f"   words placed inside audio the transcript does not cover: {sc['placed_in_uncovered']} "
          f"({sc['absent_placed_in_uncovered']} of them words without audio)")


def print_summary(rows: list[dict], ref: dict) -> None:
    r = ref["all"]
    print("\nSummary (short-utterance reference: " + (f"median {r['median_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, "
          f"n {r['n']})" if r.get("n") else "not run)"))
    print(f"{'length':>7} {'variant':<7} {'words':>6} {'wall s':>8} {'RTF':>6} {'emis.%':>6} {'RSS MB':>7} "
          f"{'median':>7} {'p95':>7} {'Δmed':>6} {'Δp95':>6} {'>1s':>4} {'NF rec':>7} {'pres.NF':>7} "
          f"{'in unc.':>7}  verdict")
    for row in rows:
        run, sc = row["run"], row.get("score") or {}
        if run.get("rescored"):
            run = {**run, "wall_s": float("nan"), "peak_rss_mb": float("nan"), "timed_out": False}
        a = sc.get("all", {})
        t = run.get("timings") or {}
        emis = f"{t['emissions'] / run['wall_s']:.0%}" if "emissions" in t else "-"
        rec = sc.get("not_found_recall")
        verdict = ("timed out" if run["timed_out"] else "error" if run["returncode"] != 0
                   else {True: "PASS", False: "FAIL"}.get(sc.get("pass"), "-"))
        print(f"{row['seconds']:>7} {row['variant']:<7} {row['counts']['words']:>6} {run['wall_s']:>8.1f} "
              f"{run['wall_s'] / row['counts']['duration']:>6.3f} {emis:>6} {run['peak_rss_mb']:>7.0f} "
              f"{_ms(a.get('median_ms')):>7} {_ms(a.get('p95_ms')):>7} {_ms(sc.get('delta_median_ms')):>6} "
              f"{_ms(sc.get('delta_p95_ms')):>6} {sc.get('words_over_1s', '-'):>4} "
              f"{'-' if rec is None else f'{rec:.0%}':>7} {sc.get('present_not_found', '-'):>7} "
              f"{sc.get('placed_in_uncovered', '-'):>7}  {verdict}")
    print("RTF = wall / audio; emis.% = emissions stage / wall; NF rec = words without audio reported not found; "
          "pres.NF = words with audio reported not found; in unc. = words placed in audio the transcript lacks")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", default="600,3600,10800", help="comma-separated lengths")
    ap.add_argument("--variant", default="both", choices=(*ld.VARIANTS, "both"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ld.DEFAULT_OUT, help="data and output folder")
    ap.add_argument("--timeout", type=float, default=None, help="kill a run after this many seconds")
    ap.add_argument("--no-reference", action="store_true", help="skip the short-utterance reference")
    ap.add_argument("--cli-args", default="", help="extra arguments for `subalign align` (one string)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument("--rescore", action="store_true",
                    help="score the outputs of earlier runs again (in OUT/runs) instead of running")
    args = ap.parse_args()

    variants = ld.VARIANTS if args.variant == "both" else (args.variant,)
    lengths = [int(s) for s in args.seconds.split(",")]
    files = {}
    for seconds in lengths:  # build (or find) all the material first: the runs then run back to back
        for variant in variants:
            lf = ld.build(seconds, variant, args.out, args.seed)
            if lf.built_s is not None:
                print(f"built {lf.audio} in {lf.built_s:.0f} s")
            files[seconds, variant] = lf
    ref = {"all": {"n": 0}} if args.no_reference else reference(args.out)
    if ref["all"].get("n"):
        r = ref["all"]
        print(f"short-utterance reference (120 TIMIT utterances, align_media one by one): n {r['n']}, "
              f"median {r['median_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, max {r['max_ms']:.0f} ms")
    rows = []
    runs_dir = args.out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for (seconds, variant), lf in files.items():
        name = f"{seconds}s-{variant}"
        out_json = runs_dir / f"{name}.json"
        run = ({"returncode": 0 if out_json.exists() else 1, "rescored": True} if args.rescore else
               run_cli(lf.audio, lf.transcript, out_json, runs_dir / f"{name}.log", args.timeout,
                       args.cli_args.split()))
        sc = None
        if run["returncode"] == 0 and out_json.exists():
            doc = json.loads(out_json.read_text())
            run["timings"] = (doc.get("meta") or {}).get("timings") or {}
            sc = score(doc, json.loads(lf.truth.read_text()), ref)
        else:
            tail = (runs_dir / f"{name}.log").read_text(errors="replace").strip().splitlines()[-5:]
            print(f"\n{name}: exit {run['returncode']}; log tail:\n  " + "\n  ".join(tail))
        print_run(name, lf, run, sc, ref)
        rows.append({"seconds": seconds, "variant": variant, "counts": lf.counts, "run": run, "score": sc})
    print_summary(rows, ref)
    print(f"machine: {platform.machine()}, {platform.processor() or platform.platform()}, "
          f"{os.cpu_count()} CPUs, python {platform.python_version()}")
    if args.json:
        args.json.write_text(json.dumps({"reference": ref, "runs": rows}, indent=1))
    return 0 if all(r["run"]["returncode"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
