"""What every output format shares: the Writer protocols, what writers drawn from the media are
given (`MediaInput`), and millisecond timing that never overlaps."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from subalign.types import Cue, WordSpan

__all__ = ["ALIGNED", "MediaInput", "MediaWriter", "Writer", "cue_lines", "cue_method", "cue_times_ms",
           "format_clock", "to_ms"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@runtime_checkable
class Writer(Protocol):
    """An output format: the file extension it claims and how it renders words and cues to text.

    ``render`` must be pure (no I/O): ``write_output`` renders first and writes only a complete
    result, atomically.
    """

    extension: str

    def render(
        self, words: Sequence[WordSpan], cues: Sequence[Cue], meta: Mapping[str, Any]
    ) -> str: ...


#: Largest media file the review page embeds (``MediaInput.embed``): a data URI is held in memory
#: by the browser, base64 (4/3 of the file) on top.
EMBED_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class MediaInput:
    """The media a result was made from, and how to use it, for the writers that show or measure
    it (the review page, the alignment plot) — they get it as an explicit argument.

    ``embed`` puts the media inside the review page as a data URI (refused above ``embed_limit``
    bytes) instead of referring to it by a relative path. ``model`` (``NAME[:ARG]``; None: the
    model the result's meta names), ``language``, ``device``, ``dtype`` and ``audio_stream`` say
    how the plot recomputes emissions; ``plot_range`` is the (start, end) seconds it shows (end
    may be ``math.inf``: to the end of the file)
    (None: the first `formats.plot.DEFAULT_SECONDS`, or the whole file when shorter).
    """

    path: Path
    embed: bool = False
    embed_limit: int = EMBED_LIMIT
    model: str | None = None
    language: str = "en"
    device: str = "auto"
    dtype: str = "auto"
    audio_stream: int = 0
    plot_range: tuple[float, float] | None = None

    @classmethod
    def of(cls, media: MediaInput | str | Path) -> MediaInput:
        """``media`` as a MediaInput (a path gets the defaults)."""
        return media if isinstance(media, MediaInput) else cls(Path(media))


@runtime_checkable
class MediaWriter(Protocol):
    """An output format drawn from the media as well as the result (review page, plot).

    ``render_document`` gets the result as its JSON document (`jsonfile.json_document`: what
    ``-o x.json`` writes, or a JSON file read back), the media, and the destination (a page refers
    to its media relative to it); it returns the whole file as bytes, which ``write_output`` then
    writes atomically. ``check`` refuses early what cannot work (a missing optional package, media
    too big to embed), before any aligning is done.
    """

    extension: str

    def check(self, media: MediaInput | None) -> None: ...

    def render_document(self, document: Mapping[str, Any], media: MediaInput, dest: Path) -> bytes: ...


#: How a cue was placed, when its words were aligned: cues with any other ``method`` or
#: ``status`` (sync: "interpolated", "unspoken", ...) are marked by the review page and the plot.
ALIGNED = frozenset({"", "aligned", "words"})


def cue_method(cue: Mapping[str, Any]) -> str:
    """How a JSON cue was placed: its ``method`` (sync, issue 13), else its ``status`` (sync:
    "aligned", "interpolated", "unspoken"), else "" (align: every cue is made of aligned words)."""
    return str(cue.get("method") or cue.get("status") or "")


def to_ms(seconds: float) -> int:
    """Seconds to whole milliseconds, rounded half up as written (1.0005 -> 1001), never negative.

    Rounding goes through the float's shortest decimal form, so it matches what a reader of the
    seconds would expect rather than the binary value's tiny error.
    """
    ms = Decimal(repr(float(seconds))).scaleb(3).to_integral_value(rounding=ROUND_HALF_UP)
    return max(0, int(ms))


def cue_lines(cue: Cue) -> list[str]:
    """The cue's non-empty lines, stripped, with any line break inside a line made a new line.

    A blank line would end a cue block in SRT and WebVTT, so it is dropped.
    """
    out = []
    for line in cue.lines:
        out.extend(part.strip() for part in _LINE_BREAK.split(line))
    return [line for line in out if line]


def cue_times_ms(cues: Sequence[Cue]) -> list[tuple[int, int]]:
    """Start and end of each cue in milliseconds: rounded, at least 1 ms long, never overlapping.

    Rounding is monotonic, so ordered float times stay ordered; a cue that rounds to zero length
    gets 1 ms, and a start that would fall before the previous end is moved to that end.
    """
    times = []
    previous_end = 0
    for cue in cues:
        start = max(to_ms(cue.start), previous_end)
        end = max(to_ms(cue.end), start + 1)
        times.append((start, end))
        previous_end = end
    return times


def format_clock(ms: int, separator: str) -> str:
    """Milliseconds as HH:MM:SS<separator>mmm (hours grow past two digits when needed)."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"
