"""The one anchoring engine: where each unit of text (a cue, a sentence) is in a long emission
matrix, run by run along the file, in bounded time and memory.

A *run* of consecutive units is aligned against a window of frames with a star between the units
(`chunks.align_chunk`); units that score low are not found. The first two thirds of the run are
committed, and the rest is aligned again at the head of the next run, so every unit is placed
with text on both sides of it. A run grows while its window's trellis stays under a cell budget.

Where a run's window lies is the caller's *window policy*: `subalign sync` predicts it from the
cues' old times (a constant offset, a stretch, a cut); the long-media chain from the speaking rate
of the units found so far. The policy also learns from each unit found (`found`) and from each
run (`advanced`), so its next window starts where the last found unit ended.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from .chunks import ChunkAligner, Found, Unit, align_chunk, window_cells

__all__ = ["MAX_CELLS", "MIN_SCORE", "WindowPolicy", "anchor_units"]

#: A unit is found when the mean probability of its tokens on the best path reaches this.
MIN_SCORE = 0.25
#: Trellis cells (frames x states) per alignment call; bounds the memory (1.5 bits each) and the
#: time of one call.
MAX_CELLS = 120_000_000


class WindowPolicy(Protocol):
    """Where runs of units may be, and what a found unit teaches about the next run."""

    #: Fewest units aligned in one call (a lone short unit could match anywhere in a wide window).
    min_units: int

    def window(self, units: Sequence[Unit], i: int, j: int) -> tuple[int, int]:
        """Frames [lo, hi) where units[i:j] may be; used to grow a run under the cell budget."""
        ...

    def final_window(self, units: Sequence[Unit], i: int, j: int, max_cells: int) -> tuple[int, int]:
        """The window units[i:j] are aligned in (the growth window, or a narrower one)."""
        ...

    def found(self, unit: Unit, hit: Found) -> None:
        """`unit` was found at `hit` and committed."""
        ...

    def advanced(self, any_found: bool) -> None:
        """A run was committed; `any_found` says whether any of its units was found."""
        ...


def anchor_units(
    aligner: ChunkAligner, units: Sequence[Unit], policy: WindowPolicy, *,
    min_score: float = MIN_SCORE, max_cells: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[int, Found]:
    """Where each found unit is, by unit index; `progress` gets the share of units committed.
    `max_cells` defaults to `MAX_CELLS`."""
    max_cells = max_cells or MAX_CELLS
    found: dict[int, Found] = {}
    n = len(units)
    i = 0
    while i < n:
        j = min(n, i + max(1, policy.min_units))
        while j < n:
            lo, hi = policy.window(units, i, j + 1)
            if window_cells(hi - lo, units[i : j + 1]) > max_cells:
                break
            j += 1
        lo, hi = policy.final_window(units, i, j, max_cells)
        hits = align_chunk(aligner, list(units[i:j]), lo, hi, min_score)
        commit = j if j >= n else max(i + 1, i + (2 * (j - i)) // 3)
        got = False
        for unit in units[i:commit]:
            hit = hits.get(unit.index)
            if hit is not None:
                found[unit.index] = hit
                policy.found(unit, hit)
                got = True
        policy.advanced(got)
        if progress is not None:
            progress(commit / n)
        i = commit
    return found
