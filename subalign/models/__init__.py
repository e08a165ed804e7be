"""The model stage: acoustic models (built-in and plugins) that turn text into tokens and audio
into CTC emissions, and the speech detector.

* `base` — the `EmissionModel` contract with its defaults, the one tokenizing helper, and the
  windowing and streaming every model shares;
* `registry` — names → models (`load_model`, `subalign models`); `workers` — model work in
  worker processes;
* `hama` (embedded, default) with `g2p_espeak` for more languages, `hf` and `mms` on torch
  (`torch_ctc` holds what they share);
* `vad` — speech activity (Silero's network, run with numpy).

The names below are imported on first use, so that `vad` can be used without importing torch.
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: The model used when none is named.
DEFAULT_MODEL = "hama"

__all__ = [
    "DEFAULT_MODEL",
    "EmissionModel",
    "ModelInfo",
    "adapt_model",
    "describe_model",
    "get_model",
    "list_models",
    "load_model",
    "model_registry",
    "parse_model_spec",
    "tokenize_words",
]

_LAZY = {
    "EmissionModel": ".base", "adapt_model": ".base", "tokenize_words": ".base",
    "ModelInfo": ".registry", "describe_model": ".registry", "list_models": ".registry",
    "load_model": ".registry", "model_registry": ".registry", "parse_model_spec": ".registry",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())


def get_model(name: str = DEFAULT_MODEL, device: str = "auto", dtype: str = "auto") -> object:
    """Load (once per process) the model named ``NAME[:ARG]`` (e.g. "hama", "hf:/models/w2v2")."""
    from .registry import load_model

    return load_model(name, device, dtype)
