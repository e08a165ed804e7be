"""Benchmark: our forced-align extension against torchaudio and the PyTorch/NumPy reference.

Every measurement runs in a fresh subprocess on the same saved inputs (float32 log-softmax of
normal logits, C = 30, random targets without consecutive repeats, fixed seed):

    python bench/forced_align.py                                   # ours + reference
    python bench/forced_align.py --torchaudio-python /work/ta_venv/bin/python
    SUBALIGN_TORCHAUDIO_PYTHON=/work/ta_venv/bin/python python bench/forced_align.py --quick

torchaudio (batch size 1 only) runs in its own virtualenv (torch 2.11 + torchaudio 2.11 from
PyPI), since it cannot load beside the project's torch; without it the comparison is with the
reference only.  Throughput is trellis cells per second, sum over items of T_b * L_b.  Memory
is the call's extra peak RSS (VmHWM after resetting it via /proc/self/clear_refs, minus the RSS
before the call) and the whole process's peak (ru_maxrss).  CPU seconds (user + system, all
threads) beside wall seconds show how much of the machine a run actually got when it is shared.  Paths are cross-checked: ours
must equal the reference, and score at least as high as torchaudio's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLASSES = 30
SEED = 20250611
GRID = [(10_000, 1_000), (50_000, 5_000), (180_000, 5_000), (180_000, 20_000)]
BATCH_SHORT = (500, 500, 100)  # 500 utterances of T=500, L=100
BATCH_EIGHT = (8, 50_000, 1_000)  # the thread-scaling batch


# ---------------------------------------------------------------------------------------------
# Worker: one measurement in this (fresh) process.  Must import nothing but numpy at module
# level, since it also runs in the torchaudio virtualenv.


def _status(key: str) -> int:
    with open("/proc/self/status") as handle:
        return next(int(ln.split()[1]) * 1024 for ln in handle if ln.startswith(key))


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    data = Path(args.data)
    lp_np = np.load(data / "log_probs.npy", mmap_mode="r")
    tg_np = np.load(data / "targets.npy")
    in_len = np.load(data / "input_lengths.npy")
    tg_len = np.load(data / "target_lengths.npy")
    lp = torch.from_numpy(np.ascontiguousarray(lp_np))
    tg = torch.from_numpy(tg_np)

    if args.impl == "torchaudio":
        import torchaudio.functional as taf

        tg = tg.to(torch.int32)

        def call():
            paths = []
            for b in range(lp.shape[0]):
                p, _ = taf.forced_align(
                    lp[b : b + 1, : in_len[b]], tg[b : b + 1, : tg_len[b]], blank=0
                )
                paths.append(p[0])
            return paths

        warm = lambda: taf.forced_align(lp[:1, :50], tg[:1, :5], blank=0)  # noqa: E731
    else:
        sys.path.insert(0, str(REPO))
        il, tl = torch.from_numpy(in_len), torch.from_numpy(tg_len)
        if args.impl == "ours":
            import importlib

            ext = importlib.import_module("subalign.align._extension")
            if ext.load_op() is None:
                raise SystemExit(f"extension unavailable: {ext.backend()}")

            def call():
                return ext.forced_align_ext(lp, tg, il, tl, mode=args.mode)[0]

            warm = lambda: ext.forced_align_ext(lp[:1, :50], tg[:1, :5])  # noqa: E731
        else:
            from subalign.align.viterbi import forced_align as reference

            def call():
                return reference(lp, tg, il, tl)[0]

            warm = lambda: reference(lp[:1, :50], tg[:1, :5])  # noqa: E731

    warm()
    times, cpu, extra = [], [], []
    result = None
    for _ in range(args.repeats):
        measured = _reset_peak()
        before = _status("VmRSS:")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        result = call()  # the previous result (a few MB at most) is freed after this call
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu.append(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime)
        extra.append(_status("VmHWM:") - before if measured else -1)
    if args.save_path:
        if isinstance(result, list):
            out = np.zeros((lp.shape[0], lp.shape[1]), dtype=np.int64)
            for b, p in enumerate(result):
                out[b, : len(p)] = p.numpy()
        else:
            out = result.numpy()
        np.save(args.save_path, out)
    print(
        json.dumps(
            {
                "seconds": statistics.median(times),
                "best": min(times),
                "cpu_seconds": statistics.median(cpu),
                "extra_rss": max(extra),
                "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                "version": torch.__version__,
            }
        )
    )


# ---------------------------------------------------------------------------------------------
# Driver


def make_inputs(folder: Path, batch: int, frames: int, tokens: int, seed: int) -> None:
    """Saves float32 log-softmax emissions and non-repeating targets (blank = 0)."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((batch, frames, CLASSES), dtype=np.float32)
    logits -= logits.max(axis=2, keepdims=True)
    logits -= np.log(np.exp(logits).sum(axis=2, keepdims=True))
    targets = rng.integers(1, CLASSES, size=(batch, tokens))
    for b in range(batch):
        for k in range(1, tokens):
            if targets[b, k] == targets[b, k - 1]:
                targets[b, k] = targets[b, k] % (CLASSES - 1) + 1
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "log_probs.npy", logits)
    np.save(folder / "targets.npy", targets)
    np.save(folder / "input_lengths.npy", np.full(batch, frames, dtype=np.int64))
    np.save(folder / "target_lengths.npy", np.full(batch, tokens, dtype=np.int64))


def measure(
    python: str,
    impl: str,
    data: Path,
    threads: int,
    repeats: int,
    mode: str,
    save: Path | None,
    timeout: float,
) -> dict:
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--worker",
        "--impl",
        impl,
        "--data",
        str(data),
        "--threads",
        str(threads),
        "--repeats",
        str(repeats),
        "--mode",
        mode,
    ]
    if save is not None:
        cmd += ["--save-path", str(save)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    if out.returncode != 0:
        if out.returncode < 0:
            return {"error": f"crashed (signal {-out.returncode})"}
        tail = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"exit {out.returncode}: {tail[:120]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def path_score(log_probs: np.ndarray, paths: np.ndarray, lengths: np.ndarray) -> float:
    total = 0.0
    for b in range(paths.shape[0]):
        t = np.arange(lengths[b])
        total += math.fsum(log_probs[b, t, paths[b, : lengths[b]]].astype(np.float64))
    return total


def fmt_rate(x: float | None) -> str:
    return "–" if x is None else f"{x:.2e}"


def fmt_mb(x: int | None) -> str:
    return "–" if x is None or x < 0 else f"{x / 2**20:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--torchaudio-python",
        default=os.environ.get("SUBALIGN_TORCHAUDIO_PYTHON"),
        help="interpreter of a virtualenv with torch 2.11 + torchaudio 2.11",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per measurement")
    parser.add_argument(
        "--passes", type=int, default=2, help="interleaved passes; the best median is kept"
    )
    parser.add_argument("--quick", action="store_true", help="only the two smaller grid sizes")
    parser.add_argument(
        "--reference-max-cells",
        type=float,
        default=1.2e9,
        help="skip the (slow, T*(2L+1)-byte) reference above this many T*L cells",
    )
    parser.add_argument(
        "--only", help="comma-separated case numbers to run (0-3 grid, 4 short batch, 5 batch of 8)"
    )
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--json", type=Path, help="also write all measurements here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--save-path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    ta = args.torchaudio_python
    if ta and not Path(ta).is_file():
        print(f"torchaudio interpreter not found: {ta}; comparing with the reference only")
        ta = None
    grid = GRID[:2] if args.quick else GRID
    cases = [(f"{t:,} x {n:,}", 1, t, n) for t, n in grid]
    cases.append((f"{BATCH_SHORT[0]} x ({BATCH_SHORT[1]} x {BATCH_SHORT[2]})", *BATCH_SHORT))
    cases.append((f"{BATCH_EIGHT[0]} x ({BATCH_EIGHT[1]:,} x {BATCH_EIGHT[2]:,})", *BATCH_EIGHT))

    if args.only:
        keep = {int(i) for i in args.only.split(",")}
        seeds = [SEED + i for i in range(len(cases)) if i in keep]
        cases = [c for i, c in enumerate(cases) if i in keep]
    else:
        seeds = [SEED + i for i in range(len(cases))]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"load average before: {os.getloadavg()}")
    print(f"python: {sys.version.split()[0]}; torchaudio interpreter: {ta or 'none'}\n")
    rows, records = [], []
    with tempfile.TemporaryDirectory(prefix="fa-bench-") as tmp:
        for i, (name, batch, frames, tokens) in enumerate(cases):
            data = Path(tmp) / f"case{i}"
            make_inputs(data, batch, frames, tokens, seeds[i])
            cells = batch * frames * tokens
            reps = args.repeats if cells < 1e9 else 1
            plan = [
                ("ours 1T", "ours", 1, "auto"),
                ("ours 2T", "ours", 2, "auto"),
                ("ours 1T checkpoint", "ours", 1, "checkpoint"),
            ]
            if (frames, tokens) == GRID[-1]:
                plan.append(("ours 1T full", "ours", 1, "full"))
            if cells <= args.reference_max_cells:
                plan.append(("reference 1T", "reference", 1, "auto"))
            if ta:
                plan.append(("torchaudio", "torchaudio", 1, "auto"))
            runs: dict[str, dict] = {}
            for rep in range(args.passes):  # interleaved passes; each keeps its best median
                for label, impl, threads, mode in plan[rep % len(plan) :] + plan[: rep % len(plan)]:
                    if rep and "error" in runs.get(label, {}) and "crash" in runs[label]["error"]:
                        continue  # a crash is not retried
                    python = ta if impl == "torchaudio" else sys.executable
                    save = data / f"{label.replace(' ', '_')}.npy"
                    r = measure(python, impl, data, threads, reps, mode, save, args.timeout)
                    r["rate"] = cells / r["seconds"] if "seconds" in r else None
                    r["path"] = save if save.is_file() else None
                    old = runs.get(label)
                    if old is None or (r.get("rate") or 0) > (old.get("rate") or 0):
                        runs[label] = r
                    shown = r.get("error") or f"{r['seconds']:.3f} s"
                    print(f"{name:>26}  pass {rep + 1}  {label:<20} {shown}", flush=True)
            runs = {label: runs[label] for label, *_ in plan}
            lp = np.load(data / "log_probs.npy", mmap_mode="r")
            lengths = np.load(data / "input_lengths.npy")
            scores = {
                k: path_score(lp, np.load(r["path"]), lengths)
                for k, r in runs.items()
                if r.get("path")
            }
            ours_path = np.load(runs["ours 1T"]["path"]) if runs["ours 1T"].get("path") else None
            checks = []
            for k, r in runs.items():
                if k == "ours 1T" or not r.get("path") or ours_path is None:
                    continue
                other = np.load(r["path"])
                checks.append(
                    f"{k}: {int((other != ours_path).sum())} frames differ, "
                    f"score {scores['ours 1T'] - scores[k]:+.4g}"
                )
            rows.append((name, cells, runs, checks))
            records.append(
                {
                    "case": name,
                    "cells": cells,
                    "runs": {
                        k: {x: v for x, v in r.items() if x != "path"} for k, r in runs.items()
                    },
                    "checks": checks,
                }
            )

    print(f"\nload average after: {os.getloadavg()}")
    print(
        "\n| case | T·L cells | implementation | time (s) | cells/s | × torchaudio "
        "| × reference | CPU s | extra peak RSS (MiB) | process peak RSS (MiB) |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, cells, runs, _ in rows:
        ta_rate = runs.get("torchaudio", {}).get("rate")
        ref_rate = runs.get("reference 1T", {}).get("rate")
        for label, r in runs.items():
            rate = r.get("rate")
            vs_ta = f"{rate / ta_rate:.1f}" if rate and ta_rate else "–"
            vs_ref = f"{rate / ref_rate:.1f}" if rate and ref_rate else "–"
            shown = r.get("error") or f"{r['seconds']:.3f}"
            cpu = f"{r['cpu_seconds']:.3f}" if "cpu_seconds" in r else "–"
            print(
                f"| {name} | {cells:.2e} | {label} | {shown} | {fmt_rate(rate)} | {vs_ta} | "
                f"{vs_ref} | {cpu} | {fmt_mb(r.get('extra_rss'))} | {fmt_mb(r.get('max_rss'))} |"
            )
    print(
        "\nThread scaling (ours 2T ÷ ours 1T, wall clock; CPU s ÷ wall s of the 2T run shows how"
        " much of 2 cores it got) and path checks against ours 1T:"
    )
    for name, _, runs, checks in rows:
        one, two = runs["ours 1T"], runs["ours 2T"]
        scale = "–"
        if one.get("rate") and two.get("rate"):
            scale = f"{two['rate'] / one['rate']:.2f}×, using {two['cpu_seconds'] / two['seconds']:.2f} cores"
        print(f"- {name}: 2 threads {scale}; " + "; ".join(checks))
    if args.json:
        args.json.write_text(json.dumps(records, indent=1, default=str))


if __name__ == "__main__":
    main()
