"""Group timed words into subtitle cues that keep a ``CueStyle``: where to cut, how to wrap lines,
and when each cue shows.

Characters are counted as ``subalign.cues.breaks.width`` says (what a reader sees: NFC code points less
combining marks and invisible format characters; spaces and punctuation count). The text itself
is kept exactly as the words carry it (only runs of whitespace inside a word's text are shown as
one space, since a cue line cannot hold a line break).

The work runs in four steps; each is described where it is done:

1. **cut** (``_segment``): dynamic programming over the places between words picks the cues;
2. **extend** (``_timed_cues``): each cue's out-time reaches into the following silence as far as
   its reading time needs, never nearer the next cue than the gap and never past ``max_duration``;
3. **merge**: where extending is not enough, the cut step runs again allowed only to *remove*
   cuts, with the missing reading time priced in, so a cue that is too fast joins a neighbour when
   that gives it the time;
4. **split**: a cue still short of time is cut again on its own, where cutting gives more time
   (this only helps when the cue runs into ``max_duration``).

Whatever still breaks a rule after that is not hidden: ``subalign.cues.rules.check_cues`` reports it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..text.words import is_sentence_end
from ..types import Cue, WordSpan
from .breaks import (
    AVOID,
    BEFORE_STARTER,
    CLAUSE,
    NEVER,
    PAUSE,
    PLAIN,
    SENTENCE,
    classify,
    display,
    width,
)
from .style import NETFLIX, CueStyle, get_style

__all__ = ["HARD_PAUSE", "MIN_CUE_SECONDS", "group_cues", "wrap_lines"]

#: A cue never spans a silence longer than this many seconds (or the style's ``pause``, if longer).
HARD_PAUSE = 2.0
#: The shortest cue written when there is no frame grid (with one, the shortest is one frame).
MIN_CUE_SECONDS = 0.04

# Cost of ending a cue at a break of each kind, and of wrapping a line there (by break kind:
# sentence, pause, clause, before a starter, plain, avoid, never).
_CUE_BREAK_COST = {SENTENCE: 0.0, PAUSE: 1.0, CLAUSE: 2.0, BEFORE_STARTER: 4.0, PLAIN: 5.0,
                   AVOID: 7.0, NEVER: 15.0}
_LINE_BREAK_COST = {SENTENCE: 0.0, PAUSE: 1.0, CLAUSE: 1.0, BEFORE_STARTER: 2.0, PLAIN: 4.0,
                    AVOID: 6.0, NEVER: 12.0}
# Cue cost terms (see group_cues).
_CUE_COST = 1.0
_FILL_WEIGHT = 2.0
_INNER_END_OK = 0.5
_INNER_END_BAD = 3.0
_INNER_PAUSE = 1.5
_INNER_PAUSE_PER_SECOND = 2.0
#: Cost per second of reading time a cue still lacks after extension (merge and split steps).
_SHORTFALL_WEIGHT = 1000.0
# Line cost terms (see wrap_lines).
_BALANCE_WEIGHT = 12.0
_BOTTOM_HEAVY_SLOPE = 0.1
_EPS = 1e-9


class _Clock:
    """Times on the frame grid when there is one, else on the millisecond grid that SRT and
    WebVTT can hold (so writing a cue never shortens it): ``down``/``up`` snap, ``tick`` is the
    shortest cue (one frame, or ``MIN_CUE_SECONDS``)."""

    def __init__(self, fps: float | None) -> None:
        self.rate = fps or 1000.0
        self.tick = 1 / fps if fps else MIN_CUE_SECONDS

    def down(self, t: float) -> float:
        if not math.isfinite(t):
            return t
        return math.floor(t * self.rate + 1e-6) / self.rate

    def up(self, t: float) -> float:
        if not math.isfinite(t):
            return t
        return math.ceil(t * self.rate - 1e-6) / self.rate

    def norm(self, t: float) -> float:
        """A sum of grid times put back exactly on the grid."""
        if not math.isfinite(t):
            return t
        return round(t * self.rate) / self.rate


@dataclass
class _Wrap:
    """Greedy first-fit line filling, which gives the fewest lines a word sequence needs."""

    max_chars: int
    lines: int = 0
    used: int = 0  # width of the current (last) line

    def add(self, w: int) -> None:
        if self.lines and self.used + 1 + w <= self.max_chars:
            self.used += 1 + w
        else:
            self.lines += 1
            self.used = w


def _kinds(texts: Sequence[str], gaps: Sequence[float], pause: float) -> list[int]:
    """Kind of the break after each word but the last (``gaps[k]`` is the silence after word k)."""
    return [
        classify(texts[k], texts[k + 1], texts[k - 1] if k else None, gaps[k], pause).kind
        for k in range(len(texts) - 1)
    ]


def wrap_lines(texts: Sequence[str], *, max_chars: int = 42) -> list[str]:
    """Wrap one cue's words into as few lines as fit ``max_chars``, choosing the nicest breaks.

    The number of lines is the fewest that fit (greedy filling); a word wider than ``max_chars``
    gets a line of its own and is never cut. Among layouts with that many lines, dynamic
    programming minimises, per line, ``12 * ((width - target) / max_chars) ** 2`` (balance) plus
    the cost of the break after it: 0 after a sentence end, 1 after a pause or clause punctuation,
    2 before a conjunction or preposition, 4 anywhere else, 6 after a preposition, auxiliary or
    number, 12 where a break must not fall (article + noun, adjective + noun, first + last name,
    subject pronoun + verb; see ``subalign.cues.breaks``). Targets are the mean width, rising by 10 % of
    ``max_chars`` from line to line, so a two-line cue is balanced with its top line a little
    shorter (bottom-heavy, as Netflix prefers): 20 and 24 characters rather than 24 and 20.
    """
    shown = [t for t in (display(t) for t in texts) if t]
    return _wrap_lines(shown, max_chars, _kinds(shown, [0.0] * len(shown), math.inf))


def _wrap_lines(shown: Sequence[str], max_chars: int, kinds: Sequence[int]) -> list[str]:
    """``wrap_lines`` for non-empty display texts, with the break kinds between them known."""
    if not shown:
        return []
    widths = [width(t) for t in shown]
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
            line = -1
            for b in range(a + 1, m + 1):
                line += widths[b - 1] + 1
                if line > max_chars and b - a > 1:
                    break
                if (b == m) != (k == n_lines - 1):
                    continue  # the last line must end with the last word, and only it
                cost = base + _BALANCE_WEIGHT * ((line - target) / max_chars) ** 2
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


class _Plan:
    """The words to place and everything the cut and timing steps need to know about them."""

    def __init__(self, kept: Sequence[WordSpan], style: CueStyle, media_end: float | None) -> None:
        self.kept = kept
        self.style = style
        self.clock = _Clock(style.grid)
        self.gap = self.clock.up(style.min_gap)
        self.texts = [display(w.text) for w in kept]
        self.widths = [width(t) for t in self.texts]
        self.starts: list[float] = []
        self.ends: list[float] = []
        latest = 0.0
        for w in kept:  # clamp: starts never go back in time, ends never precede starts
            latest = max(latest, w.start)
            self.starts.append(latest)
            self.ends.append(max(w.end, latest))
        n = len(kept)
        self.n = n
        self.gaps = [max(0.0, self.starts[k + 1] - self.ends[k]) for k in range(n - 1)]
        self.kinds = _kinds(self.texts, self.gaps, style.pause)
        self.sentence_end = [is_sentence_end(t, self.texts[k + 1] if k + 1 < n else None)
                             for k, t in enumerate(self.texts)]
        self.hard_gap = max(HARD_PAUSE, style.pause)
        self.in_times = [self.clock.down(t) for t in self.starts]  # each word's in-time if first
        self.media_end = self.clock.down(media_end) if media_end is not None else math.inf
        self.prefix = [0]
        for w in self.widths:
            self.prefix.append(self.prefix[-1] + w)

    def chars(self, i: int, j: int, lines: int) -> int:
        """Characters of words [i, j) laid out on ``lines`` lines (line breaks do not count)."""
        return self.prefix[j] - self.prefix[i] + (j - i) - lines

    def reading_time(self, chars: int, words: int) -> float:
        """Seconds a cue of this many characters and words must show: the style's minimum
        duration, and the time its reading-speed limits need."""
        s = self.style
        need = s.min_duration
        if s.max_cps:
            need = max(need, chars / s.max_cps)
        if s.max_wpm:
            need = max(need, words * 60.0 / s.max_wpm)
        return need

    def out_limit(self, i: int, j: int) -> float:
        """The latest out-time of a cue of words [i, j): the next cue's in-time less the gap,
        ``max_duration`` after its in-time, and the end of the media."""
        start = self.in_times[i]
        nxt = self.in_times[j] - self.gap if j < self.n else math.inf
        return min(self.clock.norm(nxt), self.clock.down(start + self.style.max_duration),
                   self.media_end)

    def shortfall(self, i: int, j: int, lines: int | None = None) -> float:
        """Seconds of reading time a cue of words [i, j) lacks even when fully extended."""
        if lines is None:
            wrap = _Wrap(self.style.max_chars)
            for w in self.widths[i:j]:
                wrap.add(w)
            lines = wrap.lines
        start = self.in_times[i]
        need_end = self.clock.up(start + self.reading_time(self.chars(i, j, lines), j - i))
        return max(0.0, need_end - self.out_limit(i, j))

    def two_line_cost(self, i: int, j: int) -> float:
        """How much worse than a plain break the best two-line layout of words [i, j) is
        (balance + line-break cost, less the cost of a plain break; never below 0), so that
        cues whose only layouts break badly are avoided without favouring one-line cues."""
        mc = self.style.max_chars
        total = self.prefix[j] - self.prefix[i] + (j - i - 2)
        mean = total / 2
        slope = _BOTTOM_HEAVY_SLOPE * mc / 2
        best = math.inf
        for b in range(i + 1, j):  # line 1 = [i, b), line 2 = [b, j)
            top = self.prefix[b] - self.prefix[i] + (b - i - 1)
            bottom = total - top
            if (top > mc and b - i > 1) or (bottom > mc and j - b > 1):
                continue
            cost = (_BALANCE_WEIGHT * (((top - (mean - slope)) / mc) ** 2
                                       + ((bottom - (mean + slope)) / mc) ** 2)
                    + _LINE_BREAK_COST[self.kinds[b - 1]])
            best = min(best, cost)
        return 0.0 if best == math.inf else max(0.0, best - _LINE_BREAK_COST[PLAIN])


def _segment(plan: _Plan, lo: int, hi: int, allowed: Sequence[bool] | None,
             timed: bool) -> list[tuple[int, int]]:
    """Cut words [lo, hi) into cues (half-open spans) by dynamic programming.

    ``allowed[k]`` says whether a cue may end after word k (None: anywhere); with ``timed`` the
    cost includes ``_SHORTFALL_WEIGHT`` per second of reading time a cue lacks after extension.
    With both (the merge step), a cue that spans an allowed cut, i.e. merges cues, is taken only
    when it then has all its reading time: a merge that merely shortens the shortfall is not made.
    """
    style = plan.style
    capacity = style.max_chars * style.max_lines
    best = [math.inf] * (hi - lo + 1)
    cut = [lo] * (hi - lo + 1)
    best[0] = 0.0
    for i in range(lo, hi):
        base = best[i - lo]
        if base == math.inf:
            continue
        wrap = _Wrap(style.max_chars)
        inner: list[tuple[int, _Wrap]] = []  # (lines before, wrap after) per inner sentence end
        inner_pause_cost = 0.0
        first_start = plan.in_times[i]  # durations as shown: on the frame grid when there is one
        last_end = plan.ends[i]
        chars = -1
        merges = False
        for j in range(i, hi):  # the cue holds words i..j
            if j > i:
                merges = merges or (allowed is not None and allowed[j - 1])
                gap = plan.gaps[j - 1]
                if gap > plan.hard_gap:
                    break
                if gap >= style.pause:
                    inner_pause_cost += _INNER_PAUSE + _INNER_PAUSE_PER_SECOND * (gap - style.pause)
                if plan.sentence_end[j - 1]:
                    inner.append((wrap.lines, _Wrap(style.max_chars)))
            wrap.add(plan.widths[j])
            for _, after in inner:
                after.add(plan.widths[j])
            last_end = max(last_end, plan.ends[j])
            chars += plan.widths[j] + 1
            duration = plan.clock.up(last_end) - first_start
            if j > i and (wrap.lines > style.max_lines or duration > style.max_duration):
                break
            if j < hi - 1 and allowed is not None and not allowed[j]:
                continue  # this step may not end a cue here
            fill = min(1.0, max(chars / capacity, duration / style.max_duration))
            cost = _CUE_COST + _FILL_WEIGHT * (1.0 - fill) ** 2 + inner_pause_cost
            for before_lines, after in inner:
                fits = wrap.lines == 1 or before_lines + after.lines <= style.max_lines
                cost += _INNER_END_OK if fits else _INNER_END_BAD
            if wrap.lines == 2:
                cost += plan.two_line_cost(i, j + 1)
            if j < plan.n - 1:
                cost += _CUE_BREAK_COST[plan.kinds[j]]
            if timed:
                short = plan.shortfall(i, j + 1, wrap.lines)
                if merges and short > _EPS:
                    continue
                cost += _SHORTFALL_WEIGHT * short
            total = base + cost
            if total < best[j + 1 - lo]:
                best[j + 1 - lo] = total
                cut[j + 1 - lo] = i
    spans: list[tuple[int, int]] = []
    j = hi
    while j > lo:
        spans.append((cut[j - lo], j))
        j = cut[j - lo]
    spans.reverse()
    return spans


def _repair(plan: _Plan, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Steps 3 and 4: merge, then split, cues that extension alone cannot give their reading
    time; a merge or split is made only when the cues it makes then have all their reading time."""
    if not any(plan.shortfall(i, j) > _EPS for i, j in spans):
        return spans
    allowed = [False] * max(0, plan.n - 1)
    for _, j in spans[:-1]:
        allowed[j - 1] = True
    merged = _segment(plan, 0, plan.n, allowed, timed=True)
    out: list[tuple[int, int]] = []
    for i, j in merged:
        short = plan.shortfall(i, j)
        if short > _EPS and j - i > 1:
            parts = _segment(plan, i, j, None, timed=True)
            if len(parts) > 1 and all(plan.shortfall(a, b) <= _EPS for a, b in parts):
                out.extend(parts)
                continue
        out.append((i, j))
    return out


def _timed_cues(plan: _Plan, spans: Sequence[tuple[int, int]]) -> list[Cue]:
    """Step 2: give each cue its in and out times and wrap its lines.

    In-time: the first word's start (snapped down to the frame grid, or to the millisecond), and
    never sooner than the gap after the previous cue. Out-time: the last word's end (snapped up),
    extended into the
    following silence until the cue has its reading time (``min_duration``, characters at
    ``max_cps``, words at ``max_wpm``), but never past ``max_duration`` (a longer utterance keeps
    its end), never nearer the next cue than the gap and never past the end of the media; at least
    one frame (or ``MIN_CUE_SECONDS``) after the in-time.
    """
    clock, style = plan.clock, plan.style
    cues: list[Cue] = []
    prev_end = -math.inf
    for i, j in spans:
        start = plan.in_times[i]
        if cues:
            start = max(start, clock.norm(prev_end + plan.gap))
        wrap = _Wrap(style.max_chars)
        for w in plan.widths[i:j]:
            wrap.add(w)
        speech_end = clock.up(max(plan.ends[i:j]))
        need_end = clock.up(start + plan.reading_time(plan.chars(i, j, wrap.lines), j - i))
        cap = clock.down(start + style.max_duration)
        end = max(speech_end, min(need_end, cap))
        nxt = clock.norm(plan.in_times[j] - plan.gap) if j < plan.n else math.inf
        end = min(end, nxt, plan.media_end)
        end = max(end, clock.norm(start + clock.tick))
        prev_end = end
        lines = _wrap_lines(plan.texts[i:j], style.max_chars, plan.kinds[i:j - 1])
        cues.append(Cue(start=start, end=end, lines=tuple(lines), words=tuple(plan.kept[i:j])))
    return cues


def group_cues(
    words: Sequence[WordSpan],
    style: CueStyle | str = NETFLIX,
    *,
    media_end: float | None = None,
    **overrides: Any,
) -> list[Cue]:
    """Group time-ordered words into subtitle cues that keep ``style`` and never overlap.

    ``style`` is a ``CueStyle`` or a preset name ("netflix", "bbc", "plain"); keyword
    ``overrides`` change single settings (``max_chars=37``, ``max_cps=20``, ``fps=25``...).
    ``media_end`` (seconds) keeps the last cue from outlasting the media.

    A cue holds at most ``max_lines`` lines of at most ``max_chars`` characters, its words span at
    most ``max_duration`` seconds and never a silence longer than ``max(HARD_PAUSE, pause)``; a
    single word that breaks a limit alone gets a cue of its own. Within those limits, dynamic
    programming over the cut positions minimises the sum over cues of:

    * 1 per cue, so that short pieces are merged;
    * ``2 * (1 - fill) ** 2``, where fill is the larger of the used share of the characters and of
      ``max_duration``: rewards using the space well, and balances cues when a text must be split;
    * the cost of the cut after the cue: 0 at a sentence end (. ! ? … with closing quotes), 1 at a
      pause of ``pause`` seconds or more, 2 at clause punctuation (, ; : — –), 4 before a
      conjunction or preposition, 5 anywhere else, 7 after a preposition, auxiliary or number, 15
      where a break must not fall (see ``subalign.cues.breaks``); nothing at the end;
    * for a two-line cue, how much its best line layout (as ``wrap_lines`` counts it) costs more
      than a plain break, so that cues whose lines could only break badly are avoided;
    * 0.5 per sentence end inside the cue when it can fall at a line break (or the cue is one
      line), else 3, so that a new sentence rarely starts in the middle of a line;
    * ``1.5 + 2 * (gap - pause)`` per pause inside the cue, so that cues usually cut at pauses.

    Then times are set, extending out-times for reading speed, and cues that still lack reading
    time are merged with a neighbour, else split (see the module docstring and ``_timed_cues``).
    Overlapping or out-of-order word times are clamped to be non-decreasing first. Words whose
    text is empty are left out; ``Cue.words`` holds the original WordSpans, unchanged.
    """
    style = get_style(style, **overrides)
    kept = [w for w in words if display(w.text)]
    for w in kept:
        if not (math.isfinite(w.start) and math.isfinite(w.end)):
            raise ValueError(f"word {w.text!r} has a non-finite time ({w.start}, {w.end})")
    if media_end is not None and not math.isfinite(media_end):
        raise ValueError(f"media_end must be finite (got {media_end})")
    if not kept:
        return []
    plan = _Plan(kept, style, media_end)
    spans = _segment(plan, 0, plan.n, None, timed=False)
    spans = _repair(plan, spans)
    return _timed_cues(plan, spans)
