"""Review page benchmark (issue 16): how big and how quick the page is for a film's worth of words.

A synthetic film: `--seconds` of audio (default 7200, two hours: pink noise in speech-like
bursts, Opus-encoded by ffmpeg) and a JSON result of `--words` words (default 20,000) in cues of
ten (2,000), some scoring low, one in a thousand not found, a rule finding every 50 cues. The
page is written by `subalign.write_review` (the media referred to, not embedded), then loaded in
headless Debian chromium (and firefox-esr when installed), measuring:

* the file size, and its parts: waveform peaks, transcript elements, script data;
* the time to write it (decoding the media for the peaks is most of it);
* the time from navigation to the page's ``data-ready`` mark (HTML parsed, script set up: words
  read, marks listed, first drawing), and how long one seek takes to move the highlight.

    python bench/review_page.py [--seconds 7200] [--words 20000] [--out /tmp/subalign-review]
                                [--no-firefox]

Speed numbers depend on the machine and its load: run it on a quiet machine for RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from subalign import write_review  # noqa: E402
from subalign.media import ffmpeg_binary  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def film_document(words: int = 20_000, per_cue: int = 10, seed: int = 7) -> dict:
    """A JSON result of a film: `words` words in cues of `per_cue`, about 0.28 s a word with a
    0.6 s pause between cues (20,000 words: 6,800 s); scores uniform in 0.3-1; every 997th word not found (left out of
    the cues, as long media report it); a max_cps finding every 50 cues."""
    rng = np.random.default_rng(seed)
    doc: dict = {"words": [], "cues": [], "meta": {"model": "hama", "method": "long"}, "report": []}
    t = 5.0
    for i in range(words):
        d = float(rng.uniform(0.15, 0.35))
        if i % 997 == 5:
            doc["words"].append({"text": f"lost{i}", "start": None, "end": None, "score": 0.0, "found": False})
            continue
        doc["words"].append({"text": f"word{i}", "start": round(t, 3), "end": round(t + d, 3),
                             "score": round(float(rng.uniform(0.3, 1.0)), 4)})
        t += d + float(rng.uniform(0.01, 0.05)) + (0.6 if i % per_cue == per_cue - 1 else 0)
    doc["meta"]["duration"] = round(t + 5, 3)
    found = [i for i, w in enumerate(doc["words"]) if w["start"] is not None]
    for k in range(0, len(found), per_cue):
        ids = found[k : k + per_cue]
        text = " ".join(doc["words"][i]["text"] for i in ids)
        doc["cues"].append({"start": doc["words"][ids[0]]["start"], "end": doc["words"][ids[-1]]["end"],
                            "text": text, "lines": [text], "words": ids})
        if len(doc["cues"]) % 50 == 0:
            doc["report"].append({"cue": len(doc["cues"]), "start": doc["cues"][-1]["start"],
                                  "rule": "max_cps", "value": 18.5, "limit": 17})
    return doc


def make_media(path: Path, seconds: float) -> None:
    """Pink noise in 0.7 Hz bursts, mono Opus at 16 kbit/s (a film's dialogue track stand-in)."""
    if path.exists():
        return
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"anoisesrc=d={seconds}:c=pink:a=0.3:r=16000", "-af",
                    "volume='0.05+0.95*gt(sin(2*PI*t*0.7)\\,0.2)':eval=frame", "-ac", "1",
                    "-c:a", "libopus", "-b:a", "16k", str(path)], check=True)


def parts(page: str) -> dict[str, int]:
    """Bytes of the page's parts."""
    data = re.search(r'<script type="application/json" id="subalign-data">(.*?)</script>', page, re.S)
    transcript = re.search(r'<section id="transcript"[^>]*>(.*?)</section>', page, re.S)
    peaks = re.search(r'"peaks":\{[^}]*"data":"([^"]*)"', page)
    return {"total": len(page.encode()), "peaks (base64)": len(peaks.group(1)) if peaks else 0,
            "script data without peaks": (len(data.group(1).encode()) - (len(peaks.group(1)) if peaks else 0)) if data else 0,
            "transcript elements": len(transcript.group(1).encode()) if transcript else 0}


SEEK = """t => new Promise(done => { const t0 = performance.now();
    media.addEventListener('seeked', () => requestAnimationFrame(() => done(performance.now() - t0)), {once: true});
    media.currentTime = t; })"""


def chromium_times(page: Path, probe_time: float) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        tab.on("pageerror", lambda e: errors.append(str(e)))
        t0 = time.perf_counter()
        tab.goto(page.resolve().as_uri(), wait_until="commit", timeout=120_000)
        tab.wait_for_selector("html[data-ready='1']", state="attached", timeout=120_000)
        ready = time.perf_counter() - t0
        tab.wait_for_function("media.readyState >= 1", timeout=120_000)
        seek = tab.evaluate(SEEK, probe_time)
        heap = tab.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : 0")
        browser.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    return {"ready_s": ready, "seek_ms": seek, "js_heap_mb": heap / 2**20}


def firefox_times(page: Path, probe_time: float) -> dict[str, float] | None:
    sys.path.insert(0, str(REPO / "tests"))
    from bidi import Firefox, firefox_binary

    binary = firefox_binary()
    if binary is None:
        return None
    ff = Firefox(binary)
    try:
        t0 = time.perf_counter()
        ff.open(page)
        ff.eval("new Promise(r => { const w = () => document.documentElement.dataset.ready ? r(1) : setTimeout(w, 20); w(); })")
        ready = time.perf_counter() - t0
        ff.eval("new Promise(r => { const w = () => media.readyState >= 1 ? r(1) : setTimeout(w, 20); w(); })")
        seek = ff.eval(f"({SEEK})({probe_time})")
        if ff.errors:
            raise RuntimeError(f"page errors: {ff.errors}")
    finally:
        ff.close()
    return {"ready_s": ready, "seek_ms": seek}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=7200.0)
    ap.add_argument("--words", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/subalign-review"))
    ap.add_argument("--no-firefox", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    doc = film_document(args.words)
    needed = doc["meta"]["duration"]
    if needed > args.seconds:
        raise SystemExit(f"{args.words} words need {needed:.0f} s of media; raise --seconds")
    media = args.out / f"film-{int(args.seconds)}.opus"
    t = time.perf_counter()
    make_media(media, args.seconds)
    made = time.perf_counter() - t
    result = args.out / "film.json"
    result.write_text(json.dumps(doc), encoding="utf-8")
    t = time.perf_counter()
    page = write_review(args.out / "film.html", result, media)
    written = time.perf_counter() - t
    text = page.read_text(encoding="utf-8")
    mid = next(w for w in doc["words"][len(doc["words"]) // 2 :] if w["start"] is not None)
    probe_time = (mid["start"] + mid["end"]) / 2
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
                   f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        "words": len(doc["words"]), "cues": len(doc["cues"]), "media_seconds": args.seconds,
        "media_made_s": round(made, 1), "page_written_s": round(written, 2),
        "bytes": parts(text),
        "chromium": {k: round(v, 3) for k, v in chromium_times(page, probe_time).items()},
    }
    if not args.no_firefox:
        ff = firefox_times(page, probe_time)
        report["firefox"] = {k: round(v, 3) for k, v in ff.items()} if ff else "not installed"
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
