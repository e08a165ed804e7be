"""Long media (subalign/longform.py): streamed emissions, units, and the whole chain on real speech
with audio the transcript lacks and transcript text the audio lacks."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_wav
from hypothesis import given, settings
from hypothesis import strategies as st

import subalign.align.anchoring as anchoring
import subalign.align.pieces as pieces
import subalign.longform as longform
from subalign.media import load_audio
from subalign.models.base import stream_emissions
from subalign.pipeline import align_media
from subalign.text import split_words

SR = 16_000
REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------
# Streaming emissions


class FrameIndexModel:
    """A model whose frame k (of hop samples) reports the sample index at the frame's start, so
    stitched output says exactly which frames came out, in which order. Frames that start past
    the end of the call's audio (the model's last frame) report -1 as a real model pads them."""

    name = "frame-index"
    sample_rate = SR
    frame_seconds = 0.02
    vocabulary = ("<blank>", "x")
    blank = 0
    hop = 320

    def __init__(self) -> None:
        self.calls: list[int] = []

    def emit(self, waveform, progress=None):
        self.calls.append(len(waveform))
        n = len(waveform) // self.hop + 1
        idx = np.arange(n) * self.hop
        values = np.where(idx < len(waveform), waveform[np.minimum(idx, len(waveform) - 1)], -1.0)
        if progress is not None:
            progress(len(waveform) / SR)
        return torch.from_numpy(np.stack([values, values], axis=1).astype(np.float32))


@settings(max_examples=60, deadline=None)
@given(
    seconds=st.floats(0.05, 40.0),
    block=st.floats(0.5, 12.0),
    context=st.floats(0.0, 3.0),
    chunk=st.floats(0.01, 7.0),
)
def test_streamed_frames_are_complete_in_order_and_each_once(seconds, block, context, chunk):
    n = int(seconds * SR)
    ramp = np.arange(n, dtype=np.float64)  # exact in float32 only below 2**24: 17 min at 16 kHz
    chunks = (ramp[i : i + max(1, int(chunk * SR))].astype(np.float32) for i in range(0, n, max(1, int(chunk * SR))))
    model = FrameIndexModel()
    heard = []
    blocks = list(stream_emissions(model, chunks, block, context, progress=heard.append))
    frames = torch.cat([b for _, b in blocks])[:, 1].numpy()
    starts = [first for first, _ in blocks]
    assert starts == [0] + list(np.cumsum([len(b) for _, b in blocks])[:-1])
    expected = np.arange(n // 320 + 1) * 320.0
    expected[expected >= n] = -1.0
    assert np.array_equal(frames, expected)
    # bounded: no call sees more than one block plus its context on both sides
    assert max(model.calls) <= int(block * SR) // 320 * 320 + 2 * (int(context * SR) // 320 * 320) + 320
    assert sum(heard) == pytest.approx(n / SR, rel=0.05, abs=0.05)


def test_streamed_hama_emissions_match_one_pass(tmp_path):
    """Real speech, real model: blocks of 20 s stitched from a stream agree with one pass."""
    from subalign.models import get_model

    model = get_model("hama")
    wav = load_audio(REPO / "samples" / "sonnet001.mp3", sample_rate=SR)
    whole = model.emit(wav)
    chunks = (wav[i : i + 7 * SR] for i in range(0, len(wav), 7 * SR))
    streamed = torch.cat([b for _, b in stream_emissions(model, chunks, 20.0, 6.0)])
    assert streamed.shape == whole.shape
    agree = (streamed.argmax(1) == whole.argmax(1)).float().mean().item()
    assert agree > 0.9, agree


# ------------------------------------------------------------------------------------------------
# Units


def test_units_follow_sentences_and_stay_short():
    text = "One two three. Four five six seven!\n" + " ".join(f"w{i}" for i in range(60)) + ", and more."
    words = split_words(text)
    toks = [[1, 2] for _ in words]
    units = pieces.make_units(words, toks, separator=3)
    held = [i for u in units for i in u.index_words]
    assert held == list(range(len(words)))
    assert [len(u.index_words) for u in units[:2]] == [3, 4]
    assert all(len(u.index_words) <= pieces.UNIT_WORDS for u in units)
    assert units[2].targets[:3] == [1, 2, 3]


# ------------------------------------------------------------------------------------------------
# The whole chain on real speech


@dataclass
class LongSpeech:
    wav: Path
    text: str
    gold: list[tuple[str, float, float] | None]  # per transcript word: (text, start, end) or None: not in the audio
    intro_end: float
    extra: tuple[float, float]  # speech in the audio whose text is not in the transcript
    alone: list[tuple[Path, str, list[tuple[str, float, float]]]]  # the present utterances as files



def _chords(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Music-like sound: a few chords of sine tones with a beat envelope."""
    out = []
    while sum(len(x) for x in out) < seconds * SR:
        n = int(rng.uniform(0.5, 1.5) * SR)
        t = np.arange(n) / SR
        tone = sum(np.sin(2 * np.pi * f * t) for f in rng.choice([220, 277, 330, 392, 440, 523], 3))
        beat = 0.6 + 0.4 * np.abs(np.sin(2 * np.pi * 2 * t))
        out.append((0.08 * tone * beat).astype(np.float32))
    return np.concatenate(out)[: int(seconds * SR)]


@pytest.fixture(scope="module")
def long_speech(timit, tmp_path_factory) -> LongSpeech:
    """About 75 s: 10 s of chords and one TIMIT utterance that the transcript lacks (an intro),
    then 14 utterances of two speakers with 0.3-2 s pauses of quiet noise; the transcript lacks
    the text of the 6th and has two prompts whose audio is absent (one alone, one after the 10th)."""
    rng = np.random.default_rng(7)
    pick = random.Random(7)
    utts = []
    for txt in sorted(timit.glob("dr*/*.txt")):
        if txt.parent.name in ("dr4-falr0", "dr6-fapb0") and not txt.stem.startswith("sa"):
            rows = [r.split() for r in txt.with_suffix(".wrd").read_text().splitlines() if r.strip()]
            utts.append((load_audio(txt.with_suffix(".wav"), sample_rate=SR), txt.read_text().split(maxsplit=2)[2].strip(),
                         [(w, int(a) / SR, int(b) / SR) for a, b, w in rows], txt.with_suffix(".wav")))
    assert len(utts) >= 15
    prompts = [ln.split(" (")[0] for ln in (timit / "docs" / "prompts.txt").read_text().splitlines()
               if ln and not ln.startswith(";")]
    used = {u[1] for u in utts}
    absent = [p for p in prompts if p not in used and len(p.split()) >= 6][:2]
    parts = [_chords(10.0, rng)]
    t = 10.0
    parts.append(utts[0][0])
    extra = [(t, t + len(utts[0][0]) / SR)]
    t += len(utts[0][0]) / SR
    lines: list[str] = []
    gold: list[tuple[str, float, float] | None] = []
    alone = []
    for k, (audio, prompt, words, source) in enumerate(utts[1:15], 1):
        pause = (rng.standard_normal(int(pick.uniform(0.3, 2.0) * SR)) * 3e-4).astype(np.float32)
        parts += [pause, audio]
        t += len(pause) / SR
        if k == 6:
            extra.append((t, t + len(audio) / SR))
        else:
            lines.append(prompt)
            n = len(split_words(prompt))
            assert n == len(words), prompt
            gold += [(w, t + a, t + b) for w, a, b in words]
            alone.append((source, prompt, words))
        if k in (3, 10):
            lines.append(absent[0 if k == 3 else 1])
            gold += [None] * len(split_words(lines[-1]))
        t += len(audio) / SR
    parts.append(np.zeros(SR, dtype=np.float32))
    path = tmp_path_factory.mktemp("long") / "long.wav"
    write_wav(path, np.concatenate(parts))
    return LongSpeech(path, "\n".join(lines) + "\n", gold, 10.0, extra[1], alone)


def _short_errors(speech: LongSpeech) -> np.ndarray:
    """Boundary errors of the same utterances, each aligned alone as a short file."""
    errors = []
    for source, prompt, gold in speech.alone:
        words = align_media(source, prompt).words
        errors += [abs(x) for w, (_, a, b) in zip(words, gold, strict=True) for x in (w.start - a, w.end - b)]
    return np.array(errors)


def _check_long(words, speech: LongSpeech, short: np.ndarray) -> None:
    """Every word in its place: the ones not in the audio not found, the others found with the
    errors their utterances get when aligned alone."""
    assert len(words) == len(speech.gold)
    errors = []
    for w, g in zip(words, speech.gold, strict=True):
        if g is None:
            assert not w.found, f"{w.text!r} is not in the audio but was given {w.start:.2f}-{w.end:.2f}"
            continue
        assert w.found, f"{w.text!r} at {g[1]:.2f} s was not found"
        assert w.start >= speech.intro_end
        errors += [abs(w.start - g[1]), abs(w.end - g[2])]
    errors = np.array(errors)
    assert errors.max() < 0.5, errors.max()
    assert np.mean(errors <= 0.05) >= np.mean(short <= 0.05) - 0.03, (np.mean(errors <= 0.05), np.mean(short <= 0.05))
    assert np.median(errors) <= np.median(short) + 0.01
    found = [w for w in words if w.found]
    assert all(a.end <= b.start + 1e-9 for a, b in zip(found, found[1:], strict=False))


def test_long_chain_finds_what_is_said_and_only_that(long_speech, monkeypatch):
    monkeypatch.setattr(longform, "BLOCK_SECONDS", 20.0)  # several model blocks
    monkeypatch.setattr(anchoring, "MAX_CELLS", 2_000_000)  # several anchoring runs
    result = align_media(long_speech.wav, long_speech.text, long=True)
    assert result.method == "long"
    _check_long(result.words, long_speech, _short_errors(long_speech))
    assert result.missing == [i for i, g in enumerate(long_speech.gold) if g is None]
    assert all(w.found for c in result.cues for w in c.words)
    assert set(result.timings) >= {"text", "decode", "emissions", "anchoring", "pieces", "cues"}


def test_cli_json_marks_words_not_found(long_speech, tmp_path, capsys):
    from subalign.cli import main

    text = tmp_path / "t.txt"
    text.write_text(long_speech.text)
    out = tmp_path / "out.json"
    assert main(["align", str(long_speech.wav), str(text), "-o", str(out), "--long", "--quiet"]) == 0
    doc = json.loads(out.read_text())
    missing = [i for i, w in enumerate(doc["words"]) if w.get("found") is False]
    assert missing == [i for i, g in enumerate(long_speech.gold) if g is None]
    assert all(doc["words"][i]["start"] is None and doc["words"][i]["end"] is None for i in missing)
    assert doc["meta"]["method"] == "long" and doc["meta"]["words_not_found"] == len(missing)
    in_cues = {i for c in doc["cues"] for i in c["words"]}
    assert not in_cues & set(missing)
    err = capsys.readouterr().err
    assert f"{len(missing)} of {len(doc['words'])} words were not found" in err


def test_ctrl_c_stops_cleanly_and_writes_nothing(tmp_path):
    """SIGINT while the model runs: exit 130, one line, no output or temporary file, no ffmpeg."""
    from subalign.media import ffmpeg_binary

    media = tmp_path / "tone.wav"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=300:duration=400",
                    "-ar", "16000", "-ac", "1", str(media)], check=True)
    text = tmp_path / "t.txt"
    text.write_text("hello world\n")
    out = tmp_path / "out.srt"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "subalign", "align", str(media), str(text), "-o", str(out),
                             "--long"], stderr=subprocess.PIPE, text=True, env=env,
                            # a test run in the background inherits SIGINT ignored; a user's
                            # terminal delivers it, so give the child the default disposition
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(8)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "subalign: interrupted; no output written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt", "tone.wav"]
    left = subprocess.run(["pgrep", "-f", str(media)], capture_output=True, text=True)
    assert left.stdout.strip() == ""


def test_short_file_with_sentence_pauses_gets_the_edges_of_single_utterances(long_speech, tmp_path):
    """A short file of sentences joined by short pauses (0.3-0.6 s of room tone) takes the whole
    chain, but its sentences are refined one by one: their first and last words come out as
    well placed as when each sentence is a file of its own."""
    rng = np.random.default_rng(3)
    parts, gold, lines, t = [], [], [], 0.0
    for source, prompt, words in long_speech.alone:
        audio = load_audio(source, sample_rate=SR)
        pause = (rng.standard_normal(int(rng.uniform(0.3, 0.6) * SR)) * 3e-4).astype(np.float32)
        parts += [audio, pause]
        gold += [(w, t + a, t + b) for w, a, b in words]
        lines.append(prompt)
        t += (len(audio) + len(pause)) / SR
    path = tmp_path / "joined.wav"
    write_wav(path, np.concatenate(parts))
    result = align_media(path, "\n".join(lines), long=False)
    assert result.method == "whole"
    errors = np.array([abs(x) for w, (_, a, b) in zip(result.words, gold, strict=True)
                       for x in (w.start - a, w.end - b)])
    short = _short_errors(long_speech)
    assert np.mean(errors <= 0.05) >= np.mean(short <= 0.05) - 0.03, (np.mean(errors <= 0.05), np.mean(short <= 0.05))
    assert np.percentile(errors, 95) <= np.percentile(short, 95) + 0.02
