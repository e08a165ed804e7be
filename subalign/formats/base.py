"""What every output format shares: the Writer protocols, what writers drawn from the media are
given (`MediaInput`), and millisecond timing that never overlaps."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from subalign.types import Cue, WordSpan

__all__ = [
    "ALIGNED", "MediaInput", "MediaWriter", "Writer", "cue_lines", "cue_method", "cue_times",
    "cue_times_ms", "format_clock", "karaoke_marks", "to_cs", "to_ms", "words_by_line",
]

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
    return _to_units(seconds, 3)


def to_cs(seconds: float) -> int:
    """Seconds to whole centiseconds (the unit of ASS/SSA times), rounded half up as written
    (1.005 -> 101), never negative. Rounding to the nearest unit is monotonic, so times in order
    stay in order and cues that did not overlap never overlap."""
    return _to_units(seconds, 2)


def _to_units(seconds: float, digits: int) -> int:
    units = Decimal(repr(float(seconds))).scaleb(digits).to_integral_value(rounding=ROUND_HALF_UP)
    return max(0, int(units))


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
    return cue_times(cues, to_ms)


def cue_times(cues: Sequence[Cue], unit: Callable[[float], int]) -> list[tuple[int, int]]:
    """`cue_times_ms` in the whole units `unit` rounds seconds to (`to_ms`, `to_cs`)."""
    times = []
    previous_end = 0
    for cue in cues:
        start = max(unit(cue.start), previous_end)
        end = max(unit(cue.end), start + 1)
        times.append((start, end))
        previous_end = end
    return times


def words_by_line(cue: Cue) -> list[list[WordSpan]] | None:
    """The cue's words on each of its lines (`cue_lines`), for formats that time each word
    (karaoke); None when the lines are not the words' texts joined by spaces (cues made
    elsewhere), so the caller can fall back to the plain lines."""
    from subalign.cues.breaks import display

    lines = cue_lines(cue)
    words = [(w, display(w.text)) for w in cue.words]
    words = [(w, shown) for w, shown in words if shown]
    out: list[list[WordSpan]] = []
    k = 0
    for line in lines:
        taken: list[WordSpan] = []
        pos = 0
        while k < len(words) and line.startswith(words[k][1], pos):
            taken.append(words[k][0])
            pos += len(words[k][1])
            k += 1
            if pos == len(line) or line[pos] != " ":
                break
            pos += 1
        if not taken or pos != len(line):
            return None
        out.append(taken)
    return out if k == len(words) and out else None


def format_clock(ticks: int, separator: str, *, hour_digits: int = 2, per_second: int = 1000) -> str:
    """A time in whole milliseconds (or `per_second` ticks: 100 for centiseconds) as
    HH:MM:SS<separator>mmm, hours padded to `hour_digits` and growing when needed."""
    hours, rest = divmod(ticks, 3600 * per_second)
    minutes, rest = divmod(rest, 60 * per_second)
    secs, fraction = divmod(rest, per_second)
    digits = len(str(per_second)) - 1
    return f"{hours:0{hour_digits}d}:{minutes:02d}:{secs:02d}{separator}{fraction:0{digits}d}"


def karaoke_marks(words: Sequence[WordSpan], start: int, end: int,
                  unit: Callable[[float], int]) -> list[tuple[int, int]]:
    """Each word's (start, end) in the whole units `unit` rounds to, kept inside its cue's
    [start, end] and in order (a word never starts before the one before it ends), so the gaps
    and the words' durations add up exactly to the cue's length."""
    marks = []
    pos = start
    for w in words:
        a = min(max(unit(w.start), pos), end)
        b = min(max(unit(w.end), a), end)
        marks.append((a, b))
        pos = b
    return marks
