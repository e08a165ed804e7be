"""WebVTT (.vtt): read losslessly, write the timing lines back, render fresh cues.

Reading follows the specification's block rules: a header after "WEBVTT", then blocks separated
by empty lines; a line with "-->" ends the block before it. Blocks are cues ([id] / timing /
payload), NOTE, STYLE or REGION; anything else is an error naming the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..cues.breaks import display
from ..errors import TranscriptError
from ..text.markup import escape
from ..types import WordSpan
from .base import format_clock
from .document import FreshCue, HighlightWriter, Markup, SubtitleCue, common_markup
from .srt import check_timing, seconds, show, timing_text

__all__ = ["VTT", "VttFormat", "VttWriter", "escape_cue_text"]

# Timestamps as the specification writes them: [hh:]mm:ss.ttt with mm, ss < 60.
_TIME = r"(?:(\d{2,}):)?(\d{2}):(\d{2})\.(\d{3})"
TIMING = re.compile(rf"^{_TIME}[ \t]*-->[ \t]*{_TIME}(?P<tail>(?:\D.*)?)$")
SIGNATURE = re.compile(r"^WEBVTT(?:[ \t].*)?$")

#: Plain text as WebVTT cue text (&, < and > escaped, so "-->" cannot end the cue).
escape_cue_text = escape


class VttFormat:
    """WebVTT cues, NOTE, STYLE and REGION blocks after a "WEBVTT" header."""

    name = "vtt"
    lossless = True
    family: tuple[str, ...] = ()
    extensions = (".vtt", ".webvtt")

    def sniff(self, lines: Sequence[str]) -> bool:
        return bool(lines) and lines[0].startswith("WEBVTT")

    def parse(self, lines: list[str], name: str) -> tuple[list[SubtitleCue], list[int]]:
        if not SIGNATURE.match(lines[0]):
            raise TranscriptError(
                f"{name} line 1: a WebVTT file must start with 'WEBVTT' followed by a space, a tab or "
                f"the end of the line, found {show(lines[0])}"
            )
        cues: list[SubtitleCue] = []
        timing_lines: list[int] = []
        for n, (first, block) in enumerate(_blocks(lines)):
            if n == 0:
                continue  # the header: signature and metadata lines, kept as they are
            head = block[0]
            arrow = next((j for j, line in enumerate(block[:2]) if "-->" in line), None)
            if arrow is None:
                if re.match(r"^NOTE(?:[ \t]|$)", head):
                    continue
                if head.rstrip(" \t") in ("STYLE", "REGION"):
                    if cues:
                        raise TranscriptError(
                            f"{name} line {first + 1}: a {head.strip()} block must come before the first cue"
                        )
                    continue
                raise TranscriptError(
                    f"{name} line {first + 1}: expected a cue timing ('00:00:01.000 --> 00:00:02.000'), "
                    f"a NOTE, STYLE or REGION block, found {show(head)}"
                )
            at = first + arrow
            m = check_timing(TIMING.match(block[arrow]), block[arrow], at, name,
                             "[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm")
            cues.append(SubtitleCue(
                start=seconds(m.group(1), m.group(2), m.group(3), m.group(4)),
                end=seconds(m.group(5), m.group(6), m.group(7), m.group(8)),
                text="\n".join(block[arrow + 1 :]),
                identifier=block[0] if arrow == 1 else "",
                settings=m.group("tail").strip(" \t"),
                line=at + 1,
            ))
            timing_lines.append(at)
        return cues, timing_lines

    def timing_line(self, cue: SubtitleCue) -> str:
        timing = timing_text(cue, ".")
        return f"{timing} {cue.settings}" if cue.settings else timing

    def render(self, cues: Sequence[FreshCue], fps: float | None = None,
               language: str | None = None) -> str:
        """The header, then each cue (with its identifier when it has one) after a blank line."""
        blocks = ["WEBVTT"]
        for c in cues:
            ident = [c.identifier] if c.identifier and "-->" not in c.identifier else []
            timing = f"{format_clock(c.start_ms, '.')} --> {format_clock(c.end_ms, '.')}"
            blocks.append("\n".join([*ident, timing, *c.lines]))
        return "\n\n".join(blocks) + "\n"

    def text_lines(self, text: str) -> list[Markup]:
        return common_markup(text, entities=True)

    def from_markup(self, line: Markup) -> str:
        return "".join(piece if is_tag else escape(piece) for is_tag, piece in line)

    def from_plain(self, line: str) -> str:
        return escape(line)


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Split into (first line index, lines) blocks: empty lines separate blocks, and a line with
    "-->" that cannot be the current block's timing line (its first or second line) starts a new
    block. Only truly empty lines count; a line of spaces belongs to its block."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    header = True
    for i, line in enumerate(lines):
        if not line:
            if current:
                blocks.append((start, current))
                current, header = [], False
            continue
        if current and "-->" in line and (header or len(current) > 1 or "-->" in current[0]):
            blocks.append((start, current))
            current, header = [], False
        if not current:
            start = i
        current.append(line)
    if current:
        blocks.append((start, current))
    return blocks


VTT = VttFormat()


class VttWriter(HighlightWriter):
    """WebVTT cues with millisecond times. With `karaoke`, every word after the first carries a
    WebVTT timestamp tag (`Hello <00:00:01.500>world`): players show the words before it as past
    and after it as future (`::cue(:past)`, `::cue(:future)` in CSS), so the words light up as
    they are said. Tags fall strictly inside the cue and increase, as the specification asks; a
    word that starts with the cue (or with the word before it) gets none."""

    format = "vtt"
    extension = ".vtt"

    def highlight(self, lines: list[list[WordSpan]], marks: list[tuple[int, int]], start: int,
                  end: int) -> list[FreshCue]:
        last = start

        def word(w: WordSpan, a: int, b: int) -> str:
            nonlocal last
            tag = f"<{format_clock(a, '.')}>" if last < a < end else ""
            last = max(last, a)
            return tag + escape(display(w.text))

        return [FreshCue(start, end, "", tuple(self.each_word(lines, marks, word)))]
