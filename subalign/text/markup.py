"""Markup inside subtitle text: tags, entities, sound descriptions and speaker labels.

The one place that knows what markup looks like, for every stage that needs to see past it:
what a cue says out loud (`spoken_text`), a word's spoken form (`strip_tags`), converting cue
text between formats (`split_markup`), and escaping text for formats that hold markup
(`escape`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

__all__ = ["escape", "escape_ass", "spoken_text", "split_ass", "split_markup", "strip_tags", "unescape"]

#: An HTML-like tag (<i>, </font>, <c.yellow>, <00:01.000>, <v Bob>), on one line.
TAG = re.compile(r"<[^<>\n]*>")
#: An ASS/SSA override block ({\i1}, {\an8}, {\k20}).
ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")
_MARKUP = re.compile(rf"{TAG.pattern}|{ASS_OVERRIDE.pattern}")
#: Any ASS/SSA block in braces: override tags ({\i1}) or an author's comment ({note}); neither is
#: shown on screen.
ASS_BLOCK = re.compile(r"\{[^{}]*\}")
#: The text after an override block that starts drawing mode ({\p1}): vector drawing commands
#: ("m 0 0 l 100 0 …"), not words, up to the next block.
_ASS_DRAWING = re.compile(r"\{[^{}]*\\p[1-9][^{}]*\}[^{]*")
#: ASS hard line break, soft line break and hard space.
_ASS_BREAKS = re.compile(r"\\[Nnh]")
_BRACKETS = re.compile(r"\[[^\]]*\]|\([^)]*\)|\{[^}]*\}|（[^）]*）|【[^】]*】")
_MUSIC = re.compile(r"[♪♫♬♩#]")
# "JOHN:", "- MAN 2:", "DR. SMITH:" at a line start: an all-capital speaker label.
_SPEAKER = re.compile(r"^(\s*[-–—]?\s*)[A-Z][A-Z0-9 .'’&-]{0,30}:(?=\s|$)")
_DASH = re.compile(r"^\s*[-–—]+\s*")


def split_markup(line: str) -> Iterator[tuple[bool, str]]:
    """The pieces of a line in order, as (is_markup, text): tags and ASS override blocks are
    markup, everything between them is text (entities not decoded)."""
    return _pieces(_MARKUP, line)


def split_ass(line: str) -> Iterator[tuple[bool, str]]:
    """The pieces of one line of ASS/SSA event text, as (is_block, text): every {…} block (override
    tags or a comment) is a block, everything between them is text (with its \\N, \\h escapes).
    Text drawn in drawing mode ({\\p1}…) is left out: it is vector commands, not words."""
    return _pieces(ASS_BLOCK, _ASS_DRAWING.sub(lambda m: m.group(0)[: m.group(0).index("}") + 1], line))


def _pieces(markup: re.Pattern[str], line: str) -> Iterator[tuple[bool, str]]:
    pos = 0
    for m in markup.finditer(line):
        if m.start() > pos:
            yield False, line[pos : m.start()]
        yield True, m.group(0)
        pos = m.end()
    if pos < len(line):
        yield False, line[pos:]


def escape_ass(text: str) -> str:
    """Plain text as ASS/SSA event text: braces would open an override block, so they are
    escaped as libass and ffmpeg read them (\\{, \\}); line breaks are \\N."""
    return text.replace("{", "\\{").replace("}", "\\}").replace("\n", "\\N")


def strip_tags(text: str, replacement: str = "") -> str:
    """`text` without tags and ASS override blocks (each replaced by `replacement`)."""
    return _MARKUP.sub(replacement, text)


def escape(text: str) -> str:
    """&, < and > as entities, so formats that hold markup (WebVTT, TTML) show them as text;
    this also turns a literal "-->" into "--&gt;", which would otherwise end a WebVTT cue."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Entities (&amp;, &lt;, &#233;…) decoded."""
    return html.unescape(text)


def spoken_text(text: str) -> str:
    """What a cue's text says out loud: tags, entities, sound descriptions ([…], (…)), music
    lines (♪ …) and speaker labels ("JOHN:") removed, one line per original line."""
    out = []
    for line in text.split("\n"):
        line = unescape(strip_tags(_ASS_DRAWING.sub(" ", line)))
        line = _ASS_BREAKS.sub(" ", line)
        if _MUSIC.search(line):
            continue  # sung or music: not speech the model can follow
        line = _BRACKETS.sub(" ", line)
        line = _SPEAKER.sub(r"\1", line)
        line = _DASH.sub("", line)
        line = " ".join(line.split())
        if any(ch.isalnum() for ch in line):
            out.append(line)
    return "\n".join(out)
