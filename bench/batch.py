"""Benchmark of `subalign batch`: a batch of short files, one command per file against one batch
with 1 and 2 (or more) worker processes.

Material: the first N RIFF utterances of the TIMIT sample in ../shared/corpus/timit_nltk_sample
(about 3 s of read speech each), copied into a media folder with their prompts as transcripts.
Each mode is timed as the real commands, from the shell's point of view (wall time of the
processes, Python start-up, imports and model loads included):

* ``separate``: ``subalign align MEDIA TEXT -o OUT.srt -q`` once per file, one after another;
* ``batch -j K``: ``subalign batch FOLDER -o OUT -j K -q --redo`` (one process, K workers).

The table gives the wall time, the time per file, the speed-up over separate commands and the
load average (1 minute) before each run: numbers measured while the machine does other work mean
little. The batch outputs are checked to be the same bytes as the separate commands' outputs.

    python bench/batch.py [--files 20] [--jobs 1,2] [--repeat 1] [--work DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SUBALIGN_SHARED", REPO.parent / "shared")) / "corpus"
TIMIT = SHARED / "timit_nltk_sample"


def make_library(folder: Path, count: int) -> list[Path]:
    """Copy `count` TIMIT utterances (RIFF WAV only) and their prompts into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    media = []
    for txt in sorted(TIMIT.glob("dr*/s[aix]*.txt")):
        wav = txt.with_suffix(".wav")
        if not wav.exists() or wav.read_bytes()[:4] != b"RIFF":
            continue
        name = f"{txt.parent.name}-{txt.stem}"
        shutil.copyfile(wav, folder / f"{name}.wav")
        (folder / f"{name}.txt").write_text(txt.read_text().split(maxsplit=2)[2].strip() + "\n")
        media.append(folder / f"{name}.wav")
        if len(media) == count:
            break
    if len(media) < count:
        sys.exit(f"only {len(media)} usable utterances in {TIMIT}")
    return media


def timed(commands: list[list[str]]) -> float:
    """Run the commands one after another; their total wall time in seconds."""
    start = time.perf_counter()
    for command in commands:
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stderr}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20, help="how many files (default 20)")
    parser.add_argument("--jobs", default="1,2", help="worker counts to time, comma-separated (default 1,2)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each mode; the best is kept")
    parser.add_argument("--work", type=Path, help="folder for the media and outputs (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    if not TIMIT.exists():
        sys.exit(f"shared data not found: {TIMIT} (set SUBALIGN_SHARED)")
    work = args.work or Path(tempfile.mkdtemp(prefix="subalign-bench-batch-"))
    media = make_library(work / "media", args.files)
    exe = [sys.executable, "-m", "subalign"]
    jobs = [int(j) for j in args.jobs.split(",")]

    # warm-up: the forced-align extension is built (or loaded from its cache) once, outside the timings
    timed([exe + ["align", str(media[0]), str(media[0].with_suffix(".txt")), "-o", str(work / "warm.srt"), "-q"]])
    rows = []
    separate_out = work / "separate"
    separate_out.mkdir(exist_ok=True)
    modes: list[tuple[str, list[list[str]], Path]] = [
        ("separate commands", [exe + ["align", str(m), str(m.with_suffix(".txt")), "-o",
                                      str(separate_out / f"{m.stem}.srt"), "-q"] for m in media], separate_out)]
    for k in jobs:
        out = work / f"batch-j{k}"
        modes.append((f"batch --jobs {k}", [exe + ["batch", str(work / "media"), "-o", str(out), "--jobs", str(k),
                                                   "--redo", "-q"]], out))
    for name, commands, out in modes:
        best, load = None, None
        for _ in range(args.repeat):
            before = os.getloadavg()[0]
            seconds = timed(commands)
            if best is None or seconds < best:
                best, load = seconds, before
        rows.append({"mode": name, "seconds": best, "per_file": best / len(media), "load": load})
        if out != separate_out:  # the batch wrote what the separate commands wrote
            same = all((out / f"{m.stem}.srt").read_bytes() == (separate_out / f"{m.stem}.srt").read_bytes()
                       for m in media)
            rows[-1]["same_outputs"] = same
            if not same:
                print(f"warning: {name} wrote other bytes than the separate commands", file=sys.stderr)

    base = rows[0]["seconds"]
    audio = sum(os.path.getsize(m) - 44 for m in media) / 32000  # 16 kHz 16-bit mono
    print(f"{len(media)} TIMIT utterances, {audio:.1f} s of audio in all; model hama; subalign batch vs "
          "one `subalign align` process per file")
    print(f"{'mode':<22}{'wall s':>9}{'per file s':>12}{'speed-up':>10}{'load avg':>10}  same outputs")
    for row in rows:
        print(f"{row['mode']:<22}{row['seconds']:>9.2f}{row['per_file']:>12.3f}{base / row['seconds']:>9.2f}x"
              f"{row['load']:>10.2f}  {'-' if 'same_outputs' not in row else 'yes' if row['same_outputs'] else 'NO'}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {platform.machine()}, {platform.platform()}, {cores} CPUs usable, python {platform.python_version()}")
    if args.json:
        args.json.write_text(json.dumps({"files": len(media), "audio_seconds": audio, "rows": rows}, indent=1))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
