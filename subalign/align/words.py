"""From emissions and per-word token ids to timed words."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import TranscriptError
from ..types import TokenSpan, WordSpan
from .spans import merge_tokens, token_spans_to_words

if TYPE_CHECKING:  # imported where tensors are made: building targets needs no torch
    import torch

# Given the token spans of each spoken word and the separator span after it (or None), the
# (start, end) of each word in seconds: a boundary refinement step (see refine.py).
Refiner = Callable[[list[list[TokenSpan]], list[TokenSpan | None]], list[tuple[float, float]]]


#: A word's first (last) token more than this many seconds before (after) the rest of the word is
#: a stray: CTC may put it anywhere in a stretch of blanks (music, noise) before the word.
STRAY_GAP = 0.35


def pull_strays(own: Sequence[TokenSpan], max_gap: int, keep: str = "largest") -> list[TokenSpan]:
    """The word's token spans with stray tokens moved next to the rest.

    Phones of one word follow each other within a few frames; tokens `max_gap` frames or more
    apart from the others sat on some other sound that the model found a little like them, while
    the blank covered the gap. The word's tokens are cut into runs at such gaps and one run is
    kept where it is: the one with the most tokens (`keep="largest"`, ties: the later), or, for
    the first word of a stretch, the last run (`keep="last"`: the one next to the second word),
    for its last word the first run (`keep="first"`). The other tokens are moved, in order and
    each as long as it was, to touch the kept run, so the word does not reach into the music,
    noise or other voices around it. (Under babble 10 dB under the speech, the model put the
    first two or three phones of an utterance's first word in the voices a second before it.)
    """
    spans = list(own)
    cuts = [i for i in range(1, len(spans)) if spans[i].start - spans[i - 1].end >= max_gap]
    if not cuts:
        return spans
    bounds = [0, *cuts, len(spans)]
    runs = list(zip(bounds[:-1], bounds[1:], strict=True))
    if keep == "last":
        lo, hi = runs[-1]
    elif keep == "first":
        lo, hi = runs[0]
    else:
        lo, hi = max(reversed(runs), key=lambda r: r[1] - r[0])
    for i in range(lo - 1, -1, -1):  # before the kept run, from the nearest back
        t = spans[i]
        spans[i] = TokenSpan(t.token, spans[i + 1].start - len(t), spans[i + 1].start, t.score)
    for i in range(hi, len(spans)):
        t, before = spans[i], spans[i - 1]
        spans[i] = TokenSpan(t.token, before.end, before.end + len(t), t.score)
    return spans


def frame_probs(scores: torch.Tensor) -> torch.Tensor:
    """Per-frame probabilities (float64, on the CPU) of forced_align's per-frame log-probs."""
    import torch

    return torch.from_numpy(np.exp(scores.detach().cpu().to(torch.float64).numpy()))


def token_prob(span: TokenSpan) -> float:
    """A token span's mean probability clipped to [0, 1] (unnormalised emissions can pass 1)."""
    return min(1.0, max(0.0, span.score))


def word_score(spans: Sequence[TokenSpan]) -> float:
    """A word's score in [0, 1]: the frame-weighted mean probability of its token spans."""
    score = sum(token_prob(s) * len(s) for s in spans) / sum(len(s) for s in spans)
    return min(1.0, max(0.0, score))


def min_frames(tokens: Sequence[int]) -> int:
    """Frames a CTC path needs for `tokens`: one per token plus one blank between repeats."""
    return len(tokens) + sum(1 for a, b in zip(tokens, tokens[1:], strict=False) if a == b)


def build_targets(word_tokens: Sequence[Sequence[int]], separator: int | None) -> tuple[list[int], list[int]]:
    """Concatenate the words' tokens (with `separator` between words when given).

    Returns the target sequence and, per word, how many targets it owns (a separator belongs to
    the word before it), which is what `token_spans_to_words` needs to cut the path back.
    """
    targets: list[int] = []
    counts: list[int] = []
    spoken = [i for i, toks in enumerate(word_tokens) if toks]
    last = spoken[-1] if spoken else -1
    for i, toks in enumerate(word_tokens):
        targets.extend(toks)
        n = len(toks)
        if separator is not None and toks and i != last:
            targets.append(separator)
            n += 1
        counts.append(n)
    return targets, counts


def check_fits(num_frames: int, targets: Sequence[int], frame_seconds: float, num_words: int) -> None:
    """Raise a TranscriptError when the transcript cannot fit the audio at all."""
    need = min_frames(targets)
    if need > num_frames:
        raise TranscriptError(
            f"the transcript is too long for the audio: its {num_words} words need at least "
            f"{need * frame_seconds:.1f} s of speech, but the audio lasts {num_frames * frame_seconds:.1f} s "
            "(is it the right transcript for this file?)"
        )


def align_words(
    emissions: torch.Tensor,
    word_tokens: Sequence[Sequence[int]],
    texts: Sequence[str],
    frame_seconds: float,
    blank: int,
    separator: int | None = None,
    refine: Refiner | None = None,
) -> list[WordSpan]:
    """Force-align the words to (T, C) emissions and return one WordSpan per word.

    A word starts at the first frame of its first token and ends after the last frame of its
    last token, unless `refine` is given: it receives the token spans of the spoken words (and
    the separator span after each, or None) and returns their (start, end) in seconds (see
    `refine.py`). The score is the frame-weighted mean probability of the word's tokens, in [0, 1]. A word with no tokens
    (nothing pronounceable) gets a zero-length span where the previous word ends, with score 0.
    """
    import torch

    from . import forced_align  # the public entry point picks the extension or the reference

    if len(word_tokens) != len(texts):
        raise ValueError("word_tokens and texts must have the same length")
    targets, counts = build_targets(word_tokens, separator)
    if not targets:
        raise TranscriptError("none of the transcript's words could be turned into sounds to align")
    num_frames = int(emissions.shape[0])
    check_fits(num_frames, targets, frame_seconds, len(texts))
    paths, scores = forced_align(
        emissions.unsqueeze(0), torch.tensor([targets], dtype=torch.int64), blank=blank
    )
    spans = merge_tokens(paths[0], frame_probs(scores[0]), blank=blank)
    per_word = token_spans_to_words(spans, counts)
    max_gap = max(2, int(round(STRAY_GAP / frame_seconds)))
    spoken_at = [i for i, toks in enumerate(word_tokens) if toks]
    edge = ({spoken_at[0]: "last", spoken_at[-1]: "first"} if len(spoken_at) >= 2 else {})
    owns = [pull_strays(wspans[: len(toks)], max_gap, edge.get(i, "largest"))
            for i, (toks, wspans) in enumerate(zip(word_tokens, per_word, strict=True))]
    times: dict[int, tuple[float, float]] = {}
    if refine is not None:
        spoken = [i for i, own in enumerate(owns) if own]
        seps = [per_word[i][len(word_tokens[i])] if len(per_word[i]) > len(word_tokens[i]) else None
                for i in spoken]
        times = dict(zip(spoken, refine([owns[i] for i in spoken], seps), strict=True))
    words: list[WordSpan] = []
    cursor = 0.0
    for i, (text, own) in enumerate(zip(texts, owns, strict=True)):
        if not own:
            words.append(WordSpan(text, cursor, cursor, 0.0))
            continue
        start, end = times.get(i, (own[0].start * frame_seconds, own[-1].end * frame_seconds))
        words.append(WordSpan(text, start, end, word_score(own)))
        cursor = end
    return words
