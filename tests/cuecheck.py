"""A second, independent reading of the numeric style rules, for the tests to hold the cue maker
and the report against: plain arithmetic on times and line lengths, written apart from
subalign.rules so that a mistake there does not hide here."""

from __future__ import annotations

import math
from collections.abc import Sequence

from subalign.cues.breaks import width
from subalign.cues.style import DEFAULT_FPS, CueStyle

TOL = 0.0005  # half a millisecond: what SRT/WebVTT can hold


def violations(times: Sequence[tuple[float, float]], lines: Sequence[Sequence[str]],
               style: CueStyle) -> set[tuple[int, str]]:
    """(cue number, rule) for every numeric rule broken by cues given as times and lines."""
    out: set[tuple[int, str]] = set()
    gap = style.min_gap_frames / (style.fps or DEFAULT_FPS)
    for k, ((start, end), cue_lines) in enumerate(zip(times, lines, strict=True)):
        number = k + 1
        shown = end - start
        if len(cue_lines) > style.max_lines:
            out.add((number, "max_lines"))
        if any(width(line) > style.max_chars for line in cue_lines):
            out.add((number, "max_chars"))
        if shown < style.min_duration - TOL:
            out.add((number, "min_duration"))
        if shown > style.max_duration + TOL:
            out.add((number, "max_duration"))
        chars = sum(width(line) for line in cue_lines)
        words = sum(len(line.split()) for line in cue_lines)
        if style.max_cps and shown + TOL < chars / style.max_cps:
            out.add((number, "max_cps"))
        if style.max_wpm and shown + TOL < words * 60 / style.max_wpm:
            out.add((number, "max_wpm"))
        if k + 1 < len(times) and times[k + 1][0] - end < gap - TOL:
            out.add((number, "min_gap"))
        if style.snap and style.fps:
            for t in (start, end):
                nearest = round(t * style.fps) / style.fps
                # times in a file are rounded to the millisecond
                if abs(t - nearest) > TOL + 1e-9:
                    out.add((number, "frame_grid"))
    return out


def on_grid(t: float, fps: float, tolerance: float = 1e-6) -> bool:
    frames = t * fps
    return math.isclose(frames, round(frames), abs_tol=tolerance)
