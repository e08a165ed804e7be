"""Progress bars that appear only for a person watching: on a terminal, and not with --quiet."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm


def progress_enabled(requested: bool = True) -> bool:
    """True when bars were asked for and stderr is a terminal."""
    return requested and sys.stderr.isatty()


@contextmanager
def bar(desc: str, total: float | None, unit: str, enabled: bool) -> Iterator[tqdm | None]:
    """A tqdm bar on stderr, or None when bars are off."""
    if not enabled:
        yield None
        return
    with tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True, delay=1.0,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} {unit} [{elapsed}<{remaining}]"
              if total else None) as b:
        yield b
