"""Real-time factor of each acoustic model's `emit` (emissions only) on CPU or GPU.

The audio is real speech (the bundled sonnet reading) repeated to the asked length. The hub models
cannot be downloaded here, so they are randomly initialised at their real size: an MMS-sized
wav2vec2 (24 layers, 1024 wide, ~315M parameters) through transformers (`hf`) and, when
torchaudio imports, through torchaudio's own factory with MMS_FA's exact parameters (`mms`).
Weights do not change the cost of a forward pass, so the timing is that of the real models.

    python bench/emissions.py [--seconds 600] [--device cpu|cuda] [--dtype auto] [--models hama,hf,mms]

RTF = emission time / audio duration (lower is faster); model loading is not timed. The load
average (1 min) is printed before and after each model: on a shared machine it says how much
other work ran at the same time.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from subalign.media import load_audio  # noqa: E402


def speech(seconds: float) -> np.ndarray:
    wav = load_audio(REPO / "samples" / "sonnet001.mp3", sample_rate=16000)
    reps = int(np.ceil(seconds * 16000 / len(wav)))
    return np.tile(wav, reps)[: int(seconds * 16000)]


def hama_model(device: str, dtype: str):
    from subalign.models.hama import HamaModel

    return HamaModel(device=device)


def hf_model(device: str, dtype: str):
    """A randomly initialised wav2vec2 with MMS_FA's architecture, through the hf route."""
    import transformers

    from subalign.models.hf import HFModel

    vocab = ["<pad>", "<s>", "</s>", "<unk>", "|", *"abcdefghijklmnopqrstuvwxyz'"]
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vocab.json"
        path.write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
        tokenizer = transformers.Wav2Vec2CTCTokenizer(str(path))
    extractor = transformers.Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True)
    config = transformers.Wav2Vec2Config(
        vocab_size=len(vocab), hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
        intermediate_size=4096, feat_extract_norm="layer", do_stable_layer_norm=True,
        conv_bias=True, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
        pad_token_id=0,
    )
    net = transformers.Wav2Vec2ForCTC(config)
    return HFModel.from_objects(net, tokenizer, extractor, name="hf:random-300m", device=device, dtype=dtype)


def mms_model(device: str, dtype: str):
    """torchaudio's wav2vec2 factory with MMS_FA's parameters, random weights."""
    import torchaudio

    from subalign.models.mms import MMSModel

    bundle = torchaudio.pipelines.MMS_FA
    module = torchaudio.models.wav2vec2_model(**bundle._params)
    return MMSModel(module=module, labels=bundle.get_labels(star=None), device=device, dtype=dtype)


FACTORIES = {"hama": hama_model, "hf": hf_model, "mms": mms_model}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="audio length (default 600 s)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--models", default="hama,hf,mms")
    args = ap.parse_args()

    wav = speech(args.seconds)
    try:
        import torchaudio

        audio_lib = f", torchaudio {torchaudio.__version__}"
    except Exception:  # absent, or built for another torch: the mms row says why
        audio_lib = ", no torchaudio"
    print(f"audio {len(wav) / 16000:.0f} s; device {args.device}; torch {torch.__version__}"
          f"{audio_lib}, {torch.get_num_threads()} threads; {platform.processor() or platform.machine()}")
    if args.device.startswith("cuda"):
        print(f"GPU: {torch.cuda.get_device_name(torch.device(args.device))}")
    print(f"{'model':<18}{'params':>10}{'dtype':>10}{'frames':>9}{'seconds':>10}{'RTF':>9}"
          f"{'load before/after':>20}")
    for name in args.models.split(","):
        try:
            model = FACTORIES[name](args.device, args.dtype)
        except Exception as exc:
            print(f"{name:<18} skipped: {type(exc).__name__}: {' '.join(str(exc).split())[:140]}")
            continue
        net = getattr(model, "_net", None)
        params = sum(p.numel() for p in net.parameters()) / 1e6 if net is not None else 5.0
        dtype = str(getattr(model, "dtype", "float32")).replace("torch.", "")
        model.emit(wav[: 16000 * 2])  # warm-up (allocations, kernels)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        em = model.emit(wav)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        took = time.perf_counter() - t0
        load = f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"
        label = model.name if len(model.name) < 18 else model.name[:17]
        print(f"{label:<18}{params:>9.0f}M{dtype:>10}{em.shape[0]:>9}{took:>10.1f}"
              f"{took / (len(wav) / 16000):>9.3f}{load:>20}", flush=True)
        del model
    return 0


if __name__ == "__main__":
    sys.exit(main())
