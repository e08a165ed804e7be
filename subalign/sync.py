"""Re-time existing subtitles (`subalign sync`): the speech pattern first, then the words.

Subtitles people have are often not a transcript: translated, condensed, or full of sound
descriptions. So two signals are used, each where it works:

1. **Speech and the cue pattern, without the words** (`align.timeline`). A speech detector that
   holds under music and noise (`models.vad`, Silero) gives the speech activity of the audio; the
   cue timeline is mapped onto it: a global offset of any size, a rate among the usual frame-rate
   ratios, splits where a stretch was cut from (or added to) the video, and a small move of each
   cue. Each placed cue's start and end then move to the onset and end of its speech
   (`align.onsets`). This alone syncs subtitles in any language (`fast=True` stops here).
2. **Words where they match.** The model's emissions are computed only around where step 1 put
   the cues (islands of audio), and the cues' words are aligned there with a *star* between cues
   (a token any audio can be, so music, untranscribed speech and text without audio do not drag
   the neighbours; `align.anchoring`). A cue whose words are found gets its first word's refined
   start (`align.pieces`, as `subalign align` times words) — or, when speech that no cue accounts
   for runs on right before that word (opening words dropped by the subtitler), the onset of that
   speech. Cues whose words are not found keep step 1's timing, and so do cues whose words land
   more than DISAGREE from the speech step 1 placed them on (words that also fit a neighbour's
   speech, e.g. condensed text next to a dropped cue).
3. **How each cue was placed** is recorded (`CueTiming.method`): "words", "speech",
   "interpolated" (neither found it; timed by the mapping of its stretch of the file) or "nothing"
   (nothing to say, e.g. "[MUSIC]").
4. **Fail-safe**: the result is trusted when the words fit (at least `min_found` of the cues with
   words were found) or the speech pattern fits (its `pattern_confidence`, how many standard
   deviations better than shuffled patterns it fits, reaches `MIN_PATTERN`); the CLI refuses to
   write an untrusted result without `--force` (the wrong video fits neither).

Short media (under `ISLANDS_FROM` seconds) or a pattern that does not fit get emissions for the
whole file, and the cues are then found by the anchoring engine alone, from their old times.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import logging
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

# The speech pattern needs no torch; the words do (imported where the words are aligned), so
# `sync --fast` starts without importing torch.
from .align.onsets import energy_db, refine_end, refine_start
from .align.timeline import GRID, PatternFit, fit_pattern
from .errors import TranscriptError
from .formats import MediaInput, Subtitles, subtitle_format_for, write_output, write_subtitles
from .formats.jsonfile import json_document
from .media import check_audio_stream, load_audio, probe
from .models import DEFAULT_MODEL
from .models.vad import SpeechActivity, speech_activity
from .progress import Progress, job_progress, stage_progress
from .text import check_text_fits, split_words, spoken_text
from .types import Cue, WordSpan

if TYPE_CHECKING:
    import torch

    from .align.chunks import Found, Unit
    from .models import EmissionModel
    from .models.workers import Emitter

log = logging.getLogger(__name__)
#: A cue is found when the mean probability of its tokens on the best path reaches this (the
#: anchoring engine's own default, `align.anchoring.MIN_SCORE`).
MIN_SCORE = 0.25

__all__ = ["METHODS", "CueTiming", "SyncResult", "retime", "sync_subtitles"]

#: The result is trusted when at least this share of the cues with words were found.
MIN_FOUND = 0.5
#: ... or when the cue pattern fits the speech this many standard deviations better than the
#: same cues shuffled (`timeline.fit_pattern`: the whole file or either half). Measured on the
#: film of bench/sync_film.py, exact and reading-time cues, 7 damages, no cut or one of six cuts
#: of 7.7-64 s (98 cases): 7.0-46, the lowest two a cut *and* +-1 s jitter; the same subtitle
#: files on another film and on the film and the other played backwards (84 cases): -0.9-5.0.
MIN_PATTERN = 6.0
#: How far the subtitles may be off at the start (a constant offset), in seconds, when the cues
#: are found from their old times alone.
MAX_OFFSET = 75.0
#: Audio a run's window reaches beyond its cues' predicted end: a cut or added scene, in seconds.
LOOKAHEAD = 60.0
#: The largest speed-up between the subtitles' clock and the audio's (25 / 23.976 is 1.043).
MAX_STRETCH = 1.1
#: Media at least this long (s) whose cue pattern fits get emissions only around the cues.
ISLANDS_FROM = 120.0
#: Audio (s) kept around each cue's predicted place for its emissions and its search. On
#: bench/sync_film.py 0.3 s computed 6 % more audio than 0.2 s (397 s of the film's 570 s, its
#: speech being 322 s) for the same cue starts (exact: median 8 ms, p95 45 ms both; condensed
#: p95 65-128 ms with 0.3, 65-91 with 0.2); 0.6 s computed 15 % more than 0.3 s.
MARGIN = 0.2
#: The longest stretch (s) of audio around neighbouring cues computed in one model call: the
#: embedded model's cost per second grows with the call's length (attention; measured 0.067 s
#: per second of audio in 6 s calls, 0.090 in 20 s calls, 0.111 in 29.5 s calls), and a stretch
#: needs no context beyond its margins.
ISLAND_SECONDS = 8.0
#: Speech probability above which a frame of a cue placed by the speech counts as its speech,
#: and the audio (s) kept either side of that speech, when its place is cut to the speech.
TRIM_THRESHOLD = 0.5
TRIM_TAIL = 0.1
#: How far (s) beyond where the mapping puts it a cue the speech did not place is looked for.
LOOK = 30.0
#: A first word scoring below this is not trusted to start its cue.
FIRST_WORD = 0.3
#: Speech right before a cue's first word that starts this much earlier (s), after the previous
#: cue ends, belongs to the cue (its opening words were dropped from the subtitle). A short
#: dropped word ("So", "She", "When") lasts 0.1-0.25 s and the detector's onsets lag by 20-40 ms,
#: so 0.12 s (0.25 s missed them once the boundary scorers stopped stretching the first kept word
#: over them: condensed p95 63-138 -> 127-206 ms over four damages of bench/sync_film.py).
UNCLAIMED = 0.12
#: A first word refined to start more than this (s) before the speech onset near its CTC spike
#: starts at that onset instead.
EARLY = 0.1
#: Words that put a cue further than this (s) from the speech the cue pattern placed it on are
#: not trusted: the speech placement stands.
DISAGREE = 0.5
#: With many cues, the words are first looked for in groups spread over the file holding about
#: this many cues; when fewer than PROBE_SHARE of them (and fewer than PROBE_MIN) are found, the
#: text is not what is said (a translation) and no more emissions are computed: the speech
#: pattern places every cue. Other-language subtitles: 0-2 of 120 cues are found by chance;
#: condensed ones: ~95 %.
PROBE_CUES = 24
PROBE_SHARE = 0.15
PROBE_MIN = 3
#: How each cue was placed.
METHODS = ("words", "speech", "interpolated", "nothing")

_OLD_STATUS = {"words": "aligned", "speech": "aligned", "interpolated": "interpolated", "nothing": "unspoken"}


@dataclass(frozen=True)
class CueTiming:
    """The new timing of one cue: seconds, a score in [0, 1], and how it was placed (`method`,
    one of METHODS): "words" (its words were found in the audio), "speech" (placed on its speech
    by the cue pattern), "interpolated" (neither found it; timed by the mapping of its stretch of
    the file or by its neighbours) or "nothing" (nothing to say, e.g. "[MUSIC]")."""

    index: int
    start: float
    end: float
    score: float
    method: str
    words: tuple[WordSpan, ...] = ()

    @property
    def status(self) -> str:
        """The older three-way name of `method`: "aligned" (words or speech), "interpolated" or
        "unspoken"."""
        return _OLD_STATUS[self.method]


@dataclass(frozen=True)
class SyncResult:
    """Re-timed subtitles and how much of them the audio confirmed."""

    subtitles: Subtitles
    cues: tuple[CueTiming, ...]
    spoken: int  # cues with words to align
    found: int  # of those, the ones found by their words
    duration: float
    model: str
    backend: str
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    min_found: float = MIN_FOUND
    device: str = "cpu"
    pattern_confidence: float = 0.0
    rate: float = 1.0
    splits: tuple[int, ...] = ()
    mode: str = "words"

    @property
    def confidence(self) -> float:
        """Share of the cues with words that were found by their words (1.0 when none had)."""
        return self.found / self.spoken if self.spoken else 1.0

    @property
    def placed(self) -> int:
        """Cues placed by their words or their speech."""
        return sum(t.method in ("words", "speech") for t in self.cues)

    @property
    def trusted(self) -> bool:
        """Whether the words or the speech pattern fit well enough for the result to be better
        than the input."""
        words = self.spoken > 0 and self.confidence >= self.min_found and self.mode != "fast"
        return words or self.pattern_confidence >= MIN_PATTERN

    def why_untrusted(self) -> str:
        """One sentence saying what did not fit."""
        if self.mode == "fast":
            return (f"the cue pattern does not fit the speech in the audio (confidence "
                    f"{self.pattern_confidence:.1f}, needs {MIN_PATTERN:g})")
        if not self.spoken:
            return "no cue has words that can be aligned, and the cue pattern does not fit the speech"
        return (f"only {self.found} of the {self.spoken} cues with words ({self.confidence:.0%}) were "
                f"found in the audio and the cue pattern does not fit the speech (confidence "
                f"{self.pattern_confidence:.1f}, needs {MIN_PATTERN:g})")

    def meta(self) -> dict:
        from . import __version__

        methods = {m: sum(t.method == m for t in self.cues) for m in METHODS}
        return {
            "subalign": __version__,
            "command": "sync",
            "mode": self.mode,
            "model": self.model,
            "device": self.device,
            "backend": self.backend,
            "duration": round(self.duration, 3),
            "cues": len(self.cues),
            "found": self.found,
            "spoken": self.spoken,
            "confidence": round(self.confidence, 4),
            "format": self.subtitles.format,
            "pattern_confidence": round(self.pattern_confidence, 2),
            "rate": round(self.rate, 6),
            "splits": list(self.splits),
            "methods": methods,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }

    def _output_meta(self) -> dict:
        """`meta` plus each cue's status and score, which the JSON writes into its cue (the
        review page marks interpolated cues)."""
        details = [{"method": t.method, "status": t.status, "score": round(t.score, 4)} for t in self.cues]
        return {**self.meta(), "cue_details": details}

    def words(self) -> list[WordSpan]:
        """The aligned words of every cue, in cue order."""
        return [w for t in self.cues for w in t.words]

    def as_cues(self) -> list[Cue]:
        """The re-timed cues as `Cue`s (their text as the subtitles have it, their words)."""
        return [Cue(t.start, t.end, tuple(self.subtitles.cues[t.index].lines) or ("",), t.words)
                for t in self.cues]

    def save(self, path: str | Path, *, inputs: Sequence[str | Path] = (),
             media: MediaInput | str | Path | None = None) -> Path:
        """Write the result to `path`, atomically: a subtitle format (.srt, .vtt) writes the
        re-timed document (in its own format only the times change); any other known extension
        (.json, a writer plugin's) writes the cues with their words' times, scores and methods,
        and the review page (.html) and plot (.png, .svg) draw them over the `media`."""
        if subtitle_format_for(path) is not None:
            return write_subtitles(path, self.subtitles, inputs=inputs)
        return write_output(path, self.words(), self.as_cues(), inputs=inputs,
                            meta=self._output_meta(), media=media)

    def document(self) -> dict:
        """The result as the JSON document ``-o x.json`` writes (for `write_review`, ...)."""
        return json_document(self.words(), self.as_cues(), self._output_meta())


# ------------------------------------------------------------------------------------------------
# What the cues say


@dataclass
class _Cue:
    """A cue with words to align (an `align.chunks.Unit`: index, texts, tokens per word, the
    flat targets and each word's share of them), and its times in the subtitles."""

    index: int
    texts: list[str]
    word_tokens: list[list[int]]
    targets: list[int]
    counts: list[int]
    orig_start: float = 0.0
    orig_end: float = 0.0


def _sayable(subs: Subtitles) -> list[bool]:
    """Which cues say something (text left once markup, sound descriptions and labels go)."""
    return [bool(spoken_text(c.text)) for c in subs.cues]


def _spoken_cues(subs: Subtitles, acoustic: EmissionModel, language: str,
                 progress: Progress | None, emitter: Emitter | None = None) -> list[_Cue]:
    """The cues that have something to say, with their words' tokens and target sequences."""
    from .align.words import build_targets
    from .models import tokenize_words

    said: list[tuple[int, list[str], list[str]]] = []  # (cue, texts, spoken forms)
    for i, cue in enumerate(subs.cues):
        text = spoken_text(cue.text)
        try:
            words = split_words(text, language=language, name=f"cue {i + 1}") if text else []
        except TranscriptError:
            words = []
        said.append((i, [w.text for w in words], [w.spoken for w in words]))
    tokens = tokenize_words(acoustic, [f for _, _, forms in said for f in forms], language,
                            progress=(lambda share: progress("phonemes", share)) if progress else None,
                            tokenize=emitter.tokenize if emitter is not None else None)
    cues: list[_Cue] = []
    pos = 0
    for i, texts, forms in said:
        pairs = [(t, tokens[pos + k]) for k, t in enumerate(texts) if tokens[pos + k]]
        pos += len(forms)
        if pairs:
            word_tokens = [toks for _, toks in pairs]
            targets, counts = build_targets(word_tokens, acoustic.word_boundary)
            cue = subs.cues[i]
            cues.append(_Cue(i, [t for t, _ in pairs], word_tokens, targets, counts,
                             orig_start=cue.start, orig_end=cue.end))
    return cues


def _check_fits(cues: Sequence[_Cue], duration: float, frame_seconds: float) -> None:
    """Refuse subtitles with more words than the whole audio could hold (wrong file)."""
    from .align.words import min_frames

    need = sum(min_frames(c.targets) for c in cues) * frame_seconds
    if need > duration:
        raise TranscriptError(
            f"the subtitles have more words than the audio can hold: they need at least "
            f"{need:.1f} s of speech, the audio lasts {duration:.1f} s (is it the right file?)"
        )


# ------------------------------------------------------------------------------------------------
# Window policies for the words


class _OldTimes:
    """Where a run of cues may be, from their old times alone (no speech pattern): a constant
    offset (`MAX_OFFSET` before the first cue is found), a frame-rate stretch (`MAX_STRETCH`) and
    a cut or added scene (`LOOKAHEAD`), counted from the last found cue."""

    min_units = 1

    def __init__(self, fps: float, total: int) -> None:
        self.fps, self.total = fps, total
        self.ws = 0  # first frame of the next window: where the last found cue ended
        self.anchor: tuple[float, int] | None = None  # (old end, frame) of the last found cue

    def window(self, cues: Sequence[Unit], i: int, j: int) -> tuple[int, int]:
        from .align.words import min_frames

        end_orig = max(c.orig_end for c in cues[i:j])  # type: ignore[attr-defined]
        if self.anchor is None:
            hi = (max(end_orig, 0.0) * MAX_STRETCH + MAX_OFFSET + LOOKAHEAD) * self.fps
        else:
            span = max(0.0, end_orig - self.anchor[0])
            hi = self.anchor[1] + (span * MAX_STRETCH + LOOKAHEAD) * self.fps
        need = sum(min_frames(c.targets) + 1 for c in cues[i:j]) + 1
        hi = int(min(self.total, max(hi, self.ws + 2 * need)))
        return min(self.ws, max(0, hi - need)), hi

    def final_window(self, cues: Sequence[Unit], i: int, j: int, max_cells: int) -> tuple[int, int]:
        return self.window(cues, i, j)

    def found(self, cue: Unit, hit: Found) -> None:
        self.anchor = (cue.orig_end, hit.last)  # type: ignore[attr-defined]
        self.ws = hit.last

    def advanced(self, any_found: bool) -> None:
        pass


class _Predicted:
    """Where a run of cues may be, from where the speech pattern put them (frames of the
    emission matrix the run is aligned in): their predicted span with a margin, never before
    the last found cue's end."""

    min_units = 1

    def __init__(self, spans: dict[int, tuple[int, int]], total: int, margin: int) -> None:
        self.spans, self.total, self.margin = spans, total, margin
        self.ws = 0

    def window(self, cues: Sequence[Unit], i: int, j: int) -> tuple[int, int]:
        from .align.words import min_frames

        lo = min(self.spans[c.index][0] for c in cues[i:j]) - self.margin
        hi = max(self.spans[c.index][1] for c in cues[i:j]) + self.margin
        need = sum(min_frames(c.targets) + 1 for c in cues[i:j]) + 1
        lo = max(self.ws, lo, 0)
        hi = int(min(self.total, max(hi, lo + need)))
        return min(lo, max(0, hi - need)), hi

    def final_window(self, cues: Sequence[Unit], i: int, j: int, max_cells: int) -> tuple[int, int]:
        return self.window(cues, i, j)

    def found(self, cue: Unit, hit: Found) -> None:
        self.ws = hit.last

    def advanced(self, any_found: bool) -> None:
        pass


# ------------------------------------------------------------------------------------------------
# The whole job

#: Share of a sync job's time each stage takes (hama, CPU), for one progress bar with an ETA.
STAGES = {"phonemes": 0.04, "decode": 0.03, "speech": 0.05, "emissions": 0.80, "alignment": 0.08}
FAST_STAGES = {"decode": 0.3, "speech": 0.7}


def sync_subtitles(
    media: str | Path,
    subs: Subtitles,
    *,
    model: str = DEFAULT_MODEL,
    language: str = "en",
    device: str = "auto",
    dtype: str = "auto",
    audio_stream: int = 0,
    progress: bool | Progress | None = False,
    fast: bool = False,
    jobs: int | None = None,
    **options: float,
) -> SyncResult:
    """Re-time `subs` to the audio of `media`: every cue keeps its text and gets new times.

    `fast` uses the speech pattern only (no acoustic model: any language, a few seconds for a
    film). `model` is ``NAME[:ARG]`` (see `subalign models`), `device` and `dtype` go to models
    that run on torch; `progress` is a `subalign.progress.Progress` callback (or True for a bar
    on a terminal); `jobs` worker processes compute the emissions and tokens (default: the cores
    this process may use); `options` are passed to `retime` (min_score, min_found, max_cells).
    """
    info = probe(media)  # cheap checks first: no audio, or far more text than the audio holds
    check_audio_stream(info, audio_stream)
    check_text_fits([spoken_text(c.text) for c in subs.cues], info.duration, "the subtitles")
    with job_progress(progress, FAST_STAGES if fast else STAGES, "syncing") as report, \
            contextlib.ExitStack() as stack:
        t0 = time.perf_counter()
        acoustic = emitter = None
        if not fast:
            from .models import load_model
            from .models.workers import Emitter

            acoustic = load_model(model, device, dtype)
            emitter = Emitter(acoustic, model, device, dtype, jobs)
            stack.enter_context(_one_blas_thread(emitter.jobs > 1))
        if emitter is not None and emitter.jobs > 1 and len(subs.cues) >= 40:
            emitter.start()  # the workers load the model meanwhile
        tm = time.perf_counter()
        cues = None if emitter is None else _spoken_cues(subs, acoustic, language, report, emitter)
        t1 = time.perf_counter()
        rate = 16_000 if acoustic is None else acoustic.sample_rate
        waveform = load_audio(media, sample_rate=rate, stream=audio_stream, progress=report)
        if acoustic is not None:
            _check_fits(cues or [], len(waveform) / rate, acoustic.frame_seconds)
        t2 = time.perf_counter()
        result = retime(subs, waveform, None, acoustic, language=language, cues=cues,
                        progress=report, sample_rate=rate, emitter=emitter, **options)
    result.timings.update(model=tm - t0, text=t1 - tm, decode=t2 - t1, total=time.perf_counter() - t0)
    log.debug("sync: torch %s in this process", "imported" if "torch" in sys.modules else "not imported")
    return result


def _one_blas_thread(limit: bool) -> contextlib.AbstractContextManager:
    """One BLAS thread in this process while worker processes take the other cores: the speech
    detector's small matrix products gain nothing from a second thread (0.60 s alone with two,
    0.64 s with one, on a film), which spins on a core the starting workers need. A film's sync
    with OPENBLAS_NUM_THREADS=1 for the whole run: speech stage 0.68-0.74 s instead of
    0.92-1.18 s, 14.5-14.7 s instead of 14.9-15.7 s (two interleaved pairs); with this limit in
    this process only, the speech stage took 0.83-0.96 s (three runs)."""
    if not limit:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def retime(
    subs: Subtitles,
    waveform: np.ndarray,
    emissions: torch.Tensor | None,
    acoustic: EmissionModel | None,
    *,
    language: str = "en",
    cues: list[_Cue] | None = None,
    progress: Progress | None = None,
    sample_rate: int | None = None,
    min_score: float = MIN_SCORE,
    min_found: float = MIN_FOUND,
    max_cells: int | None = None,
    emitter: Emitter | None = None,
) -> SyncResult:
    """Re-time `subs` given the audio (`waveform` at the model's rate, or 16 kHz without a
    model). `emissions` (T, C) of the whole audio may be given; without them they are computed
    where needed (by `emitter`'s workers when given). Without `acoustic`, only the speech
    pattern is used (the fast mode)."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    sr = sample_rate or (acoustic.sample_rate if acoustic is not None else 16_000)
    duration = len(waveform) / sr
    sayable = _sayable(subs)
    orig = [(c.start, c.end) for c in subs.cues]

    # 1. Speech and the cue pattern.
    wave16 = waveform if sr == 16_000 else _resample(waveform, sr, 16_000)
    activity = speech_activity(wave16)
    energy = energy_db(wave16)
    timings["speech"] = time.perf_counter() - t0
    if progress is not None:
        progress("speech", 1.0)
    said = [i for i, ok in enumerate(sayable) if ok]
    collapsed = _collapsed(orig, said)  # cues whose times were lost (e.g. clipped to 0)
    fitted = [i for i in said if i not in collapsed]
    fit = (fit_pattern([(max(0.0, orig[i][0]), max(0.0, orig[i][1])) for i in fitted],
                       activity.on_grid(GRID)) if len(fitted) >= 2 else None)
    speech_times: dict[int, tuple[float, float]] = {}
    if fit is not None and fit.confidence >= MIN_PATTERN:  # a pattern that does not fit places nothing
        for i, pl in zip(fitted, fit.placements, strict=True):
            if pl.start is not None:
                speech_times[i] = (pl.start, pl.end)  # type: ignore[assignment]
        speech_times.update(_place_collapsed(collapsed, speech_times, activity, duration))

    # 2. Words where they match.
    word_hits: dict[int, tuple[float, float, tuple[WordSpan, ...], float, float]] = {}
    backend: str | None = None  # the forced-align backend the words were aligned with
    t1 = time.perf_counter()
    if acoustic is not None:
        from .models.workers import Emitter

        if cues is None:
            cues = _spoken_cues(subs, acoustic, language, None)
        _check_fits(cues, duration, acoustic.frame_seconds)
        if cues:
            trusted_pattern = fit is not None and fit.confidence >= MIN_PATTERN
            predicted = (_trimmed(_predicted(orig, said, fitted, fit, speech_times, duration), activity)
                         if trusted_pattern else {})
            word_hits, backend = _words(cues, waveform, sr, emissions, emitter or Emitter(acoustic, "", jobs=1),
                                        predicted, duration, min_score, max_cells, progress, timings)
    timings["words"] = time.perf_counter() - t1

    # 3. Times and methods, in file order, never overlapping.
    result_times, methods, scores, words = _assemble(subs, orig, sayable, fitted, fit, speech_times,
                                                     word_hits, activity, energy, duration)
    out = [CueTiming(i, s, e, scores[i], methods[i], words.get(i, ())) for i, (s, e) in enumerate(result_times)]
    spoken = len(cues) if cues is not None else sum(sayable)
    timings["align"] = time.perf_counter() - t0
    return SyncResult(
        subtitles=subs.retimed([(t.start, t.end) for t in out]),
        cues=tuple(out),
        spoken=spoken,
        found=len(word_hits),
        duration=duration,
        model=acoustic.name if acoustic is not None else "speech (silero-vad)",
        backend=backend or (_backend() if acoustic is not None else "-"),
        warnings=tuple(_warnings(subs, out)),
        timings=timings,
        min_found=min_found,
        device=str(acoustic.device) if acoustic is not None else "cpu",
        pattern_confidence=fit.confidence if fit is not None else 0.0,
        rate=fit.rate if fit is not None else 1.0,
        splits=tuple(fitted[k] for k in fit.splits) if fit is not None else (),
        mode="words" if acoustic is not None else "fast",
    )


def _backend() -> str:
    from .align import forced_align_backend

    return forced_align_backend()


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Linear resampling (for the speech detector only, when the model's rate is not 16 kHz)."""
    n = int(len(x) * dst / src)
    return np.interp(np.arange(n) * src / dst, np.arange(len(x)), x).astype(np.float32)


def _collapsed(orig: list[tuple[float, float]], said: list[int]) -> set[int]:
    """Cues whose times say nothing: runs of two or more consecutive cues with the same start
    (what clipping subtitles that were early to 0 s leaves)."""
    out: set[int] = set()
    for a, b in zip(said, said[1:], strict=False):
        if abs(orig[a][0] - orig[b][0]) < 0.002:
            out.update((a, b))
    return out


def _neighbours(i: int, placed: dict[int, tuple[float, float]], duration: float) -> tuple[float, float]:
    """The end of the placed cue before cue `i` and the start of the one after it."""
    before = max((e for k, (_, e) in placed.items() if k < i), default=0.0)
    after = min((s for k, (s, _) in placed.items() if k > i), default=duration)
    return before, max(before, after)


def _place_collapsed(collapsed: set[int], placed: dict[int, tuple[float, float]],
                     activity: SpeechActivity, duration: float) -> dict[int, tuple[float, float]]:
    """Collapsed cues on the stretches of speech between their placed neighbours, in order,
    the last ones nearest the cue after them (one stretch each, while there are enough)."""
    out: dict[int, tuple[float, float]] = {}
    runs: list[list[int]] = []
    for i in sorted(collapsed):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    segments = activity.segments(min_gap=0.3)
    for run in runs:
        lo, hi = _neighbours(run[0], placed, duration)
        inside = [(a, b) for a, b in segments if a >= lo and b <= hi]
        for i, (a, b) in zip(reversed(run), reversed(inside), strict=False):
            out[i] = (a, b)
    return out


def _predicted(orig: list[tuple[float, float]], said: list[int], fitted: list[int],
               fit: PatternFit | None, placed: dict[int, tuple[float, float]],
               duration: float) -> dict[int, tuple[float, float, bool]]:
    """Where each cue with something to say should be looked for: (start, end, placed by the
    speech). A cue the speech did not place is looked for between its placed neighbours, near
    where the mapping of its stretch puts it."""
    out: dict[int, tuple[float, float, bool]] = {}
    offsets = dict(zip(fitted, (p.offset for p in fit.placements), strict=True)) if fit else {}
    rate = fit.rate if fit is not None else 1.0
    for i in said:
        if i in placed:
            out[i] = (*placed[i], True)
            continue
        lo, hi = _neighbours(i, placed, duration)
        if i in offsets:
            s, e = (max(0.0, x) * rate + offsets[i] for x in orig[i])
            lo, hi = max(lo, s - LOOK), min(hi, e + LOOK)
        out[i] = (lo, max(lo, hi), False)
    return out


def _trimmed(predicted: dict[int, tuple[float, float, bool]],
             activity: SpeechActivity) -> dict[int, tuple[float, float, bool]]:
    """The places of the cues the speech placed, cut to the speech detected in them (with
    `TRIM_TAIL` s kept either side): subtitles stay up for reading after the words, and the
    words are all that needs emissions. A place with no speech detected is kept whole."""
    fs = activity.frame_seconds
    out = dict(predicted)
    for i, (s, e, by_speech) in predicted.items():
        if not by_speech:
            continue
        a, b = max(0, int(s / fs)), min(len(activity.probs), int(np.ceil(e / fs)))
        on = np.flatnonzero(activity.probs[a:b] > TRIM_THRESHOLD)
        if len(on):
            out[i] = (max(s, (a + on[0]) * fs - TRIM_TAIL), min(e, (a + on[-1] + 1) * fs + TRIM_TAIL), True)
    return out


def _words(cues: list[_Cue], waveform: np.ndarray, sr: int, emissions: torch.Tensor | None,
           emitter: Emitter, predicted: dict[int, tuple[float, float, bool]], duration: float,
           min_score: float, max_cells: int | None, progress: Progress | None,
           timings: dict[str, float],
           ) -> tuple[dict[int, tuple[float, float, tuple[WordSpan, ...], float, float]], str | None]:
    """Cues found by their words: (start, end, words, score, CTC start of the first word) by cue
    index, and the forced-align backend that aligned them (None: nothing was aligned). With
    `predicted` places (the speech pattern fits), each cue is looked for there, and on long media
    only the audio around those places gets emissions: each stretch is one job (`_align_island`)
    that a worker process computes and aligns, a probe of them first."""
    acoustic = emitter.model
    fs = acoustic.frame_seconds
    hop = int(round(fs * sr))
    total = len(waveform) // hop + 1
    trusted_pattern = bool(predicted)
    use_islands = trusted_pattern and duration >= ISLANDS_FROM and emissions is None
    if use_islands:
        islands = _islands([(predicted[c.index][0] - MARGIN, predicted[c.index][1] + MARGIN)
                            for c in cues], fs, total, min(ISLAND_SECONDS, emitter.window_seconds() or 120.0))
    else:
        islands = [(0, total)]
    jobs: list[_Island] = []
    for (lo, hi), members in zip(islands, _members(cues, islands, predicted, fs) if use_islands else [cues],
                                 strict=True):
        if members:
            spans = ({c.index: (int(predicted[c.index][0] / fs) - lo, int(predicted[c.index][1] / fs) - lo)
                      for c in members} if trusted_pattern else None)
            jobs.append(_Island(lo, waveform[lo * hop : min(len(waveform), hi * hop)], members, spans))
    pieces_out: dict[int, tuple[float, float, tuple[WordSpan, ...], float, float]] = {}
    backends: set[str] = set()
    te = time.perf_counter()
    spent = {"emissions": 0.0, "alignment": 0.0}

    def run(batch: list[int]) -> tuple[int, int]:
        """The jobs in `batch` (emissions, then the words, in the workers): (cues looked for,
        cues found)."""
        looked = found = 0
        if emissions is not None or not use_islands:  # one job: its emissions by all the workers
            part = (emissions if emissions is not None
                    else emitter.emit(waveform, progress=stage_progress(progress, "emissions", duration)))
            spent["emissions"] += time.perf_counter() - te
            results = iter([(0, _align_island(acoustic, jobs[batch[0]], min_score, max_cells, part))])
        else:
            results = emitter.run_each(_align_island, [(jobs[k], min_score, max_cells) for k in batch],
                                       sum(len(jobs[k].audio) for k in batch) / sr)
        for j, (out, hits, t_emit, t_align, backend) in results:  # type: ignore[misc]
            pieces_out.update(out)
            backends.add(backend)
            found += hits
            looked += len(jobs[batch[j]].members)
            spent["emissions"] += t_emit
            spent["alignment"] += t_align
            if progress is not None:
                progress("emissions", min(1.0, looked / max(1, len(cues))))
                progress("alignment", min(1.0, looked / max(1, len(cues))))
        return looked, found

    order = list(range(len(jobs)))
    probe = _probe(jobs) if use_islands else []
    if probe:
        looked, found = run(probe)
        timings["probe_found"] = found / max(1, looked)
        if found < max(PROBE_MIN, PROBE_SHARE * looked):  # the words are not the speech: stop here
            log.info("sync: %d of %d cues probed were found by their words: the text is not what is "
                     "said; the speech pattern places the cues", found, looked)
            order = []
        else:
            order = [k for k in order if k not in set(probe)]
    if order:
        run(order)
    timings["emissions_cpu"] = spent["emissions"]  # summed over the workers
    timings["alignment_cpu"] = spent["alignment"]
    timings["emitted_seconds"] = sum(len(jobs[k].audio) for k in set(probe) | set(order)) / sr
    return pieces_out, min(backends) if backends else None


@dataclass
class _Island:
    """One stretch of audio to align cues in (a worker's job): its first frame in the file, its
    samples, the cues, and their predicted frames in it (None: search by their old times)."""

    lo: int
    audio: np.ndarray
    members: list[_Cue]
    spans: dict[int, tuple[int, int]] | None


def _align_island(acoustic: EmissionModel, job: _Island, min_score: float, max_cells: int | None,
                  part: torch.Tensor | None = None,
                  ) -> tuple[dict[int, tuple[float, float, tuple[WordSpan, ...], float, float]], int, float, float, str]:
    """A job's emissions (unless given) and its cues found and aligned in them: (the found cues'
    times and words by cue index, how many were found, seconds computing emissions, seconds
    aligning, the forced-align backend). Runs in a worker process (module-level: it is sent by
    name): the workers import torch and build or load the extension (under a file lock, once),
    this process need not (it saves a second of a film's sync)."""
    from .align import forced_align_backend
    from .align.anchoring import anchor_units
    from .align.chunks import ChunkAligner

    t0 = time.perf_counter()
    if part is None:
        part = acoustic.emit(np.asarray(job.audio, dtype=np.float32))
    t1 = time.perf_counter()
    fs = acoustic.frame_seconds
    hop = int(round(fs * acoustic.sample_rate))
    frames = int(part.shape[0])
    policy: object = (_Predicted(job.spans, frames, int(MARGIN / fs)) if job.spans is not None
                      else _OldTimes(1.0 / fs, frames))
    hits = anchor_units(ChunkAligner(part, acoustic.blank, acoustic.word_boundary), job.members,
                        policy, min_score=min_score, max_cells=max_cells)  # type: ignore[arg-type]
    out = _refined(job.members, hits, part, job.audio, job.lo, hop, acoustic)
    return out, len(hits), t1 - t0, time.perf_counter() - t1, forced_align_backend()


def _members(cues: list[_Cue], islands: list[tuple[int, int]], predicted: dict[int, tuple[float, float, bool]],
             fs: float) -> list[list[_Cue]]:
    """The cues of each island (frame ranges sorted by start): those whose predicted middle lies
    in it, in cue order (one pass over the cues; a cue in two overlapping islands is in both)."""
    out: list[list[_Cue]] = [[] for _ in islands]
    starts = [lo * fs for lo, _ in islands]
    reach = list(itertools.accumulate((hi * fs for _, hi in islands), max))  # the furthest end so far
    for c in cues:
        mid = sum(predicted[c.index][:2]) / 2
        k = bisect.bisect_right(starts, mid) - 1
        while k >= 0 and mid < reach[k]:  # no island before k reaches mid once reach[k] <= mid
            if mid < islands[k][1] * fs:
                out[k].append(c)
            k -= 1
    return out


def _probe(jobs: list[_Island]) -> list[int]:
    """Jobs evenly spread over the file holding about PROBE_CUES cues (none when there are
    few): aligned first, they tell whether the subtitles' words are what is said at all."""
    n = sum(len(j.members) for j in jobs)
    if n < 3 * PROBE_CUES:
        return []
    picks = max(1, min(len(jobs), round(PROBE_CUES * len(jobs) / n)))
    return sorted({int((k + 0.5) * len(jobs) / picks) for k in range(picks)})


def _islands(spans: list[tuple[float, float]], fs: float, total: int,
             longest_seconds: float = 120.0) -> list[tuple[int, int]]:
    """Frame ranges covering the spans (seconds): overlapping spans merged while the range
    stays within `longest_seconds` (the model's own window, so that each range is one model
    call and no audio is computed twice for context)."""
    ranges = sorted((max(0, int(s / fs)), min(total, int(np.ceil(e / fs)) + 1)) for s, e in spans)
    out: list[tuple[int, int]] = []
    longest = int(longest_seconds / fs)
    for a, b in ranges:
        if b <= a:
            continue
        if out and a <= out[-1][1] and b - out[-1][0] <= longest:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _refined(members: list[_Cue], hits: dict[int, Found], part: torch.Tensor, samples: np.ndarray,
             lo: int, hop: int, acoustic: EmissionModel) -> dict[int, tuple[float, float, tuple[WordSpan, ...], float, float]]:
    """The found cues' words aligned again as short files with the boundary refinement (as
    `subalign align` times words): (start, end, words, score) by cue index, in seconds. `part`
    and `samples` (the emissions and audio of the stretch) start at frame `lo` of the file. The
    speech detector that bounds the refinement runs on each piece's own audio, as in `align`
    (bench/sync_film.py: its values over the whole film, computed once, put exact cues' starts a
    median 15 ms off instead of 11-12)."""
    from .align.pieces import AudioWindow, SentenceUnit, align_pieces, plan_pieces
    from .align.refine import refinable

    fs = acoustic.frame_seconds
    units: list[SentenceUnit] = []
    by_unit: dict[int, _Cue] = {}
    found: dict[int, Found] = {}
    pos = 0
    for k, c in enumerate(members):
        if c.index not in hits:
            continue
        u = SentenceUnit(k, c.texts, c.word_tokens, c.targets, c.counts,
                         index_words=tuple(range(pos, pos + len(c.texts))))
        pos += len(c.texts)
        units.append(u)
        by_unit[k] = c
        found[k] = hits[c.index]
    if not units:
        return {}
    frames = int(part.shape[0])
    pieces = plan_pieces(units, found, 1.0 / fs, frames)
    audio = None
    if refinable(acoustic):
        seg = samples[: frames * hop]
        step = 10 * acoustic.sample_rate
        audio = AudioWindow(iter([seg[i : i + step] for i in range(0, len(seg), step)]))
    spans = align_pieces(pieces, part, acoustic, found, audio, refine=audio is not None)
    offset = lo * fs
    out: dict[int, tuple[float, float, tuple[WordSpan, ...], float, float]] = {}
    for u in units:
        ws = tuple(WordSpan(spans[i].text, spans[i].start + offset, spans[i].end + offset, spans[i].score)
                   for i in u.index_words if i in spans)
        if not ws:
            continue
        f = found[u.index]
        out[by_unit[u.index].index] = (ws[0].start, ws[-1].end, ws, min(1.0, max(0.0, float(f.score))),
                                       f.first * fs + offset)
    return out


def _assemble(subs: Subtitles, orig: list[tuple[float, float]], sayable: list[bool], fitted: list[int],
              fit: PatternFit | None, speech_times: dict[int, tuple[float, float]],
              word_hits: dict[int, tuple[float, float, tuple[WordSpan, ...], float, float]],
              activity: SpeechActivity, energy: np.ndarray, duration: float):
    """Each cue's (start, end), method, score and words, in file order and never overlapping."""
    n = len(orig)
    methods = ["interpolated"] * n
    scores = [0.0] * n
    words: dict[int, tuple[WordSpan, ...]] = {}
    placed: dict[int, tuple[float, float]] = {}
    for i in range(n):
        if not sayable[i]:
            methods[i] = "nothing"
    # Cues found by their words: the first word's start, or the onset of speech no other cue
    # claims right before it (opening words the subtitle left out).
    prev_end = 0.0
    for i in range(n):
        if i in word_hits:
            s, e, ws, score, heard = word_hits[i]
            first_ok = ws and ws[0].score >= FIRST_WORD
            start = s if first_ok else refine_start(s, activity, energy, lo=prev_end)
            # The boundary refinement may reach into music or noise before the first word; the
            # speech detector's onset near the CTC spike bounds it.
            onset = refine_start(heard, activity, energy, lo=prev_end, hi=heard)
            if start < onset - EARLY:
                start = onset
            onset = _unclaimed_onset(start, prev_end, activity)
            if onset is not None:
                start = refine_start(onset, activity, energy, lo=prev_end, hi=start)
            if i in speech_times and abs(start - speech_times[i][0]) > DISAGREE:
                # the words landed far from the speech the cue pattern gave this cue: words
                # that also fit a neighbour's speech (condensed text next to a dropped cue)
                prev_end = max(prev_end, speech_times[i][1])
                continue
            placed[i] = (start, max(e, start))
            methods[i], scores[i], words[i] = "words", score, ws
            prev_end = placed[i][1]
        elif i in speech_times:
            prev_end = max(prev_end, speech_times[i][1])
    # Cues placed by their speech: onsets refined, between the neighbours already placed.
    keys = sorted(set(placed) | set(speech_times))
    for n_k, i in enumerate(keys):
        if i in placed:
            continue
        s, e = speech_times[i]
        before = max((placed[k][1] for k in keys[:n_k] if k in placed), default=0.0)
        after = min((placed[k][0] for k in keys[n_k + 1 :] if k in placed), default=duration)
        start = refine_start(s, activity, energy, lo=before, hi=after)
        end = refine_end(e, activity, energy, lo=start, hi=after)
        if start >= after:
            continue  # no room left between cues found by their words: leave it to the mapping
        placed[i] = (start, max(start, end))
        methods[i], scores[i] = "speech", _coverage(activity, start, end)
    # The rest: the mapping of their stretch (the pattern's rate and offset), or, without a
    # pattern that fits, the offsets of the placed neighbours.
    times = dict(placed)
    mapped: dict[int, tuple[float, float]] = {}
    if fit is not None and fit.confidence >= MIN_PATTERN:
        offsets = _stretch_offsets(fitted, fit, n)
        for i in range(n):
            if i not in placed:
                o = offsets[i]
                mapped[i] = (max(0.0, orig[i][0]) * fit.rate + o, max(0.0, orig[i][1]) * fit.rate + o)
    rest = _interpolate(orig, placed, duration, mapped)
    times.update(rest)
    # File order, and a placed cue shows at least as long as it did before, up to the start of
    # the next cue.
    ordered = sorted(times)
    latest = 0.0
    for i in ordered:
        s, e = times[i]
        latest = max(latest, s)
        times[i] = (latest, max(latest, e))
    for k, i in enumerate(ordered):
        s, e = times[i]
        ceiling = times[ordered[k + 1]][0] if k + 1 < len(ordered) else max(duration, e)
        if i in placed:
            e = max(e, min(s + max(0.0, orig[i][1] - orig[i][0]), ceiling))
        times[i] = (s, max(s, min(e, ceiling) if k + 1 < len(ordered) else e))
    return [times[i] for i in range(n)], methods, scores, words


def _unclaimed_onset(start: float, prev_end: float, activity: SpeechActivity) -> float | None:
    """The start of the speech stretch that runs on into `start`, when it began at least
    UNCLAIMED seconds earlier and after `prev_end` (speech no cue accounts for), else None."""
    fr = activity.frame_seconds
    k = int(start / fr)
    probs = activity.probs
    if k <= 0 or k >= len(probs) or probs[min(k, len(probs) - 1)] < 0.5 and probs[max(0, k - 1)] < 0.5:
        return None
    j = k
    while j > 0 and probs[j - 1] >= 0.5:
        j -= 1
    onset = j * fr
    if start - onset >= UNCLAIMED and onset >= prev_end + 0.05:
        return onset
    return None


def _coverage(activity: SpeechActivity, start: float, end: float) -> float:
    fr = activity.frame_seconds
    seg = activity.probs[int(start / fr) : max(int(start / fr) + 1, int(end / fr))]
    return float(np.clip(seg.mean(), 0.0, 1.0)) if len(seg) else 0.0


def _stretch_offsets(said: list[int], fit: PatternFit, n: int) -> list[float]:
    """The offset of every cue's stretch of the file (cues with nothing to say take their
    neighbour's)."""
    offsets = [0.0] * n
    known = dict(zip(said, (p.offset for p in fit.placements), strict=True))
    last = next(iter(known.values()), 0.0)
    for i in range(n):
        if i in known:
            last = known[i]
        offsets[i] = last
    return offsets


def _interpolate(
    orig: Sequence[tuple[float, float]], placed: dict[int, tuple[float, float]], duration: float,
    mapped: dict[int, tuple[float, float]] | None = None,
) -> dict[int, tuple[float, float]]:
    """Times for the cues not in `placed`.

    A cue in `mapped` (times from the speech pattern's mapping) keeps them; any other keeps its
    original start plus an offset interpolated (in original time) between the median offsets of
    up to three placed cues on each side, so a constant offset, a stretch or a cut between them
    carries over. Starts are then kept between the placed neighbours and in file order, and each
    end stops at the next cue's start.
    """
    mapped = mapped or {}
    anchors = sorted(placed)
    if not anchors and not mapped:
        return {i: orig[i] for i in range(len(orig))}
    offsets = {k: placed[k][0] - orig[k][0] for k in anchors}
    starts: dict[int, float] = {}
    ceilings: dict[int, float] = {}
    prev = 0.0
    for i in range(len(orig)):
        if i in placed:
            prev = placed[i][1]
            continue
        pos = bisect.bisect_left(anchors, i)
        left, right = anchors[max(0, pos - 3) : pos], anchors[pos : pos + 3]
        o_start = orig[i][0]
        if i in mapped:
            start = mapped[i][0]
        elif left and right:
            lo_off = statistics.median(offsets[k] for k in left)
            hi_off = statistics.median(offsets[k] for k in right)
            a, b = orig[left[-1]][0], orig[right[0]][0]
            w = 0.5 if b <= a else min(1.0, max(0.0, (o_start - a) / (b - a)))
            start = o_start + lo_off + w * (hi_off - lo_off)
        elif left or right:
            start = o_start + statistics.median(offsets[k] for k in (left or right))
        else:
            start = o_start
        ceiling = placed[right[0]][0] if right else max(duration, prev)
        starts[i] = prev = min(max(start, prev), ceiling)
        ceilings[i] = ceiling
    out: dict[int, tuple[float, float]] = {}
    for i, start in starts.items():
        nxt = starts.get(i + 1, ceilings[i])
        length = (mapped[i][1] - mapped[i][0]) if i in mapped else max(0.0, orig[i][1] - orig[i][0])
        end = min(start + length, max(nxt, start), ceilings[i])
        out[i] = (start, max(start, end))
    return out


def _warnings(subs: Subtitles, timings: Sequence[CueTiming]) -> list[str]:
    """One line naming the cues that neither their words nor their speech placed."""
    missing = [t for t in timings if t.method == "interpolated"]
    if not missing:
        return []
    shown = []
    for t in missing[:5]:
        cue = subs.cues[t.index]
        text = " ".join(cue.text.split())
        text = text if len(text) <= 40 else text[:39] + "…"
        shown.append(f'cue {t.index + 1} (line {cue.line}) "{text}"')
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    noun = "cue was" if len(missing) == 1 else "cues were"
    return [
        f"{len(missing)} {noun} found neither by their words nor by their speech and got times "
        f"from their neighbours: {', '.join(shown)}{more}"
    ]

