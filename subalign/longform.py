"""Long media (films, lectures, audiobooks): streamed, in bounded memory, without drift.

The chain, top to bottom:

1. **emissions**: ffmpeg decodes the audio as a stream and the model runs on blocks of a few
   minutes (`models.base.stream_emissions`); only the emissions are kept, as float16 (hama: about
   0.4 KB per 20 ms frame, 200 MB for three hours). No more than one block of audio is held.
2. **anchoring**: the transcript is cut into units (sentences, at most `UNIT_WORDS` words) and
   runs of units are aligned with a star between them (`align.chunks`) against windows of the
   emissions. A window starts where the last committed unit ended and reaches as far as its text
   could go at a slow speaking rate, plus `LOOKAHEAD` for audio the transcript does not cover
   (an intro, music, an ad); the first two thirds of a run are committed and the rest aligned
   again with the next run. A unit that scores low was not found (text without audio). When a
   whole run is not found, the next window reaches twice as far, so a long stretch of audio
   without text is crossed too.
3. **pieces**: consecutive found units are grouped into pieces, cut at pauses (at most a minute);
   each piece is aligned again exactly as a short file is (`align_words` with the boundary
   refinement) on its stretch of emissions and audio (decoded a second time, as a stream). So a
   word in a three-hour file gets the same treatment as a word in a three-second file, and
   errors cannot add up along the file.
4. **not found**: words of units that were not found get no times (``WordSpan.found`` False).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .align.chunks import ChunkAligner, Found, Unit, align_chunk, window_cells
from .align.refine import boundary_refiner, refinable
from .align.words import align_words, build_targets, check_fits, min_frames
from .errors import MediaError, TranscriptError
from .media import iter_audio
from .models.base import EmissionModel, stream_emissions
from .text import Word
from .types import WordSpan

__all__ = ["LONG_SECONDS", "align_long", "make_units"]

#: Media longer than this (or of unknown length) take this path in `align_media`.
LONG_SECONDS = 600.0
#: Most words in one unit (a sentence longer than this is cut at a clause or anywhere).
UNIT_WORDS = 24
#: A unit is found when the mean probability of its tokens on the best path reaches this.
MIN_SCORE = 0.25
#: Audio a window reaches beyond what its text needs at a slow rate, for audio without text (s).
LOOKAHEAD = 90.0
#: The first window may also hold an intro without text this long (s).
INTRO = 240.0
#: Trellis cells per anchoring call (bounds time and memory of one call).
MAX_CELLS = 120_000_000
#: Fewest units aligned together in one anchoring call.
MIN_UNITS = 4
#: Frames per target token assumed before any unit is found (0.12 s), and the slow-rate factor.
START_RATE = 6.0
SLOW = 1.6
#: Pieces are cut where the model hears a pause this long between two units (s): a pause inside
#: a piece is decided by the boundary refinement, which was fitted on single utterances and
#: places the edges of a pause best when they are the edges of the audio it sees.
CUT_GAP = 0.3
#: A piece longer than this (s) is cut at the next gap of PAUSE s, and always at twice this.
PIECE_MAX = 60.0
PAUSE = 0.3
#: Audio kept before the first and after the last word of a piece (s), at most half the gap.
MARGIN = 1.0
#: Seconds of audio per model call when streaming.
BLOCK_SECONDS = 300.0

Progress = Callable[[str, float], None]  # (stage, share of that stage done, 0..1)


@dataclass(frozen=True)
class LongResult:
    """Words (one per transcript word, ``found`` False where not heard), duration, stage times."""

    words: list[WordSpan]
    duration: float
    timings: dict[str, float]


def make_units(words: Sequence[Word], word_tokens: Sequence[Sequence[int]],
               separator: int | None) -> list[_LongUnit]:
    """Cut the transcript into units: sentences (and lines), at most `UNIT_WORDS` words, cut at a
    clause when a sentence is longer. A unit holds at least one word with tokens, except a
    trailing run of words without any."""
    units: list[_LongUnit] = []
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
class _LongUnit(Unit):
    """A unit that also knows which transcript words it holds."""

    index_words: tuple[int, ...] = ()


def _unit(k: int, idx: Sequence[int], words: Sequence[Word], word_tokens: Sequence[Sequence[int]],
          separator: int | None) -> _LongUnit:
    toks = [list(word_tokens[i]) for i in idx]
    targets, counts = build_targets(toks, separator)
    return _LongUnit(k, [words[i].text for i in idx], toks, targets, counts, index_words=tuple(idx))


# ------------------------------------------------------------------------------------------------
# 1. Emissions


def _timed(chunks: Iterator[np.ndarray], timings: dict[str, float]) -> Iterator[np.ndarray]:
    """`chunks`, adding the time spent waiting for each (decoding) to ``timings["decode"]``."""
    while True:
        t = time.perf_counter()
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        finally:
            timings["decode"] = timings.get("decode", 0.0) + time.perf_counter() - t
        yield chunk


def stream_all_emissions(
    media: str, acoustic: EmissionModel, stream: int, expected_seconds: float | None,
    progress: Callable[[float], None] | None, timings: dict[str, float] | None = None,
) -> torch.Tensor:
    """(T, C) float16 emissions of the whole audio, computed block by block from a decode stream;
    the time spent decoding goes to ``timings["decode"]``."""
    timings = {} if timings is None else timings
    rate = acoustic.sample_rate
    chunks = iter_audio(media, sample_rate=rate, stream=stream, chunk_seconds=30.0)
    store: torch.Tensor | None = None
    n = 0
    with contextlib.closing(chunks):
        for first, block in stream_emissions(acoustic, _timed(chunks, timings), BLOCK_SECONDS, progress=progress):
            if store is None:
                guess = int((expected_seconds or 0) / acoustic.frame_seconds * 1.01) + block.shape[0] + 64
                store = torch.empty((guess, block.shape[1]), dtype=torch.float16)
            if first + block.shape[0] > store.shape[0]:
                grown = torch.empty((max(2 * store.shape[0], first + block.shape[0]), store.shape[1]),
                                    dtype=torch.float16)
                grown[:n] = store[:n]
                store = grown
            store[first : first + block.shape[0]] = block.to(torch.float16)
            n = first + block.shape[0]
    if store is None or n == 0:
        raise MediaError(f"{media}: no audio could be decoded")
    return store[:n]


# ------------------------------------------------------------------------------------------------
# 2. Anchoring


def anchor_units(
    aligner: ChunkAligner, units: list[Unit], fps: float, progress: Callable[[float], None] | None = None,
    max_cells: int | None = None, min_score: float = MIN_SCORE,
) -> dict[int, Found]:
    """Where each unit is, run by run along the file (see the module docstring); by unit index."""
    max_cells = max_cells or MAX_CELLS
    total = aligner.frames
    found: dict[int, Found] = {}
    rate = START_RATE
    spans: list[tuple[int, int]] = []  # (frames, targets) of recently found units, for the rate
    anchor = 0  # frame where the last committed found unit ends
    reach = INTRO
    i = 0
    while i < len(units):
        # At least MIN_UNITS units, so that the units after the committed ones hold them in place
        # (a lone short unit could match anywhere in a wide window); the window is narrowed to
        # the cell budget when needed, and grows with more units while it fits.
        j = min(len(units), i + MIN_UNITS)
        while j < len(units) and window_cells(_reach(units, i, j + 1, anchor, rate, reach, fps, total)
                                              - anchor, units[i : j + 1]) <= max_cells:
            j += 1
        hi = _reach(units, i, j, anchor, rate, reach, fps, total)
        states = window_cells(1, units[i:j])
        hi = min(hi, max(anchor + max_cells // states, _reach(units, i, j, anchor, rate, 0.0, fps, total)))
        need = sum(min_frames(u.targets) + 1 for u in units[i:j]) + 1
        lo = anchor if hi - anchor >= need else max(0, hi - need)
        hits = align_chunk(aligner, units[i:j], lo, hi, min_score)
        last = j >= len(units)
        commit = j if last else max(i + 1, i + (2 * (j - i)) // 3)
        got = False
        for u in units[i:commit]:
            f = hits.get(u.index)
            if f is None:
                continue
            found[u.index] = f
            spans.append((f.last - anchor, len(u.targets)))
            anchor = f.last
            got = True
        if got:
            spans = spans[-40:]
            frames, toks = sum(s[0] for s in spans), sum(s[1] for s in spans)
            rate = min(30.0, max(2.0, frames / max(1, toks)))
            reach = LOOKAHEAD
        else:
            reach = min(2 * reach, total / fps)
        if progress is not None:
            progress(commit / len(units))
        i = commit
    return found


def _reach(units: Sequence[Unit], i: int, j: int, anchor: int, rate: float, reach: float, fps: float,
           total: int) -> int:
    """The end of the window for units[i:j]: their text at a slow rate plus `reach` seconds."""
    need = sum(len(u.targets) + 1 for u in units[i:j])
    return int(min(total, anchor + need * rate * SLOW + reach * fps))


# ------------------------------------------------------------------------------------------------
# 3. Pieces


@dataclass
class _Piece:
    lo: int  # frames [lo, hi) of the piece
    hi: int
    units: list[_LongUnit]


def plan_pieces(units: Sequence[_LongUnit], found: dict[int, Found], fps: float, total: int,
                whole: bool = False) -> list[_Piece]:
    """Consecutive found units grouped into pieces, cut at pauses, not-found units and long gaps.

    `whole`: the first piece starts at frame 0 and the last ends at `total` (all the audio is
    speech of the transcript, as for a short file) instead of `MARGIN` around their words.
    """
    pieces: list[_Piece] = []
    cur: list[_LongUnit] = []
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
                pieces.append(_Piece(0, 0, cur))
                cur = []
        cur.append(u)
        missing_between = False
    if cur:
        pieces.append(_Piece(0, 0, cur))
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


class _AudioWindow:
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
    pieces: Sequence[_Piece], emissions: torch.Tensor, acoustic: EmissionModel, found: dict[int, Found],
    audio: _AudioWindow | None, refine: bool, progress: Callable[[float], None] | None = None,
) -> dict[int, WordSpan]:
    """Each piece aligned as a short file; its words' spans by transcript word index."""
    hop = int(round(acoustic.frame_seconds * acoustic.sample_rate))
    fs = acoustic.frame_seconds
    separator = getattr(acoustic, "word_boundary", None)
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
    separator = getattr(acoustic, "word_boundary", None)
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
    audio = _AudioWindow(iter([waveform[i : i + step] for i in range(0, len(waveform), step)]))
    spans = align_pieces(pieces, emissions, acoustic, found, audio, refine=True)
    return [spans.get(i, plain[i]) for i in range(len(words))]


def _anchored(p: _Piece, found: dict[int, Found], fs: float, lo: int) -> list[WordSpan]:
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


# ------------------------------------------------------------------------------------------------
# The whole long job


def align_long(
    media: str, words: Sequence[Word], word_tokens: Sequence[Sequence[int]], acoustic: EmissionModel,
    *, stream: int = 0, expected_seconds: float | None = None, refine: bool = True,
    progress: Progress | None = None,
) -> LongResult:
    """Align `words` (with their tokens) to the audio of `media` through the long-media chain."""
    timings: dict[str, float] = {}
    fps = 1.0 / acoustic.frame_seconds
    separator = getattr(acoustic, "word_boundary", None)
    t0 = time.perf_counter()
    heard = [0.0]

    def emitted(seconds: float) -> None:
        heard[0] += seconds
        if progress is not None and expected_seconds:
            progress("emissions", heard[0] / expected_seconds)

    emissions = stream_all_emissions(str(media), acoustic, stream, expected_seconds, emitted, timings)
    total = emissions.shape[0]
    duration = (total - 1) * acoustic.frame_seconds
    timings["emissions"] = time.perf_counter() - t0 - timings.get("decode", 0.0)

    t1 = time.perf_counter()
    units = make_units(words, word_tokens, separator)
    check_fits(total, [t for u in units for t in u.targets], acoustic.frame_seconds, len(words))
    aligner = ChunkAligner(emissions, acoustic.blank, separator)
    found = anchor_units(aligner, [u for u in units if u.targets], fps,
                         (lambda s: progress("anchoring", s)) if progress else None)
    timings["anchoring"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    pieces = plan_pieces(units, found, fps, total)
    chunks = (iter_audio(media, sample_rate=acoustic.sample_rate, stream=stream, chunk_seconds=10.0)
              if refine and refinable(acoustic) else None)
    with contextlib.closing(chunks) if chunks is not None else contextlib.nullcontext():
        spans = align_pieces(pieces, emissions, acoustic, found,
                             _AudioWindow(chunks) if chunks is not None else None, refine,
                             (lambda s: progress("pieces", s)) if progress else None)
    timings["pieces"] = time.perf_counter() - t2

    out: list[WordSpan] = []
    cursor = 0.0
    for i, w in enumerate(words):
        s = spans.get(i)
        if s is None:
            out.append(WordSpan(w.text, cursor, cursor, 0.0, found=False))
            continue
        s = WordSpan(s.text, min(s.start, duration), min(s.end, duration), s.score)
        out.append(s)
        cursor = s.end
    return LongResult(out, duration, timings)

