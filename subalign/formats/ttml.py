"""TTML (.ttml, .dfxp, .xml): written as an IMSC 1.1 Text profile document; read through pysubs2.

Written by hand because pysubs2's TTML writer makes a plain TTML file without what IMSC players
and delivery checks look for: the profile, `ttp:timeBase`, a frame rate and frame-accurate
times, `xml:lang`, a region to show the text in. A written document has

* the `tt`, `ttp`, `tts` and `ttm` namespaces, `ttp:contentProfiles` naming IMSC 1.1 Text,
  `ttp:timeBase="media"` and `xml:lang` (the text's language; "und" when it is not known);
* with a video frame rate (the cue style's fps: the video's, or `--fps`): `ttp:frameRate`, with
  `ttp:frameRateMultiplier="1000 1001"` for 23.976, 29.97 and 59.94, and every time as a whole
  number of frames ("1234f"), rounded to the nearest frame; without one, times in milliseconds
  ("00:01:02.345");
* a `head` with one style (white proportional sans-serif text with a black outline, centred) and
  one region (the bottom of the picture inside a 10 % safe area, text aligned to its bottom);
* one `p` per cue with an `xml:id`, its lines separated by `<br/>`, text escaped, and <b>, <i>,
  <u> as `span`s with `tts:fontWeight`, `tts:fontStyle`, `tts:textDecoration`.

A document read by pysubs2 holds pysubs2's ASS-style text ({\\i1}, \\N), converted as `ass.py`
converts it; `sync` writes TTML afresh (`lossless` is False).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from fractions import Fraction

from ..text.markup import escape
from .ass import ASS
from .base import format_clock
from .document import FreshCue, FreshWriter, Markup, SubtitleCue
from .pysubs import read_with_pysubs2

__all__ = ["TTML", "TtmlFormat", "TtmlWriter", "frame_rate"]

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml"
    xmlns:ttp="http://www.w3.org/ns/ttml#parameter"
    xmlns:tts="http://www.w3.org/ns/ttml#styling"
    xmlns:ttm="http://www.w3.org/ns/ttml#metadata"
    ttp:contentProfiles="http://www.w3.org/ns/ttml/profile/imsc1.1/text"
    ttp:timeBase="media"{rate}
    xml:lang="{lang}">
  <head>
    <metadata>
      <ttm:title>subalign</ttm:title>
    </metadata>
    <styling>
      <style xml:id="s_default" tts:color="white" tts:fontFamily="proportionalSansSerif"
             tts:fontSize="100%" tts:lineHeight="125%" tts:textAlign="center"
             tts:textOutline="black 5%"/>
    </styling>
    <layout>
      <region xml:id="r_bottom" tts:origin="10% 10%" tts:extent="80% 80%"
              tts:displayAlign="after" tts:textAlign="center"/>
    </layout>
  </head>
  <body style="s_default" region="r_bottom">
    <div>
"""
_TAIL = """    </div>
  </body>
</tt>
"""
_SPANS = {"b": 'tts:fontWeight="bold"', "i": 'tts:fontStyle="italic"', "u": 'tts:textDecoration="underline"'}
_SPAN_TAG = re.compile(r"<span [^<>]*>|</span>")
# Characters XML 1.0 cannot hold at all.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")


def frame_rate(fps: float) -> tuple[int, Fraction]:
    """`ttp:frameRate` and `ttp:frameRateMultiplier` for `fps`: 24 and 1000/1001 for 23.976 (the
    rounded NTSC rates are taken as exact), 25 and 1 for 25, else the nearest fraction."""
    for base in (24, 30, 48, 60, 120):
        if abs(fps - base * 1000 / 1001) < 0.005:
            return base, Fraction(1000, 1001)
    if abs(fps - round(fps)) < 1e-6:
        return int(round(fps)), Fraction(1)
    exact = Fraction(fps).limit_denominator(1001)
    base = math.ceil(exact)
    return base, exact / base


def _balanced(text: str) -> str:
    """`text` with its span tags well nested: a closing tag without an open span dropped, spans
    left open closed at the end (markup converted line by line may open on one line and close on
    the next, which is fine inside one `p`, or not close at all)."""
    depth = 0
    out = []
    pos = 0
    for m in _SPAN_TAG.finditer(text):
        out.append(text[pos : m.start()])
        pos = m.end()
        if m.group(0) == "</span>":
            if depth:
                depth -= 1
                out.append(m.group(0))
        else:
            depth += 1
            out.append(m.group(0))
    out.append(text[pos:])
    return "".join(out) + "</span>" * depth


class TtmlFormat:
    """TTML: written as IMSC 1.1 Text, read by pysubs2."""

    name = "ttml"
    extensions = (".ttml", ".dfxp", ".xml")
    lossless = False
    family: tuple[str, ...] = ()

    def sniff(self, lines: Sequence[str]) -> bool:
        """Whether the text is XML whose root is a TTML `tt` element."""
        head = "\n".join(lines[:40]).lstrip()
        return head.startswith(("<?xml", "<tt")) and bool(re.search(r"<(?:\w+:)?tt[\s>]", head))

    def parse(self, lines: list[str], name: str) -> tuple[list[SubtitleCue], list[int]]:
        return read_with_pysubs2(lines, name, "ttml", "TTML"), []

    def timing_line(self, cue: SubtitleCue) -> str:
        raise ValueError("TTML files are written afresh, not line by line")

    def render(self, cues: Sequence[FreshCue], fps: float | None = None,
               language: str | None = None) -> str:
        lang = language if language and _LANGUAGE.match(language) else "und"
        if fps:
            base, multiplier = frame_rate(fps)
            effective = base * multiplier
            rate = f'\n    ttp:frameRate="{base}"'
            if multiplier != 1:
                rate += f'\n    ttp:frameRateMultiplier="{multiplier.numerator} {multiplier.denominator}"'

            def clock(ms: int) -> str:
                return f"{round(Fraction(ms, 1000) * effective)}f"
        else:
            rate = ""

            def clock(ms: int) -> str:
                return format_clock(ms, ".")
        body = []
        for n, c in enumerate(cues, 1):
            text = _balanced("<br/>".join(c.lines))
            body.append(f'      <p xml:id="c{n}" begin="{clock(c.start_ms)}" end="{clock(c.end_ms)}">{text}</p>\n')
        return _HEAD.format(rate=rate, lang=lang) + "".join(body) + _TAIL

    def text_lines(self, text: str) -> list[Markup]:
        """Text as pysubs2 reads it (ASS-style), converted as ASS text is."""
        return ASS.text_lines(text)

    def from_markup(self, line: Markup) -> str:
        return "".join(
            (("</span>" if piece.startswith("</") else f"<span {_SPANS[piece.strip('<>')]}>")
             if is_tag else self.from_plain(piece))
            for is_tag, piece in line
        )

    def from_plain(self, line: str) -> str:
        return escape(_NOT_XML.sub("", line))


TTML = TtmlFormat()


class TtmlWriter(FreshWriter):
    """Aligned cues as an IMSC 1.1 Text document, frame-accurate when the style has a frame rate."""

    format = "ttml"
    extension = ".ttml"
