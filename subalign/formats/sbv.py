"""YouTube SubViewer (.sbv): read losslessly, write the timing lines back, render fresh cues.

A cue is a timing line "H:MM:SS.mmm,H:MM:SS.mmm" and its text lines; cues are separated by blank
lines. The text is plain (no markup). pysubs2 neither reads nor writes SBV, and the format is
this small, so it is written here with the same block rules as SubRip.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .base import format_clock, to_ms
from .document import FreshCue, FreshWriter, Markup, SubtitleCue
from .srt import check_timing, seconds

__all__ = ["SBV", "SbvFormat", "SbvWriter", "sbv_clock"]

_TIME = r"(\d{1,3}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,3}))?"
TIMING = re.compile(rf"^[ \t]*{_TIME}[ \t]*,[ \t]*{_TIME}[ \t]*$")
# What an SBV timing line that cannot be read still looks like: digits, colons, a comma.
_TIMING_LIKE = re.compile(r"^[ \t]*\d+:[\d.:a-zA-Z]*[ \t]*,[ \t]*\d*:")


def sbv_clock(ms: int) -> str:
    """Milliseconds as H:MM:SS.mmm, as YouTube writes them."""
    return format_clock(ms, ".", hour_digits=1)


class SbvFormat:
    """SubViewer as YouTube writes it: timing line, text lines, a blank line."""

    name = "sbv"
    extensions = (".sbv",)
    lossless = True
    family: tuple[str, ...] = ()

    def sniff(self, lines: Sequence[str]) -> bool:
        first = next((line for line in lines[:20] if line.strip()), "")
        return bool(TIMING.match(first))

    def parse(self, lines: list[str], name: str) -> tuple[list[SubtitleCue], list[int]]:
        cues: list[SubtitleCue] = []
        timing_lines: list[int] = []
        i = 0
        while i < len(lines):
            if not lines[i].strip():
                i += 1
                continue
            m = check_timing(TIMING.match(lines[i]), lines[i], i, name, "H:MM:SS.mmm,H:MM:SS.mmm")
            body_from = i + 1
            j = body_from
            while j < len(lines) and lines[j].strip():
                if TIMING.match(lines[j]) or _TIMING_LIKE.match(lines[j]):
                    break  # the next cue, without a blank line before it
                j += 1
            cues.append(SubtitleCue(
                start=seconds(m.group(1), m.group(2), m.group(3), m.group(4)),
                end=seconds(m.group(5), m.group(6), m.group(7), m.group(8)),
                text="\n".join(lines[body_from:j]),
                line=i + 1,
            ))
            timing_lines.append(i)
            i = j
        return cues, timing_lines

    def timing_line(self, cue: SubtitleCue) -> str:
        start = to_ms(max(0.0, cue.start))
        end = max(to_ms(max(0.0, cue.end)), start)
        return f"{sbv_clock(start)},{sbv_clock(end)}"

    def render(self, cues: Sequence[FreshCue], fps: float | None = None, language: str | None = None) -> str:
        return "\n".join(
            f"{sbv_clock(c.start_ms)},{sbv_clock(c.end_ms)}\n" + "".join(f"{line}\n" for line in c.lines)
            for c in cues
        )

    def text_lines(self, text: str) -> list[Markup]:
        return [[(False, line.strip())] for line in text.split("\n") if line.strip()]

    def from_markup(self, line: Markup) -> str:
        return "".join(piece for is_tag, piece in line if not is_tag)

    def from_plain(self, line: str) -> str:
        return line


SBV = SbvFormat()


class SbvWriter(FreshWriter):
    """Aligned cues as YouTube SBV."""

    format = "sbv"
    extension = ".sbv"
