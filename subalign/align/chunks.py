"""Alignment of runs of text *units* (cues, sentences) against windows of one long emission matrix.

Each unit is a few words. A run of units is aligned to a window of frames with a *star* between
the units and at both ends: a wildcard token with log-probability 0 on every frame, which any
audio can be. Audio that the text does not cover (music, an intro, untranscribed speech) goes to
a star instead of dragging the neighbouring words, and a window may be longer than its text
needs. A unit whose tokens score a low mean probability was not found (text without audio): it
is removed and the run aligned again so it cannot pull its neighbours; every removed unit then
gets a second chance alone between its found neighbours.

`subalign sync` (units = cues, windows from the cues' old times) and the long-media path of
`subalign align` (units = sentences, windows from the speaking rate) both drive this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .spans import merge_tokens, token_spans_to_words
from .words import frame_probs, min_frames, token_prob

__all__ = ["ChunkAligner", "Found", "Unit", "align_chunk", "fit_prefix", "window_cells"]


@dataclass
class Unit:
    """Words aligned as one piece: an index, tokens per word and the flat target sequence."""

    index: int
    texts: list[str]
    word_tokens: list[list[int]]
    targets: list[int]
    counts: list[int]  # targets owned by each word (for cutting the path back)


@dataclass
class Found:
    """Where a unit was found: token frames, score, and its words' spans (frames).

    ``words`` holds (text, first frame, end frame, score) for each word with tokens, and
    ``word_index`` the position of each of those in the unit's ``texts``.
    """

    first: int  # first frame of its first token
    last: int  # frame after its last token
    score: float
    words: list[tuple[str, int, int, float]]
    first_token: int = -1
    last_token: int = -1
    word_index: tuple[int, ...] = ()


class ChunkAligner:
    """Aligns runs of units against windows of one (T, C) emission matrix, with a star.

    The star is forced_align's virtual wildcard class C: it needs no column, so the emissions
    stay as stored (float16 for hours of audio) and only the window being aligned is turned
    into float32.
    """

    def __init__(self, emissions: torch.Tensor, blank: int, separator: int | None) -> None:
        frames, classes = emissions.shape
        self.emissions = emissions
        self.separator = separator
        self.star = classes
        self.blank = blank
        self.frames = frames

    def window(self, lo: int, hi: int) -> torch.Tensor:
        """Frames [lo, hi) as float32 log-probs (no copy when they are float32 already)."""
        return self.emissions[lo:hi].to(torch.float32)

    def align(self, units: Sequence[Unit], lo: int, hi: int) -> dict[int, Found]:
        """Align `units` (in order, star between and around them) to frames [lo, hi)."""
        from . import forced_align  # the public entry point picks the extension or the reference

        targets = [self.star]
        counts = [1]
        for u in units:
            targets.extend(u.targets)
            counts.append(len(u.targets))
            targets.append(self.star)
            counts.append(1)
        paths, scores = forced_align(
            self.window(lo, hi).unsqueeze(0),
            torch.tensor([targets], dtype=torch.int64),
            blank=self.blank,
            star=self.star,
        )
        spans = merge_tokens(paths[0], frame_probs(scores[0]), blank=self.blank)
        groups = token_spans_to_words(spans, counts)
        found: dict[int, Found] = {}
        for k, u in enumerate(units):
            own = groups[2 * k + 1]
            words = []
            where = []
            pos = 0
            total, n = 0.0, 0
            for i, (text, toks, count) in enumerate(zip(u.texts, u.word_tokens, u.counts, strict=True)):
                ws = own[pos : pos + len(toks)]
                pos += count
                if not ws:
                    continue
                probs = [token_prob(s) for s in ws]
                score = sum(probs) / len(ws)
                total += sum(probs)
                n += len(ws)
                words.append((text, lo + ws[0].start, lo + ws[-1].end, score))
                where.append(i)
            if not words:
                continue
            tokens = [s.token for s in own if s.token != self.separator] or [-1]
            found[u.index] = Found(
                words[0][1], words[-1][2], total / max(n, 1), words, tokens[0], tokens[-1], tuple(where)
            )
        return found


def window_cells(frames: int, units: Sequence[Unit]) -> int:
    """Trellis cells of aligning `units` (with stars) to `frames` frames."""
    return frames * (2 * (sum(len(u.targets) for u in units) + len(units) + 1) + 1)


def align_chunk(aligner: ChunkAligner, chunk: list[Unit], lo: int, hi: int, min_score: float) -> dict[int, Found]:
    """Align a chunk and keep the units scoring at least `min_score`.

    Weak units are removed and the rest aligned again, until none is weak. Text without audio
    can push a real neighbour off its speech in the first round, so every removed unit then gets
    a second chance alone, between the found units around it, and the chunk is aligned once more
    with the units that passed.
    """
    active = fit_prefix(list(chunk), hi - lo)
    hits: dict[int, Found] = {}
    rescued = False
    for _ in range(6):
        if not active:
            return {}
        hits = aligner.align(active, lo, hi)
        weak = {u.index for u in active if u.index not in hits or hits[u.index].score < min_score}
        if weak:
            active = [u for u in active if u.index not in weak]
            continue
        if rescued:
            break
        rescued = True
        back = _rescue(aligner, chunk, active, hits, lo, hi, min_score)
        if not back:
            break
        keep = {u.index for u in active} | back
        active = [u for u in chunk if u.index in keep]
    return {u.index: hits[u.index] for u in active if u.index in hits and hits[u.index].score >= min_score}


def _rescue(
    aligner: ChunkAligner,
    chunk: list[Unit],
    active: list[Unit],
    hits: dict[int, Found],
    lo: int,
    hi: int,
    min_score: float,
) -> set[int]:
    """Indices of removed units that score at least `min_score` when aligned alone in the gap
    between the found units before and after them."""
    kept = {u.index for u in active}
    back: set[int] = set()
    for pos, u in enumerate(chunk):
        if u.index in kept:
            continue
        before = next((hits[d.index].last for d in reversed(chunk[:pos]) if d.index in kept), lo)
        after = next((hits[d.index].first for d in chunk[pos + 1 :] if d.index in kept), hi)
        if after - before < min_frames(u.targets) + 2:
            continue
        found = aligner.align([u], before, after).get(u.index)
        if found is not None and found.score >= min_score:
            back.add(u.index)
    return back


def fit_prefix(units: list[Unit], frames: int) -> list[Unit]:
    """The longest prefix of `units` whose tokens (with a star around each) fit in `frames`."""
    need = 1
    for n, u in enumerate(units):
        need += min_frames(u.targets) + 1
        if need > frames:
            return units[:n]
    return units
