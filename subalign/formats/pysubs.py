"""Formats read (and most of them written) by pysubs2 (MIT): MicroDVD (.sub), MPL2 (.mpl2),
TMPlayer (.tmp), SAMI (.smi, .sami: read only) — and the reading half of TTML (`ttml.py`).

pysubs2 parses a file into its own model (events with ASS-style text: {\\i1} overrides, \\N line
breaks), so a document read here has that text (the same convention as `ass.py`, whose text
conversion it shares) and no way back to the source bytes: `sync` writes these formats afresh
(`lossless` is False), with the re-timed cues and their text through the common markup.

Frame-based MicroDVD needs a frame rate: read from the file's "{1}{1}25" first line (pysubs2's own
"{0}{0}25" too), else the video's (`parse(…, fps=…)`); written with the video's frame rate
(the document's `fps`), else 25, declared in a "{1}{1}" first line so that readers agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pysubs2
from pysubs2.formats import get_format_class

from ..errors import OutputError, TranscriptError
from .ass import ASS
from .document import FreshCue, Markup, SubtitleCue

__all__ = ["MICRODVD", "MPL2", "SAMI", "TMP", "Pysubs2Format", "read_with_pysubs2"]

#: Frame rate of a MicroDVD file written without a video frame rate.
DEFAULT_MICRODVD_FPS = 25.0
_FPS_LINE = re.compile(r"^\{[01]\}\{[01]\}\s*(\d+(?:\.\d+)?)\s*$")


def read_with_pysubs2(lines: Sequence[str], name: str, ident: str, label: str,
                      fps: float | None = None) -> list[SubtitleCue]:
    """The text events of `lines` read by pysubs2 as format `ident`, as cues (ASS-style text,
    \\N as "\\n"); a file pysubs2 cannot read is a TranscriptError naming it."""
    text = "\n".join(lines) + "\n"
    options: dict[str, Any] = {}
    if ident == "microdvd":
        first = next((line for line in lines if line.strip()), "")
        declared = _FPS_LINE.match(first)
        if fps is None and declared is None:
            raise TranscriptError(
                f"{name} is a MicroDVD file, which counts frames, and it does not declare its frame "
                "rate (a first cue {1}{1}25); give the video file so its frame rate can be used"
            )
        options = {"fps": fps} if declared is None else {"strict_fps_inference": False}
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=ident, **options)
    except Exception as exc:  # pysubs2 raises many types for a file it cannot parse
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise TranscriptError(f"{name} cannot be read as {label}: {detail}") from None
    return [SubtitleCue(start=e.start / 1000, end=e.end / 1000, text=e.text.replace("\\N", "\n"))
            for e in subs.events if not e.is_comment]


class Pysubs2Format:
    """A subtitle format that pysubs2 reads (and, when `writes`, writes)."""

    lossless = False
    family: tuple[str, ...] = ()

    def __init__(self, name: str, ident: str, extensions: tuple[str, ...], label: str,
                 writes: bool = True) -> None:
        self.name, self.ident, self.extensions, self.label, self.writes = name, ident, extensions, label, writes

    def __repr__(self) -> str:
        return f"<subtitle format {self.name} (pysubs2)>"

    def sniff(self, lines: Sequence[str]) -> bool:
        """Whether pysubs2 recognises the first lines as this format."""
        return get_format_class(self.ident).guess_format("\n".join(lines[:50])) == self.ident

    def parse(self, lines: list[str], name: str, fps: float | None = None) -> tuple[list[SubtitleCue], list[int]]:
        return read_with_pysubs2(lines, name, self.ident, self.label, fps), []

    def timing_line(self, cue: SubtitleCue) -> str:
        raise ValueError(f"{self.label} files are written afresh, not line by line")

    def render(self, cues: Sequence[FreshCue], fps: float | None = None,
               language: str | None = None) -> str:
        if not self.writes:
            raise OutputError(f"subalign reads {self.label} files but cannot write them")
        subs = pysubs2.SSAFile()
        for c in cues:
            subs.append(pysubs2.SSAEvent(start=c.start_ms, end=c.end_ms, text="\\N".join(c.lines)))
        if self.ident != "microdvd":
            return subs.to_string(self.ident)
        rate = fps or DEFAULT_MICRODVD_FPS
        # pysubs2 declares the rate as "{0}{0}"; players (VLC) and pysubs2 itself read "{1}{1}"
        return f"{{1}}{{1}}{rate:g}\n" + subs.to_string("microdvd", fps=rate, write_fps_declaration=False)

    # The text pysubs2 reads and writes is ASS event text.
    def text_lines(self, text: str) -> list[Markup]:
        return ASS.text_lines(text)

    def from_markup(self, line: Markup) -> str:
        return ASS.from_markup(line)

    def from_plain(self, line: str) -> str:
        return ASS.from_plain(line)


MICRODVD = Pysubs2Format("microdvd", "microdvd", (".sub",), "MicroDVD")
MPL2 = Pysubs2Format("mpl2", "mpl2", (".mpl2", ".mpl"), "MPL2")
TMP = Pysubs2Format("tmp", "tmp", (".tmp",), "TMPlayer")
SAMI = Pysubs2Format("sami", "sami", (".smi", ".sami"), "SAMI", writes=False)
