"""From emissions and per-word token ids to timed words."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import TranscriptError
from ..types import TokenSpan, WordSpan
from .spans import merge_tokens, token_spans_to_words


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
) -> list[WordSpan]:
    """Force-align the words to (T, C) emissions and return one WordSpan per word.

    A word starts at the first frame of its first token and ends after the last frame of its
    last token; its score is the mean probability of its tokens. A word with no tokens (nothing
    pronounceable) gets a zero-length span where the previous word ends, with score 0.
    """
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
    spans = merge_tokens(paths[0], scores[0], blank=blank)
    per_word = token_spans_to_words(spans, counts)
    words: list[WordSpan] = []
    cursor = 0.0
    for text, toks, wspans in zip(texts, word_tokens, per_word, strict=True):
        own: list[TokenSpan] = wspans[: len(toks)]  # drop the trailing separator
        if not own:
            words.append(WordSpan(text, cursor, cursor, 0.0))
            continue
        start = own[0].start * frame_seconds
        end = own[-1].end * frame_seconds
        score = sum(s.score * len(s) for s in own) / sum(len(s) for s in own)
        words.append(WordSpan(text, start, end, min(1.0, max(0.0, score))))
        cursor = end
    return words
