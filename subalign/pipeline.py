"""The whole `align` job as one readable chain: media + text → words → cues.

Each step is a stage with a small interface (media, text, models, align, cues); this module only
wires them together and reports progress.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .align import forced_align_backend
from .align.pieces import refine_at_pauses
from .align.refine import boundary_refiner, refinable
from .align.words import align_words, build_targets, check_fits
from .cues import NETFLIX, CueStyle, Finding, check_cues, get_style, group_cues
from .errors import TranscriptError
from .formats import MediaInput, write_output
from .formats.jsonfile import json_document
from .media import MediaInfo, check_audio_stream, load_audio, probe
from .models import DEFAULT_MODEL, load_model, tokenize_words
from .models.workers import Emitter
from .progress import Progress, job_progress, stage_progress
from .text import Word, check_text_fits, split_words
from .types import Cue, WordSpan

#: Media longer than this (or of unknown length) take the long-media chain (`subalign.longform`).
LONG_SECONDS = 600.0
#: A word is *heard* when it was found and its tokens' mean probability is at least this.
MIN_WORD_SCORE = 0.5
#: The result is trusted when at least this share of the transcript's words were heard. Measured
#: by bench/transcript_check.py: right transcripts (clean, and with noise or music at 10 dB SNR)
#: 0.59 at the lowest, other text or another language 0.33 at the highest.
MIN_HEARD = 0.45


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
    language: str = "en"

    @property
    def missing(self) -> list[int]:
        """Indices of the words that were not found in the audio."""
        return [i for i, w in enumerate(self.words) if not w.found]

    @property
    def confidence(self) -> float:
        """Share of the transcript's words the audio confirms: found, with a mean token
        probability of at least `MIN_WORD_SCORE` (1.0 for an empty transcript)."""
        heard = sum(1 for w in self.words if w.found and w.score >= MIN_WORD_SCORE)
        return heard / len(self.words) if self.words else 1.0

    @property
    def trusted(self) -> bool:
        """Whether enough words were heard for the transcript to belong to the audio: below
        `MIN_HEARD` it is likely another text, language or recording, and the CLI refuses to
        write the result without --force."""
        return self.confidence >= MIN_HEARD

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
            "language": self.language,
            "confidence": round(self.confidence, 4),
            "words_not_found": len(self.missing),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }

    def save(self, path: str | Path, *, inputs: Sequence[str | Path] = (),
             karaoke: bool | None = None, media: MediaInput | str | Path | None = None) -> Path:
        """Write the words and cues to `path` in the format its extension names (.srt, .vtt,
        .ass, .ttml, .json or a writer plugin's…; the review page .html and the plot .png/.svg
        also need the `media`), atomically; `inputs` are never overwritten. `karaoke`: word
        highlighting (see `subalign.formats.write_output`)."""
        return write_output(path, self.words, self.cues, inputs=inputs, meta=self.meta(),
                            karaoke=karaoke, media=media)

    def document(self) -> dict:
        """The result as the JSON document ``-o x.json`` writes (for `write_review`, ...)."""
        return json_document(self.words, self.cues, self.meta())


def cue_style_for(style: CueStyle | str | None, fps: float | None) -> CueStyle:
    """The style to use for media with frame rate ``fps`` (None: no video): the media's rate
    unless the style already names one."""
    chosen = get_style(style if style is not None else NETFLIX)
    return chosen.with_(fps=fps) if chosen.fps is None else chosen


#: Share of an align job's time each stage takes (hama, CPU), for one progress bar with an ETA.
STAGES = {"phonemes": 0.16, "decode": 0.02, "emissions": 0.79, "alignment": 0.03}
#: The same for the long-media chain.
LONG_STAGES = {"phonemes": 0.02, "emissions": 0.90, "anchoring": 0.04, "pieces": 0.04}


def align_media(
    media: str | Path,
    text: str,
    *,
    model: str = DEFAULT_MODEL,
    language: str = "en",
    device: str = "auto",
    dtype: str = "auto",
    audio_stream: int = 0,
    progress: bool | Progress | None = False,
    style: CueStyle | str | None = None,
    refine: bool = True,
    long: bool | None = None,
    jobs: int | None = None,
) -> Alignment:
    """Align `text` (a plain transcript) to the audio of `media` and group the words into cues
    that keep `style` (default Netflix; the media's frame rate is filled in), with a report of
    the rules the cues still break.

    `model` is ``NAME[:ARG]`` (see `subalign models`); `device` (auto, cpu, cuda[:N]) and `dtype`
    (auto, float32, float16, bfloat16) go to models that run on torch. `progress` is a
    `subalign.progress.Progress` callback, or True for one bar on stderr when it is a terminal.

    `refine` moves word boundaries from the CTC spikes to the acoustic boundaries (align/refine.py)
    when the model ships fitted weights; False gives the plain Viterbi times.

    Media longer than `LONG_SECONDS` (10 minutes), or of unknown length, take the long-media
    chain (`subalign.longform`: streamed, bounded memory, words not in the audio reported as not
    found instead of being given times); `long` True or False forces one chain or the other.

    `jobs` worker processes compute the emissions and tokenize a long text (default: the cores
    this process may use; 1: all in this process); the result does not depend on it.
    """
    t0 = time.perf_counter()
    info = probe(media)
    check_audio_stream(info, audio_stream)  # no audio is said first, whatever the text
    check_text_fits(text, info.duration)  # cheap: before any G2P or model work
    cue_style = cue_style_for(style, info.fps)
    words = split_words(text, language=language)
    acoustic = load_model(model, device, dtype)
    emitter = Emitter(acoustic, model, device, dtype, jobs)
    if emitter.parallel(info.duration or float("inf")):
        emitter.start()  # the workers load the model meanwhile
    if long is None:
        long = info.duration is None or info.duration > LONG_SECONDS
    with job_progress(progress, LONG_STAGES if long else STAGES, "aligning") as report:
        word_tokens = tokenize_words(acoustic, [w.spoken for w in words], language,
                                     progress=(lambda s: report("phonemes", s)) if report else None,
                                     tokenize=emitter.tokenize)
        if not any(word_tokens):
            raise TranscriptError("none of the transcript's words could be turned into sounds to align")
        if long:
            result = _align_long(media, info, words, word_tokens, emitter, cue_style, audio_stream,
                                 refine, report, t0)
        else:
            result = _align_whole(media, info, words, word_tokens, emitter, cue_style, audio_stream,
                                  refine, report, t0)
    return replace(result, language=language)


def _align_whole(media: str | Path, info: MediaInfo, words: list[Word], word_tokens: list[list[int]],
                 emitter: Emitter, cue_style: CueStyle, audio_stream: int, refine: bool,
                 report: Progress | None, t0: float) -> Alignment:
    """`align_media` in one pass: the whole waveform and its emissions in memory."""
    acoustic = emitter.model
    timings: dict[str, float] = {}
    separator = acoustic.word_boundary
    targets, _ = build_targets(word_tokens, separator)
    if info.duration is not None:  # fail before decoding when the text cannot possibly fit
        check_fits(int(info.duration / acoustic.frame_seconds) + 1, targets,
                   acoustic.frame_seconds, len(words))
    timings["text"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    waveform = load_audio(media, sample_rate=acoustic.sample_rate, stream=audio_stream, progress=report)
    timings["decode"] = time.perf_counter() - t1
    duration = len(waveform) / acoustic.sample_rate

    t2 = time.perf_counter()
    emissions = emitter.emit(waveform, progress=stage_progress(report, "emissions", duration))
    timings["emissions"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    refiner = boundary_refiner(acoustic, waveform, emissions) if refine else None
    texts = [w.text for w in words]
    spans = align_words(emissions, word_tokens, texts, acoustic.frame_seconds,
                        blank=acoustic.blank, separator=separator)
    if refiner is not None:  # sentences with pauses between them are refined one by one
        spans = (refine_at_pauses(words, word_tokens, spans, emissions, waveform, acoustic)
                 or align_words(emissions, word_tokens, texts, acoustic.frame_seconds,
                                blank=acoustic.blank, separator=separator, refine=refiner))
    if report is not None:
        report("alignment", 1.0)
    spans = [WordSpan(s.text, min(s.start, duration), min(s.end, duration), s.score) for s in spans]
    cues = group_cues(spans, cue_style, media_end=duration)
    findings = check_cues(cues, cue_style)
    timings["align"] = time.perf_counter() - t3
    return Alignment(spans, cues, duration, acoustic.name, forced_align_backend(), timings,
                     cue_style, findings, device=str(acoustic.device),
                     boundaries="refined" if refiner is not None else "plain")


def _align_long(media: str | Path, info: MediaInfo, words: list[Word], word_tokens: list[list[int]],
                emitter: Emitter, cue_style: CueStyle, audio_stream: int, refine: bool,
                report: Progress | None, t0: float) -> Alignment:
    """`align_media` for long media (`subalign.longform`), then cues as usual."""
    from .longform import align_long

    acoustic = emitter.model
    timings: dict[str, float] = {"text": time.perf_counter() - t0}
    result = align_long(media, words, word_tokens, acoustic, stream=audio_stream,
                        expected_seconds=info.duration, refine=refine, progress=report,
                        emit=emitter.emit)
    timings.update(result.timings)
    t3 = time.perf_counter()
    heard = [w for w in result.words if w.found]
    cues = group_cues(heard, cue_style, media_end=result.duration)
    findings = check_cues(cues, cue_style)
    timings["cues"] = time.perf_counter() - t3
    refined = refine and refinable(acoustic)
    return Alignment(result.words, cues, result.duration, acoustic.name, forced_align_backend(), timings,
                     cue_style, findings, device=str(acoustic.device),
                     boundaries="refined" if refined else "plain", method="long")
