"""Progress: one callback type for the library, and the one terminal bar that draws it.

Library functions take ``progress``: a `Progress` callable, called as ``progress(stage, share)``
with the share of that stage done (0 to 1), or True for a bar on stderr when stderr is a terminal,
or False/None for nothing. A job knows its stages and how much of its time each takes
(`weights`), so a person watching sees one bar for the whole job, with an ETA.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from .errors import printable

__all__ = ["JobBar", "Progress", "StageShares", "job_progress", "progress_enabled", "stage_progress"]

#: ``progress(stage, share)``: the share (0..1) of `stage` done so far.
Progress = Callable[[str, float], None]


def progress_enabled(requested: bool = True) -> bool:
    """True when bars were asked for and stderr is a terminal (the one TTY check)."""
    return bool(requested) and sys.stderr.isatty()


class StageShares:
    """The share (0..1) of a whole job done, from the share of each of its stages done: each
    stage counts for its weight (its usual share of the job's time). Shared by `JobBar` and by
    callers that pass one overall share on (`subalign.batch` sends it from worker processes)."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        total = sum(weights.values()) or 1.0
        self.weights = {k: v / total for k, v in weights.items()}
        self.done: dict[str, float] = {}
        self.total = 0.0

    def __call__(self, stage: str, share: float) -> float | None:
        """Record that `share` of `stage` is done; the job's share done, or None for a stage
        that is not one of the weights (ignored)."""
        weight = self.weights.get(stage)
        if weight is None:
            return None
        share = min(1.0, max(0.0, float(share)))
        self.total += weight * (share - self.done.get(stage, 0.0))
        self.done[stage] = share
        return min(1.0, max(0.0, self.total))


class JobBar:
    """One tqdm bar on stderr for a whole job: each stage counts for its weight (its usual share
    of the job's time), so the bar moves evenly and its ETA means something."""

    def __init__(self, weights: Mapping[str, float], desc: str) -> None:
        from tqdm import tqdm

        self.shares = StageShares(weights)
        self.bar = tqdm(total=100.0, desc=printable(desc), unit="%", file=sys.stderr, leave=False,
                        dynamic_ncols=True, delay=1.0,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")

    def __call__(self, stage: str, share: float) -> None:
        done = self.shares(stage, share)
        if done is not None:
            self.bar.update(max(0.0, 100.0 * done - self.bar.n))

    def close(self) -> None:
        # Draw the last state before the bar is cleared (updates within tqdm's 0.1 s refresh
        # interval are not drawn), so a finished job is seen to reach 100 %; a job shorter than
        # the bar's delay stays without a bar.
        if time.time() - self.bar.start_t >= self.bar.delay:
            self.bar.refresh()
        self.bar.close()


@contextmanager
def job_progress(progress: bool | Progress | None, weights: Mapping[str, float],
                 desc: str) -> Iterator[Progress | None]:
    """The callback a job reports to: the caller's own, a `JobBar` when ``progress`` is True and
    stderr is a terminal, else None."""
    if callable(progress):
        yield progress
        return
    if not progress_enabled(bool(progress)):
        yield None
        return
    bar = JobBar(weights, desc)
    try:
        yield bar
    finally:
        bar.close()


def stage_progress(progress: Progress | None, stage: str,
                   total: float | None) -> Callable[[float], None] | None:
    """A callback that adds amounts (seconds, items) done of `stage` out of `total` and reports
    the share to `progress`; None when there is nothing to report to."""
    if progress is None or not total:
        return None
    done = [0.0]

    def add(amount: float) -> None:
        done[0] += amount
        progress(stage, done[0] / total)

    return add
