"""The alignment plot (``-o NAME.png`` or ``.svg``), in the spirit of torchaudio's forced-alignment
tutorials: what the model heard and how the text was laid over it, for a stretch of the media.

Three panels share the time axis:

1. **emissions**: the probability the model gives each token of the transcript (rows, in
   order) at each frame (columns), with the **best path** over them (the frames each token was
   aligned to) drawn in red — the diagonal you expect when the text matches the audio;
2. **words** over the **waveform**: each word's segment shaded (low-scoring words in orange) and
   labelled;
3. **cues**: the subtitle cues with their numbers (sync: cues placed without their words, e.g.
   by interpolation, hatched red).

The plot recomputes what it needs for its range only (`MediaInput.plot_range`, default the
first `DEFAULT_SECONDS` or the whole file when shorter, at most `MAX_SECONDS`): the audio of the
range is decoded, the same model (the result's meta names it) computes its emissions, and the
words that lie wholly inside the range are force-aligned to them again, with a wildcard (star)
token at both ends for the speech of words cut by the range's edges. So the path is the aligner's
own, on the model's own emissions; the shaded words are the result's times (after boundary
refinement, so they may sit a frame or two off the path's tokens).

matplotlib is an optional extra: ``pip install 'subalign[plot]'``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputError, TranscriptError
from ..media import iter_audio, probe
from .base import ALIGNED, MediaInput, cue_method

__all__ = ["DEFAULT_SECONDS", "MAX_SECONDS", "PlotData", "PlotWriter", "draw_plot", "plot_alignment",
           "plot_data"]

#: The range plotted when none is asked for: the first this many seconds.
DEFAULT_SECONDS = 30.0
#: The longest range a plot shows (the emission panel has one column per frame).
MAX_SECONDS = 120.0
#: Word score below which the plot shades a word orange (as the review page does).
LOW_SCORE = 0.5
INSTALL = "pip install 'subalign[plot]'"


def require_matplotlib() -> None:
    """Raise an OutputError saying what to install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise OutputError(f"writing a plot (.png, .svg) needs matplotlib: {INSTALL}") from None


class PlotWriter:
    """The alignment plot as an output format (.png or .svg); see the module docstring."""

    def __init__(self, extension: str) -> None:
        self.extension = extension

    def check(self, media: MediaInput | None) -> None:
        require_matplotlib()
        if media is None:
            raise OutputError("the alignment plot needs the media file to recompute emissions; "
                              "pass media= (the CLI does this itself)")

    def render_document(self, document: Mapping[str, Any], media: MediaInput, dest: Path) -> bytes:
        return draw_plot(plot_data(document, media), self.extension.lstrip("."))


def plot_alignment(path: str | Path, result: Any, media: str | Path, *,
                   plot_range: tuple[float, float] | None = None, model: str | None = None,
                   language: str = "en", device: str = "auto", dtype: str = "auto",
                   audio_stream: int = 0, inputs: Sequence[str | Path] = ()) -> Path:
    """Write the alignment plot of `result` (an `Alignment`, a `SyncResult`, a JSON document or
    the path of a JSON file written by ``-o x.json``) over `media` to `path` (.png or .svg),
    atomically: for `plot_range` (start, end) seconds, default the first `DEFAULT_SECONDS`.
    `model` (default: the one the result names), `language`, `device` and `dtype` recompute the
    range's emissions as the alignment did."""
    from . import write_document
    from .jsonfile import result_document

    if Path(path).suffix.lower() not in (".png", ".svg"):
        raise OutputError(f"cannot write the plot to '{path}': give a .png or .svg file name")
    source = MediaInput(Path(media), model=model, language=language, device=device, dtype=dtype,
                        audio_stream=audio_stream, plot_range=plot_range)
    if isinstance(result, str | os.PathLike):
        inputs = [*inputs, result]
    return write_document(path, result_document(result), source, inputs=inputs)


@dataclass(frozen=True)
class PlotData:
    """What the plot draws: the range (seconds), its waveform, the emission probabilities of the
    transcript's tokens (rows) per frame, the best path, the words and the cues in the range."""

    start: float
    end: float
    waveform: np.ndarray  # float32 mono at sample_rate, from `start`
    sample_rate: int
    frame_seconds: float
    probs: np.ndarray  # (rows, frames): probability of each target token at each frame
    labels: list[str]  # the token of each row
    path: list[tuple[int, int]]  # (frame, row) of every frame the path gives a token
    words: list[tuple[str, float, float, float, int, int]]  # text, start, end, score, first row, rows
    cues: list[tuple[int, float, float, str]]  # number (from 1), start, end, status (sync)
    title: str


def plot_range(media: MediaInput, duration: float) -> tuple[float, float]:
    """The (start, end) seconds to plot: `media.plot_range` within the file, else the first
    `DEFAULT_SECONDS`; an OutputError for a range that is empty, outside the file or too long."""
    if media.plot_range is None:
        return 0.0, min(DEFAULT_SECONDS, duration)
    start, end = media.plot_range
    end = min(end, duration)
    if not (math.isfinite(start) and start >= 0):
        raise OutputError(f"the plot range must start at 0 s or later, got {start:g}")
    if start >= duration:
        raise OutputError(f"the plot range starts at {start:g} s, after the media's end ({duration:.3f} s)")
    if end <= start:
        raise OutputError(f"the plot range {start:g}:{end:g} is empty; give START:END with END > START")
    if end - start > MAX_SECONDS:
        raise OutputError(f"the plot range {start:g}:{end:g} is {end - start:.0f} s long; a plot shows "
                          f"at most {MAX_SECONDS:.0f} s (one column per frame): give a shorter --plot-range")
    return start, end


def _audio_range(path: Path, rate: int, stream: int, start: float, end: float) -> np.ndarray:
    """The audio between `start` and `end` seconds, decoded as a stream (stops after `end`)."""
    first, last = int(round(start * rate)), int(round(end * rate))
    parts: list[np.ndarray] = []
    at = 0
    chunks = iter_audio(path, sample_rate=rate, stream=stream, chunk_seconds=10.0)
    with contextlib.closing(chunks):
        for chunk in chunks:
            lo, hi = max(first - at, 0), min(last - at, chunk.size)
            if hi > lo:
                parts.append(chunk[lo:hi])
            at += chunk.size
            if at >= last:
                break
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _spoken_tokens(model: Any, texts: Sequence[str], language: str) -> list[list[int]]:
    """Each word's tokens, from its spoken form as the aligner made it (`split_words`)."""
    from ..models import tokenize_words
    from ..text import split_words

    pieces: list[list[str]] = []
    for text in texts:
        try:
            pieces.append([w.spoken for w in split_words(text, language=language)])
        except TranscriptError:
            pieces.append([])
    flat = tokenize_words(model, [p for ps in pieces for p in ps], language)
    out, at = [], 0
    for ps in pieces:
        out.append([t for toks in flat[at : at + len(ps)] for t in toks])
        at += len(ps)
    return out


def plot_data(document: Mapping[str, Any], media: MediaInput) -> PlotData:
    """Everything the plot draws, for the range `media.plot_range` (see the module docstring)."""
    import torch

    from ..align import forced_align, merge_tokens
    from ..align.words import build_targets, min_frames
    from ..models import load_model

    meta = document.get("meta") or {}
    spec = media.model or str(meta.get("model") or "hama")
    model = load_model(spec, media.device, media.dtype)
    path = Path(media.path).expanduser()
    duration = probe(path).duration or float(meta.get("duration") or 0.0)
    start, end = plot_range(media, duration)
    waveform = _audio_range(path, model.sample_rate, media.audio_stream, start, end)
    if waveform.size == 0:
        raise OutputError(f"no audio between {start:g} and {end:g} s in '{path}'")
    end = start + waveform.size / model.sample_rate
    emissions = model.emit(waveform).float().cpu()
    frames, classes = emissions.shape
    fs = model.frame_seconds

    inside = [w for w in document["words"]
              if w.get("found", True) is not False and w.get("start") is not None
              and w["start"] >= start and w["end"] <= end]
    tokens = _spoken_tokens(model, [w["text"] for w in inside], media.language)
    kept = [(w, t) for w, t in zip(inside, tokens, strict=True) if t]
    if not kept:
        raise OutputError(f"no aligned words lie between {start:g} and {end:g} s; choose another --plot-range")
    targets, counts = build_targets([t for _, t in kept], model.word_boundary)
    star = classes  # the wildcard: any audio, for speech of words cut by the range's edges
    full = [star, *targets, star]
    if min_frames(full) > frames:
        raise OutputError(f"the range {start:g}:{end:g} is too short for its {len(kept)} words")
    paths, scores = forced_align(emissions.unsqueeze(0), torch.tensor([full]), blank=model.blank, star=star)
    spans = merge_tokens(paths[0], scores[0].exp(), blank=model.blank)
    path_points: list[tuple[int, int]] = []
    if len(spans) == len(full):  # one span per target (see align.spans)
        for row, span in enumerate(spans[1:-1]):
            path_points.extend((f, row) for f in range(span.start, span.end))
    probs = emissions[:, targets].exp().numpy().T
    vocabulary = list(model.vocabulary)
    labels = [vocabulary[t] if 0 <= t < len(vocabulary) else str(t) for t in targets]
    words, row = [], 0
    for (w, _), n in zip(kept, counts, strict=True):
        words.append((str(w["text"]), float(w["start"]), float(w["end"]), float(w.get("score", 0)), row, n))
        row += n
    cues = [(k + 1, float(c["start"]), float(c["end"]), cue_method(c))
            for k, c in enumerate(document["cues"]) if c["end"] > start and c["start"] < end]
    title = f"{path.name} · {start:.2f}–{end:.2f} s · {model.name} · {len(words)} words"
    return PlotData(start, end, waveform, model.sample_rate, fs, probs, labels, path_points,
                    words, cues, title)


def _envelope(waveform: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min and max of the waveform in `columns` equal slices, and the slices' centre indices (a
    light drawing of a long waveform, also in SVG)."""
    n = waveform.size
    columns = max(1, min(columns, n))
    edges = np.linspace(0, n, columns + 1).astype(int)
    lo = np.minimum.reduceat(waveform, edges[:-1])
    hi = np.maximum.reduceat(waveform, edges[:-1])
    return (edges[:-1] + edges[1:]) / 2, lo, hi


def draw_plot(data: PlotData, fmt: str = "png") -> bytes:
    """The plot of `data` as a PNG or SVG file's bytes."""
    require_matplotlib()
    from matplotlib.figure import Figure

    seconds = data.end - data.start
    rows = max(1, len(data.labels))
    width = min(28.0, max(10.0, 4.0 + 0.5 * seconds))
    heat = min(8.0, max(2.6, 0.035 * rows))
    fig = Figure(figsize=(width, heat + 3.4), dpi=100, layout="constrained")
    grid = fig.add_gridspec(3, 2, height_ratios=[heat, 2.6, 0.55], width_ratios=[1, 0.012])
    ax_e = fig.add_subplot(grid[0, 0])
    ax_w = fig.add_subplot(grid[1, 0], sharex=ax_e)
    ax_c = fig.add_subplot(grid[2, 0], sharex=ax_e)
    fs, t0 = data.frame_seconds, data.start
    frames = data.probs.shape[1]

    image = ax_e.imshow(data.probs, aspect="auto", origin="upper", cmap="viridis", vmin=0, vmax=1,
                        interpolation="nearest", extent=(t0, t0 + frames * fs, rows - 0.5, -0.5))
    if data.path:
        xs = [t0 + (f + 0.5) * fs for f, _ in data.path]
        ys = [r for _, r in data.path]
        ax_e.plot(xs, ys, color="#ff2d55", linewidth=0.9, marker=".", markersize=2.2, label="best path")
        ax_e.legend(loc="upper right", fontsize=8, framealpha=0.8)
    for text, start, end, _score, first, n in data.words:  # beside the word's stretch of path
        right = end < data.end - 0.08 * seconds  # right of it, or left of it near the end
        ax_e.text(end + fs if right else start - fs, first + (n - 1) / 2, text, fontsize=7, color="white",
                  ha="left" if right else "right", va="center", clip_on=True,
                  bbox={"boxstyle": "square,pad=0.1", "fc": "black", "ec": "none", "alpha": 0.5})
    if rows <= 70:
        ax_e.set_yticks(range(rows), data.labels, fontsize=7 if rows > 35 else 8)
    else:
        ax_e.set_yticks([])
    ax_e.set_ylabel(f"transcript tokens ({rows})")
    ax_e.set_title(f"emission probabilities of the transcript's tokens, and the best path — {data.title}",
                   fontsize=10, loc="left")
    ax_e.tick_params(labelbottom=False)
    bar = fig.add_subplot(grid[0, 1])
    fig.colorbar(image, cax=bar).set_label("probability", fontsize=8)

    x, lo, hi = _envelope(data.waveform, int(width * 100 * 2))
    times = t0 + x / data.sample_rate
    ax_w.fill_between(times, lo, hi, color="#5b6b7f", linewidth=0)
    peak = float(max(np.abs(lo).max(initial=0), np.abs(hi).max(initial=0), 1e-4))
    ax_w.set_ylim(-peak * 1.25, peak * 1.25)
    for k, (text, start, end, score, _first, _n) in enumerate(data.words):
        low = score < LOW_SCORE
        ax_w.axvspan(start, end, color="#f97316" if low else "#3b82f6", alpha=0.28 if low else 0.18, linewidth=0)
        ax_w.axvline(start, color="#1d4ed8", linewidth=0.5, alpha=0.6)
        level = (0.97, 0.87, 0.77)[k % 3]
        ax_w.text((start + end) / 2, level, text, transform=ax_w.get_xaxis_transform(), ha="center",
                  va="top", fontsize=7.5, color="#9a3412" if low else "#1f2328", clip_on=True)
    ax_w.set_yticks([])
    ax_w.set_ylabel("waveform")
    ax_w.set_title(f"word segments (orange: score below {LOW_SCORE:.1f})", fontsize=9, loc="left")
    ax_w.tick_params(labelbottom=False)

    for number, start, end, status in data.cues:
        placed = status not in ALIGNED  # sync: placed without its words (interpolated, ...)
        ax_c.broken_barh([(start, end - start)], (0, 1), facecolors="#fde8e8" if placed else "#c7d7ec",
                         edgecolors="#dc2626" if placed else "#4b6b99", linewidth=0.8,
                         hatch="///" if placed else None)
        label = f"{number} ({status})" if placed else str(number)
        ax_c.text(max(start, t0) + 0.02 * (end - start), 0.5, label, va="center", fontsize=8, clip_on=True)
    ax_c.set_yticks([])
    ax_c.set_ylabel("cues", rotation=0, ha="right", va="center")
    ax_c.set_xlim(t0, data.end)
    ax_c.set_xlabel("time (s)")
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": "subalign"}
    fig.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()
