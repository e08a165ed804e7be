"""SubRip (.srt) output, rendered with pysrt."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import pysrt

from subalign.formats.base import cue_lines, cue_times_ms
from subalign.types import Cue, WordSpan


class SrtWriter:
    """Numbered SubRip cues with millisecond times and LF line ends; words and meta are not used."""

    extension = ".srt"

    def render(
        self, words: Sequence[WordSpan], cues: Sequence[Cue], meta: Mapping[str, Any]
    ) -> str:
        """Render the cues that have text as one SRT document."""
        shown = [(cue, lines) for cue in cues if (lines := cue_lines(cue))]
        times = cue_times_ms([cue for cue, _ in shown])
        subs = pysrt.SubRipFile(eol="\n")
        for number, ((_, lines), (start, end)) in enumerate(zip(shown, times, strict=True), 1):
            subs.append(
                pysrt.SubRipItem(
                    index=number,
                    start=pysrt.SubRipTime(milliseconds=start),
                    end=pysrt.SubRipTime(milliseconds=end),
                    text="\n".join(lines),
                )
            )
        buffer = io.StringIO()
        subs.write_into(buffer, eol="\n")
        return buffer.getvalue()
