"""Long media (films, lectures, audiobooks): streamed, in bounded memory, without drift.

The chain, top to bottom:

1. **emissions**: ffmpeg decodes the audio as a stream and the model runs on blocks of a few
   minutes (`models.base.stream_emissions`); only the emissions are kept, as float16 (hama: about
   0.4 KB per 20 ms frame, 200 MB for three hours). No more than one block of audio is held.
2. **anchoring**: the transcript is cut into units (sentences, `align.pieces.make_units`) and
   runs of units are aligned with a star between them (the one anchoring engine,
   `align.anchoring`) against windows of the emissions, chosen by `_SpeakingRate`. A window starts where the last committed unit ended and reaches as far as its text
   could go at a slow speaking rate, plus `LOOKAHEAD` for audio the transcript does not cover
   (an intro, music, an ad); the first two thirds of a run are committed and the rest aligned
   again with the next run. A unit that scores low was not found (text without audio). When a
   whole run is not found, the next window reaches twice as far, so a long stretch of audio
   without text is crossed too.
3. **pieces** (`align.pieces`): consecutive found units are grouped into pieces, cut at pauses
   (at most a minute); each piece is aligned again exactly as a short file is (`align_words` with the boundary
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

from .align.anchoring import anchor_units
from .align.chunks import ChunkAligner, Found, Unit, window_cells
from .align.pieces import AudioWindow, align_pieces, make_units, plan_pieces
from .align.refine import refinable
from .align.words import check_fits, min_frames
from .errors import MediaError
from .media import iter_audio
from .models.base import EmissionModel, stream_emissions
from .progress import Progress
from .text.words import Word
from .types import WordSpan

__all__ = ["LongResult", "align_long"]

#: Audio a window reaches beyond what its text needs at a slow rate, for audio without text (s).
LOOKAHEAD = 90.0
#: The first window may also hold an intro without text this long (s).
INTRO = 240.0
#: Fewest units aligned together in one anchoring call.
MIN_UNITS = 4
#: Frames per target token assumed before any unit is found (0.12 s), and the slow-rate factor.
START_RATE = 6.0
SLOW = 1.6
#: Seconds of audio per model call when streaming.
BLOCK_SECONDS = 300.0


@dataclass(frozen=True)
class LongResult:
    """Words (one per transcript word, ``found`` False where not heard), duration, stage times."""

    words: list[WordSpan]
    duration: float
    timings: dict[str, float]



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
    emit: Callable[..., torch.Tensor] | None = None,
) -> torch.Tensor:
    """(T, C) float16 emissions of the whole audio, computed block by block from a decode stream;
    the time spent decoding goes to ``timings["decode"]``."""
    timings = {} if timings is None else timings
    rate = acoustic.sample_rate
    chunks = iter_audio(media, sample_rate=rate, stream=stream, chunk_seconds=30.0)
    store: torch.Tensor | None = None
    n = 0
    with contextlib.closing(chunks):
        for first, block in stream_emissions(acoustic, _timed(chunks, timings), BLOCK_SECONDS, progress=progress,
                                             emit=emit):
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


class _SpeakingRate:
    """The window policy of long media: a run's window starts where the last found unit ended
    and reaches as far as its text could go at a slow speaking rate (learnt from the units found
    so far), plus `LOOKAHEAD` for audio the transcript does not cover (`INTRO` at the start);
    when a whole run is not found, the next window reaches twice as far."""

    min_units = MIN_UNITS

    def __init__(self, fps: float, total: int) -> None:
        self.fps, self.total = fps, total
        self.anchor = 0  # frame where the last committed found unit ends
        self.rate = START_RATE
        self.reach = INTRO
        self.spans: list[tuple[int, int]] = []  # (frames, targets) of recently found units

    def _end(self, units: Sequence[Unit], i: int, j: int, reach: float) -> int:
        need = sum(len(u.targets) + 1 for u in units[i:j])
        return int(min(self.total, self.anchor + need * self.rate * SLOW + reach * self.fps))

    def window(self, units: Sequence[Unit], i: int, j: int) -> tuple[int, int]:
        return self.anchor, self._end(units, i, j, self.reach)

    def final_window(self, units: Sequence[Unit], i: int, j: int, max_cells: int) -> tuple[int, int]:
        """The growth window narrowed to the cell budget (never below the text at a slow rate),
        starting early enough for the text to fit."""
        hi = self._end(units, i, j, self.reach)
        states = window_cells(1, units[i:j])
        hi = min(hi, max(self.anchor + max_cells // states, self._end(units, i, j, 0.0)))
        need = sum(min_frames(u.targets) + 1 for u in units[i:j]) + 1
        lo = self.anchor if hi - self.anchor >= need else max(0, hi - need)
        return lo, hi

    def found(self, unit: Unit, hit: Found) -> None:
        self.spans.append((hit.last - self.anchor, len(unit.targets)))
        self.anchor = hit.last

    def advanced(self, any_found: bool) -> None:
        if any_found:
            self.spans = self.spans[-40:]
            frames, toks = sum(s[0] for s in self.spans), sum(s[1] for s in self.spans)
            self.rate = min(30.0, max(2.0, frames / max(1, toks)))
            self.reach = LOOKAHEAD
        else:
            self.reach = min(2 * self.reach, self.total / self.fps)


# ------------------------------------------------------------------------------------------------
# The whole long job


def align_long(
    media: str, words: Sequence[Word], word_tokens: Sequence[Sequence[int]], acoustic: EmissionModel,
    *, stream: int = 0, expected_seconds: float | None = None, refine: bool = True,
    progress: Progress | None = None, emit: Callable[..., torch.Tensor] | None = None,
) -> LongResult:
    """Align `words` (with their tokens) to the audio of `media` through the long-media chain;
    `emit` replaces `acoustic.emit` (worker processes: `models.workers.Emitter.emit`)."""
    timings: dict[str, float] = {}
    fps = 1.0 / acoustic.frame_seconds
    separator = acoustic.word_boundary
    t0 = time.perf_counter()
    heard = [0.0]

    def emitted(seconds: float) -> None:
        heard[0] += seconds
        if progress is not None and expected_seconds:
            progress("emissions", heard[0] / expected_seconds)

    emissions = stream_all_emissions(str(media), acoustic, stream, expected_seconds, emitted, timings, emit)
    total = emissions.shape[0]
    duration = (total - 1) * acoustic.frame_seconds
    timings["emissions"] = time.perf_counter() - t0 - timings.get("decode", 0.0)

    t1 = time.perf_counter()
    units = make_units(words, word_tokens, separator)
    check_fits(total, [t for u in units for t in u.targets], acoustic.frame_seconds, len(words))
    aligner = ChunkAligner(emissions, acoustic.blank, separator)
    found = anchor_units(aligner, [u for u in units if u.targets], _SpeakingRate(fps, total),
                         progress=(lambda s: progress("anchoring", s)) if progress else None)
    timings["anchoring"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    pieces = plan_pieces(units, found, fps, total)
    chunks = (iter_audio(media, sample_rate=acoustic.sample_rate, stream=stream, chunk_seconds=10.0)
              if refine and refinable(acoustic) else None)
    with contextlib.closing(chunks) if chunks is not None else contextlib.nullcontext():
        spans = align_pieces(pieces, emissions, acoustic, found,
                             AudioWindow(chunks) if chunks is not None else None, refine,
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

