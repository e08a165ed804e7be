"""The whole `align` job as one readable chain: media + text → words → cues.

Each step is a stage with a small interface (media, text, models, align, cues); this module only
wires them together and reports progress.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from .align import forced_align_backend
from .align.refine import boundary_refiner
from .align.words import align_words, build_targets, check_fits
from .cues import group_cues
from .errors import TranscriptError
from .media import load_audio, probe
from .models import DEFAULT_MODEL, get_model
from .progress import bar
from .text import split_words
from .types import Cue, WordSpan


@dataclass(frozen=True)
class Alignment:
    """The result of aligning a transcript to a media file."""

    words: list[WordSpan]
    cues: list[Cue]
    duration: float
    model: str
    backend: str
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    boundaries: str = "plain"  # "refined": word boundaries moved by align/refine.py

    def meta(self) -> dict:
        """What the JSON output records about how the alignment was made."""
        from . import __version__

        return {
            "subalign": __version__,
            "model": self.model,
            "backend": self.backend,
            "duration": round(self.duration, 3),
            "boundaries": self.boundaries,
        }


def _within(cue: Cue, duration: float) -> Cue:
    """The cue with its end pulled back to the end of the media (a minimum-duration extension
    may reach past it)."""
    if cue.end <= duration or cue.start >= duration:
        return cue
    return replace(cue, end=duration)


def align_media(
    media: str | Path,
    text: str,
    *,
    model: str = DEFAULT_MODEL,
    language: str = "en",
    audio_stream: int = 0,
    progress: bool = False,
    refine: bool = True,
) -> Alignment:
    """Align `text` (a plain transcript) to the audio of `media` and group the words into cues.

    `refine` moves word boundaries from the CTC spikes to the acoustic boundaries (align/refine.py)
    when the model has fitted weights; False gives the plain Viterbi times.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    info = probe(media)
    words = split_words(text, language=language)
    acoustic = get_model(model)
    separator = getattr(acoustic, "word_boundary", None)

    with bar("phonemes", len(words), "words", progress) as b:
        word_tokens = []
        for w in words:
            word_tokens.append(acoustic.tokenize([w.spoken])[0])
            if b is not None:
                b.update(1)
    targets, _ = build_targets(word_tokens, separator)
    if not targets:
        raise TranscriptError("none of the transcript's words could be turned into sounds to align")
    if info.duration is not None:  # fail before decoding when the text cannot possibly fit
        check_fits(int(info.duration / acoustic.frame_seconds) + 1, targets,
                   acoustic.frame_seconds, len(words))
    timings["text"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    waveform = load_audio(media, sample_rate=acoustic.sample_rate, stream=audio_stream, progress=progress)
    timings["decode"] = time.perf_counter() - t1
    duration = len(waveform) / acoustic.sample_rate

    t2 = time.perf_counter()
    with bar("emissions", duration, "s", progress) as b:
        emissions = acoustic.emit(waveform, progress=b.update if b is not None else None)
    timings["emissions"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    with bar("alignment", 1, "step", progress) as b:
        refiner = boundary_refiner(acoustic, waveform, emissions) if refine else None
        spans = align_words(
            emissions, word_tokens, [w.text for w in words], acoustic.frame_seconds,
            blank=acoustic.blank, separator=separator, refine=refiner,
        )
        if b is not None:
            b.update(1)
    spans = [WordSpan(s.text, min(s.start, duration), min(s.end, duration), s.score) for s in spans]
    cues = [_within(c, duration) for c in group_cues(spans)]
    timings["align"] = time.perf_counter() - t3
    return Alignment(spans, cues, duration, acoustic.name, forced_align_backend(), timings,
                     "refined" if refiner is not None else "plain")
