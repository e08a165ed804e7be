"""The model stage: acoustic models (built-in and plugins) that turn text into tokens and audio
into CTC emissions.

* `base` — the `EmissionModel` contract with its defaults, the one tokenizing helper, and the
  windowing and streaming every model shares;
* `registry` — names → models (`load_model`, `subalign models`);
* `hama` (embedded, default) with `g2p_espeak` for more languages, `hf` and `mms` on torch
  (`torch_ctc` holds what they share).
"""

from .base import EmissionModel, adapt_model, tokenize_words
from .registry import (
    DEFAULT_MODEL,
    ModelInfo,
    describe_model,
    list_models,
    load_model,
    model_registry,
    parse_model_spec,
)


def get_model(name: str = DEFAULT_MODEL, device: str = "auto", dtype: str = "auto") -> EmissionModel:
    """Load (once per process) the model named ``NAME[:ARG]`` (e.g. "hama", "hf:/models/w2v2")."""
    return load_model(name, device, dtype)


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
