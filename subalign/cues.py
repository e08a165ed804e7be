"""Group timed words into subtitle cues: where to cut, how to wrap lines, and when each cue shows.

Lengths are counted as ``len()`` of the NFC-normalised text, spaces and punctuation included, so
``"é"`` written with a combining accent counts once; wide (CJK) characters also count once.
The text itself is kept exactly as the words carry it (only runs of whitespace inside a word's
text are shown as one space, since a cue line cannot hold a line break).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from subalign.types import Cue, WordSpan

__all__ = ["group_cues", "wrap_lines"]

#: A cue never spans a silence longer than this many seconds (or ``pause``, if that is longer).
HARD_PAUSE = 2.0
#: The shortest cue written, in seconds, when its words have (almost) no length.
MIN_CUE_SECONDS = 0.04

_CLOSERS = "\"'”’»)]}」』›"
_SENTENCE_END = re.compile(rf"[.!?…。！？‽][{re.escape(_CLOSERS)}]*$")
_CLAUSE_END = re.compile(rf"[,;:—–،、，；：][{re.escape(_CLOSERS)}]*$")
# Words ending in "." that rarely end a sentence (lower-case, without the final dot).
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs e.g i.e cf approx dept fig".split()
)
# A line or cue may well start with one of these (conjunctions, prepositions, relatives)...
_STARTERS = frozenset(
    """and but or nor so yet because although though while if when whenever where which who
    whom whose that than as like to of in on at for with from by about into onto over under
    after before through between without within until since unless whether""".split()
)
# ...but should not end with one of these (articles, possessives, short prepositions).
_CLINGERS = frozenset("a an the to of my your his her its our their".split())

# Break kinds, from the best place to cut to the worst.
_SENTENCE, _PAUSE, _CLAUSE, _BEFORE_STARTER, _PLAIN, _AFTER_CLINGER = range(6)
# Cost of ending a cue at a break of each kind, and of wrapping a line there.
_CUE_BREAK_COST = (0.0, 1.0, 2.0, 4.0, 5.0, 7.0)
_LINE_BREAK_COST = (0.0, 1.0, 1.0, 2.0, 4.0, 6.0)
# Cue cost terms (see group_cues).
_CUE_COST = 1.0
_FILL_WEIGHT = 2.0
_INNER_END_OK = 0.5
_INNER_END_BAD = 3.0
_INNER_PAUSE = 1.5
_INNER_PAUSE_PER_SECOND = 2.0
# Line cost terms (see wrap_lines).
_BALANCE_WEIGHT = 20.0
_BOTTOM_HEAVY_SLOPE = 0.1


def _display(text: str) -> str:
    """The word as shown on a line: its text with inner whitespace runs made single spaces."""
    return " ".join(text.split())


def _width(text: str) -> int:
    """Length of text as counted against ``max_chars`` (NFC code points)."""
    return len(unicodedata.normalize("NFC", text))


def _is_sentence_end(text: str) -> bool:
    """Whether a word ends a sentence (final . ! ? … with optional closing quotes/brackets)."""
    if not _SENTENCE_END.search(text):
        return False
    core = text.rstrip(_CLOSERS)
    if core.endswith(".") and not core.endswith(".."):
        stem = core[:-1].lower().lstrip("\"'“‘«([{")
        if stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()):
            return False  # "Dr." or the initial in "J. Smith"
    return True


def _bare(text: str) -> str:
    """Lower-case word without surrounding punctuation, to look it up in the word lists."""
    return text.lower().strip("\"'“”‘’«»()[]{}.,;:!?…—–-")


def _break_kinds(texts: Sequence[str], gaps: Sequence[float], pause: float) -> list[int]:
    """Kind of the break after each word but the last (``gaps[k]`` is the silence after word k)."""
    kinds = []
    for k in range(len(texts) - 1):
        before, after = texts[k], texts[k + 1]
        if _is_sentence_end(before):
            kinds.append(_SENTENCE)
        elif gaps[k] >= pause:
            kinds.append(_PAUSE)
        elif _CLAUSE_END.search(before) or after[:1] in "—–":
            kinds.append(_CLAUSE)
        elif _bare(after) in _STARTERS:
            kinds.append(_BEFORE_STARTER)
        elif _bare(before) in _CLINGERS:
            kinds.append(_AFTER_CLINGER)
        else:
            kinds.append(_PLAIN)
    return kinds


@dataclass
class _Wrap:
    """Greedy first-fit line filling, which gives the fewest lines a word sequence needs."""

    max_chars: int
    lines: int = 0
    used: int = 0  # width of the current (last) line

    def add(self, width: int) -> None:
        if self.lines and self.used + 1 + width <= self.max_chars:
            self.used += 1 + width
        else:
            self.lines += 1
            self.used = width


def wrap_lines(texts: Sequence[str], *, max_chars: int = 42) -> list[str]:
    """Wrap one cue's words into as few lines as fit ``max_chars``, choosing the nicest breaks.

    The number of lines is the fewest that fit (greedy filling; ``group_cues`` only passes words
    that fit its ``max_lines``); a word wider than ``max_chars`` gets a line of its own and is
    never cut. Among
    layouts with that many lines, dynamic programming minimises, per line,
    ``20 * ((width - target) / max_chars) ** 2`` (balance) plus a break cost: 0 after a sentence
    end, 1 after a pause or clause punctuation, 2 before a conjunction or preposition, 4 anywhere
    else and 6 after an article. Targets rise by 10 % of ``max_chars`` from line to line, so
    layouts are bottom-heavy: the upper line is the shorter one, as in a pyramid.
    """
    shown = [t for t in (_display(t) for t in texts) if t]
    return _wrap_lines(shown, max_chars, _break_kinds(shown, [0.0] * len(shown), math.inf))


def _wrap_lines(shown: Sequence[str], max_chars: int, kinds: Sequence[int]) -> list[str]:
    """``wrap_lines`` for non-empty display texts, with the break kinds between them known."""
    if not shown:
        return []
    widths = [_width(t) for t in shown]
    wrap = _Wrap(max_chars)
    for w in widths:
        wrap.add(w)
    n_lines = wrap.lines
    if n_lines == 1:
        return [" ".join(shown)]
    m = len(shown)
    content = sum(widths) + (m - n_lines)  # spaces that stay inside lines
    mean = content / n_lines
    slope = _BOTTOM_HEAVY_SLOPE * max_chars
    inf = math.inf
    # best[k][b]: cost of putting words [0, b) on lines 0..k-1; prev[k][b]: start of line k-1.
    best = [[inf] * (m + 1) for _ in range(n_lines + 1)]
    prev = [[0] * (m + 1) for _ in range(n_lines + 1)]
    best[0][0] = 0.0
    for k in range(n_lines):
        target = mean + slope * (k - (n_lines - 1) / 2)
        for a in range(m):
            base = best[k][a]
            if base == inf:
                continue
            width = -1
            for b in range(a + 1, m + 1):
                width += widths[b - 1] + 1
                if width > max_chars and b - a > 1:
                    break
                if (b == m) != (k == n_lines - 1):
                    continue  # the last line must end with the last word, and only it
                cost = base + _BALANCE_WEIGHT * ((width - target) / max_chars) ** 2
                if b < m:
                    cost += _LINE_BREAK_COST[kinds[b - 1]]
                if cost < best[k + 1][b]:
                    best[k + 1][b] = cost
                    prev[k + 1][b] = a
    lines: list[str] = []
    b = m
    for k in range(n_lines, 0, -1):
        a = prev[k][b]
        lines.append(" ".join(shown[a:b]))
        b = a
    lines.reverse()
    return lines


def _check_settings(
    max_chars: int, max_lines: int, max_duration: float, min_duration: float, pause: float,
    min_gap: float,
) -> None:
    """Reject settings that cannot produce sensible cues, naming the bad one."""
    problems = []
    if max_chars < 1:
        problems.append(f"max_chars must be at least 1 (got {max_chars})")
    if max_lines < 1:
        problems.append(f"max_lines must be at least 1 (got {max_lines})")
    if not max_duration > 0:
        problems.append(f"max_duration must be positive (got {max_duration})")
    if not 0 <= min_duration <= max_duration:
        problems.append(
            f"min_duration must be between 0 and max_duration (got {min_duration})"
        )
    if not pause > 0:
        problems.append(f"pause must be positive (got {pause})")
    if not min_gap >= 0:
        problems.append(f"min_gap must not be negative (got {min_gap})")
    if problems:
        raise ValueError("; ".join(problems))


def group_cues(
    words: Sequence[WordSpan],
    *,
    max_chars: int = 42,
    max_lines: int = 2,
    max_duration: float = 7.0,
    min_duration: float = 5 / 6,
    pause: float = 0.6,
    min_gap: float = 0.08,
) -> list[Cue]:
    """Group time-ordered words into subtitle cues that are easy to read and never overlap.

    A cue holds at most ``max_lines`` lines of at most ``max_chars`` characters (NFC code points,
    spaces and punctuation included), lasts at most ``max_duration`` seconds and never spans a
    silence longer than ``max(HARD_PAUSE, pause)``; a single word that breaks a limit alone gets a
    cue of its own. Within those limits, dynamic programming over the cut positions minimises the
    sum over cues of:

    * 1 per cue, so that short pieces are merged;
    * ``2 * (1 - fill) ** 2``, where fill is the larger of the used share of the characters and of
      ``max_duration``: rewards using the space well, and balances cues when a text must be split;
    * the cost of the cut after the cue: 0 at a sentence end (. ! ? … with closing quotes), 1 at a
      pause of ``pause`` seconds or more, 2 at clause punctuation (, ; : — –), 4 before a
      conjunction or preposition, 5 anywhere else, 7 after an article; nothing at the end;
    * 0.5 per sentence end inside the cue when it can fall at a line break (or the cue is one
      line), else 3, so that a new sentence rarely starts in the middle of a line;
    * ``1.5 + 2 * (gap - pause)`` per pause inside the cue, so that cues usually cut at pauses.

    Times: a cue starts at its first word's start and ends at its last word's end (overlapping or
    out-of-order word times are clamped to be non-decreasing first); a cue shorter than
    ``min_duration`` is extended into the following silence, but never to within ``min_gap`` of
    the next cue; cues never overlap and last at least ``MIN_CUE_SECONDS``. Words whose text is
    empty are left out; ``Cue.words`` holds the original WordSpans, unchanged.
    """
    _check_settings(max_chars, max_lines, max_duration, min_duration, pause, min_gap)
    kept = [w for w in words if _display(w.text)]
    for w in kept:
        if not (math.isfinite(w.start) and math.isfinite(w.end)):
            raise ValueError(f"word {w.text!r} has a non-finite time ({w.start}, {w.end})")
    if not kept:
        return []
    n = len(kept)
    texts = [_display(w.text) for w in kept]
    widths = [_width(t) for t in texts]
    starts: list[float] = []
    ends: list[float] = []
    latest = 0.0
    for w in kept:  # clamp: starts never go back in time, ends never precede starts
        latest = max(latest, w.start)
        starts.append(latest)
        ends.append(max(w.end, latest))
    gaps = [max(0.0, starts[k + 1] - ends[k]) for k in range(n - 1)]
    kinds = _break_kinds(texts, gaps, pause)
    sentence_end = [_is_sentence_end(t) for t in texts]
    hard_gap = max(HARD_PAUSE, pause)
    capacity = max_chars * max_lines

    best = [math.inf] * (n + 1)
    cut = [0] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        if best[i] == math.inf:
            continue
        wrap = _Wrap(max_chars)
        inner: list[tuple[int, _Wrap]] = []  # (lines before, wrap after) per inner sentence end
        inner_pause_cost = 0.0
        first_start = starts[i]
        last_end = ends[i]
        chars = -1
        for j in range(i, n):  # the cue holds words i..j
            if j > i:
                gap = gaps[j - 1]
                if gap > hard_gap:
                    break
                if gap >= pause:
                    inner_pause_cost += _INNER_PAUSE + _INNER_PAUSE_PER_SECOND * (gap - pause)
                if sentence_end[j - 1]:
                    inner.append((wrap.lines, _Wrap(max_chars)))
            wrap.add(widths[j])
            for _, after in inner:
                after.add(widths[j])
            last_end = max(last_end, ends[j])
            chars += widths[j] + 1
            duration = last_end - first_start
            if j > i and (wrap.lines > max_lines or duration > max_duration):
                break
            fill = min(1.0, max(chars / capacity, duration / max_duration))
            cost = _CUE_COST + _FILL_WEIGHT * (1.0 - fill) ** 2 + inner_pause_cost
            for before_lines, after in inner:
                fits = wrap.lines == 1 or before_lines + after.lines <= max_lines
                cost += _INNER_END_OK if fits else _INNER_END_BAD
            if j < n - 1:
                cost += _CUE_BREAK_COST[kinds[j]]
            total = best[i] + cost
            if total < best[j + 1]:
                best[j + 1] = total
                cut[j + 1] = i

    spans: list[tuple[int, int]] = []
    j = n
    while j > 0:
        spans.append((cut[j], j))
        j = cut[j]
    spans.reverse()
    return _timed_cues(kept, texts, kinds, starts, ends, spans, max_chars, min_duration, min_gap)


def _timed_cues(
    kept: Sequence[WordSpan], texts: Sequence[str], kinds: Sequence[int],
    starts: Sequence[float], ends: Sequence[float], spans: Sequence[tuple[int, int]],
    max_chars: int, min_duration: float, min_gap: float,
) -> list[Cue]:
    """Build the cues of the chosen spans: wrap their lines and set non-overlapping times."""
    cue_starts: list[float] = []
    for i, _ in spans:
        start = starts[i]
        if cue_starts:
            start = max(start, cue_starts[-1] + MIN_CUE_SECONDS)
        cue_starts.append(start)
    cues: list[Cue] = []
    for c, (i, j) in enumerate(spans):
        start = cue_starts[c]
        next_start = cue_starts[c + 1] if c + 1 < len(spans) else math.inf
        end = max(ends[i:j])
        end = max(start + MIN_CUE_SECONDS, min(end, next_start))
        if end - start < min_duration:
            end = max(end, min(start + min_duration, next_start - min_gap))
        lines = _wrap_lines(texts[i:j], max_chars, kinds[i:j - 1])
        cues.append(Cue(start=start, end=end, lines=tuple(lines), words=tuple(kept[i:j])))
    return cues
