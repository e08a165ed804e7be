"""models/vad.py: Silero's speech detector run with numpy, on real speech, music and silence.

The numpy runner computes every frame's convolutions at once and steps only the LSTM; it must
give what the same network gives run frame by frame as a stream, which is checked here against a
torch build of the network from the same weights file (the layers as the silero-vad package
describes them).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO

from subalign.media import load_audio
from subalign.models import vad

SR = 16_000


def _torch_network(p: dict[str, np.ndarray]) -> torch.nn.Module:
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stft = torch.nn.Conv1d(1, 258, 256, stride=128, bias=False)
            self.c1 = torch.nn.Conv1d(129, 128, 3, padding=1)
            self.c2 = torch.nn.Conv1d(128, 64, 3, stride=2, padding=1)
            self.c3 = torch.nn.Conv1d(64, 64, 3, stride=2, padding=1)
            self.c4 = torch.nn.Conv1d(64, 128, 3, padding=1)
            self.lstm = torch.nn.LSTMCell(128, 128)
            self.out = torch.nn.Conv1d(128, 1, 1)

        def forward(self, x: torch.Tensor, state):  # x: (1, 576) = 64 samples before + 512
            x = torch.nn.functional.pad(x, (0, 64), mode="reflect").unsqueeze(1)
            x = self.stft(x)
            x = (x[:, :129] ** 2 + x[:, 129:] ** 2).sqrt()
            for conv in (self.c1, self.c2, self.c3, self.c4):
                x = torch.relu(conv(x))
            h, c = self.lstm(x.squeeze(-1), state)
            return torch.sigmoid(self.out(torch.relu(h).unsqueeze(-1))).mean(), (h, c)

    net = Net()
    names = {"stft.weight": "stft_conv.weight", "lstm.weight_ih": "lstm_cell.weight_ih",
             "lstm.weight_hh": "lstm_cell.weight_hh", "lstm.bias_ih": "lstm_cell.bias_ih",
             "lstm.bias_hh": "lstm_cell.bias_hh", "out.weight": "final_conv.weight", "out.bias": "final_conv.bias"}
    for k in range(1, 5):
        names[f"c{k}.weight"], names[f"c{k}.bias"] = f"conv{k}.weight", f"conv{k}.bias"
    net.load_state_dict({ours: torch.from_numpy(p[theirs].copy()) for ours, theirs in names.items()})
    return net.eval()


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return load_audio(REPO / "samples" / "sonnet001.mp3", sample_rate=SR)[: 20 * SR]


def test_numpy_runner_equals_the_network_streamed_frame_by_frame(sample):
    got = vad.speech_activity(sample).probs
    net = _torch_network(vad._load())
    wav = torch.from_numpy(np.concatenate([np.zeros(64, dtype=np.float32), sample]))
    state = None
    want = []
    with torch.inference_mode():
        for k in range(len(sample) // 512):
            prob, state = net(wav[k * 512 : k * 512 + 576].unsqueeze(0), state)
            want.append(float(prob))
    assert len(got) == len(want) == len(sample) // 512
    np.testing.assert_allclose(got, want, atol=2e-4)


def test_speech_is_found_and_music_and_silence_are_not(sample):
    t = np.arange(8 * SR) / SR
    chords = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * np.exp(-(t % 0.5) * 4)
    music = (0.1 * chords / np.abs(chords).max()).astype(np.float32)
    audio = np.concatenate([np.zeros(3 * SR, dtype=np.float32), music, sample[int(2.6 * SR) : int(8.6 * SR)]])
    act = vad.speech_activity(audio)
    fr = act.frame_seconds
    silent, tune, speech = act.probs[: int(3 / fr)], act.probs[int(3.5 / fr) : int(10.5 / fr)], act.probs[int(12 / fr) :]
    assert silent.max() < 0.3 and np.mean(tune > 0.5) < 0.1 and np.mean(speech > 0.5) > 0.6
    segments = act.segments()
    assert segments and segments[0][0] >= 10.5


def test_fast_sync_never_imports_torch(tmp_path):
    """The speech pattern alone runs without torch (start-up is half of a fast sync)."""
    code = ("import sys, numpy as np; from subalign.models.vad import speech_activity; "
            "from subalign.align.timeline import fit_pattern; from subalign import sync; "
            "speech_activity(np.zeros(16000, dtype=np.float32)); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_empty_and_wrong_rate():
    assert len(vad.speech_activity(np.zeros(100, dtype=np.float32)).probs) == 0
    with pytest.raises(ValueError):
        vad.speech_activity(np.zeros(8000, dtype=np.float32), 8000)
