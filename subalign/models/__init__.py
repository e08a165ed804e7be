"""Acoustic model plugins: built-in models and those registered under `subalign.models`."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points

from ..errors import ModelError
from .base import EmissionModel

DEFAULT_MODEL = "hama"


def _builtin() -> dict[str, Callable[..., EmissionModel]]:
    from .hama import HamaModel

    return {"hama": HamaModel}


def available_models() -> dict[str, Callable[..., EmissionModel]]:
    """Model factories by name: the built-in ones, then installed entry points."""
    models = _builtin()
    for ep in entry_points(group="subalign.models"):
        models.setdefault(ep.name, lambda ep=ep: ep.load()())
    return models


@cache
def get_model(name: str = DEFAULT_MODEL) -> EmissionModel:
    """Load (once per process) the model called `name`."""
    models = available_models()
    if name not in models:
        raise ModelError(f"unknown model {name!r}; available: {', '.join(sorted(models))}")
    return models[name]()


__all__ = ["DEFAULT_MODEL", "EmissionModel", "available_models", "get_model"]
