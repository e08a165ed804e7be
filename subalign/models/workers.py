"""Model work in parallel worker processes: emissions window by window, and tokenizing.

The embedded model's engine uses one core and holds the interpreter while it runs, so threads do
not make it faster; processes do (two processes computed two of its windows in 6.6 s where one took
13.6 s: 2.06x). A `ModelPool` starts `jobs` worker processes, each loading the model once, and
hands them the model's own windows (`EmissionModel.window_plan`): each window is computed exactly
as the model computes it in one process, so the stitched frames are the same whatever the number
of workers. Tokenizing a long text is split across the same workers.

Workers start with 'forkserver' (a clean process that already imported subalign; never 'fork',
which is unsafe once torch has started threads), or 'spawn' where there is none. Ctrl-C (or any
error) stops the workers at once: the main process only waits on them, so it reacts immediately
even while a worker is inside the engine.

`Emitter` is what the orchestrators use: the pool when one is worth starting (several cores,
enough audio, a model with a window plan), else the model itself in this process.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .base import EmissionModel, Window

if TYPE_CHECKING:
    import torch

__all__ = ["MIN_POOL_SECONDS", "Emitter", "ModelPool", "default_jobs"]

#: Less audio than this (s) is not worth starting workers for.
MIN_POOL_SECONDS = 60.0
#: Fewer distinct spoken forms than this are tokenized in this process.
MIN_POOL_FORMS = 400

_worker_model: list[EmissionModel] = []


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _init(spec: str, device: str, dtype: str) -> None:
    """Worker start: one torch thread and one BLAS thread (the workers are the parallelism), the
    model loaded once. NumPy's BLAS otherwise starts a thread per core in every worker, and its
    spinning threads took the other workers' cores: a sync of a 10-minute film computed its
    emissions in 28 core-seconds instead of 23 and aligned in 3.3 instead of 1.9."""
    import torch  # the forkserver imported it already (its preload)

    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # for the life of the worker
    from .registry import load_model

    _worker_model.append(load_model(spec, device, dtype))


def _run_window(samples: np.ndarray) -> np.ndarray:
    return np.asarray(_worker_model[0].emit_window(samples), dtype=np.float32)


def _noop() -> None:
    return None


def _call(fn: Callable, args: tuple) -> object:
    return fn(_worker_model[0], *args)


def _tokenize(forms: list[str], language: str | None) -> list[list[int]]:
    return _worker_model[0].tokenize(forms, language)


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # torch once in the forkserver, not in each worker: they align (this module does not
        # import it, so that a main process that only tokenizes and plans goes without)
        ctx.set_forkserver_preload(["torch", "subalign.models.workers"])
        return ctx
    return multiprocessing.get_context("spawn")


class ModelPool:
    """`jobs` worker processes holding the model named `spec` (started on first use)."""

    def __init__(self, spec: str, device: str, dtype: str, jobs: int) -> None:
        self.spec, self.device, self.dtype, self.jobs = spec, device, dtype, max(1, jobs)
        self._executor: cf.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> cf.ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = cf.ProcessPoolExecutor(
                    max_workers=self.jobs, mp_context=_context(), initializer=_init,
                    initargs=(self.spec, self.device, self.dtype))
            return self._executor

    def map_windows(self, segments: Iterable[np.ndarray],
                    done: Callable[[int], None] | None = None) -> list[np.ndarray]:
        """The model's output for each segment, in order; `done` hears each index finished."""
        out: dict[int, np.ndarray] = {}
        for k, frames in self._as_done(_run_window, [(np.ascontiguousarray(s, dtype=np.float32),) for s in segments]):
            out[k] = frames  # type: ignore[assignment]
            if done is not None:
                done(k)
        return [out[k] for k in range(len(out))]

    def iter_calls(self, fn: Callable, calls: Sequence[tuple]) -> Iterator[tuple[int, object]]:
        """(index, `fn(model, *calls[index])`) for each call, run in the workers (with their
        model) and yielded as each finishes; `fn` must be a module-level function."""
        return self._as_done(_call, [(fn, args) for args in calls])

    def _as_done(self, task: Callable, calls: Sequence[tuple]) -> Iterator[tuple[int, object]]:
        """(index, `task(*calls[index])`) in the workers, as each finishes; an error, Ctrl-C or a
        caller that stops early (GeneratorExit) stops the workers at once."""
        pool = self._pool()
        futures = [pool.submit(task, *args) for args in calls]
        try:
            index = {f: k for k, f in enumerate(futures)}
            for f in cf.as_completed(futures):
                yield index[f], f.result()
        except BaseException:
            self.close(kill=True)
            raise

    def start(self) -> None:
        """Start the workers without waiting for them. Starting a process waits until the
        forkserver has imported torch (~1 s), so a thread does it while this process goes on
        (a failure shows at the first real call)."""
        pool = self._pool()

        def go() -> None:
            with contextlib.suppress(Exception):
                for _ in range(self.jobs):
                    pool.submit(_noop)

        threading.Thread(target=go, name="subalign-workers-start", daemon=True).start()

    def tokenize(self, forms: Sequence[str], language: str | None,
                 here: Callable[[list[str], str | None], list[list[int]]] | None = None) -> list[list[int]]:
        """`model.tokenize(forms, language)`, split across the workers; with `here` (this
        process's own tokenize) this process works too, from the last chunk back, while the
        workers (maybe still starting) take chunks from the first: no one waits for another."""
        pool = self._pool()
        size = max(1, -(-len(forms) // (8 * self.jobs)))
        chunks = [list(forms[i : i + size]) for i in range(0, len(forms), size)]
        futures = [pool.submit(_tokenize, c, language) for c in chunks]
        results: list[list[list[int]] | None] = [None] * len(chunks)
        try:
            if here is not None:
                for k in range(len(chunks) - 1, -1, -1):
                    if not futures[k].cancel():
                        break  # a worker has it already
                    results[k] = here(chunks[k], language)
            return [toks for k, f in enumerate(futures)
                    for toks in (results[k] if results[k] is not None else f.result())]
        except BaseException:
            self.close(kill=True)
            raise

    def close(self, kill: bool = False) -> None:
        """Stop the workers (at once with `kill`)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        if kill:
            for proc in list(getattr(executor, "_processes", {}).values()):
                with contextlib.suppress(Exception):
                    proc.kill()
        executor.shutdown(wait=not kill, cancel_futures=True)


_pools: dict[tuple[str, str, str, int], ModelPool] = {}


def _shared_pool(spec: str, device: str, dtype: str, jobs: int) -> ModelPool:
    """One pool per model and size in this process, kept for later jobs (the Python API may align
    many files in a row), stopped when the process exits."""
    key = (spec, device, dtype, jobs)
    if key not in _pools:
        _pools[key] = ModelPool(spec, device, dtype, jobs)
    return _pools[key]


@atexit.register
def _close_pools() -> None:
    for pool in _pools.values():
        pool.close(kill=True)


class Emitter:
    """Emissions and tokens of one job: in `jobs` worker processes when that pays, else here.

    `spec`, `device`, `dtype` name the model as `load_model` does (the workers load their own
    copy); `model` is this process's copy.
    """

    def __init__(self, model: EmissionModel, spec: str, device: str = "auto", dtype: str = "auto",
                 jobs: int | None = None) -> None:
        self.model = model
        self.jobs = default_jobs() if jobs is None else max(1, int(jobs))
        self.spec, self.device, self.dtype = spec, device, dtype

    def _pool(self) -> ModelPool | None:
        return _shared_pool(self.spec, self.device, self.dtype, self.jobs) if self.jobs > 1 else None

    def window_seconds(self) -> float | None:
        """The longest audio the model takes in one call (None: no window plan)."""
        plan = self.model.window_plan(int(3600 * self.model.sample_rate))
        if not plan:
            return None
        return (plan[0].stop - plan[0].start) / self.model.sample_rate

    def parallel(self, seconds: float) -> bool:
        """Whether `seconds` of audio go to the workers."""
        return (self.jobs > 1 and seconds >= MIN_POOL_SECONDS
                and self.model.window_plan(int(seconds * self.model.sample_rate)) is not None)

    def emit(self, waveform: np.ndarray, progress: Callable[[float], None] | None = None) -> torch.Tensor:
        """`model.emit(waveform)`, computed by the workers when that pays (same frames)."""
        wav = np.ascontiguousarray(np.asarray(waveform, dtype=np.float32).reshape(-1))
        seconds = len(wav) / self.model.sample_rate
        if not self.parallel(seconds):
            return self.model.emit(wav, progress=progress)
        plan = self.model.window_plan(len(wav))
        assert plan is not None
        return emit_windows(plan, wav, self.model, self._pool().map_windows, progress)  # type: ignore[union-attr]

    def emit_many(self, segments: Sequence[np.ndarray],
                  progress: Callable[[float], None] | None = None) -> list[torch.Tensor]:
        """`emit` of each segment (e.g. the stretches of audio around cues), their windows all
        computed by the workers together when that pays."""
        total = sum(len(s) for s in segments) / self.model.sample_rate
        if not self.parallel(total):
            return [self.model.emit(np.asarray(s, dtype=np.float32), progress=progress) for s in segments]
        flat, owner = [], []
        for k, seg in enumerate(segments):
            wav = np.ascontiguousarray(np.asarray(seg, dtype=np.float32).reshape(-1))
            for w in self.model.window_plan(len(wav)) or []:
                flat.append(wav[w.start : w.stop])
                owner.append((k, w))
        hop = int(round(self.model.frame_seconds * self.model.sample_rate))

        def done(i: int) -> None:
            if progress is not None:
                w = owner[i][1]
                progress((w.keep_stop - w.keep_start) * hop / self.model.sample_rate)

        outs = self._pool().map_windows(flat, done)  # type: ignore[union-attr]
        parts: list[list[np.ndarray]] = [[] for _ in segments]
        for (k, w), out in zip(owner, outs, strict=True):
            parts[k].append(np.asarray(w.core(out, hop), dtype=np.float32))
        import torch

        return [torch.from_numpy(np.concatenate(p, axis=0)) for p in parts]

    def run_each(self, fn: Callable, calls: Sequence[tuple], seconds: float) -> Iterator[tuple[int, object]]:
        """(index, `fn(model, *calls[index])`) for each call, as each finishes: in the workers
        (each with its own model) when `seconds` of audio are worth it, else here in order.
        For jobs that compute emissions and then work on them (e.g. align a stretch of audio):
        the workers do both, and this process stays free."""
        if not self.parallel(seconds):
            for k, args in enumerate(calls):
                yield k, fn(self.model, *args)
            return
        yield from self._pool().iter_calls(fn, calls)  # type: ignore[union-attr]

    def start(self) -> None:
        """Start the workers now (they load the model while this process does other work)."""
        pool = self._pool()
        if pool is not None:
            pool.start()

    def tokenize(self, forms: Sequence[str], language: str | None) -> list[list[int]]:
        """`model.tokenize(forms, language)`, split across the workers for a long text: the
        forms that cost real work (`costly_forms`: not in the model's lexicon) go to the
        workers, the rest are answered here."""
        pool = self._pool()
        costly = self.model.costly_forms(forms, language) if pool is not None else []
        if pool is None or len(costly) < MIN_POOL_FORMS:
            return self.model.tokenize(forms, language)
        slow = dict(zip(costly, pool.tokenize(costly, language, here=self.model.tokenize), strict=True))
        rest = [f for f in forms if f not in slow]
        quick = dict(zip(rest, self.model.tokenize(rest, language), strict=True))
        return [slow[f] if f in slow else quick[f] for f in forms]


def emit_windows(plan: Sequence[Window], wav: np.ndarray, model: EmissionModel,
                 run: Callable[..., list[np.ndarray]],
                 progress: Callable[[float], None] | None = None) -> torch.Tensor:
    """The stitched cores of the model's windows, computed by `run` (segments → outputs)."""
    hop = int(round(model.frame_seconds * model.sample_rate))

    def done(k: int) -> None:
        if progress is not None:
            w = plan[k]
            progress((w.keep_stop - w.keep_start) * hop / model.sample_rate)

    outs = run([wav[w.start : w.stop] for w in plan], done)
    parts = [np.asarray(w.core(out, hop), dtype=np.float32) for w, out in zip(plan, outs, strict=True)]
    import torch

    return torch.from_numpy(np.concatenate(parts, axis=0))
