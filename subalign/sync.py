"""Re-time existing subtitles cue by cue (`subalign sync`).

The chain, top to bottom:

1. **spoken text**: each cue's text without markup, sound descriptions, music and speaker labels
   ("<i>", "[MUSIC]", "♪ … ♪", "JOHN:"), split into words with spoken forms (`subalign.text`).
2. **emissions** of the whole audio. A *star* token that any audio can be (log-probability 0 on
   every frame) sits between cues and at both ends of the target sequence, so that audio without
   subtitle text (music, untranscribed dialogue) goes to the star instead of dragging the
   neighbouring words.
3. **alignment in runs** (the anchoring engine, `align.anchoring`): consecutive cues are aligned
   together against a window of audio that is wide enough for a ±60 s offset, a frame-rate
   stretch and a cut scene (`_OldTimes`); the window of the next run starts where the last found
   cue ended, so any length of media works in bounded memory.
   A cue whose tokens score a mean probability below `min_score` is *not found* (text without
   audio, such as a scene cut from the video); it is removed and the chunk is aligned again so
   it cannot pull its neighbours. Each removed cue then gets a second chance alone between its
   found neighbours: a real cue that a neighbour without audio pushed off its speech comes back.
4. **boundaries**: a CTC model fires a little after a word begins, so each found cue's start is
   moved back to the onset of the sound energy (and its end forward to the fade), never past the
   neighbouring cue's speech.
5. **the rest**: a cue that was not found, or has nothing to say, keeps a time interpolated from
   the offsets of the nearest found cues before and after it, and is named in a warning.
6. **fail-safe**: when fewer than `min_found` of the cues with words were found, the result is
   marked unsafe; the CLI then refuses to write it without `--force`.
"""

from __future__ import annotations

import bisect
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .align import forced_align_backend
from .align.anchoring import MIN_SCORE, anchor_units
from .align.chunks import ChunkAligner, Found, Unit
from .align.words import build_targets, min_frames
from .errors import TranscriptError
from .formats import MediaInput, Subtitles, subtitle_format_for, write_output, write_subtitles
from .formats.jsonfile import json_document
from .media import load_audio
from .models import DEFAULT_MODEL, EmissionModel, load_model, tokenize_words
from .progress import Progress, job_progress, stage_progress
from .text import split_words, spoken_text
from .types import Cue, WordSpan

__all__ = ["CueTiming", "SyncResult", "retime", "sync_subtitles"]

#: The result is trusted when at least this share of the cues with words were found.
MIN_FOUND = 0.5
#: How far the subtitles may be off at the start (a constant offset), in seconds.
MAX_OFFSET = 75.0
#: Audio a chunk's window reaches beyond its cues' predicted end: a cut or added scene, in seconds.
LOOKAHEAD = 60.0
#: The largest speed-up between the subtitles' clock and the audio's (25 / 23.976 is 1.043).
MAX_STRETCH = 1.1
#: How far (s) a boundary may move from the aligned token to the onset/fade of the sound.
MAX_ONSET_SHIFT = 0.3
#: Energy above the local noise floor (dB) that counts as sound, for the boundary refinement.
ONSET_DB = 10.0


@dataclass(frozen=True)
class CueTiming:
    """The new timing of one cue: seconds, a score in [0, 1], and how it was found:
    "aligned" (its words were found in the audio), "interpolated" (its words were not found;
    timed from its neighbours) or "unspoken" (nothing to say, e.g. "[MUSIC]"; timed from its
    neighbours)."""

    index: int
    start: float
    end: float
    score: float
    status: str
    words: tuple[WordSpan, ...] = ()


@dataclass(frozen=True)
class SyncResult:
    """Re-timed subtitles and how much of them the audio confirmed."""

    subtitles: Subtitles
    cues: tuple[CueTiming, ...]
    spoken: int  # cues with words to align
    found: int  # of those, the ones found in the audio
    duration: float
    model: str
    backend: str
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    min_found: float = MIN_FOUND
    device: str = "cpu"

    @property
    def confidence(self) -> float:
        """Share of the cues with words that were found in the audio (1.0 when none had words)."""
        return self.found / self.spoken if self.spoken else 1.0

    @property
    def trusted(self) -> bool:
        """Whether enough cues were found for the result to be better than the input."""
        return self.spoken > 0 and self.confidence >= self.min_found

    def meta(self) -> dict:
        from . import __version__

        return {
            "subalign": __version__,
            "command": "sync",
            "model": self.model,
            "device": self.device,
            "backend": self.backend,
            "duration": round(self.duration, 3),
            "cues": len(self.cues),
            "found": self.found,
            "spoken": self.spoken,
            "confidence": round(self.confidence, 4),
            "format": self.subtitles.format,
        }

    def _output_meta(self) -> dict:
        """`meta` plus each cue's status and score, which the JSON writes into its cue (the
        review page marks interpolated cues)."""
        details = [{"status": t.status, "score": round(t.score, 4),
                    **({"method": t.method} if hasattr(t, "method") else {})} for t in self.cues]
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
        (.json, a writer plugin's) writes the cues with their words' times and scores, and the
        review page (.html) and plot (.png, .svg) draw them over the `media`."""
        if subtitle_format_for(path) is not None:
            return write_subtitles(path, self.subtitles, inputs=inputs)
        return write_output(path, self.words(), self.as_cues(), inputs=inputs,
                            meta=self._output_meta(), media=media)

    def document(self) -> dict:
        """The result as the JSON document ``-o x.json`` writes (for `write_review`, ...)."""
        return json_document(self.words(), self.as_cues(), self._output_meta())


# ------------------------------------------------------------------------------------------------
# 2-3. Alignment


@dataclass
class _Cue(Unit):
    """A cue with words to align, and its times in the subtitles being re-timed."""

    orig_start: float = 0.0
    orig_end: float = 0.0


class _OldTimes:
    """The window policy of `sync`: a run of cues may be where its old times say, give or take
    a constant offset (`MAX_OFFSET` before the first cue is found), a frame-rate stretch
    (`MAX_STRETCH`) and a cut or added scene (`LOOKAHEAD`), counted from the last found cue."""

    min_units = 1

    def __init__(self, fps: float, total: int) -> None:
        self.fps, self.total = fps, total
        self.ws = 0  # first frame of the next window: where the last found cue ended
        self.anchor: tuple[float, int] | None = None  # (old end, frame) of the last found cue

    def window(self, cues: Sequence[Unit], i: int, j: int) -> tuple[int, int]:
        """Frames [lo, hi) where cues[i:j] can be: from the end of the last found cue (or the
        start) to their predicted end."""
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


# ------------------------------------------------------------------------------------------------
# 4. Boundaries


def _frame_energy(waveform: np.ndarray, hop: int, frames: int) -> np.ndarray:
    """Energy (dB) of each model frame of `hop` samples."""
    n = min(frames, len(waveform) // hop)
    power = np.square(waveform[: n * hop].astype(np.float64)).reshape(n, hop).mean(axis=1)
    energy = 10 * np.log10(power + 1e-10)
    if n < frames:
        energy = np.concatenate([energy, np.full(frames - n, -100.0)])
    return energy


def _noise_floor(energy: np.ndarray, frame: int, radius: int) -> float:
    lo, hi = max(0, frame - radius), min(len(energy), frame + radius + 1)
    return float(np.percentile(energy[lo:hi], 10))


def _refine(
    found: dict[int, Found], order: list[int], energy: np.ndarray, spikes: np.ndarray, fps: float
) -> dict[int, tuple[int, int]]:
    """Cue (start, end) frames: the first token moved back to the onset of the sound, the last
    token's end moved forward to its fade. A boundary moves at most MAX_ONSET_SHIFT, only
    through frames louder than the local noise floor + ONSET_DB, and never into a frame where
    the model hears another sound (`spikes`: the most likely token per frame, -1 for blank) or
    past the neighbouring found cue."""
    limit = int(round(MAX_ONSET_SHIFT * fps))
    radius = int(3 * fps)
    out: dict[int, tuple[int, int]] = {}
    keys = [k for k in order if k in found]
    for n, k in enumerate(keys):
        f = found[k]
        prev_last = found[keys[n - 1]].last if n > 0 else 0
        next_first = found[keys[n + 1]].first if n + 1 < len(keys) else len(energy)
        start = f.first
        floor = _noise_floor(energy, start, radius) + ONSET_DB
        while (start - 1 > prev_last and f.first - start < limit and energy[start - 1] > floor
               and spikes[start - 1] in (-1, f.first_token)):
            start -= 1
        end = f.last
        floor = _noise_floor(energy, max(end - 1, 0), radius) + ONSET_DB
        while (end < next_first and end - f.last < limit and end < len(energy) and energy[end] > floor
               and spikes[end] in (-1, f.last_token)):
            end += 1
        out[k] = (start, end)
    # Where a fade and the next onset meet, split the difference.
    for a, b in zip(keys, keys[1:], strict=False):
        if out[a][1] > out[b][0]:
            mid = (out[a][1] + out[b][0]) // 2
            out[a] = (out[a][0], max(out[a][0] + 1, mid))
            out[b] = (max(mid, out[a][1]), out[b][1])
    return out


# ------------------------------------------------------------------------------------------------
# 5. Interpolation


def _interpolate(
    orig: Sequence[tuple[float, float]], placed: dict[int, tuple[float, float]], duration: float
) -> dict[int, tuple[float, float]]:
    """Times for the cues not in `placed`.

    Each keeps its original start plus an offset interpolated (in original time) between the
    median offsets of up to three placed cues on each side, so a constant offset, a stretch or a
    cut between them carries over. Starts are then kept between the placed neighbours and in
    file order, and each end stops at the next cue's start.
    """
    anchors = sorted(placed)
    if not anchors:
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
        if left and right:
            lo_off = statistics.median(offsets[k] for k in left)
            hi_off = statistics.median(offsets[k] for k in right)
            a, b = orig[left[-1]][0], orig[right[0]][0]
            w = 0.5 if b <= a else min(1.0, max(0.0, (o_start - a) / (b - a)))
            off = lo_off + w * (hi_off - lo_off)
        else:
            off = statistics.median(offsets[k] for k in (left or right))
        ceiling = placed[right[0]][0] if right else max(duration, prev)
        starts[i] = prev = min(max(o_start + off, prev), ceiling)
        ceilings[i] = ceiling
    out: dict[int, tuple[float, float]] = {}
    for i, start in starts.items():
        nxt = starts.get(i + 1, ceilings[i])
        end = min(start + max(0.0, orig[i][1] - orig[i][0]), max(nxt, start), ceilings[i])
        out[i] = (start, max(start, end))
    return out


# ------------------------------------------------------------------------------------------------
# The whole job


#: Share of a sync job's time each stage takes (hama, CPU), for one progress bar with an ETA.
STAGES = {"phonemes": 0.05, "decode": 0.03, "emissions": 0.85, "alignment": 0.07}


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
    **options: float,
) -> SyncResult:
    """Re-time `subs` to the audio of `media`: every cue keeps its text and gets new times.

    `model` is ``NAME[:ARG]`` (see `subalign models`), `device` and `dtype` go to models that run
    on torch; `progress` is a `subalign.progress.Progress` callback (or True for a bar on a
    terminal); `options` are passed to `retime` (min_score, min_found, max_cells).
    """
    with job_progress(progress, STAGES, "syncing") as report:
        t0 = time.perf_counter()
        acoustic = load_model(model, device, dtype)
        cues = _spoken_cues(subs, acoustic, language, report)
        t1 = time.perf_counter()
        waveform = load_audio(media, sample_rate=acoustic.sample_rate, stream=audio_stream,
                              progress=report)
        duration = len(waveform) / acoustic.sample_rate
        _check_fits(cues, duration, acoustic.frame_seconds)
        t2 = time.perf_counter()
        emissions = acoustic.emit(waveform, progress=stage_progress(report, "emissions", duration))
        t3 = time.perf_counter()
        result = retime(subs, waveform, emissions, acoustic, language=language, cues=cues,
                        progress=report, **options)
    result.timings.update(text=t1 - t0, decode=t2 - t1, emissions=t3 - t2, total=time.perf_counter() - t0)
    return result


def retime(
    subs: Subtitles,
    waveform: np.ndarray,
    emissions: torch.Tensor,
    acoustic: EmissionModel,
    *,
    language: str = "en",
    cues: list[_Cue] | None = None,
    progress: Progress | None = None,
    min_score: float = MIN_SCORE,
    min_found: float = MIN_FOUND,
    max_cells: int | None = None,
) -> SyncResult:
    """Re-time `subs` given the audio (`waveform` at the model's rate) and its `emissions`
    (T, C) from `acoustic`; the steps after the emissions in `sync_subtitles`."""
    t0 = time.perf_counter()
    if cues is None:
        cues = _spoken_cues(subs, acoustic, language, None)
    separator = acoustic.word_boundary
    fps = 1.0 / acoustic.frame_seconds
    duration = len(waveform) / acoustic.sample_rate
    _check_fits(cues, duration, acoustic.frame_seconds)
    found: dict[int, Found] = {}
    frames: dict[int, tuple[int, int]] = {}
    if cues:
        aligner = ChunkAligner(emissions, acoustic.blank, separator)
        found = anchor_units(aligner, cues, _OldTimes(fps, aligner.frames), min_score=min_score,
                             max_cells=max_cells,
                             progress=(lambda share: progress("alignment", share)) if progress else None)
        hop = int(round(acoustic.sample_rate / fps))
        energy = _frame_energy(waveform, hop, aligner.frames)
        best = emissions.argmax(dim=1).cpu().numpy()
        quiet = (best == acoustic.blank) | (best == separator if separator is not None else False)
        frames = _refine(found, [c.index for c in cues], energy, np.where(quiet, -1, best), fps)

    orig = [(c.start, c.end) for c in subs.cues]
    placed = {k: (s / fps, min(e / fps, duration)) for k, (s, e) in frames.items()}
    times = {**placed, **_interpolate(orig, placed, duration)}
    # A found cue shows at least as long as it did before, up to the start of the next cue.
    for k in placed:
        s, e = times[k]
        ceiling = times[k + 1][0] if k + 1 < len(orig) else max(duration, e)
        times[k] = (s, max(e, min(s + max(0.0, orig[k][1] - orig[k][0]), ceiling)))

    out: list[CueTiming] = []
    spoken = {c.index for c in cues}
    for i in range(len(subs.cues)):
        s, e = times[i]
        if i in placed:
            f = found[i]
            words = tuple(WordSpan(t, a / fps, b / fps, _unit(sc)) for t, a, b, sc in f.words)
            out.append(CueTiming(i, s, e, _unit(f.score), "aligned", words))
        else:
            out.append(CueTiming(i, s, e, 0.0, "interpolated" if i in spoken else "unspoken"))
    return SyncResult(
        subtitles=subs.retimed([(t.start, t.end) for t in out]),
        cues=tuple(out),
        spoken=len(cues),
        found=len(found),
        duration=duration,
        model=acoustic.name,
        backend=forced_align_backend(),
        warnings=tuple(_warnings(subs, out)),
        timings={"align": time.perf_counter() - t0},
        min_found=min_found,
        device=str(acoustic.device),
    )


def _unit(x: float) -> float:
    return min(1.0, max(0.0, float(x)))


def _spoken_cues(subs: Subtitles, acoustic: EmissionModel, language: str,
                 progress: Progress | None) -> list[_Cue]:
    """The cues that have something to say, with their words' tokens and target sequences."""
    said: list[tuple[int, list[str], list[str]]] = []  # (cue, texts, spoken forms)
    for i, cue in enumerate(subs.cues):
        text = spoken_text(cue.text)
        try:
            words = split_words(text, language=language, name=f"cue {i + 1}") if text else []
        except TranscriptError:
            words = []
        said.append((i, [w.text for w in words], [w.spoken for w in words]))
    tokens = tokenize_words(acoustic, [f for _, _, forms in said for f in forms], language,
                            progress=(lambda share: progress("phonemes", share)) if progress else None)
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
    need = sum(min_frames(c.targets) for c in cues) * frame_seconds
    if need > duration:
        raise TranscriptError(
            f"the subtitles have more words than the audio can hold: they need at least "
            f"{need:.1f} s of speech, the audio lasts {duration:.1f} s (is it the right file?)"
        )


def _warnings(subs: Subtitles, timings: Sequence[CueTiming]) -> list[str]:
    """One line naming the cues whose words were not found (the first few, then a count)."""
    missing = [t for t in timings if t.status == "interpolated"]
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
        f"{len(missing)} {noun} not found in the audio and got times interpolated from their "
        f"neighbours: {', '.join(shown)}{more}"
    ]
