"""The mms route: torchaudio's wav2vec2 factory builds a tiny random model with MMS_FA's labels.

torchaudio often cannot be imported beside a CPU torch from PyPI (its wheel is built for one torch
and CUDA); then these tests skip and only the romanisation and the error message are checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from subalign.errors import ModelError

REPO = Path(__file__).resolve().parents[1]

try:
    import torchaudio

    TORCHAUDIO_ERROR = ""
except Exception as exc:  # ImportError or OSError (C++ part built for another torch)
    torchaudio = None
    TORCHAUDIO_ERROR = f"{type(exc).__name__}: {exc}"[:200]

needs_torchaudio = pytest.mark.skipif(torchaudio is None, reason=f"torchaudio cannot be imported: {TORCHAUDIO_ERROR}")


def test_romanizer_uses_uroman_for_other_scripts():
    pytest.importorskip("uroman", reason="romanisation needs uroman (subalign[mms])")
    from subalign.models.mms import Romanizer

    rom = Romanizer()
    assert rom("Привет").lower() == "privet"
    assert rom("café") == "café"  # Latin script passes through; accents are folded later
    assert rom("ελληνικά").lower().startswith("ell")


@pytest.mark.skipif(torchaudio is not None, reason="torchaudio imports here")
def test_missing_torchaudio_is_a_clear_model_error():
    from subalign.plugins import describe_model, load_model

    with pytest.raises(ModelError, match=r"subalign\[mms\]"):
        load_model("mms", "cpu", "auto")
    assert "torchaudio" in describe_model("mms").weights


@pytest.fixture(scope="module")
def tiny_mms():
    import torch

    from subalign.models.mms import MMSModel

    labels = torchaudio.pipelines.MMS_FA.get_labels(star=None)
    torch.manual_seed(0)
    module = torchaudio.models.wav2vec2_model(
        extractor_mode="layer_norm",
        extractor_conv_layer_config=[(32, 10, 5)] + [(32, 3, 2)] * 4 + [(32, 2, 2)] * 2,
        extractor_conv_bias=True, encoder_embed_dim=32, encoder_projection_dropout=0.0,
        encoder_pos_conv_kernel=16, encoder_pos_conv_groups=2, encoder_num_layers=2,
        encoder_num_heads=2, encoder_attention_dropout=0.0, encoder_ff_interm_features=64,
        encoder_ff_interm_dropout=0.0, encoder_dropout=0.0, encoder_layer_norm_first=True,
        encoder_layer_drop=0.0, aux_num_out=len(labels),
    )
    return MMSModel(module=module, labels=labels, device="cpu")


@needs_torchaudio
def test_tiny_mms_shapes_and_star(tiny_mms):
    assert tiny_mms.vocabulary[0] == "-" and tiny_mms.vocabulary[tiny_mms.star] == "*"
    assert tiny_mms.frame_seconds == pytest.approx(0.02)
    wav = (np.random.default_rng(0).standard_normal(16000 * 40) * 0.1).astype(np.float32)
    em = tiny_mms.emit(wav)
    assert em.shape == (len(wav) // 320 + 1, 29)
    assert (em[:, tiny_mms.star] == 0).all()
    ids = tiny_mms.tokenize(["Привет", "it’s"])
    assert [tiny_mms.vocabulary[i] for i in ids[1]] == ["i", "t", "'", "s"] and ids[0]


@needs_torchaudio
def test_tiny_mms_aligns_the_sample(tiny_mms, monkeypatch):
    from subalign import align_media, plugins

    monkeypatch.setattr(plugins, "load_model", lambda *a, **k: tiny_mms)
    import subalign.pipeline as pipeline

    monkeypatch.setattr(pipeline, "load_model", lambda *a, **k: tiny_mms)
    text = (REPO / "samples" / "sonnet001.txt").read_text(encoding="utf-8")
    result = align_media(REPO / "samples" / "sonnet001.mp3", text, model="mms")
    assert result.model == "mms:custom"
    ends = [w.end for w in result.words]
    assert ends == sorted(ends) and ends[-1] <= result.duration
