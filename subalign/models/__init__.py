"""Acoustic model plugins: built-in models and those registered under `subalign.models`.

The registry itself lives in `subalign.plugins`; this module keeps the model-facing names.
"""

from __future__ import annotations

from collections.abc import Callable

from ..plugins import DEFAULT_MODEL, describe_model, list_models, load_model, model_registry
from .base import EmissionModel


def available_models() -> dict[str, Callable[..., EmissionModel]]:
    """Model factories by name: the built-in ones, then installed entry points."""
    from ..plugins import _factory

    return {name: (lambda name=name: _factory(name)()) for name in model_registry()}


def get_model(name: str = DEFAULT_MODEL, device: str = "auto", dtype: str = "auto") -> EmissionModel:
    """Load (once per process) the model named ``NAME[:ARG]`` (e.g. "hama", "hf:/models/w2v2")."""
    return load_model(name, device, dtype)


__all__ = [
    "DEFAULT_MODEL",
    "EmissionModel",
    "available_models",
    "describe_model",
    "get_model",
    "list_models",
]
