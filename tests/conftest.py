"""Shared test fixtures: where the shared corpus lives, and the ffmpeg binary."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import wave
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SUBALIGN_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"
GOLDEN = SHARED / "golden" / "forced_align"
TIMIT = CORPUS / "timit_nltk_sample"


def need(path: Path) -> Path:
    """Skip the calling test with a reason when a shared data path is absent."""
    if not path.exists():
        pytest.skip(f"shared data not found: {path} (set SUBALIGN_SHARED)")
    return path


@pytest.fixture(scope="session")
def corpus() -> Path:
    return need(CORPUS)


@pytest.fixture(scope="session")
def golden() -> Path:
    return need(GOLDEN)


@pytest.fixture(scope="session")
def timit() -> Path:
    return need(TIMIT)


def write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> None:
    """Write float samples in [-1, 1] as a 16-bit mono WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


SAMPLE = REPO / "samples" / "sonnet001.mp3"
#: What the first 14.9 s of the LibriVox sample say.
CLIP_TEXT = """1
From fairest creatures we desire increase,
That thereby beauty's rose might never die,
But as the riper should by time decease,
His tender heir might bear his memory:
"""


@pytest.fixture(scope="session")
def sonnet_clip(tmp_path_factory) -> dict[str, Path]:
    """The first 14.9 s of the LibriVox sample as 16 kHz WAV, its text, and its alignment by the
    CLI as JSON (for the review page and plot tests)."""
    import subprocess

    from subalign.cli import main
    from subalign.media import ffmpeg_binary

    d = tmp_path_factory.mktemp("clip")
    wav = d / "clip.wav"
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(SAMPLE),
                    "-t", "14.9", "-ac", "1", "-ar", "16000", str(wav)], check=True)
    (d / "clip.txt").write_text(CLIP_TEXT, encoding="utf-8")
    assert main(["align", str(wav), str(d / "clip.txt"), "-o", str(d / "clip.json"), "-q"]) == 0
    return {"dir": d, "wav": wav, "txt": d / "clip.txt", "json": d / "clip.json"}


def run_on_terminal(cmd: list[str], rows: int = 24, cols: int = 80, **popen) -> tuple[int, bytes]:
    """Run `cmd` with its stderr (and stdin, stdout unless given) on a pseudo-terminal of the
    given size; return its exit status and everything it drew."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))  # a sized terminal
    popen = {"stdin": slave, "stdout": slave, **popen}
    proc = subprocess.Popen(cmd, stderr=slave, **popen)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        seen += data
    os.close(master)
    return proc.wait(timeout=60), seen


def music_bed(seconds: float, seed: int = 0, rate: int = 16_000) -> np.ndarray:
    """A little synthesized music: a chord per half second (three detuned partials each) and a
    noise hit on every beat, unit RMS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    out = np.zeros_like(t)
    beat = int(0.5 * rate)
    for start in range(0, len(t), beat):
        root = 110 * 2 ** (rng.integers(0, 12) / 12)
        seg = slice(start, start + beat)
        for ratio in (1, 1.25, 1.5):
            out[seg] += np.sin(2 * np.pi * root * ratio * t[seg]) * np.exp(-(t[seg] - t[start]) * 3)
        hit = min(beat // 4, len(t) - start)
        out[start : start + hit] += rng.standard_normal(hit) * np.exp(-np.arange(hit) / (0.03 * rate))
    return (out / np.sqrt(np.mean(out**2))).astype(np.float32)


def timit_utterances(root: Path):
    """(speaker, wav, prompt, first word's start, last word's end) of each TIMIT utterance, in
    file order (seconds from the human word labels)."""
    for txt in sorted(root.glob("dr*/*.txt")):
        wav = txt.with_suffix(".riff.wav") if txt.with_suffix(".riff.wav").exists() else txt.with_suffix(".wav")
        prompt = txt.read_text().split(maxsplit=2)[2].strip()
        rows = [r.split() for r in txt.with_suffix(".wrd").read_text().splitlines() if r.strip()]
        yield txt.parent.name, wav, prompt, int(rows[0][0]) / 16_000, int(rows[-1][1]) / 16_000


def reading_time(truth: list[tuple[float, float]], seed: int, gap: float = 0.3) -> list[tuple[float, float]]:
    """Cues as subtitles are timed for speech spans: up 0.05-0.3 s before the speech, 0.5-1.2 s
    after it for reading, at least 1 s, ending `gap` s before the next speech."""
    rng = np.random.default_rng(seed)
    out = []
    for k, (a, b) in enumerate(truth):
        s, e = a - rng.uniform(0.05, 0.3), b + rng.uniform(0.5, 1.2)
        if k + 1 < len(truth):
            e = min(e, truth[k + 1][0] - gap)
        out.append((s, max(e, s + 1.0)))
    return out
