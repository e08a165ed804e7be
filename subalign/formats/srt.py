"""SubRip (.srt): read losslessly, write the timing lines back, render fresh cues.

Reading is strict where a guess would lose a cue: a line with "-->" that is not a timing, a cue
number without a timing, or text before the first cue is an error naming the file and line.
Tolerated: no numbers, "." for ",", 1-3 fraction digits, no fraction, missing blank lines between
cues, blank lines inside a cue's text, coordinates after the end time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..cues.breaks import display
from ..errors import TranscriptError
from ..types import WordSpan
from .base import format_clock, to_ms
from .document import FreshCue, HighlightWriter, Markup, SubtitleCue, common_markup

__all__ = ["SRT", "SrtFormat", "SrtWriter"]

# Hours, minutes, seconds and an optional fraction after "," (or "." as some tools write).
_TIME = r"(\d{1,3}):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?"
TIMING = re.compile(rf"^[ \t]*{_TIME}[ \t]*-->[ \t]*{_TIME}(?P<tail>(?:[ \t].*)?)$")
_INDEX = re.compile(r"^[ \t]*\d+[ \t]*$")


def seconds(h: str | None, m: str, s: str, frac: str | None) -> float:
    """Seconds from the parts of a timestamp (a fraction of 1-3 digits is read as written)."""
    ms = int((frac or "0").ljust(3, "0")) if frac else 0
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + ms / 1000


def show(line: str, limit: int = 60) -> str:
    """A source line quoted for an error message, shortened."""
    line = line.strip()
    return repr(line if len(line) <= limit else line[: limit - 1] + "…")


def check_timing(m: re.Match[str] | None, line: str, at: int, name: str, expected: str) -> re.Match[str]:
    """A timing line's match, or the error naming the file and line: unreadable, or minutes or
    seconds of 60 or more (groups 2, 3, 6, 7 of both timing patterns)."""
    if m is None:
        raise TranscriptError(
            f"{name} line {at + 1}: cannot read the cue timing {show(line)}; expected {expected}"
        )
    if any(int(m.group(k)) >= 60 for k in (2, 3, 6, 7)):
        raise TranscriptError(f"{name} line {at + 1}: minutes and seconds must be below 60 in {show(line)}")
    return m


def timing_text(cue: SubtitleCue, separator: str) -> str:
    """"start --> end" in whole milliseconds (never negative, end not before start)."""
    start = to_ms(max(0.0, cue.start))
    end = max(to_ms(max(0.0, cue.end)), start)
    return f"{format_clock(start, separator)} --> {format_clock(end, separator)}"


class SrtFormat:
    """SubRip: [number] / timing / text lines, cues separated by blank lines."""

    name = "srt"
    lossless = True
    family: tuple[str, ...] = ()
    extensions = (".srt",)

    def sniff(self, lines: Sequence[str]) -> bool:
        """Whether text whose first lines are `lines` looks like SubRip."""
        return any(TIMING.match(line) for line in lines[:50])

    def parse(self, lines: list[str], name: str) -> tuple[list[SubtitleCue], list[int]]:
        timings: list[tuple[int, re.Match[str]]] = []
        for i, line in enumerate(lines):
            if "-->" not in line:
                continue
            m = check_timing(TIMING.match(line), line, i, name, "HH:MM:SS,mmm --> HH:MM:SS,mmm")
            timings.append((i, m))
        if not timings:
            return [], []

        def is_id(j: int, owner_from: int) -> bool:
            """Whether line j (just before a timing line) is that cue's number."""
            if j < owner_from or not lines[j].strip():
                return False
            if _INDEX.match(lines[j]):
                return True
            # A non-numeric label counts as an identifier only at the start of a block.
            return j == 0 or not lines[j - 1].strip()

        cues: list[SubtitleCue] = []
        timing_lines: list[int] = []
        starts = [i for i, _ in timings]
        prev_text_from = 0
        for k, (i, m) in enumerate(timings):
            has_id = is_id(i - 1, prev_text_from)
            head_end = i - 1 if has_id else i
            if k == 0:  # anything before the first cue must be blank
                for j in range(head_end):
                    if lines[j].strip():
                        raise TranscriptError(
                            f"{name} line {j + 1}: expected a cue number or a timing line, found {show(lines[j])}"
                        )
            stop = starts[k + 1] if k + 1 < len(starts) else len(lines)
            if k + 1 < len(starts) and is_id(stop - 1, i + 1):
                stop -= 1
            body = lines[i + 1 : stop]
            _check_body(body, i + 1, name)
            while body and not body[-1].strip():
                body.pop()
            while body and not body[0].strip():
                body.pop(0)
            cues.append(SubtitleCue(
                start=seconds(m.group(1), m.group(2), m.group(3), m.group(4)),
                end=seconds(m.group(5), m.group(6), m.group(7), m.group(8)),
                text="\n".join(body),
                identifier=lines[i - 1].strip() if has_id else "",
                settings=m.group("tail").strip(),
                line=i + 1,
            ))
            timing_lines.append(i)
            prev_text_from = i + 1
        return cues, timing_lines

    def timing_line(self, cue: SubtitleCue) -> str:
        timing = timing_text(cue, ",")
        return f"{timing} {cue.settings}" if cue.settings else timing

    def render(self, cues: Sequence[FreshCue], fps: float | None = None,
               language: str | None = None) -> str:
        """Numbered from 1, LF line ends, a blank line after every cue."""
        return "".join(
            f"{number}\n{format_clock(c.start_ms, ',')} --> {format_clock(c.end_ms, ',')}\n"
            + "".join(f"{line}\n" for line in c.lines) + "\n"
            for number, c in enumerate(cues, 1)
        )

    def text_lines(self, text: str) -> list[Markup]:
        return common_markup(text, entities=False)

    def from_markup(self, line: Markup) -> str:
        return "".join(piece for _, piece in line)

    def from_plain(self, line: str) -> str:
        return line


def _check_body(body: list[str], first: int, name: str) -> None:
    """Refuse a cue number left without its timing line inside a cue's text region."""
    for j, line in enumerate(body):
        if not _INDEX.match(line):
            continue
        after_blank = j > 0 and not body[j - 1].strip()
        following = next((b for b in body[j + 1 :] if b.strip()), None)
        if after_blank and following is not None and j + 1 < len(body) and body[j + 1].strip():
            raise TranscriptError(
                f"{name} line {first + j + 1}: cue number {line.strip()} is not followed by a "
                f"timing line (found {show(body[j + 1])})"
            )


SRT = SrtFormat()


class SrtWriter(HighlightWriter):
    """Numbered SubRip cues with millisecond times and LF line ends.

    SubRip has no standard for word highlighting; with `karaoke`, each cue is shown once per word
    with that word underlined (<u>, which every SubRip player shows), from the word's start to the
    next word's start (the first from the cue's start, the last to its end) — the cue-per-word
    layout other aligners (whisper's highlight_words) write. A cue whose lines are not its words
    (made elsewhere) stays one plain cue.
    """

    format = "srt"
    extension = ".srt"

    def highlight(self, lines: list[list[WordSpan]], marks: list[tuple[int, int]], start: int,
                  end: int) -> list[FreshCue]:
        flat = [w for line in lines for w in line]
        bounds = [start] + [a for a, _ in marks[1:]] + [end]
        return [
            FreshCue(bounds[k], bounds[k + 1], "", tuple(
                " ".join(f"<u>{display(w.text)}</u>" if w is word else display(w.text) for w in line)
                for line in lines))
            for k, word in enumerate(flat) if bounds[k + 1] > bounds[k]
        ]
