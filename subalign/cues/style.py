"""Subtitle styles: the limits a cue must keep (line width, lines, duration, reading speed, gaps,
frame grid), as one frozen ``CueStyle`` with three presets.

* ``NETFLIX`` (the default) follows the Netflix English template as the issue states it: 42
  characters a line, 2 lines, 5/6 s to 7 s, at most 17 characters a second, a gap of 2 frames,
  times on the frame grid. (Netflix's English guide allows 20 cps for adult programmes; 17 cps is
  its figure for most other languages and for children's English. Pass ``max_cps=20`` for that.)
* ``BBC`` follows the BBC Subtitle Guidelines: 37 characters a line (the 68 % of a 16:9 picture
  that teletext's 37 columns fill), 2 lines, and a reading speed stated in words: 160-180 words a
  minute, so at most 180 wpm. The guidelines fix no minimum or maximum duration or frame gap of
  their own; we use 1 s (0.3 s a word for short cues is covered by the wpm limit), the
  "six-second rule" maximum of 6 s, and 2 frames.
* ``PLAIN`` keeps only the layout limits (42 x 2, at most 7 s): cues show exactly while their words
  are spoken, with no reading-speed rule, no minimum duration, no gap and no frame grid.

Frames: ``fps`` is the video's frame rate. With it (and ``snap``), every in and out time lies on
the grid ``k / fps``; without it (audio only) times are not snapped to frames (only kept to
whole milliseconds, as subtitle files hold them) and the gap is counted at
``DEFAULT_FPS`` (25). NTSC rates given rounded (23.976, 29.97, 59.94...) are read as the exact
``n * 1000 / 1001``, so the grid does not drift over an hour.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..errors import SubalignError

__all__ = ["BBC", "DEFAULT_FPS", "NETFLIX", "PLAIN", "STYLES", "CueStyle", "CueStyleError",
           "get_style"]

#: Frame rate used to count the minimum gap when the media has no video.
DEFAULT_FPS = 25.0
_NTSC_BASES = (24, 30, 48, 60, 120)


class CueStyleError(SubalignError, ValueError):
    """A style setting is out of range or unknown (also a ValueError, for library callers)."""


def _exact_fps(fps: float) -> float:
    """The exact NTSC rate (n * 1000/1001) when ``fps`` is its rounded form, else ``fps``."""
    for base in _NTSC_BASES:
        exact = base * 1000 / 1001
        if abs(fps - exact) < 0.005:
            return exact
    return fps


@dataclass(frozen=True)
class CueStyle:
    """The limits cues are made to keep, and checked against (see the module docstring).

    ``max_cps`` / ``max_wpm``: reading speed, ``None`` (or 0) for no limit. ``min_gap_frames``:
    frames between one cue's out-time and the next in-time. ``pause``: a silence at least this long
    (seconds) is a good place to end a cue.
    """

    name: str = "netflix"
    max_chars: int = 42
    max_lines: int = 2
    min_duration: float = 5 / 6
    max_duration: float = 7.0
    max_cps: float | None = 17.0
    max_wpm: float | None = None
    min_gap_frames: int = 2
    fps: float | None = None
    snap: bool = True
    pause: float = 0.6

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.max_chars, int) or self.max_chars < 1:
            problems.append(f"max_chars must be a whole number, at least 1 (got {self.max_chars})")
        if not isinstance(self.max_lines, int) or self.max_lines < 1:
            problems.append(f"max_lines must be a whole number, at least 1 (got {self.max_lines})")
        if not (math.isfinite(self.max_duration) and self.max_duration > 0):
            problems.append(f"max_duration must be positive seconds (got {self.max_duration})")
        elif not 0 <= self.min_duration <= self.max_duration:
            problems.append(
                f"min_duration must be between 0 and max_duration ({self.max_duration:g} s) "
                f"(got {self.min_duration})"
            )
        for key in ("max_cps", "max_wpm"):
            value = getattr(self, key)
            if value == 0:
                object.__setattr__(self, key, None)  # 0 means "no limit", as on the command line
            elif value is not None and not (math.isfinite(value) and value > 0):
                problems.append(f"{key} must be positive, or 0 for no limit (got {value})")
        if not isinstance(self.min_gap_frames, int) or self.min_gap_frames < 0:
            problems.append(
                f"min_gap_frames must be a whole number of 0 or more (got {self.min_gap_frames})"
            )
        if self.fps is not None:
            if not (math.isfinite(self.fps) and 1 <= self.fps <= 1000):
                problems.append(f"fps must be between 1 and 1000 (got {self.fps})")
            else:
                object.__setattr__(self, "fps", _exact_fps(float(self.fps)))
        if not (math.isfinite(self.pause) and self.pause > 0):
            problems.append(f"pause must be positive (got {self.pause})")
        if problems:
            raise CueStyleError("; ".join(problems))

    @property
    def grid(self) -> float | None:
        """The frame rate times are snapped to, or None when they are not snapped to frames."""
        return self.fps if self.snap and self.fps else None

    @property
    def min_gap(self) -> float:
        """The minimum gap between cues in seconds: ``min_gap_frames`` at the frame rate (or 25)."""
        return self.min_gap_frames / (self.fps or DEFAULT_FPS)

    def with_(self, **changes: Any) -> CueStyle:
        """A copy with some settings changed (``None`` values are ignored); unknown names raise."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise CueStyleError(f"unknown style setting(s): {', '.join(unknown)}")
        kept = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **kept) if kept else self

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain values, plus the gap in seconds, for the JSON output."""
        out = asdict(self)
        out["min_gap"] = round(self.min_gap, 6)
        return out


NETFLIX = CueStyle()
BBC = CueStyle(name="bbc", max_chars=37, max_lines=2, min_duration=1.0, max_duration=6.0,
               max_cps=None, max_wpm=180.0, min_gap_frames=2)
PLAIN = CueStyle(name="plain", max_chars=42, max_lines=2, min_duration=0.0, max_duration=7.0,
                 max_cps=None, max_wpm=None, min_gap_frames=0, snap=False)
#: The presets by name, as ``--style`` accepts them.
STYLES: dict[str, CueStyle] = {s.name: s for s in (NETFLIX, BBC, PLAIN)}


def get_style(style: str | CueStyle = "netflix", **overrides: Any) -> CueStyle:
    """A preset by name (or a given style) with individual settings overridden (``None`` = keep)."""
    if isinstance(style, CueStyle):
        base = style
    else:
        base = STYLES.get(str(style).lower())
        if base is None:
            raise CueStyleError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    return base.with_(**overrides)
