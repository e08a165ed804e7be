"""Check cues against a ``CueStyle`` and report every rule they break, so nothing fails silently.

``check_cues`` looks only at the cues (times and lines), so it checks cues from anywhere: made by
``group_cues``, re-timed, or read from a file. Each broken rule is one ``Finding``: the cue's
number (1-based, as SRT numbers them), the rule, the value found and the limit. Rules:

=============  ==========================================================================
rule           broken when
=============  ==========================================================================
max_chars      a line has more than ``max_chars`` characters (value: the widest line)
max_lines      the cue has more than ``max_lines`` lines
min_duration   the cue shows for less than ``min_duration`` seconds
max_duration   the cue shows for more than ``max_duration`` seconds
max_cps        characters per second above ``max_cps``: the characters of all lines (spaces
               and punctuation count, line breaks do not) over the time the cue shows
max_wpm        words per minute above ``max_wpm``: words (separated by spaces) over that time
min_gap        the next cue starts less than ``min_gap_frames`` frames after this one ends
               (value and limit in seconds; a negative value is an overlap)
frame_grid     with a frame grid, an in or out time is not on it (value: the time)
line_break     a line ends where a break must not fall (value: "word | word"; limit: why)
cue_break      the cue ends where a break must not fall, and the next cue follows
=============  ==========================================================================

Times are compared with a tolerance of half a millisecond, the precision of SRT and WebVTT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..types import Cue
from .breaks import NEVER, classify, width
from .style import CueStyle

__all__ = ["Finding", "check_cues"]

_TOLERANCE = 0.0005


@dataclass(frozen=True)
class Finding:
    """One rule one cue breaks: ``cue`` is 1-based; ``value`` and ``limit`` are numbers
    (seconds, characters, ...) except for the line- and cue-break rules, where they are text."""

    cue: int
    start: float
    rule: str
    value: float | str
    limit: float | str

    def as_dict(self) -> dict[str, object]:
        """The finding for the JSON report."""
        value = self.value
        if isinstance(value, float) and not math.isfinite(value):
            value = "infinite"  # a cue of no duration; JSON has no infinity
        return {"cue": self.cue, "start": round(self.start, 3), "rule": self.rule,
                "value": value, "limit": self.limit}

    def __str__(self) -> str:
        where = f"cue {self.cue} at {self.start:.3f} s"
        if isinstance(self.value, str):
            return f"{where}: {self.rule} at '{self.value}' ({self.limit})"
        if self.rule == "frame_grid":
            return f"{where}: frame_grid: {self.value:.4f} s is off the {self.limit:g} fps grid"
        op = "<" if self.rule in ("min_duration", "min_gap") else ">"
        return f"{where}: {self.rule} {_num(self.value)} {op} {_num(self.limit)}"


def _num(x: float | str) -> str:
    """A value for a message: whole numbers plain, others to three decimals."""
    if isinstance(x, str):
        return x
    return f"{x:g}" if float(x).is_integer() else f"{x:.3f}".rstrip("0")


def _on_grid(t: float, fps: float) -> bool:
    """Whether ``t`` is a frame time, to the half millisecond a subtitle file can hold."""
    return abs(t - round(t * fps) / fps) <= _TOLERANCE


def _words(lines: Sequence[str]) -> list[list[str]]:
    return [line.split() for line in lines]


_Broken = tuple[str, float | str, float | str]  # rule, value, limit


def _check_one(cue: Cue, nxt: Cue | None, style: CueStyle) -> list[_Broken]:
    """(rule, value, limit) for each rule one cue breaks; ``nxt`` is the cue after it, if any."""
    out: list[_Broken] = []
    lines = [line for line in cue.lines if line.strip()]
    words = _words(lines)
    duration = cue.end - cue.start
    if len(lines) > style.max_lines:
        out.append(("max_lines", len(lines), style.max_lines))
    widest = max((width(line) for line in lines), default=0)
    if widest > style.max_chars:
        out.append(("max_chars", widest, style.max_chars))
    if duration < style.min_duration - _TOLERANCE:
        out.append(("min_duration", duration, style.min_duration))
    if duration > style.max_duration + _TOLERANCE:
        out.append(("max_duration", duration, style.max_duration))
    # Reading speed: compare times, not rates, so the tolerance means the same as for durations.
    chars = sum(width(line) for line in lines)
    if style.max_cps and chars and duration + _TOLERANCE < chars / style.max_cps:
        out.append(("max_cps", chars / duration if duration > 0 else math.inf, style.max_cps))
    n_words = sum(len(w) for w in words)
    if style.max_wpm and n_words and duration + _TOLERANCE < n_words * 60 / style.max_wpm:
        wpm = n_words * 60 / duration if duration > 0 else math.inf
        out.append(("max_wpm", wpm, style.max_wpm))
    if style.grid:
        out.extend(("frame_grid", t, style.grid) for t in (cue.start, cue.end)
                   if not _on_grid(t, style.grid))
    for upper, lower in zip(words, words[1:], strict=False):
        if upper and lower:
            kind = classify(upper[-1], lower[0], upper[-2] if len(upper) > 1 else None)
            if kind.kind == NEVER:
                out.append(("line_break", f"{upper[-1]} | {lower[0]}", kind.reason))
    if nxt is not None:
        if nxt.start - cue.end < style.min_gap - _TOLERANCE:
            out.append(("min_gap", nxt.start - cue.end, style.min_gap))
        flat = [w for line in words for w in line]
        following = [w for line in _words(nxt.lines) for w in line]
        if flat and following:
            kind = classify(flat[-1], following[0], flat[-2] if len(flat) > 1 else None)
            if kind.kind == NEVER:
                out.append(("cue_break", f"{flat[-1]} | {following[0]}", kind.reason))
    return out


def check_cues(cues: Sequence[Cue], style: CueStyle) -> list[Finding]:
    """Every rule of ``style`` that ``cues`` break, in cue order (see the module docstring)."""
    findings = []
    for number, cue in enumerate(cues, 1):
        nxt = cues[number] if number < len(cues) else None
        for rule, value, limit in _check_one(cue, nxt, style):
            if isinstance(value, float) and math.isfinite(value):
                value = round(value, 4)
            if isinstance(limit, float):
                limit = round(limit, 4)
            findings.append(Finding(number, cue.start, rule, value, limit))
    return findings
