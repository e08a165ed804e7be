"""The model registry: built-in acoustic models and those of the `subalign.models` entry points.

Models and output writers (`subalign.writers`, see `subalign.formats`) are ordinary entry-point
groups, so a third-party package adds a model or a format by declaring, in its own
pyproject.toml::

    [project.entry-points."subalign.models"]
    mymodel = "mypackage.model:MyModel"

    [project.entry-points."subalign.writers"]
    ass = "mypackage.ass:AssWriter"

A model entry point is a factory (usually the model class) called as ``factory(arg, device=...,
dtype=...)``, passing only the parameters its signature accepts; ``ARG`` is what follows the first
colon of ``--model NAME:ARG``. It returns an `EmissionModel`. To be listed by ``subalign models``
without loading weights, the factory may offer ``describe(arg) -> dict`` (keys of `ModelInfo`) or
plain attributes (``sample_rate``, ``frame_seconds``, ``languages``, ``license``). A writer entry
point is a `Writer` class or instance (``extension`` and ``render``).

The models that ship with subalign (hama, hf, mms) are registered the same way in subalign's own
pyproject.toml, and are also known here by import path so a source checkout works uninstalled.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

from ..errors import ModelError
from ..plugins import MODEL_GROUP, distribution, entry_points_of
from .base import EmissionModel, accepts, adapt_model

log = logging.getLogger(__name__)

from . import DEFAULT_MODEL  # noqa: E402 - re-exported

#: Built-in models by name: "module:attribute" (imported only when used or listed).
BUILTIN_MODELS = {
    "hama": "subalign.models.hama:HamaModel",
    "hf": "subalign.models.hf:HFModel",
    "mms": "subalign.models.mms:MMSModel",
}


@dataclass(frozen=True)
class ModelInfo:
    """What `subalign models` shows about a model plugin (nothing here loads weights)."""

    name: str
    summary: str = ""
    languages: str = "?"
    sample_rate: int | None = None
    frame_seconds: float | None = None
    license: str = "?"
    weights: str = "?"
    source: str = "subalign"
    usage: str = ""
    error: str = ""


def parse_model_spec(spec: str) -> tuple[str, str | None]:
    """Split ``NAME[:ARG]`` at the first colon: ("hf", "facebook/wav2vec2-base-960h")."""
    text = (spec or "").strip()
    if not text:
        raise ModelError("empty model name; use e.g. --model hama")
    name, sep, arg = text.partition(":")
    name = name.strip().lower()
    if not name:
        raise ModelError(f"model spec {spec!r} has no name before ':'")
    return name, (arg.strip() or None) if sep else None


def _import_path(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def model_registry() -> dict[str, tuple[Callable[[], Any], str]]:
    """Model name → (loader of its factory, where it comes from). Built-ins first; an installed
    entry point cannot shadow a built-in name (it is skipped with a warning)."""
    registry: dict[str, tuple[Callable[[], Any], str]] = {
        name: ((lambda t=target: _import_path(t)), "subalign") for name, target in BUILTIN_MODELS.items()
    }
    for ep in entry_points_of(MODEL_GROUP):
        name = ep.name.lower()
        if name in BUILTIN_MODELS:
            if ep.value.replace(" ", "") != BUILTIN_MODELS[name]:
                log.warning("model plugin %r from %s is shadowed by the built-in one", name, distribution(ep))
            continue
        if name in registry:
            log.warning("model plugin %r registered twice; using the first", name)
            continue
        registry[name] = (ep.load, distribution(ep))
    return registry


def _factory(name: str) -> Any:
    registry = model_registry()
    if name not in registry:
        raise ModelError(
            f"unknown model {name!r}; available: {', '.join(sorted(registry))} "
            "(run 'subalign models' to list them)"
        )
    loader, source = registry[name]
    try:
        return loader()
    except ModelError:
        raise
    except Exception as exc:  # a broken third-party plugin must not look like our fault
        raise ModelError(f"model plugin {name!r} ({source}) failed to load: {type(exc).__name__}: {exc}") from exc


def describe_model(name: str, arg: str | None = None) -> ModelInfo:
    """A `ModelInfo` for model `name` (with `arg`, e.g. whether that checkpoint is on disk)."""
    registry = model_registry()
    source = registry[name][1] if name in registry else "?"
    try:
        factory = _factory(name)
    except ModelError as exc:
        return ModelInfo(name=name, source=source, error=str(exc))
    values: dict[str, Any] = {}
    describe = getattr(factory, "describe", None)
    if callable(describe):
        try:
            values = dict(describe(arg))
        except Exception as exc:  # listing must survive a plugin's bug
            return ModelInfo(name=name, source=source, error=f"describe() failed: {exc}")
    else:
        for key in ("sample_rate", "frame_seconds", "license"):
            if hasattr(factory, key):
                values[key] = getattr(factory, key)
        langs = getattr(factory, "languages", None)
        if langs is not None:
            values["languages"] = langs if isinstance(langs, str) else ", ".join(langs)
        doc = inspect.getdoc(factory) or ""
        values["summary"] = doc.split("\n")[0]
    known = {f.name for f in fields(ModelInfo)}
    values = {k: v for k, v in values.items() if k in known and k not in ("name", "source")}
    return ModelInfo(name=name if arg is None else f"{name}:{arg}", source=source, **values)


def list_models() -> list[ModelInfo]:
    """Every registered model, built-ins first, then plugins by name."""
    names = list(BUILTIN_MODELS) + sorted(n for n in model_registry() if n not in BUILTIN_MODELS)
    return [describe_model(n) for n in names]


def _positional_ok(func: Callable) -> bool:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return True
    return any(
        p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                   inspect.Parameter.VAR_POSITIONAL)
        for p in params
    )


@cache
def load_model(spec: str = DEFAULT_MODEL, device: str = "auto", dtype: str = "auto") -> EmissionModel:
    """Load (once per process and arguments) the model named by ``NAME[:ARG]``."""
    name, arg = parse_model_spec(spec)
    factory = _factory(name)
    kwargs: dict[str, Any] = {}
    if device not in (None, "auto"):
        if not accepts(factory, "device"):
            raise ModelError(f"model {name!r} does not take a device; leave out --device")
        kwargs["device"] = device
    if dtype not in (None, "auto"):
        if not accepts(factory, "dtype"):
            raise ModelError(f"model {name!r} does not take a precision; leave out --dtype")
        kwargs["dtype"] = dtype
    args: tuple = ()
    if arg is not None:
        if not _positional_ok(factory):
            raise ModelError(f"model {name!r} takes no argument; use --model {name}")
        args = (arg,)
    started = time.perf_counter()
    try:
        model = factory(*args, **kwargs)
    except ModelError:
        raise
    except ImportError as exc:
        raise ModelError(f"model {name!r} needs a package that is not installed: {exc}") from exc
    log.debug("loaded model %s in %.2f s", spec, time.perf_counter() - started)
    return adapt_model(model, name if arg is None else f"{name}:{arg}")
