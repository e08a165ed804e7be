"""Names a package exports without importing their modules until first use (PEP 562), so that
`import subalign` and `subalign --help` do not import torch."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(package: str, table: Mapping[str, str], namespace: dict) -> Callable[[str], object]:
    """A module `__getattr__` for `package`: name → the relative module in `table` that holds it,
    imported on first use and kept in `namespace` (the package's globals)."""

    def __getattr__(name: str) -> object:
        if name in table:
            value = getattr(importlib.import_module(table[name], package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
