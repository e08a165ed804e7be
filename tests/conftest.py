"""Shared test fixtures: where the shared corpus lives, and the ffmpeg binary."""

from __future__ import annotations

import os
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
