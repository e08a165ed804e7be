"""Pieces: stretches of found text aligned and refined exactly as a short file is.

The boundary refinement (`refine.py`) was fitted on single utterances and places the edges of a
pause best when they are the edges of the audio it sees. So where the text has been placed
roughly (the long-media chain's anchoring, or a short file's plain Viterbi path), consecutive
units of text are grouped into *pieces* cut at pauses, and each piece is aligned again with the
refinement on its own stretch of emissions and audio. A word in a three-hour file then gets the
same treatment as a word in a three-second file, and errors cannot add up along the file.

* `make_units` cuts a transcript into sentence units (at most `UNIT_WORDS` words);
* `plan_pieces` groups the found units into pieces; `align_pieces` aligns each piece;
* `refine_at_pauses` does both for a short file whose plain alignment has pauses in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import TranscriptError
from ..models.base import EmissionModel
from ..text.words import Word
from ..types import WordSpan
from .chunks import Found, Unit
from .refine import boundary_refiner
from .words import align_words, build_targets

__all__ = ["AudioWindow", "Piece", "SentenceUnit", "align_pieces", "make_units", "plan_pieces",
           "refine_at_pauses"]

#: Most words in one unit (a sentence longer than this is cut at a clause or anywhere).
UNIT_WORDS = 24
#: Pieces are cut where the model hears a pause this long between two units (s): a pause inside
#: a piece is decided by the boundary refinement, which was fitted on single utterances and
#: places the edges of a pause best when they are the edges of the audio it sees.
CUT_GAP = 0.3
#: A piece longer than this (s) is cut at the next gap of PAUSE s, and always at twice this.
PIECE_MAX = 60.0
PAUSE = 0.3
#: Audio kept before the first and after the last word of a piece (s), at most half the gap.
MARGIN = 1.0


def make_units(words: Sequence[Word], word_tokens: Sequence[Sequence[int]],
               separator: int | None) -> list[SentenceUnit]:
    """Cut the transcript into units: sentences (and lines), at most `UNIT_WORDS` words, cut at a
    clause when a sentence is longer. A unit holds at least one word with tokens, except a
    trailing run of words without any."""
    units: list[SentenceUnit] = []
    cur: list[int] = []

    def close() -> None:
        if not cur:
            return
        toks = [list(word_tokens[i]) for i in cur]
        if units and not any(toks):  # nothing to hear: keep with the unit before
            prev = units[-1]
            idx = [*prev.index_words, *cur]
            units[-1] = _unit(len(units) - 1, idx, words, word_tokens, separator)
        else:
            units.append(_unit(len(units), list(cur), words, word_tokens, separator))
        cur.clear()

    for i, w in enumerate(words):
        cur.append(i)
        clause = w.text[-1:] in ",;:—–" if w.text else False
        if (w.sentence_end or w.line_end or w.paragraph_end or len(cur) >= UNIT_WORDS
                or (clause and len(cur) >= UNIT_WORDS // 2)):
            close()
    close()
    return units


@dataclass
class SentenceUnit(Unit):
    """A unit that also knows which transcript words it holds."""

    index_words: tuple[int, ...] = ()


def _unit(k: int, idx: Sequence[int], words: Sequence[Word], word_tokens: Sequence[Sequence[int]],
          separator: int | None) -> SentenceUnit:
    toks = [list(word_tokens[i]) for i in idx]
    targets, counts = build_targets(toks, separator)
    return SentenceUnit(k, [words[i].text for i in idx], toks, targets, counts, index_words=tuple(idx))



@dataclass
class Piece:
    lo: int  # frames [lo, hi) of the piece
    hi: int
    units: list[SentenceUnit]


def plan_pieces(units: Sequence[SentenceUnit], found: dict[int, Found], fps: float, total: int,
                whole: bool = False) -> list[Piece]:
    """Consecutive found units grouped into pieces, cut at pauses, not-found units and long gaps.

    `whole`: the first piece starts at frame 0 and the last ends at `total` (all the audio is
    speech of the transcript, as for a short file) instead of `MARGIN` around their words.
    """
    pieces: list[Piece] = []
    cur: list[SentenceUnit] = []
    margin = int(MARGIN * fps)
    prev_end = 0
    missing_between = False
    for u in units:
        f = found.get(u.index)
        if f is None:
            missing_between = True
            continue
        if cur:
            start_f = found[cur[0].index].first
            gap = f.first - found[cur[-1].index].last
            span = (found[cur[-1].index].last - start_f) / fps
            if (missing_between or gap >= CUT_GAP * fps or span >= 2 * PIECE_MAX
                    or (span >= PIECE_MAX and gap >= PAUSE * fps)):
                pieces.append(Piece(0, 0, cur))
                cur = []
        cur.append(u)
        missing_between = False
    if cur:
        pieces.append(Piece(0, 0, cur))
    # Frame ranges: `MARGIN` around the words, or half the gap when the neighbour is closer.
    for k, p in enumerate(pieces):
        first, last = found[p.units[0].index].first, found[p.units[-1].index].last
        before = found[pieces[k - 1].units[-1].index].last if k else None
        after = found[pieces[k + 1].units[0].index].first if k + 1 < len(pieces) else None
        p.lo = max(0, first - margin) if before is None else max(first - margin, (before + first + 1) // 2)
        p.hi = min(total, last + margin) if after is None else min(last + margin, (last + after + 1) // 2)
        p.lo = max(p.lo, prev_end)
        prev_end = p.hi
    if whole and pieces:
        pieces[0].lo, pieces[-1].hi = 0, total
    return pieces


class AudioWindow:
    """Samples [start, stop) of a decode stream, for windows that move forward only."""

    def __init__(self, chunks: Iterator[np.ndarray]) -> None:
        self.chunks = chunks
        self.buf = np.empty(0, dtype=np.float32)
        self.start = 0
        self.done = False

    def get(self, start: int, stop: int) -> np.ndarray:
        while not self.done and self.start + len(self.buf) < stop:
            try:
                chunk = next(self.chunks)
            except StopIteration:
                self.done = True
                break
            self.buf = np.concatenate([self.buf, chunk])
            if self.start + len(self.buf) <= start:  # all of it before the window: never keep it
                self.start += len(self.buf)
                self.buf = np.empty(0, dtype=np.float32)
        drop = max(0, start - self.start)
        if drop:
            self.buf = self.buf[drop:].copy()
            self.start += drop
        out = self.buf[: max(0, stop - self.start)]
        if len(out) < stop - start:  # the stream ended early: pad with silence
            out = np.concatenate([out, np.zeros(stop - start - len(out), dtype=np.float32)])
        return out


def align_pieces(
    pieces: Sequence[Piece], emissions: torch.Tensor, acoustic: EmissionModel, found: dict[int, Found],
    audio: AudioWindow | None, refine: bool, progress: Callable[[float], None] | None = None,
) -> dict[int, WordSpan]:
    """Each piece aligned as a short file; its words' spans by transcript word index."""
    hop = int(round(acoustic.frame_seconds * acoustic.sample_rate))
    fs = acoustic.frame_seconds
    separator = acoustic.word_boundary
    out: dict[int, WordSpan] = {}
    for n, p in enumerate(pieces):
        idx = [i for u in p.units for i in u.index_words]
        toks = [t for u in p.units for t in u.word_tokens]
        texts = [t for u in p.units for t in u.texts]
        part = emissions[p.lo : p.hi].to(torch.float32)
        refiner = None
        if refine and audio is not None:
            refiner = boundary_refiner(acoustic, audio.get(p.lo * hop, p.hi * hop), part)
        try:
            spans = align_words(part, toks, texts, fs, blank=acoustic.blank, separator=separator, refine=refiner)
        except TranscriptError:  # cannot happen for found units; keep their anchoring times then
            spans = _anchored(p, found, fs, p.lo)
        offset = p.lo * fs
        for i, s in zip(idx, spans, strict=True):
            out[i] = WordSpan(s.text, s.start + offset, s.end + offset, s.score)
        if progress is not None:
            progress((n + 1) / len(pieces))
    return out


def refine_at_pauses(
    words: Sequence[Word], word_tokens: Sequence[Sequence[int]], plain: Sequence[WordSpan],
    emissions: torch.Tensor, waveform: np.ndarray, acoustic: EmissionModel,
) -> list[WordSpan] | None:
    """Refined word times for a short file whose plain alignment (`plain`) has pauses between
    sentences: each stretch between pauses is aligned and refined as a file of its own, as long
    media are (the boundary refinement places a sentence's edges best at the edges of its audio).
    None when there is no such pause (refine the whole file in one go)."""
    fps = 1.0 / acoustic.frame_seconds
    separator = acoustic.word_boundary
    units = make_units(words, word_tokens, separator)
    found: dict[int, Found] = {}
    for u in units:
        heard = [plain[i] for i, t in zip(u.index_words, u.word_tokens, strict=True) if t]
        if heard:
            first, last = int(round(heard[0].start * fps)), int(round(heard[-1].end * fps))
            found[u.index] = Found(first, last, 1.0, [])
    pieces = plan_pieces(units, found, fps, int(emissions.shape[0]), whole=True)
    if len(pieces) < 2:
        return None
    step = 10 * acoustic.sample_rate
    audio = AudioWindow(iter([waveform[i : i + step] for i in range(0, len(waveform), step)]))
    spans = align_pieces(pieces, emissions, acoustic, found, audio, refine=True)
    return [spans.get(i, plain[i]) for i in range(len(words))]


def _anchored(p: Piece, found: dict[int, Found], fs: float, lo: int) -> list[WordSpan]:
    spans: list[WordSpan] = []
    for u in p.units:
        f = found[u.index]
        times = dict(zip(f.word_index, f.words, strict=True))
        cursor = (f.first - lo) * fs
        for k, text in enumerate(u.texts):
            if k in times:
                _, a, b, sc = times[k]
                spans.append(WordSpan(text, (a - lo) * fs, (b - lo) * fs, sc))
                cursor = (b - lo) * fs
            else:
                spans.append(WordSpan(text, cursor, cursor, 0.0))
    return spans

