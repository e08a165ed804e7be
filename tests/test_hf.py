"""The hf model route with a tiny randomly initialised Wav2Vec2ForCTC built from the real classes.

No network: the model, its tokenizer and feature extractor are saved to a temporary folder and
loaded through `hf:<folder>`, exactly as a downloaded model would be.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from subalign.errors import ModelError
from subalign.models import load_model
from subalign.models.torch_ctc import (
    VocabTokenizer,
    batched_windowed_emissions,
    conv_geometry,
    resolve_device,
    resolve_dtype,
)

transformers = pytest.importorskip("transformers", reason="the hf route needs transformers (subalign[hf])")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "sonnet001.mp3"
LETTERS = ["<pad>", "<s>", "</s>", "<unk>", "|", *"abcdefghijklmnopqrstuvwxyz'"]


def save_tiny_model(folder: Path, vocab: list[str], seed: int = 0) -> Path:
    """A 2-layer, 32-wide Wav2Vec2ForCTC with the standard conv front end, saved like a hub model."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    transformers.Wav2Vec2CTCTokenizer(str(folder / "vocab.json")).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True
    ).save_pretrained(folder)
    torch.manual_seed(seed)
    config = transformers.Wav2Vec2Config(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, pad_token_id=0, feat_extract_norm="layer",
    )
    transformers.Wav2Vec2ForCTC(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("hf") / "tiny-w2v2", LETTERS)


@pytest.fixture(scope="module")
def model(tiny):
    return load_model(f"hf:{tiny}", "cpu", "float32")


def test_geometry_and_vocabulary_come_from_the_saved_model(model, tiny):
    assert model.name == f"hf:{tiny}"
    assert model.sample_rate == 16000
    assert model.frame_seconds == pytest.approx(0.02)  # conv strides 5*2^6 = 320 samples
    assert model.vocabulary == LETTERS and model.blank == 0
    assert model.vocabulary[model.word_boundary] == "|"
    assert conv_geometry((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)) == (400, 320)


@pytest.mark.parametrize("seconds", [0.01, 1.0, 7.3, 65.0])
def test_emissions_have_one_frame_per_hop(model, seconds):
    rng = np.random.default_rng(1)
    wav = (rng.standard_normal(int(seconds * 16000)) * 0.1).astype(np.float32)
    em = model.emit(wav)
    assert em.shape == (len(wav) // 320 + 1, len(LETTERS))
    assert em.dtype == torch.float32
    np.testing.assert_allclose(em.exp().sum(-1).numpy(), 1.0, atol=1e-4)


def test_batching_does_not_change_the_emissions(tiny):
    """Windows run alone or eight to a batch give the same log-probs (no mixing between items)."""
    from subalign.models.hf import HFModel

    rng = np.random.default_rng(2)
    wav = (rng.standard_normal(16000 * 50) * 0.1).astype(np.float32)
    one = HFModel(str(tiny), device="cpu", batch_size=1, window_seconds=8, context_seconds=2).emit(wav)
    many = HFModel(str(tiny), device="cpu", batch_size=8, window_seconds=8, context_seconds=2).emit(wav)
    assert one.shape == many.shape
    torch.testing.assert_close(one, many, atol=1e-4, rtol=1e-4)


def test_frames_are_centred_on_their_hop(model):
    """Through the model's real conv front end, a click at sample p changes frame p // hop most."""
    features = model._net.wav2vec2.feature_extractor

    def run(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return features(batch).transpose(1, 2).abs()

    for p in (0, 1234, 16000, 16000 * 3 + 319, 16000 * 12 + 7):
        wav = np.zeros(16000 * 13, dtype=np.float32)
        base = batched_windowed_emissions(run, wav, hop=320, receptive_field=400, window=16000 * 5,
                                          context=16000, batch_size=4)
        wav[p] = 1.0
        clicked = batched_windowed_emissions(run, wav, hop=320, receptive_field=400, window=16000 * 5,
                                             context=16000, batch_size=4)
        change = (clicked - base).abs().sum(-1)
        hit = torch.nonzero(change > 1e-6).flatten().tolist()
        assert hit and p // 320 in hit and all(abs(k - p / 320) <= 1.25 for k in hit), (p, hit)


def test_align_through_hf_folder(tiny):
    """The whole align path with the tiny model: a valid alignment of every word."""
    from subalign import align_media
    from subalign.text import split_words

    text = (REPO / "samples" / "sonnet001.txt").read_text(encoding="utf-8")
    result = align_media(SAMPLE, text, model=f"hf:{tiny}", device="cpu")
    assert result.model == f"hf:{tiny}" and result.meta()["model"] == f"hf:{tiny}"
    assert result.meta()["device"] == "cpu"
    assert [w.text for w in result.words] == [w.text for w in split_words(text)]
    previous_end = 0.0
    for w in result.words:
        assert previous_end - 1e-9 <= w.start <= w.end <= result.duration + 1e-9
        assert 0.0 <= w.score <= 1.0
        previous_end = w.end
    assert all(c.start < c.end for c in result.cues)


def test_cli_align_with_hf_model_writes_json(tiny, tmp_path):
    from subalign.cli import main

    out = tmp_path / "out.json"
    code = main(["align", str(SAMPLE), str(REPO / "samples" / "sonnet001.txt"), "-o", str(out),
                 "--model", f"hf:{tiny}", "--device", "cpu", "--dtype", "float32", "-q",
                 "--force"])  # the tiny random model hears none of the words: the fail-safe would refuse
    assert code == 0
    data = json.loads(out.read_text())
    assert data["meta"]["model"] == f"hf:{tiny}"
    assert len(data["words"]) > 50


def test_bfloat16_on_cpu_runs(tiny):
    model = load_model(f"hf:{tiny}", "cpu", "bfloat16")
    wav = (np.random.default_rng(3).standard_normal(16000 * 3) * 0.1).astype(np.float32)
    em = model.emit(wav)
    assert em.dtype == torch.float32 and em.shape == (len(wav) // 320 + 1, len(LETTERS))
    assert torch.isfinite(em).all()


def test_word_piece_vocabulary_folder(tmp_path):
    """A SentencePiece-style vocabulary (`▁`-prefixed word starts) is matched greedily, longest first."""
    vocab = ["<pad>", "<unk>", "▁the", "▁a", "re", "st", "▁", "t", "h", "e", "r", "s", "a"]
    folder = save_tiny_model(tmp_path / "wp", vocab)
    model = load_model(f"hf:{folder}", "cpu", "float32")
    ids = model.tokenize(["The", "rest", "a"])
    assert [[model.vocabulary[i] for i in w] for w in ids] == [["▁the"], ["▁", "re", "st"], ["▁a"]]
    assert model.emit(np.zeros(16000, dtype=np.float32)).shape == (51, len(vocab))


def test_vocab_tokenizer_cases():
    upper = VocabTokenizer(["<pad>", "|", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ'"], blank=0, word_delimiter="|")
    spelled = upper(["Café", "nineteen ninety", "it’s", "!!"])
    names = [[upper.vocabulary[i] for i in w] for w in spelled]
    assert names[0] == list("CAFE")  # accent stripped, case folded to the vocabulary's
    assert names[1] == [*"NINETEEN", "|", *"NINETY"]  # delimiter inside a multi-word spoken form
    assert names[2] == ["I", "T", "'", "S"] and names[3] == []
    wordpiece = VocabTokenizer(["[PAD]", "play", "##ing", "##s", "p", "l", "a", "y"], blank=0)
    assert [wordpiece.vocabulary[i] for i in wordpiece(["playing"])[0]] == ["play", "##ing"]


def test_missing_or_bad_models_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ModelError, match="needs a model id or folder"):
        load_model("hf", "cpu", "auto")
    with pytest.raises(ModelError, match="does not exist"):
        load_model(f"hf:{tmp_path}/missing/model", "cpu", "auto")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        load_model(f"hf:{tmp_path / 'empty'}", "cpu", "auto")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match="not on this machine.*download"):
        load_model("hf:nobody/not-a-cached-model", "cpu", "auto")


def test_cli_offline_model_error_is_one_line(tmp_path, monkeypatch, capsys):
    from subalign.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    code = main(["align", str(SAMPLE), str(REPO / "samples" / "sonnet001.txt"), "-o",
                 str(tmp_path / "x.srt"), "--model", "hf:nobody/absent-model", "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("subalign: error:") and err.count("\n") == 1
    assert "hf:/path/to/folder" in err and not (tmp_path / "x.srt").exists()


def test_device_and_precision_checks():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_dtype("auto", torch.device("cpu")) is torch.float32
    with pytest.raises(ModelError, match="float16 runs on CUDA only"):
        resolve_dtype("float16", torch.device("cpu"))
    with pytest.raises(ModelError, match="unknown device"):
        resolve_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="sees no CUDA GPU"):
            resolve_device("cuda")
    else:  # pragma: no cover - exercised on a GPU machine
        assert resolve_dtype("auto", resolve_device("cuda")) is torch.float16


class _RunsCode:
    """Unpickling this touches `marker`: what a malicious weights file would do (run code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_folder_with_unsafe_pickle_is_bad_input(tmp_path, capsys):
    """A model folder whose pytorch_model.bin holds a pickled object: exit 2, one line, the code
    in it never runs, and nothing recommends loading it unsafely."""
    from subalign.cli import main

    folder = save_tiny_model(tmp_path / "bad-model", LETTERS)
    state = transformers.Wav2Vec2ForCTC.from_pretrained(folder).state_dict()
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "code-ran"
    torch.save({**state, "trap": _RunsCode(marker)}, folder / "pytorch_model.bin")
    code = main(["align", str(SAMPLE), str(REPO / "samples" / "sonnet001.txt"), "-o",
                 str(tmp_path / "x.srt"), "--model", f"hf:{folder}", "-q"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("subalign: error: ") and err.count("\n") == 1, err
    assert "pickled Python objects" in err and "weights_only" not in err
    assert not marker.exists() and not (tmp_path / "x.srt").exists()


def test_model_id_without_network_is_one_line_at_once(tmp_path):
    """A hub id that is not cached, with the hub unreachable (here: a closed local port) and no
    offline mode: one line at once, not the hub client's retries and warnings."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") and "proxy" not in k.lower()}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "subalign", "align", str(SAMPLE), str(REPO / "samples" / "sonnet001.txt"),
         "-o", str(tmp_path / "x.srt"), "--model", "hf:nobody/not-cached", "-q"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("subalign: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "127.0.0.1 cannot be reached" in proc.stderr and "hf:/path/to/folder" in proc.stderr
