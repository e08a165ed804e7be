"""The cue stage: timed words → subtitle cues that keep a style, and the rules they still break.

* `style` — `CueStyle` and the presets (`NETFLIX`, `BBC`, `PLAIN`);
* `breaks` — where a line or cue may break, and how characters are counted;
* `grouping` — `group_cues`: words → cues (cut, wrap, time);
* `rules` — `check_cues`: the report of every rule a cue breaks.
"""

from .grouping import HARD_PAUSE, MIN_CUE_SECONDS, group_cues, wrap_lines
from .rules import Finding, check_cues
from .style import BBC, DEFAULT_FPS, NETFLIX, PLAIN, CueStyle, CueStyleError, get_style

__all__ = [
    "BBC",
    "DEFAULT_FPS",
    "HARD_PAUSE",
    "MIN_CUE_SECONDS",
    "NETFLIX",
    "PLAIN",
    "CueStyle",
    "CueStyleError",
    "Finding",
    "check_cues",
    "get_style",
    "group_cues",
    "wrap_lines",
]
