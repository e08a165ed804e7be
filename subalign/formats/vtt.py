"""WebVTT (.vtt) output, rendered with webvtt-py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import webvtt

from subalign.formats.base import cue_lines, cue_times_ms, format_clock
from subalign.types import Cue, WordSpan


def escape_cue_text(line: str) -> str:
    """Escape &, < and > so WebVTT players show them as text rather than as tags or entities.

    This also turns a literal "-->" into "--&gt;", which would otherwise end the cue.
    """
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class VttWriter:
    """WebVTT cues with millisecond times; words and meta are not used."""

    extension = ".vtt"

    def render(
        self, words: Sequence[WordSpan], cues: Sequence[Cue], meta: Mapping[str, Any]
    ) -> str:
        """Render the cues that have text as one WebVTT document."""
        shown = [(cue, lines) for cue in cues if (lines := cue_lines(cue))]
        times = cue_times_ms([cue for cue, _ in shown])
        document = webvtt.WebVTT()
        for (_, lines), (start, end) in zip(shown, times, strict=True):
            document.captions.append(
                webvtt.Caption(
                    start=format_clock(start, "."),
                    end=format_clock(end, "."),
                    text=[escape_cue_text(line) for line in lines],
                )
            )
        return document.content
