"""The subtitle document model every format reads into and writes from.

A `Subtitles` document is its cues (`SubtitleCue`: times, text with its markup, identifier, cue
settings, source line) and, when it was read from a file, the decoded source lines. Each cue
knows the line that holds its timing, so writing a document back in its own format replaces
only the times on those lines: text, line breaks, markup, identifiers, settings, comments, style
blocks, the header and the line-ending style stay exactly as they were. Writing to another
format — or a document made from aligned cues, which has no source — renders fresh cues through
the target format's own renderer.

A format is a module with one `SubtitleFormat` object (see `formats/__init__.py` for the table):
it parses source lines into cues, writes a cue's timing line, renders fresh cues and converts
cue text from the common markup (`<b>`, `<i>`, `<u>` and plain text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ..text.markup import split_markup, unescape
from ..types import Cue, WordSpan
from .base import cue_lines, cue_times, cue_times_ms, karaoke_marks, to_ms, words_by_line

__all__ = [
    "FreshCue", "FreshWriter", "HighlightWriter", "fresh_document", "Markup", "SubtitleCue", "SubtitleFormat", "Subtitles", "common_markup", "tidy_markup",
]


@dataclass(frozen=True)
class SubtitleCue:
    """One cue as read: times in seconds, its text (lines joined by "\\n", markup kept), its
    identifier (the SRT number or VTT id, "" when absent), whatever followed the end time on the
    timing line (VTT cue settings, SRT coordinates) and the 1-based number of that line."""

    start: float
    end: float
    text: str
    identifier: str = ""
    settings: str = ""
    line: int = 0
    #: The timing line as read, cut where the start and end times go, for formats whose timing
    #: line holds more than times (an ASS Dialogue line: every other field and the text).
    source: tuple[str, str, str] | None = field(default=None, repr=False)

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n") if self.text else []


#: One line of cue text in the common markup: (is_tag, text) pieces, where a tag is one of
#: <b>, </b>, <i>, </i>, <u>, </u> and text is plain (entities decoded).
Markup = list[tuple[bool, str]]


@dataclass(frozen=True)
class FreshCue:
    """A cue to render afresh: whole-millisecond times, an identifier, and its lines already in
    the target format's own text (markup and escaping done)."""

    start_ms: int
    end_ms: int
    identifier: str
    lines: tuple[str, ...]


class SubtitleFormat(Protocol):
    """What a format module offers the document model."""

    name: str  # "srt", "vtt", "ass", …
    extensions: tuple[str, ...]  # lower-case, with the dot; the first is the usual one
    #: Whether a document read in this format is written back with only its times changed;
    #: False for formats read through pysubs2, which are written afresh.
    lossless: bool
    #: Formats whose documents this one writes back as they are (ASS and SSA: one family).
    family: tuple[str, ...]

    def parse(self, lines: list[str], name: str) -> tuple[list[SubtitleCue], list[int]]:
        """Cues and the index of each cue's timing line, from the decoded source lines."""
        ...

    def timing_line(self, cue: SubtitleCue) -> str:
        """The timing line of a cue with its current times (and its settings)."""
        ...

    def render(self, cues: Sequence[FreshCue], fps: float | None = None,
               language: str | None = None) -> str:
        """A whole file of fresh cues; `fps` is the video's frame rate when known, for formats
        that count frames (TTML, MicroDVD); `language` the text's language (TTML's xml:lang)."""
        ...

    def text_lines(self, text: str) -> list[Markup]:
        """A cue's text in this format as common-markup lines (other tags dropped)."""
        ...

    def from_markup(self, line: Markup) -> str:
        """One common-markup line as this format's text."""
        ...

    def from_plain(self, line: str) -> str:
        """One line of plain text (no markup) as this format's text."""
        ...


_SIMPLE_TAG = re.compile(r"<(/?)([biu])(?:\.[^>]*)?>", re.IGNORECASE)


def common_markup(text: str, *, entities: bool) -> list[Markup]:
    """Cue text as common-markup lines: <b>, <i>, <u> kept (lower case, classes dropped), every
    other tag and ASS override dropped, `entities` decoded when the format has them, each line's
    outer whitespace stripped; lines left empty are dropped (a blank line would end a cue)."""
    out: list[Markup] = []
    for line in text.split("\n"):
        pieces: Markup = []
        for is_markup, piece in split_markup(line):
            if not is_markup:
                pieces.append((False, unescape(piece) if entities else piece))
            elif simple := _SIMPLE_TAG.fullmatch(piece):
                pieces.append((True, f"<{simple.group(1)}{simple.group(2).lower()}>"))
        if pieces := tidy_markup(pieces):
            out.append(pieces)
    return out


def tidy_markup(pieces: Markup) -> Markup:
    """One common-markup line with its outer whitespace stripped and empty text pieces dropped
    (an empty list when nothing is left)."""
    texts = [k for k, (is_tag, _) in enumerate(pieces) if not is_tag]
    if texts:
        first, last = texts[0], texts[-1]
        pieces[first] = (False, pieces[first][1].lstrip()) if first == 0 else pieces[first]
        pieces[last] = (False, pieces[last][1].rstrip()) if last == len(pieces) - 1 else pieces[last]
    pieces = [(is_tag, piece) for is_tag, piece in pieces if is_tag or piece]
    return pieces


@dataclass(frozen=True)
class Subtitles:
    """A subtitle document: its cues in file order and what it takes to write it back unchanged."""

    format: str  # the name of the format it was read in ("srt", "vtt"), or would be written in
    cues: tuple[SubtitleCue, ...]
    source_lines: tuple[str, ...] = field(default=(), repr=False)
    timing_lines: tuple[int, ...] = field(default=(), repr=False)  # index into source_lines, per cue
    name: str = "<subtitles>"
    encoding: str = "utf-8"
    bom: bool = False
    newline: str = "\n"
    final_newline: bool = True
    fps: float | None = None  # frame rate of the video, when known (frame-based formats use it)
    language: str | None = None  # language of the text, when known (TTML declares it)

    @classmethod
    def from_cues(cls, cues: Sequence[Cue], format: str = "srt") -> Subtitles:
        """A document without a source, from aligned cues: plain text, lines as the cue has them
        (empty ones dropped), times rounded to milliseconds without overlaps."""
        shown = [(cue, lines) for cue in cues if (lines := cue_lines(cue))]
        times = cue_times_ms([cue for cue, _ in shown])
        return cls(format=format, name="<aligned cues>", cues=tuple(
            SubtitleCue(start / 1000, end / 1000, "\n".join(lines))
            for (_, lines), (start, end) in zip(shown, times, strict=True)
        ))

    @property
    def has_source(self) -> bool:
        return bool(self.source_lines)

    def written_back(self, format: str) -> bool:
        """Whether rendering in `format` writes this document back with only its times changed
        (its own format, or one of the same family, read losslessly)."""
        from . import subtitle_format

        target = subtitle_format(format)
        return (self.has_source and target.lossless
                and (target.name == self.format or self.format in target.family))

    def retimed(self, times: Sequence[tuple[float, float]]) -> Subtitles:
        """The same document with new (start, end) seconds for every cue, in cue order."""
        if len(times) != len(self.cues):
            raise ValueError(f"need {len(self.cues)} (start, end) pairs, got {len(times)}")
        cues = tuple(
            replace(c, start=float(s), end=float(e)) for c, (s, e) in zip(self.cues, times, strict=True)
        )
        return replace(self, cues=cues)

    def render(self, format: str | None = None) -> str:
        """The document as text in `format` (default: its own), with the current cue times.

        In its own format every source line but the timing lines is written as it was read;
        otherwise the cues are rendered afresh, their text converted through the common markup
        (`<b>`, `<i>`, `<u>` kept, other markup dropped).
        """
        from . import subtitle_format

        target = subtitle_format(format or self.format)
        if self.written_back(target.name):
            lines = list(self.source_lines)
            for cue, at in zip(self.cues, self.timing_lines, strict=True):
                lines[at] = target.timing_line(cue)
            text = self.newline.join(lines)
            if self.final_newline:
                text += self.newline
            return text
        if self.has_source:
            source = subtitle_format(self.format)
            convert = [[target.from_markup(m) for m in source.text_lines(c.text)] for c in self.cues]
        else:
            convert = [[target.from_plain(line) for line in c.lines if line.strip()] for c in self.cues]
        fresh = []
        for cue, lines in zip(self.cues, convert, strict=True):
            start = to_ms(max(0.0, cue.start))
            end = max(to_ms(max(0.0, cue.end)), start)
            fresh.append(FreshCue(start, end, cue.identifier, tuple(line for line in lines if line)))
        return target.render(fresh, fps=self.fps, language=self.language)


def fresh_document(cues: Sequence[Cue], format: str, meta: Mapping[str, Any]) -> Subtitles:
    """`Subtitles.from_cues` with the frame rate and language an output's `meta` records
    (`style.fps`, `language`), for formats that use them (TTML, MicroDVD)."""
    style = meta.get("style") or {}
    return replace(Subtitles.from_cues(cues, format), fps=style.get("fps"), language=meta.get("language"))


class FreshWriter:
    """The writer of aligned words and cues for a subtitle format: the cues with text, rendered
    afresh in that format (words are not used)."""

    format = ""
    extension = ""

    def __init__(self, format: str | None = None, extension: str | None = None) -> None:
        self.format = format or self.format
        self.extension = extension or self.extension

    def render(self, words: Sequence[WordSpan], cues: Sequence[Cue], meta: Mapping[str, Any]) -> str:
        """Render the cues that have text as one document."""
        return fresh_document(cues, self.format, meta).render(self.format)


class HighlightWriter(FreshWriter):
    """A `FreshWriter` that can highlight each word as it is said (`karaoke`): the cues' times
    and their words' are rounded to the format's unit (`unit`: seconds to whole units; `per_ms`
    a unit is `ms_per_unit` milliseconds), each word kept inside its cue and in order
    (`base.karaoke_marks`), and `highlight` writes one cue's words with their marks. A cue whose
    lines are not its words (made elsewhere) is written plain."""

    karaoke_default = False
    ms_per_unit = 1

    def __init__(self, karaoke: bool | None = None) -> None:
        self.karaoke = self.karaoke_default if karaoke is None else karaoke

    @staticmethod
    def unit(seconds: float) -> int:
        return to_ms(seconds)

    def highlight(self, lines: list[list[WordSpan]], marks: list[tuple[int, int]], start: int,
                  end: int) -> list[FreshCue]:
        """The fresh cues (times in milliseconds) that show one cue's words highlighted."""
        raise NotImplementedError

    @staticmethod
    def each_word(lines: list[list[WordSpan]], marks: list[tuple[int, int]],
                  word: Callable[[WordSpan, int, int], str]) -> list[str]:
        """The lines with each word written by `word(word, start, end)`, joined by spaces."""
        at = iter(marks)
        return [" ".join(word(w, *next(at)) for w in line) for line in lines]

    def render(self, words: Sequence[WordSpan], cues: Sequence[Cue], meta: Mapping[str, Any]) -> str:
        if not self.karaoke:
            return super().render(words, cues, meta)
        from . import subtitle_format

        target = subtitle_format(self.format)
        shown = [cue for cue in cues if cue_lines(cue)]
        fresh: list[FreshCue] = []
        for cue, (start, end) in zip(shown, cue_times(shown, self.unit), strict=True):
            by_line = words_by_line(cue)
            if by_line is None:
                plain = tuple(target.from_plain(line) for line in cue_lines(cue))
                fresh.append(FreshCue(start * self.ms_per_unit, end * self.ms_per_unit, "", plain))
                continue
            marks = karaoke_marks([w for line in by_line for w in line], start, end, self.unit)
            fresh.extend(self.highlight(by_line, marks, start, end))
        style = meta.get("style") or {}
        return target.render(fresh, fps=style.get("fps"), language=meta.get("language"))
