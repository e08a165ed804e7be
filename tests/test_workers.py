"""models/workers.py: the model's windows and tokens computed in worker processes give what one
process gives; Ctrl-C stops a job at once even while the model runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO, write_wav

from subalign.media import load_audio
from subalign.models import get_model
from subalign.models.workers import MIN_POOL_SECONDS, Emitter

SR = 16_000


@pytest.fixture(scope="module")
def long_audio() -> np.ndarray:
    """Real speech, looped to a little over a minute (enough for the workers)."""
    speech = load_audio(REPO / "samples" / "sonnet001.mp3", sample_rate=SR)
    out = np.tile(speech, int(np.ceil((MIN_POOL_SECONDS + 8) * SR / len(speech))))
    return out[: int((MIN_POOL_SECONDS + 8) * SR)]


def test_two_workers_give_the_frames_of_one_process(long_audio):
    model = get_model("hama")
    one = Emitter(model, "hama", jobs=1).emit(long_audio)
    two = Emitter(model, "hama", jobs=2)
    assert two.parallel(len(long_audio) / SR)
    heard: list[float] = []
    got = two.emit(long_audio, progress=heard.append)
    assert got.shape == one.shape == (len(long_audio) // 320 + 1, len(model.vocabulary))
    assert np.allclose(got.numpy(), one.numpy(), atol=1e-5)
    assert sum(heard) == pytest.approx(len(long_audio) / SR, abs=0.05)
    parts = two.emit_many([long_audio[: 40 * SR], long_audio[40 * SR :]])
    assert np.allclose(parts[0].numpy(), model.emit(long_audio[: 40 * SR]).numpy(), atol=1e-5)
    assert np.allclose(parts[1].numpy(), model.emit(long_audio[40 * SR :]).numpy(), atol=1e-5)


def test_tokens_from_workers_equal_this_processs():
    model = get_model("hama")
    forms = [f"{w}{k}" if k else w for k in range(3) for w in
             "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
             "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu".split()] * 20
    forms = [f.replace("0", "o").replace("1", "a").replace("2", "e") for f in forms]
    one = model.tokenize(list(dict.fromkeys(forms)), "en")
    two = Emitter(model, "hama", jobs=2)
    many = list(dict.fromkeys(forms))
    many = (many * (500 // len(many) + 1))[:500]
    got = two.tokenize(many, "en")
    ref = dict(zip(dict.fromkeys(forms), one, strict=True))
    assert got == [ref[f] for f in many]


def test_align_with_jobs_gives_the_same_result(tmp_path, long_audio):
    from subalign.cli import main

    wav = tmp_path / "long.wav"
    write_wav(wav, long_audio)
    text = (REPO / "samples" / "sonnet001.txt").read_text()
    reps = int(np.ceil(len(long_audio) / SR / 53.3))
    (tmp_path / "long.txt").write_text("\n\n".join([text] * reps), encoding="utf-8")
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.json"
        assert main(["align", str(wav), str(tmp_path / "long.txt"), "-o", str(out), "-q", "--jobs", jobs,
                     "--force"]) == 0
        outs.append(out.read_text())
    import json

    a, b = (json.loads(o) for o in outs)
    assert a["words"] == b["words"] and a["cues"] == b["cues"]


def test_ctrl_c_stops_a_job_with_workers_at_once(tmp_path, long_audio):
    """SIGINT while the workers compute emissions: the command exits 130 within a second or
    two, writes nothing, and leaves no worker behind."""
    wav = tmp_path / "long.wav"
    write_wav(wav, np.tile(long_audio, 8))
    (tmp_path / "t.txt").write_text("hello " * 400, encoding="utf-8")
    out = tmp_path / "out.srt"
    proc = subprocess.Popen([sys.executable, "-m", "subalign.cli", "align", str(wav), str(tmp_path / "t.txt"),
                             "-o", str(out), "-q", "--jobs", "2", "--no-long"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(12)  # start-up, text, decoding: then the workers are busy with the model
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    waited = time.monotonic() - sent
    assert proc.returncode == 130, proc.stderr.read()
    assert waited < 5, waited  # not the 7 s one window of the engine can take
    assert not out.exists() and not list(tmp_path.glob(".out.srt.*"))
    # the forkserver and resource tracker exit when the command does; under load the container's
    # init may take a moment to reap them, so only processes still alive (not zombies) count
    deadline = time.monotonic() + 10
    while True:
        listing = subprocess.run(["ps", "-o", "pid=,stat=", "-s", str(proc.pid)], capture_output=True,
                                 text=True).stdout.split("\n")
        alive = [line for line in listing if line.strip() and not line.split()[1].startswith("Z")
                 and int(line.split()[0]) != os.getpid()]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not alive
