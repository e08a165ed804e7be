"""Stopping cleanly: Ctrl-C, SIGTERM and SIGHUP all end a run the same way.

`timeout`, `docker stop` and systemd stop a program with SIGTERM, a closed terminal sends SIGHUP;
by default either kills Python on the spot, so an output being written would leave its temporary
file behind. `install()` (the CLI calls it) makes all three raise `Interrupted`, a
KeyboardInterrupt, so every ``finally`` and ``except KeyboardInterrupt`` that cleans up after
Ctrl-C (killing ffmpeg, removing the temporary file) runs for them too. Its `status` is the
shell's convention, 128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP.
Once one has been raised, further stop signals are ignored, so a second Ctrl-C cannot cut the
cleanup short.

`deferred()` holds a signal back over a few statements that must not be cut in two (creating the
temporary file and remembering its name; renaming it into place and recording that), and raises
it right after them. `written()` lists the files committed so far, so an interrupted run can say
truthfully whether its output is complete. Without `install()` (a library caller) nothing changes:
Python's own Ctrl-C handling applies and `deferred()` only records.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

__all__ = ["SIGNALS", "Interrupted", "deferred", "install", "note_written", "restore", "written"]

#: The signals that stop a run cleanly.
SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived: Ctrl-C (SIGINT), SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def status(self) -> int:
        """The exit status a shell shows for this signal: 128 + its number."""
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


_state: dict[str, object] = {"depth": 0, "pending": None, "stopping": False}
_written: list[Path] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state["stopping"]:  # one stop is enough: a second signal must not cut the cleanup short
        return
    if _state["depth"]:
        if _state["pending"] is None:
            _state["pending"] = signum
        return
    _state["stopping"] = True
    raise Interrupted(signum)


def install() -> dict[int, object]:
    """Make SIGINT, SIGTERM and SIGHUP raise `Interrupted` (main thread only; a signal the
    process was started with ignored, as `nohup` and background jobs do, stays ignored); return
    the previous handlers for `restore`. Clears the list of written files."""
    _written.clear()
    _state["pending"] = None
    _state["stopping"] = False
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in SIGNALS:
        if signal.getsignal(sig) == signal.SIG_IGN:
            continue  # ignored by who started us (`nohup`, a background job): it stays ignored
        previous[int(sig)] = signal.signal(sig, _handler)
    return previous


def restore(previous: dict[int, object]) -> None:
    """Put back the handlers `install` replaced."""
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold stop signals back while the block runs; one that arrived is raised when it ends."""
    _state["depth"] = int(_state["depth"]) + 1  # type: ignore[call-overload]
    try:
        yield
    finally:
        _state["depth"] = int(_state["depth"]) - 1  # type: ignore[call-overload]
        pending = _state["pending"]
        if not _state["depth"] and pending is not None:
            _state["pending"] = None
            _state["stopping"] = True
            raise Interrupted(int(pending))  # type: ignore[call-overload]


def note_written(path: str | Path) -> None:
    """Record that `path` now holds a complete output (call inside `deferred()`)."""
    _written.append(Path(path))


def written() -> list[Path]:
    """The outputs completed since `install()`."""
    return list(_written)
