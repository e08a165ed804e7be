"""The mms route: torchaudio's wav2vec2 factory builds a tiny random model with MMS_FA's labels.

The tiny model is written with `save_checkpoint` and loaded through `--model mms:<file>`, the way a
user's local checkpoint is, so the whole path (ffmpeg, uroman, windows, the extension) runs for real.
torchaudio often cannot be imported beside a CPU torch from PyPI (its wheel is built for one torch
and CUDA); then these tests skip and only the romanisation and the error message are checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from subalign.errors import ModelError

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "sonnet001.mp3"
TRANSCRIPT = REPO / "samples" / "sonnet001.txt"

try:
    import torchaudio

    TORCHAUDIO_ERROR = ""
except Exception as exc:  # ImportError or OSError (C++ part built for another torch)
    torchaudio = None
    TORCHAUDIO_ERROR = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]

needs_torchaudio = pytest.mark.skipif(
    torchaudio is None,
    reason=f"torchaudio cannot be imported ({TORCHAUDIO_ERROR}); install the torchaudio built for "
    f"this torch ({torch.__version__}) to run the mms tests",
)


def tiny_params(num_labels: int) -> dict:
    """torchaudio.models.wav2vec2_model arguments: MMS_FA's layout, 2 layers, 32 wide."""
    return dict(
        extractor_mode="layer_norm",
        extractor_conv_layer_config=[(32, 10, 5)] + [(32, 3, 2)] * 4 + [(32, 2, 2)] * 2,
        extractor_conv_bias=True, encoder_embed_dim=32, encoder_projection_dropout=0.0,
        encoder_pos_conv_kernel=16, encoder_pos_conv_groups=2, encoder_num_layers=2,
        encoder_num_heads=2, encoder_attention_dropout=0.0, encoder_ff_interm_features=64,
        encoder_ff_interm_dropout=0.0, encoder_dropout=0.0, encoder_layer_norm_first=True,
        encoder_layer_drop=0.0, aux_num_out=num_labels,
    )  # fmt: skip


def test_romanizer_uses_uroman_for_other_scripts():
    pytest.importorskip("uroman", reason="romanisation needs uroman (subalign[mms])")
    from subalign.models.mms import Romanizer

    rom = Romanizer()
    assert rom("Привет").lower() == "privet"
    assert rom("café") == "café"  # Latin script passes through; accents are folded later
    assert rom("ελληνικά").lower().startswith("ell")


@pytest.mark.skipif(torchaudio is not None, reason="torchaudio imports here")
def test_missing_torchaudio_is_a_clear_model_error():
    from subalign.models import describe_model, load_model

    with pytest.raises(ModelError, match=r"subalign\[mms\]"):
        load_model("mms", "cpu", "auto")
    assert "torchaudio" in describe_model("mms").weights


@pytest.fixture(scope="module")
def labels() -> list[str]:
    return list(torchaudio.pipelines.MMS_FA.get_labels(star=None))


@pytest.fixture(scope="module")
def tiny_module(labels):
    torch.manual_seed(0)
    return torchaudio.models.wav2vec2_model(**tiny_params(len(labels))).eval()


@pytest.fixture(scope="module")
def checkpoint(tiny_module, labels, tmp_path_factory) -> Path:
    from subalign.models.mms import save_checkpoint

    path = tmp_path_factory.mktemp("mms") / "tiny.pt"
    return save_checkpoint(path, tiny_params(len(labels)), labels, tiny_module)


@pytest.fixture(scope="module")
def tiny_mms(checkpoint):
    from subalign.models import load_model

    return load_model(f"mms:{checkpoint}", "cpu", "float32")


@needs_torchaudio
def test_tiny_mms_shapes_and_star(tiny_mms, checkpoint):
    assert tiny_mms.name == f"mms:{checkpoint}"
    assert tiny_mms.vocabulary[0] == "-" and tiny_mms.vocabulary[tiny_mms.star] == "*"
    assert len(tiny_mms.vocabulary) == 29 and tiny_mms.blank == 0
    assert tiny_mms.frame_seconds == pytest.approx(0.02)
    wav = (np.random.default_rng(0).standard_normal(16000 * 40) * 0.1).astype(np.float32)
    em = tiny_mms.emit(wav)
    assert em.shape == (len(wav) // 320 + 1, 29) and em.dtype == torch.float32
    assert (em[:, tiny_mms.star] == 0).all()
    np.testing.assert_allclose(em[:, : tiny_mms.star].exp().sum(-1).numpy(), 1.0, atol=1e-4)
    ids = tiny_mms.tokenize(["Привет", "it’s"])
    assert [tiny_mms.vocabulary[i] for i in ids[0]] == list("privet")
    assert [tiny_mms.vocabulary[i] for i in ids[1]] == ["i", "t", "'", "s"]
    assert tiny_mms.star not in {i for word in ids for i in word}


@needs_torchaudio
def test_checkpoint_gives_the_modules_own_output(tiny_mms, tiny_module):
    """A short window run through the loaded file equals the in-memory module on the same input."""
    from subalign.models.torch_ctc import normalized

    wav = (np.random.default_rng(4).standard_normal(16000 * 5) * 0.1).astype(np.float32)
    em = tiny_mms.emit(wav)
    left = (400 - 320) // 2
    padded = np.zeros(left + len(wav) + 400 - left, dtype=np.float32)
    padded[left : left + len(wav)] = normalized(wav)
    with torch.inference_mode():
        logits, _ = tiny_module(torch.from_numpy(padded)[None])
    expected = torch.log_softmax(logits[0], dim=-1)
    assert expected.shape[0] == em.shape[0]
    torch.testing.assert_close(em[:, :-1], expected, atol=1e-4, rtol=1e-4)


@needs_torchaudio
@pytest.mark.parametrize("seconds", [0.01, 1.0, 7.3, 65.0])
def test_emissions_have_one_frame_per_hop(tiny_mms, seconds):
    wav = (np.random.default_rng(1).standard_normal(int(seconds * 16000)) * 0.1).astype(np.float32)
    assert tiny_mms.emit(wav).shape == (len(wav) // 320 + 1, 29)
    assert tiny_mms.num_frames(len(wav)) == len(wav) // 320 + 1


@needs_torchaudio
def test_frames_are_centred_on_their_hop(tiny_mms):
    """Through torchaudio's conv front end, a click at sample p changes frame p // hop most."""
    from subalign.models.torch_ctc import batched_windowed_emissions

    features = tiny_mms._net.feature_extractor

    def run(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return features(batch, None)[0].abs()

    def emit(wav: np.ndarray) -> torch.Tensor:
        return batched_windowed_emissions(run, wav, hop=320, receptive_field=400,
                                          window=16000 * 5, context=16000, batch_size=4)

    for p in (0, 1234, 16000, 16000 * 3 + 319, 16000 * 12 + 7):
        wav = np.zeros(16000 * 13, dtype=np.float32)
        base = emit(wav)
        wav[p] = 1.0
        change = (emit(wav) - base).abs().sum(-1)
        hit = torch.nonzero(change > 1e-6).flatten().tolist()
        assert hit and p // 320 in hit and all(abs(k - p / 320) <= 1.25 for k in hit), (p, hit)


@needs_torchaudio
def test_batching_does_not_change_the_emissions(tiny_module, labels):
    from subalign.models.mms import MMSModel

    wav = (np.random.default_rng(2).standard_normal(16000 * 50) * 0.1).astype(np.float32)
    kw = dict(module=tiny_module, labels=labels, device="cpu", window_seconds=8, context_seconds=2)
    one = MMSModel(batch_size=1, **kw).emit(wav)
    many = MMSModel(batch_size=8, **kw).emit(wav)
    assert one.shape == many.shape == (len(wav) // 320 + 1, 29)
    torch.testing.assert_close(one, many, atol=1e-4, rtol=1e-4)


@needs_torchaudio
def test_bfloat16_on_cpu_runs(checkpoint):
    from subalign.models import load_model

    model = load_model(f"mms:{checkpoint}", "cpu", "bfloat16")
    wav = (np.random.default_rng(3).standard_normal(16000 * 3) * 0.1).astype(np.float32)
    em = model.emit(wav)
    assert em.dtype == torch.float32 and em.shape == (len(wav) // 320 + 1, 29)
    assert torch.isfinite(em).all()


def assert_valid_alignment(words, texts, duration, frame_seconds):
    assert [w.text for w in words] == texts
    previous_end = 0.0
    for w in words:
        assert previous_end - 1e-9 <= w.start <= w.end <= duration + 1e-9, w
        assert 0.0 <= w.score <= 1.0
        for t in (w.start, w.end):  # plain Viterbi times lie on the model's frame grid
            assert t == pytest.approx(duration) or abs(t / frame_seconds - round(t / frame_seconds)) < 1e-6
        previous_end = w.end


@needs_torchaudio
def test_align_media_with_a_checkpoint(checkpoint):
    """The whole align path with the tiny model: a valid alignment of every word on the frame grid."""
    from subalign import align_media
    from subalign.text import split_words

    text = TRANSCRIPT.read_text(encoding="utf-8")
    result = align_media(SAMPLE, text, model=f"mms:{checkpoint}", device="cpu")
    assert result.model == f"mms:{checkpoint}" and result.meta()["device"] == "cpu"
    assert result.meta()["boundaries"] == "plain"  # the refiner's weights are hama's
    assert_valid_alignment(result.words, [w.text for w in split_words(text)], result.duration, 0.02)
    assert all(c.start < c.end for c in result.cues)


@needs_torchaudio
def test_cli_align_non_latin_text_with_mms(checkpoint, tmp_path):
    """CLI, Cyrillic transcript: uroman spells every word, the JSON holds the original words."""
    from subalign.cli import main

    text = "Привет, мир. Это проверка выравнивания и немного текста на русском языке.\n"
    (tmp_path / "ru.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "ru.json"
    code = main(["align", str(SAMPLE), str(tmp_path / "ru.txt"), "-o", str(out), "--model",
                 f"mms:{checkpoint}", "--device", "cpu", "--dtype", "float32", "--language", "ru", "-q",
                 "--force"])  # Russian text on English speech: refused by the fail-safe without --force
    assert code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["meta"]["model"] == f"mms:{checkpoint}"
    assert [w["text"] for w in data["words"]] == text.split()
    ends = [w["end"] for w in data["words"]]
    assert ends == sorted(ends) and ends[-1] <= data["meta"]["duration"] + 1e-9
    assert all(w["end"] - w["start"] >= 0.02 - 1e-9 for w in data["words"])  # each has its letters


@needs_torchaudio
def test_cli_writes_srt_with_mms(checkpoint, tmp_path):
    from subalign.cli import main

    out = tmp_path / "out.srt"
    assert main(["align", str(SAMPLE), str(TRANSCRIPT), "-o", str(out), "--model",
                 f"mms:{checkpoint}", "-q", "--force"]) == 0  # a random model hears no word
    assert out.read_text(encoding="utf-8").startswith("1\n00:00:")


@needs_torchaudio
def test_bad_local_files_are_model_errors(tmp_path, labels, tiny_module):
    from subalign.models import load_model
    from subalign.models.mms import save_checkpoint

    (tmp_path / "garbage.pt").write_text("not a checkpoint")
    with pytest.raises(ModelError, match="neither MMS_FA's model.pt nor a checkpoint"):
        load_model(f"mms:{tmp_path / 'garbage.pt'}", "cpu", "auto")
    with pytest.raises(ModelError, match="does not exist"):
        load_model(f"mms:{tmp_path / 'missing.pt'}", "cpu", "auto")
    short = save_checkpoint(tmp_path / "short.pt", tiny_params(len(labels)), labels[:-1], tiny_module)
    with pytest.raises(ModelError, match="28 outputs but the checkpoint names 27 labels"):
        load_model(f"mms:{short}", "cpu", "auto")


class _RunsCode:
    """Unpickling this touches `marker`: what a malicious model file would do (run code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("kind", ["torch zip", "torch legacy", "plain pickle", "state dict"])
def test_a_users_file_is_never_unpickled_unsafely(kind, tmp_path, capsys):
    """`--model mms:FILE` with a file whose unpickling would run code: one line, exit 2, and the
    code never runs — torchaudio or not (the file is read and judged before torchaudio)."""
    import pickle

    from subalign.cli import main

    marker = tmp_path / "code-ran"
    evil = tmp_path / "model.pt"
    payload = {"aux.weight": torch.zeros(3), "x": _RunsCode(marker)}
    if kind == "torch zip":
        torch.save(payload, evil)
    elif kind == "torch legacy":
        torch.save(payload, evil, _use_new_zipfile_serialization=False)
    elif kind == "plain pickle":
        evil.write_bytes(pickle.dumps(payload))
    else:  # what a model.pt looks like: an OrderedDict of tensors, with one object slipped in
        torch.save({"params": {"x": _RunsCode(marker)}, "labels": ["-"], "state_dict": {}}, evil)
    code = main(["align", str(SAMPLE), str(TRANSCRIPT), "-o", str(tmp_path / "o.srt"), "--model",
                 f"mms:{evil}", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("subalign: error: ") and err.count("\n") == 1, err
    assert not marker.exists()
    assert "weights_only=False" not in err and "torchaudio" not in err
    if kind == "plain pickle":
        assert "not a torch weights file" in err
    else:
        assert "pickled Python objects besides weights (such as " in err
    assert not (tmp_path / "o.srt").exists()


@needs_torchaudio
def test_mms_fa_state_dict_is_loaded_without_the_bundle_loader(tmp_path, tiny_module, labels):
    """A bare state dict (what MMS_FA's model.pt is) goes through the bundle's parameters and its
    dictionary-row removal, read by us with weights_only=True: here with a tiny stand-in bundle
    whose state dict carries the three unused fairseq rows."""
    from types import SimpleNamespace

    from subalign.models.mms import MMSModel, _load_weights

    state = dict(tiny_module.state_dict())
    for key in ("aux.weight", "aux.bias"):  # rows 1-3: fairseq's unused dictionary entries
        rows = state[key]
        state[key] = torch.cat([rows[:1], torch.full((3, *rows.shape[1:]), 7.0), rows[1:]])
    path = tmp_path / "model.pt"
    torch.save(state, path)
    bundle = SimpleNamespace(_params=tiny_params(len(labels)), _remove_aux_axis=(1, 2, 3))
    module = MMSModel._pretrained(torchaudio, bundle, _load_weights(path), path)
    for key, value in tiny_module.state_dict().items():
        torch.testing.assert_close(module.state_dict()[key], value)
    with pytest.raises(ModelError, match="neither MMS_FA's model.pt nor a checkpoint"):
        MMSModel._pretrained(torchaudio, bundle, {"w": torch.ones(2)}, path)
