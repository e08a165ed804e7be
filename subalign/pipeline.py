"""The whole `align` job as one readable chain: media + text → words → cues.

Each step is a stage with a small interface (media, text, models, align, cues); this module only
wires them together and reports progress.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .align import forced_align_backend
from .align.refine import boundary_refiner, refinable
from .align.words import align_words, build_targets, check_fits
from .cues import group_cues
from .errors import TranscriptError
from .longform import LONG_SECONDS, align_long, refine_at_pauses
from .media import MediaInfo, load_audio, probe
from .plugins import DEFAULT_MODEL, load_model, tokenize_words
from .progress import bar
from .rules import Finding, check_cues
from .style import NETFLIX, CueStyle, get_style
from .text import Word, split_words
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
    style: CueStyle = NETFLIX
    report: list[Finding] = field(default_factory=list)
    device: str = "cpu"
    boundaries: str = "plain"  # "refined": word boundaries moved by align/refine.py
    method: str = "whole"  # "long": streamed and aligned piece by piece (subalign/longform.py)

    @property
    def missing(self) -> list[int]:
        """Indices of the words that were not found in the audio."""
        return [i for i, w in enumerate(self.words) if not w.found]

    def meta(self) -> dict:
        """What the JSON output records about how the alignment was made; its ``report`` (the
        rules the cues still break) becomes the JSON's top-level ``report``."""
        from . import __version__

        return {
            "subalign": __version__,
            "model": self.model,
            "device": self.device,
            "backend": self.backend,
            "duration": round(self.duration, 3),
            "style": self.style.as_dict(),
            "report": [f.as_dict() for f in self.report],
            "boundaries": self.boundaries,
            "method": self.method,
            "words_not_found": len(self.missing),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def cue_style_for(style: CueStyle | str | None, fps: float | None) -> CueStyle:
    """The style to use for media with frame rate ``fps`` (None: no video): the media's rate
    unless the style already names one."""
    chosen = get_style(style if style is not None else NETFLIX)
    return chosen.with_(fps=fps) if chosen.fps is None else chosen


def align_media(
    media: str | Path,
    text: str,
    *,
    model: str = DEFAULT_MODEL,
    language: str = "en",
    device: str = "auto",
    dtype: str = "auto",
    audio_stream: int = 0,
    progress: bool = False,
    style: CueStyle | str | None = None,
    refine: bool = True,
    long: bool | None = None,
) -> Alignment:
    """Align `text` (a plain transcript) to the audio of `media` and group the words into cues
    that keep `style` (default Netflix; the media's frame rate is filled in), with a report of
    the rules the cues still break.

    `model` is ``NAME[:ARG]`` (see `subalign models`); `device` (auto, cpu, cuda[:N]) and `dtype`
    (auto, float32, float16, bfloat16) go to models that run on torch.

    `refine` moves word boundaries from the CTC spikes to the acoustic boundaries (align/refine.py)
    when the model has fitted weights; False gives the plain Viterbi times.

    Media longer than `LONG_SECONDS` (10 minutes), or of unknown length, take the long-media
    chain (`subalign.longform`: streamed, bounded memory, words not in the audio reported as not
    found instead of being given times); `long` True or False forces one chain or the other.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    info = probe(media)
    cue_style = cue_style_for(style, info.fps)
    words = split_words(text, language=language)
    acoustic = load_model(model, device, dtype)
    separator = getattr(acoustic, "word_boundary", None)

    if long is None:
        long = info.duration is None or info.duration > LONG_SECONDS
    if long:
        return _align_long(media, info, words, acoustic, cue_style, language, audio_stream, progress, refine, t0)

    with bar("phonemes", len(words), "words", progress) as b:
        word_tokens = []
        for w in words:
            word_tokens.append(tokenize_words(acoustic, [w.spoken], language)[0])
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
        texts = [w.text for w in words]
        spans = align_words(emissions, word_tokens, texts, acoustic.frame_seconds,
                            blank=acoustic.blank, separator=separator)
        if refiner is not None:  # sentences with pauses between them are refined one by one
            spans = (refine_at_pauses(words, word_tokens, spans, emissions, waveform, acoustic)
                     or align_words(emissions, word_tokens, texts, acoustic.frame_seconds,
                                    blank=acoustic.blank, separator=separator, refine=refiner))
        if b is not None:
            b.update(1)
    spans = [WordSpan(s.text, min(s.start, duration), min(s.end, duration), s.score) for s in spans]
    cues = group_cues(spans, cue_style, media_end=duration)
    report = check_cues(cues, cue_style)
    timings["align"] = time.perf_counter() - t3
    return Alignment(spans, cues, duration, acoustic.name, forced_align_backend(), timings,
                     cue_style, report, device=str(getattr(acoustic, "device", "cpu")),
                     boundaries="refined" if refiner is not None else "plain")


#: Share of a long job's time each stage takes (measured on hama, CPU), for one bar with an ETA.
_STAGES = {"phonemes": 0.02, "emissions": 0.90, "anchoring": 0.04, "pieces": 0.04}


def _align_long(media: str | Path, info: MediaInfo, words: list[Word], acoustic, cue_style: CueStyle,
                language: str, audio_stream: int, progress: bool, refine: bool, t0: float) -> Alignment:
    """`align_media` for long media: one progress bar over the whole job, then cues as usual."""
    timings: dict[str, float] = {}
    with bar("aligning", 100.0, "%", progress) as b:
        done: dict[str, float] = {}

        def report(stage: str, share: float) -> None:
            if b is None:
                return
            done[stage] = min(1.0, max(0.0, share))
            b.update(sum(_STAGES[k] * v for k, v in done.items()) * 100 - b.n)

        word_tokens = []
        for n, w in enumerate(words):
            word_tokens.append(tokenize_words(acoustic, [w.spoken], language)[0])
            if n % 256 == 0:
                report("phonemes", (n + 1) / len(words))
        report("phonemes", 1.0)
        if not any(word_tokens):
            raise TranscriptError("none of the transcript's words could be turned into sounds to align")
        timings["text"] = time.perf_counter() - t0
        result = align_long(media, words, word_tokens, acoustic, stream=audio_stream,
                            expected_seconds=info.duration, refine=refine, progress=report)
    timings.update(result.timings)
    t3 = time.perf_counter()
    heard = [w for w in result.words if w.found]
    cues = group_cues(heard, cue_style, media_end=result.duration)
    report_ = check_cues(cues, cue_style)
    timings["cues"] = time.perf_counter() - t3
    refined = refine and refinable(acoustic)
    return Alignment(result.words, cues, result.duration, acoustic.name, forced_align_backend(), timings,
                     cue_style, report_, device=str(getattr(acoustic, "device", "cpu")),
                     boundaries="refined" if refined else "plain", method="long")
