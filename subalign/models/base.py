"""The contract every acoustic model plugin meets, and the windowing they share.

A model turns spoken words into token ids (`tokenize`) and a waveform into CTC log-probabilities
(`emit`). Models that only accept a bounded amount of audio per call run in overlapping windows:
each window carries extra context on both sides and only its core frames are kept, so the stitched
frame sequence is complete, in order and without duplicates.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelError

if TYPE_CHECKING:  # torch is imported where a tensor is made: the sync of a film's main
    import torch  # process tokenizes and plans without it (its workers align)


class EmissionModel:
    """The contract of an acoustic model, with defaults for its optional parts.

    Required: `name`, `sample_rate`, `frame_seconds` (seconds per output frame, a whole number of
    samples), `vocabulary` (token strings, by id), `blank` (the CTC blank id), `tokenize` and
    `emit`. Optional, with these defaults: `word_boundary` (a token the model emits between words,
    None), `device` ("cpu"), `boundary_weights` (fitted weights for the word-boundary refinement
    of `subalign.align.refine`, which describe one model's emission timing; None: plain Viterbi
    times), `languages` and `license` (for `subalign models`).

    Built-in models derive from this class; a plugin may, or may be any object with the required
    attributes: `load_model` then wraps it (`adapt_model`) so the rest of subalign can rely on
    every attribute above.
    """

    name: str = "model"
    sample_rate: int
    frame_seconds: float
    vocabulary: Sequence[str]
    blank: int
    word_boundary: int | None = None
    device: object = "cpu"
    boundary_weights: Mapping[str, Any] | None = None
    languages: Sequence[str] | str = ()
    license: str = "?"

    def tokenize(self, words: Sequence[str], language: str | None = None) -> list[list[int]]:
        """Token ids for each word's spoken form (an empty list when nothing is pronounceable)."""
        raise NotImplementedError

    def costly_forms(self, words: Sequence[str], language: str | None = None) -> list[str]:
        """The words whose tokens cost real work (a G2P model run), worth sending to worker
        processes; the rest `tokenize` answers at once (a lexicon, a cache). Default: all."""
        return list(words)

    def emit(self, waveform: np.ndarray, progress: Callable[[float], None] | None = None) -> torch.Tensor:
        """CTC log-probabilities (T, C), T = len(waveform) // hop + 1, for a float32 mono
        waveform at `sample_rate`; `progress` gets seconds of audio as they are done."""
        raise NotImplementedError

    def window_plan(self, num_samples: int) -> list[Window] | None:
        """The independent model calls `emit` makes for `num_samples` samples (`plan_windows`),
        for models that run in windows; None (the default) for a model that runs in one go.
        With a plan, `emit_window` computes one window and the windows can go to worker
        processes (`models.workers`), giving the same frames as `emit`."""
        return None

    def emit_window(self, samples: np.ndarray) -> np.ndarray:
        """The model's (frames, C) log-probabilities for one window of `window_plan`."""
        raise NotImplementedError


#: What every model must have (the rest has defaults in `EmissionModel`).
REQUIRED = ("sample_rate", "frame_seconds", "vocabulary", "blank", "tokenize", "emit")
_OPTIONAL = ("name", "word_boundary", "device", "boundary_weights", "languages", "license")
# (a plugin's window_plan / emit_window are reached through _PluginModel.__getattr__ only when it
# derives from EmissionModel; others run in one process)


class _PluginModel(EmissionModel):
    """A plugin object that does not derive from `EmissionModel`, with the defaults filled in."""

    def __init__(self, model: Any, name: str) -> None:
        self.wrapped = model
        for attr in _OPTIONAL:
            setattr(self, attr, getattr(model, attr, getattr(EmissionModel, attr)))
        if not getattr(model, "name", None):
            self.name = name
        self.sample_rate = model.sample_rate
        self.frame_seconds = model.frame_seconds
        self.vocabulary = model.vocabulary
        self.blank = model.blank
        self._language = accepts(model.tokenize, "language")

    def tokenize(self, words: Sequence[str], language: str | None = None) -> list[list[int]]:
        if self._language and language is not None:
            return self.wrapped.tokenize(words, language=language)
        return self.wrapped.tokenize(words)

    def emit(self, waveform: np.ndarray, progress: Callable[[float], None] | None = None) -> torch.Tensor:
        return self.wrapped.emit(waveform, progress=progress)

    def __getattr__(self, attr: str) -> Any:  # anything else the plugin offers
        return getattr(self.__dict__["wrapped"], attr)


def adapt_model(model: Any, name: str = "model") -> EmissionModel:
    """`model` as an `EmissionModel`: itself when it derives from it, else wrapped with the
    defaults; a ModelError names the first required attribute it lacks."""
    for attr in REQUIRED:
        if not hasattr(model, attr):
            raise ModelError(f"model plugin {name!r} returned an object without {attr!r}")
    return model if isinstance(model, EmissionModel) else _PluginModel(model, name)


def accepts(func: Callable, param: str) -> bool:
    """Whether `func` takes a keyword argument `param` (or **kwargs)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return True
    return param in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def tokenize_words(model: EmissionModel, spoken: Sequence[str], language: str | None = None,
                   progress: Callable[[float], None] | None = None, tokenize: Callable | None = None,
                   ) -> list[list[int]]:
    """Token ids for each spoken form, the one way every job tokenizes its text: each distinct
    form is tokenized once, in batches (`progress` gets the share done); `tokenize` replaces
    `model.tokenize` (e.g. `models.workers.Emitter.tokenize`, which splits it across workers)."""
    distinct = list(dict.fromkeys(spoken))
    ids: dict[str, list[int]] = {}
    run = tokenize or model.tokenize
    step = max(256, len(distinct) // 2 + 1) if tokenize is not None else 256
    for k in range(0, len(distinct), step):
        batch = distinct[k : k + step]
        for form, toks in zip(batch, run(batch, language), strict=True):
            ids[form] = list(toks)
        if progress is not None:
            progress(min(1.0, (k + step) / len(distinct)))
    return [list(ids[form]) for form in spoken]


@dataclass(frozen=True)
class Window:
    """One model call: samples [start, stop) of which frames [keep_start, keep_stop) are kept.

    Frame indices are global (frame k covers samples [k*hop, (k+1)*hop)).
    """

    start: int
    stop: int
    keep_start: int
    keep_stop: int

    def core(self, frames: Any, hop: int) -> Any:
        """The kept frames of this window's model output `frames` (frames first)."""
        first = self.start // hop
        lo, hi = self.keep_start - first, self.keep_stop - first
        if frames.shape[0] < hi:
            raise RuntimeError(
                f"model returned {frames.shape[0]} frames for {self.stop - self.start} samples; "
                f"expected at least {hi}"
            )
        return frames[lo:hi]


def plan_windows(num_samples: int, hop: int, window: int, context: int) -> list[Window]:
    """Cut `num_samples` into model calls of at most `window` samples with `context` on each side.

    A model that emits floor(n / hop) + 1 frames for n samples gives frame k of the whole file at
    index k - start // hop of a window that starts on the hop grid, so windows start on multiples of
    `hop`. Consecutive windows keep adjacent, non-overlapping frame ranges whose union is exactly
    0 .. floor(num_samples / hop) (inclusive).
    """
    if hop <= 0 or window <= 0 or context < 0:
        raise ValueError("hop and window must be positive and context non-negative")
    total_frames = num_samples // hop + 1
    window_frames = window // hop
    context_frames = context // hop
    core = window_frames - 2 * context_frames
    if core <= 0:
        raise ValueError(f"window ({window} samples) must be longer than twice the context ({context})")
    if total_frames <= window_frames:
        return [Window(0, num_samples, 0, total_frames)]
    windows: list[Window] = []
    keep = 0
    while keep < total_frames:
        start_frame = max(0, keep - context_frames)
        stop_frame = start_frame + window_frames
        if stop_frame >= total_frames:
            # The last window reaches the end of the file and needs no right context: it keeps
            # everything to the end, and starts early enough to be a full window.
            start_frame = max(0, total_frames - window_frames)
            windows.append(Window(start_frame * hop, num_samples, keep, total_frames))
            break
        keep_stop = stop_frame - context_frames
        windows.append(Window(start_frame * hop, stop_frame * hop, keep, keep_stop))
        keep = keep_stop
    return windows


def windowed_emissions(
    run: Callable[[np.ndarray], np.ndarray],
    waveform: np.ndarray,
    hop: int,
    window: int,
    context: int,
    progress: Callable[[float], None] | None = None,
) -> torch.Tensor:
    """Run `run` (samples -> (frames, C) log-probs) over overlapping windows and stitch the cores."""
    plan = plan_windows(len(waveform), hop, window, context)
    parts: list[np.ndarray] = []
    for w in plan:
        parts.append(np.asarray(w.core(run(waveform[w.start : w.stop]), hop), dtype=np.float32))
        if progress is not None:
            progress((w.keep_stop - w.keep_start) * hop)
    import torch

    return torch.from_numpy(np.concatenate(parts, axis=0))


def iter_chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    """Consecutive slices of `items` of at most `size` elements."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def stream_emissions(
    model: EmissionModel,
    chunks: Iterable[np.ndarray],
    block_seconds: float = 300.0,
    context_seconds: float = 6.0,
    progress: Callable[[float], None] | None = None,
    emit: Callable[..., torch.Tensor] | None = None,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Emissions of a stream of audio chunks (float32 mono at the model's rate), block by block.

    Yields ``(first frame, (n, C) float32 log-probs on the CPU)`` in order; the blocks are
    consecutive and cover every frame of the whole stream exactly once, so concatenating them
    gives what `model.emit` would give for the whole waveform (up to where the model's own windows
    fall). Each block is one `model.emit` call on `block_seconds` of audio plus `context_seconds`
    on each side, of which only the core frames are kept; at most one block of audio is held.
    `emit` replaces `model.emit` (e.g. `models.workers.Emitter.emit`, which uses worker processes).
    `progress` gets seconds of audio as they are done.
    """
    import torch

    rate = int(model.sample_rate)
    hop_f = model.frame_seconds * rate
    hop = int(round(hop_f))
    if hop <= 0 or abs(hop - hop_f) > 1e-6:
        raise ValueError(f"the model's frame ({model.frame_seconds} s) is not a whole number of samples")
    block = max(1, int(block_seconds * rate) // hop) * hop
    context = int(context_seconds * rate) // hop * hop
    buf = np.empty(0, dtype=np.float32)
    buf_start = 0  # sample index of buf[0]
    keep = 0  # next frame to yield

    def run(start: int, stop: int | None, keep_stop: int | None) -> tuple[int, torch.Tensor]:
        seg = buf[start - buf_start : None if stop is None else stop - buf_start]
        core = (keep_stop - keep) if keep_stop is not None else max(1, len(seg) // hop - (keep * hop - start) // hop)
        share = core * hop / max(1, len(seg))
        out = (emit or model.emit)(seg, progress=(lambda s: progress(s * share)) if progress else None)
        out = out.detach().to("cpu", torch.float32)
        first = start // hop
        hi = out.shape[0] if keep_stop is None else keep_stop - first
        if out.shape[0] < hi or hi < keep - first:
            raise RuntimeError(f"model returned {out.shape[0]} frames for {len(seg)} samples; expected {hi}")
        return keep, out[keep - first : hi]

    for chunk in chunks:
        buf = np.concatenate([buf, np.asarray(chunk, dtype=np.float32).reshape(-1)])
        while True:
            start = max(0, keep * hop - context)
            stop = keep * hop + block + context
            if buf_start + len(buf) < stop:
                break
            keep_stop = keep + block // hop
            yield run(start, stop, keep_stop)
            keep = keep_stop
            drop = max(0, keep * hop - max(context, hop)) - buf_start
            buf = buf[drop:].copy()
            buf_start += drop
    if buf_start + len(buf) == 0:
        return
    first, out = run(max(0, keep * hop - max(context, hop)), None, None)  # never an empty call
    if out.shape[0]:
        yield first, out
