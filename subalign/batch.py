"""Batch runs over a media library (`subalign batch`, `run_batch`): many align and sync jobs, on
one machine (worker processes) or on a Ray cluster (Ray actors).

**Items.** A folder is scanned (recursively, hidden files skipped) for media files; each is
paired with the file of the same stem beside it by the first rule of `PAIRING` that finds one:
a transcript ``STEM.txt`` makes an *align* item, a subtitle file ``STEM.<ext>`` of any subtitle
format in the format table (`subalign.formats.FORMATS`: .srt and .vtt today, and whatever it
learns) a *sync* item. A manifest (CSV with a header row, or JSON lines) names the items itself:
``media``, ``text`` or ``subtitles``, optionally ``output`` and ``language``. Outputs go to
OUT_DIR (mirroring the folder's sub-folders), named after the media with the ``to`` extension.

*Subtitles inside the media* (the media file's own subtitle stream, `subalign sync MEDIA` once
the formats work lands) fit this design: a `subtitle_stream` field on `BatchItem`, a last
`PAIRING` rule that offers the media's first text subtitle stream when no file partners it,
and a branch in `run_item` that calls the single command's sync of an embedded stream. Today a
media file with no partner fails its item with a message saying what it looked for.

**Each item is exactly one single command** (`subalign.jobs.align_file` / `sync_file`), so it
fails with the same one-line message the single command prints, and only that item fails.

**Local executor.** Worker processes, because the embedded model's engine holds the GIL (threads
would run one at a time). Each worker loads the model once, when it starts, and then runs item
after item. The workers are `multiprocessing` processes with one pipe each rather than a
`concurrent.futures.ProcessPoolExecutor`: when a worker dies (killed, out of memory, a crash in
native code) a process pool marks itself broken and fails *every* pending item without saying
which one was running; with one pipe per worker the parent knows which item a dead worker held,
fails that item alone and starts a fresh worker for the rest. Workers start with 'forkserver'
(Linux) or 'spawn', never 'fork': the parent has imported torch and may run threads (the progress
bar, Ray), and forking a process with threads can deadlock the child.

**Ray executor.** The same items as calls on Ray actors, one per CPU of the cluster (or
``jobs``); each actor loads the model once. Paths must mean the same on every node (shared
storage mounted at the same place).

**Record and resume.** ``OUT_DIR/batch.json`` lists every item (`ItemResult`) and is rewritten
atomically as items finish (at most once a second, and at the end). A rerun skips items whose
output is newer than their inputs (``redo`` forces them). Outputs are written atomically
(`subalign.formats.write_text`); on Ctrl-C or SIGTERM the workers are stopped (their temporary
files removed by their own clean-up, or by the parent when a worker had to be killed).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .cues import CueStyle, get_style
from .errors import OutputError, SubalignError
from .formats import subtitle_format_for, supported_extensions, write_text
from .jobs import align_file, sync_file
from .models import DEFAULT_MODEL
from .progress import Progress, StageShares, job_progress

log = logging.getLogger(__name__)

__all__ = [
    "MEDIA_EXTENSIONS",
    "PAIRING",
    "BatchInterrupted",
    "BatchItem",
    "BatchOptions",
    "ItemResult",
    "default_jobs",
    "find_items",
    "read_manifest",
    "run_batch",
    "run_item",
]

#: File extensions taken for media when a folder is scanned (anything ffmpeg reads works in a
#: manifest).
MEDIA_EXTENSIONS = frozenset({
    ".wav", ".mp3", ".flac", ".m4a", ".m4b", ".aac", ".ogg", ".oga", ".opus", ".wma", ".aif",
    ".aiff", ".ac3", ".amr", ".mka", ".mp4", ".m4v", ".mkv", ".mov", ".webm", ".avi", ".wmv",
    ".flv", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".3gp", ".ogv", ".vob", ".mxf",
})  # fmt: skip

#: The name of the batch record in OUT_DIR.
RECORD_NAME = "batch.json"
#: Manifest columns (CSV header or JSON keys).
MANIFEST_KEYS = ("media", "text", "subtitles", "output", "language")
#: How long stopping workers may take before they are killed, seconds.
STOP_SECONDS = 5.0


@dataclass(frozen=True)
class BatchItem:
    """One job: `media` with its `transcript` (→ align) or `subtitles` (→ sync), written to
    `output` (its extension picks the format); `language` overrides the batch's."""

    media: Path
    output: Path
    transcript: Path | None = None
    subtitles: Path | None = None
    language: str | None = None

    @property
    def command(self) -> str:
        """"align" (a transcript) or "sync" (subtitles)."""
        return "align" if self.transcript is not None else "sync"

    @property
    def source(self) -> Path | None:
        """The transcript or the subtitles."""
        return self.transcript if self.transcript is not None else self.subtitles

    @property
    def inputs(self) -> tuple[Path, ...]:
        return (self.media,) + ((self.source,) if self.source is not None else ())


@dataclass(frozen=True)
class ItemResult:
    """What became of one item; `batch.json` holds these, and `run_batch` returns them in item
    order.

    `status` is "ok", "failed" (`error` says why, the single command's one-line message),
    "skipped" (its output was newer than its inputs; the details are those of the run that made
    it, when batch.json had them), "pending" (not run yet) or "interrupted". `words_not_found`
    (align) counts the transcript's words that have no times; `placement` says how the cues were
    placed: for align the chain ("whole" or "long") and the word boundaries ("refined" or
    "plain"); for sync the number of cues per status ("aligned", "interpolated", "unspoken"),
    the cues that were not aligned (``not_aligned``: number and status) and the share found.
    `report` lists the style rules the cues still break (align), `warnings` what the single
    command would print as warnings, `worker` the host and process id that ran it."""

    index: int
    media: str
    command: str
    source: str | None
    output: str
    status: str
    error: str | None = None
    seconds: float = 0.0
    words: int | None = None
    words_not_found: int | None = None
    cues: int | None = None
    placement: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    report: tuple[str, ...] = ()
    worker: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_item(cls, index: int, item: BatchItem, status: str, **details: Any) -> ItemResult:
        return cls(index, str(item.media), item.command, None if item.source is None else str(item.source),
                   str(item.output), status, **details)


@dataclass(frozen=True)
class BatchOptions:
    """The options of every item's job (those of `subalign align` and `subalign sync`)."""

    model: str = DEFAULT_MODEL
    device: str = "auto"
    dtype: str = "auto"
    language: str = "en"
    audio_stream: int = 0
    style: CueStyle | None = None
    refine: bool = True
    long: bool | None = None
    encoding: str | None = None
    force: bool = False


# ------------------------------------------------------------------------------------------------
# Items: a folder or a manifest


def _transcript_partner(media: Path, siblings: Sequence[Path]) -> list[tuple[str, Path]]:
    """A transcript ``STEM.txt`` → an align item."""
    return [("transcript", p) for p in siblings if p.suffix.lower() == ".txt"]


def _subtitle_partners(media: Path, siblings: Sequence[Path]) -> list[tuple[str, Path]]:
    """Subtitles ``STEM.<ext>`` in any subtitle format of the format table → a sync item."""
    return [("subtitles", p) for p in siblings if subtitle_format_for(p) is not None]


#: How a media file in a folder finds its partner: each rule maps the media and the other
#: files of its stem beside it to the `BatchItem` fields it would fill. Every rule is tried, so
#: a media file with two partners is reported rather than one being picked silently.
PAIRING: tuple[Callable[[Path, Sequence[Path]], list[tuple[str, Path]]], ...] = (
    _transcript_partner,
    _subtitle_partners,
)


def _visible_files(folder: Path, skip: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).absolute() != skip)
        for name in sorted(files):
            if not name.startswith("."):
                yield here / name


def find_items(folder: str | Path, out_dir: str | Path,
               to: str = "srt") -> tuple[list[BatchItem], dict[int, str]]:
    """The items of a media folder (sub-folders included, OUT_DIR and hidden files left out),
    and the problems of those that cannot run, by index: a media file with no partner, or with
    more than one."""
    root = Path(folder).expanduser()
    out = Path(out_dir).expanduser()
    ext = _extension(to)
    groups: dict[tuple[Path, str], list[Path]] = {}
    for path in _visible_files(root, out.absolute()):
        groups.setdefault((path.parent, path.stem), []).append(path)
    items: list[BatchItem] = []
    problems: dict[int, str] = {}
    for (parent, stem), files in sorted(groups.items()):
        others = [p for p in files if p.suffix.lower() not in MEDIA_EXTENSIONS]
        for media in (p for p in files if p.suffix.lower() in MEDIA_EXTENSIONS):
            output = out / parent.relative_to(root) / f"{stem}{ext}"
            # with OUT_DIR = IN, an output a run wrote beside the media is no partner of it
            partners = [pair for rule in PAIRING for pair in rule(media, others)
                        if pair[1].absolute() != output.absolute()]
            items.append(BatchItem(media, output, **dict(partners[:1])))
            if len(partners) > 1:
                names = " and ".join(p.name for _, p in partners)
                problems[len(items) - 1] = (f"{media.name} has both {names} beside it; keep one, or "
                                            "name the pairs in a manifest")
            elif not partners:
                known = ", ".join([".txt", *_subtitle_extensions()])
                problems[len(items) - 1] = (f"nothing to pair {media.name} with: put its transcript "
                                            f"({stem}.txt, to align) or its subtitles (to sync) beside "
                                            f"it; looked for {stem} with {known}")
    return items, problems


def _subtitle_extensions() -> list[str]:
    from .formats import FORMATS

    return [ext for f in FORMATS if f.subtitles is not None for ext in f.extensions]


def _extension(to: str) -> str:
    ext = to if to.startswith(".") else f".{to}"
    ext = ext.lower()
    known = supported_extensions()
    if ext not in known:
        raise OutputError(f"--to {to}: not a known output format; use one of "
                          f"{', '.join(e.lstrip('.') for e in known)}")
    return ext


def read_manifest(path: str | Path, out_dir: str | Path, to: str = "srt") -> list[BatchItem]:
    """The items a manifest names: CSV with a header row (.csv) or JSON lines (.jsonl, .ndjson,
    .json: one object per line), with the keys ``media``, ``text`` or ``subtitles``, and
    optionally ``output`` (relative to OUT_DIR; default the media's name with the ``to``
    extension) and ``language``. Relative input paths are relative to the manifest's folder.
    A malformed manifest raises SubalignError naming the line."""
    source = Path(path).expanduser()
    base = source.parent
    out = Path(out_dir).expanduser()
    ext = _extension(to)
    try:
        raw = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubalignError(f"manifest {source} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise SubalignError(f"cannot read the manifest {source}: {exc.strerror or exc}") from exc
    rows: list[tuple[int, Mapping[str, Any]]] = []
    if source.suffix.lower() == ".csv":
        reader = csv.DictReader(raw.splitlines())
        header = [h.strip() for h in reader.fieldnames or []]
        unknown = [h for h in header if h not in MANIFEST_KEYS]
        if "media" not in header or unknown:
            raise SubalignError(f"manifest {source}: the header row must name the columns media, text or "
                                f"subtitles, and optionally output and language"
                                + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
        for row in reader:
            rows.append((reader.line_num, {k.strip(): v for k, v in row.items() if k is not None}))
    elif source.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SubalignError(f"manifest {source} line {number}: not JSON ({exc.msg}); give one "
                                    "object per line") from exc
            if not isinstance(row, dict):
                raise SubalignError(f"manifest {source} line {number}: give an object with media and "
                                    "text or subtitles")
            unknown = [k for k in row if k not in MANIFEST_KEYS]
            if unknown:
                raise SubalignError(f"manifest {source} line {number}: unknown key {unknown[0]!r}; use "
                                    f"{', '.join(MANIFEST_KEYS)}")
            rows.append((number, row))
    else:
        raise SubalignError(f"{source} is neither a folder nor a manifest (.csv, .jsonl)")

    items = []
    for number, row in rows:
        values = {k: (str(v).strip() if v is not None else "") for k, v in row.items()}
        where = f"manifest {source} line {number}"
        if not values.get("media"):
            raise SubalignError(f"{where}: no media")
        if bool(values.get("text")) == bool(values.get("subtitles")):
            raise SubalignError(f"{where}: give either text (align) or subtitles (sync)")
        media = base / Path(values["media"]).expanduser()
        output = out / Path(values["output"]).expanduser() if values.get("output") else out / f"{media.stem}{ext}"
        items.append(BatchItem(
            media, output,
            transcript=base / values["text"] if values.get("text") else None,
            subtitles=base / values["subtitles"] if values.get("subtitles") else None,
            language=values.get("language") or None,
        ))
    return items


def _plan(source: str | Path | Sequence[BatchItem], out_dir: Path, to: str) -> tuple[list[BatchItem], dict[int, str]]:
    """The items and the problems that fail some of them before they run."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if path.is_dir():
            items, problems = find_items(path, out_dir, to)
            if not items:
                raise SubalignError(f"no media files in {path} (looked for "
                                    f"{', '.join(sorted(MEDIA_EXTENSIONS))})")
        elif path.exists():
            items, problems = read_manifest(path, out_dir, to), {}
            if not items:
                raise SubalignError(f"the manifest {path} names no items")
        else:
            raise SubalignError(f"cannot find '{path}': give a media folder or a manifest (.csv, .jsonl)")
    else:
        items, problems = list(source), {}
    _extension(to)  # a bad --to is refused even when every item names its own output
    items = [_absolute(item) for item in items]
    first: dict[Path, int] = {}
    for i, item in enumerate(items):
        if item.transcript is not None and item.subtitles is not None:
            problems.setdefault(i, "give either a transcript (align) or subtitles (sync), not both")
        elif item.source is None:
            problems.setdefault(i, f"nothing to pair {item.media.name} with: give a transcript or subtitles")
        j = first.setdefault(item.output, i)
        if j != i:
            problems.setdefault(i, f"item {j + 1} ({items[j].media}) writes the same output {item.output}")
    return items, problems


def _absolute(item: BatchItem) -> BatchItem:
    """The item with absolute paths: workers (and Ray nodes) may run in another folder."""
    fix = {k: Path(os.path.abspath(v)) for k in ("media", "output", "transcript", "subtitles")
           if (v := getattr(item, k)) is not None}
    return dataclasses.replace(item, **fix)


def _up_to_date(item: BatchItem) -> bool:
    """Whether the output exists and is newer than every input."""
    try:
        made = item.output.stat().st_mtime_ns
        return all(made > p.stat().st_mtime_ns for p in item.inputs)
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------
# One item (in a worker)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_item(index: int, item: BatchItem, options: BatchOptions,
             progress: Progress | None = None) -> ItemResult:
    """Run one item as the single command would (`subalign.jobs`) and say what became of it.
    A user error (SubalignError) or an internal fault fails the item with one line; Ctrl-C and
    SystemExit pass through."""
    from .pipeline import Alignment

    started = time.perf_counter()
    told: list[str] = []  # the sync's warnings, kept when its result is refused
    common = {"worker": _worker_name()}
    shared = {"language": item.language or options.language, "audio_stream": options.audio_stream,
              "model": options.model, "device": options.device, "dtype": options.dtype,
              "progress": progress, "jobs": 1}  # the batch's workers are the parallelism
    try:
        if item.transcript is not None:
            job = align_file(item.media, item.transcript, item.output, style=options.style,
                             refine=options.refine, long=options.long, force=options.force, **shared)
        elif item.subtitles is not None:
            job = sync_file(item.media, item.subtitles, item.output, encoding=options.encoding,
                            force=options.force, warn=told.append, **shared)
        else:
            raise SubalignError(f"nothing to pair {item.media.name} with: give a transcript or subtitles")
    except SubalignError as exc:
        return ItemResult.from_item(index, item, "failed", error=" ".join(str(exc).split()),
                                    seconds=round(time.perf_counter() - started, 3), warnings=tuple(told),
                                    **common)
    except Exception as exc:  # an internal fault fails this item only
        log.debug("item %d (%s) failed:\n%s", index + 1, item.media, traceback.format_exc())
        return ItemResult.from_item(index, item, "failed", error=f"internal error: {type(exc).__name__}: {exc}",
                                    seconds=round(time.perf_counter() - started, 3), **common)
    result = job.result
    if isinstance(result, Alignment):
        details: dict[str, Any] = {
            "words": len(result.words), "words_not_found": len(result.missing), "cues": len(result.cues),
            "placement": {"method": result.method, "boundaries": result.boundaries},
            "report": tuple(str(f) for f in result.report)}
    else:
        statuses = [t.status for t in result.cues]
        details = {
            "words": sum(len(t.words) for t in result.cues), "cues": len(result.cues),
            "placement": {**{s: statuses.count(s) for s in ("aligned", "interpolated", "unspoken")},
                          "not_aligned": [{"cue": t.index + 1, "status": t.status}
                                          for t in result.cues if t.status != "aligned"],
                          "found": round(result.confidence, 4)}}
    return ItemResult.from_item(index, item, "ok", seconds=round(time.perf_counter() - started, 3),
                                warnings=tuple(job.warnings), **details, **common)


def _item_shares(item: BatchItem) -> Callable[[str, float], float | None]:
    """The share of an item's job done, from the stages it reports (sync, or either align
    chain: the one-pass chain's stages, or the long-media chain's)."""
    if item.transcript is None:
        from .sync import STAGES

        return StageShares(STAGES)
    from .pipeline import LONG_STAGES, STAGES

    tables = (StageShares(STAGES), StageShares(LONG_STAGES))

    def share(stage: str, value: float) -> float | None:
        if all([t(stage, value) is None for t in tables]):
            return None
        return max(t.total for t in tables)

    return share


def _init_worker(options: BatchOptions, threads: int, log_level: int) -> str | None:
    """Set a worker process up and load the model (once, for all its items); the error that
    stops every item when the model cannot be loaded, else None."""
    logging.basicConfig(level=log_level, force=True,
                        format=f"subalign: %(levelname)s: [worker {os.getpid()}] %(message)s")
    import torch

    torch.set_num_threads(max(1, threads))
    from .models import load_model

    try:
        load_model(options.model, options.device, options.dtype)
    except SubalignError as exc:
        return " ".join(str(exc).split())
    return None


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds: write_text removes its temporary file


def _worker_main(conn: Connection, options: BatchOptions, threads: int, log_level: int) -> None:
    """A local worker: load the model, then run the items the parent sends until it sends None.
    Ctrl-C is the parent's to handle (it stops the workers with SIGTERM, which unwinds)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    problem = _init_worker(options, threads, log_level)
    if problem is not None:
        conn.send(("init-error", None, problem))
        return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message is None:
            return
        index, item = message
        shares = _item_shares(item)
        last = [0.0]

        def report(stage: str, value: float, index: int = index, shares: Any = shares,
                   last: list[float] = last) -> None:
            done = shares(stage, value)
            now = time.monotonic()
            if done is not None and now - last[0] >= 0.5:
                last[0] = now
                conn.send(("progress", index, done))

        record = run_item(index, item, options, report)
        conn.send(("done", index, record))


# ------------------------------------------------------------------------------------------------
# Executors: each runs `todo` (index, item) pairs and calls `finish(record)` / `advance(index,
# share)` in the parent as items finish / move on.


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["subalign.batch"])  # workers start with torch imported
        return ctx
    return multiprocessing.get_context("spawn")


@dataclass
class _Worker:
    process: Any
    conn: Connection
    item: int | None = None  # the index of the item it is running


def _death(process: Any) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def _run_local(todo: Sequence[tuple[int, BatchItem]], options: BatchOptions, jobs: int,
               finish: Callable[[ItemResult], None], advance: Callable[[int, float], None],
               running: set[int]) -> None:
    ctx = _context()
    threads = max(1, _cores() // jobs)
    level = logging.getLogger().getEffectiveLevel()
    items = dict(todo)
    pending = deque(i for i, _ in todo)
    workers: list[_Worker] = []

    def start() -> _Worker:
        ours, theirs = ctx.Pipe()
        process = ctx.Process(target=_worker_main, args=(theirs, options, threads, level),
                              name="subalign-batch-worker", daemon=True)
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        workers.append(worker)
        return worker

    def give(worker: _Worker) -> None:
        if pending:
            worker.item = pending.popleft()
            running.add(worker.item)
            with contextlib.suppress(OSError):  # a dead worker: its sentinel fails the item
                worker.conn.send((worker.item, items[worker.item]))
        else:
            worker.item = None
            with contextlib.suppress(OSError):
                worker.conn.send(None)

    def take(worker: _Worker) -> bool:
        """Handle one message; False when the pipe is closed."""
        try:
            kind, index, payload = worker.conn.recv()
        except (EOFError, OSError):
            return False
        if kind == "progress":
            advance(index, payload)
        elif kind == "done":
            give(worker)  # the next item first, so the worker never waits on the parent
            running.discard(index)
            finish(payload)
        elif kind == "init-error":
            raise SubalignError(payload)
        return True

    try:
        for _ in range(min(jobs, len(pending))):
            give(start())
        while any(w.process.is_alive() or w.item is not None for w in workers):
            live = [w for w in workers if w.item is not None or w.process.is_alive()]
            ready = wait([w.conn for w in live] + [w.process.sentinel for w in live])
            for worker in live:
                closed = False
                while worker.conn in ready and worker.conn.poll():
                    if not take(worker):
                        closed = True
                        break
                if worker.process.sentinel in ready or closed:
                    while not closed and worker.conn.poll():  # what it sent before it died
                        closed = not take(worker)
                    worker.process.join()
                    workers.remove(worker)
                    worker.conn.close()
                    if worker.item is not None:
                        index, worker.item = worker.item, None
                        running.discard(index)
                        _remove_temp_files(items[index].output)
                        finish(ItemResult.from_item(
                            index, items[index], "failed", worker=f"{socket.gethostname()}:{worker.process.pid}",
                            error=f"the worker process died while running this item ({_death(worker.process)})"))
                        if pending:
                            give(start())
    finally:
        _stop(workers)
        for index in running:
            _remove_temp_files(items[index].output)


def _stop(workers: Sequence[_Worker]) -> None:
    """Stop the workers: SIGTERM (each unwinds, removing its temporary file), then SIGKILL."""
    for worker in workers:
        if worker.process.is_alive():
            with contextlib.suppress(OSError):
                worker.process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()


def _remove_temp_files(output: Path) -> None:
    """Remove what a killed worker may have left of an output it was writing (`write_text`'s
    temporary file, ``.NAME.*.tmp`` beside it)."""
    with contextlib.suppress(OSError):
        for temp in output.parent.glob(f".{output.name}.*.tmp"):
            with contextlib.suppress(OSError):
                temp.unlink()


class _RayWorker:
    """A Ray actor: one model, loaded when it starts, for all the items it runs."""

    def __init__(self, options: BatchOptions, log_level: int) -> None:
        self.options = options
        self.problem = _init_worker(options, 1, log_level)

    def ready(self) -> str | None:
        return self.problem

    def run(self, index: int, item: BatchItem) -> ItemResult:
        return run_item(index, item, self.options)


def _run_ray(todo: Sequence[tuple[int, BatchItem]], options: BatchOptions, jobs: int | None,
             address: str | None, finish: Callable[[ItemResult], None], running: set[int]) -> None:
    try:
        import ray
    except ImportError as exc:
        raise SubalignError(f"--executor ray needs Ray, which is not installed ({exc}); "
                            "install it with: pip install 'subalign[ray]'") from exc
    started = False
    if not ray.is_initialized():
        try:
            if address is None and "RAY_ADDRESS" not in os.environ:
                ray.init(num_cpus=jobs or _cores(), include_dashboard=False)
            else:
                ray.init(address=address)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SubalignError(f"cannot start or reach Ray at {address or 'a local instance'}: "
                                f"{' '.join(str(exc).split())}") from exc
        started = True
    items = dict(todo)
    pending = deque(i for i, _ in todo)
    actor_class = ray.remote(num_cpus=1, max_restarts=0)(_RayWorker)
    level = logging.getLogger().getEffectiveLevel()
    actors: list[Any] = []
    in_flight: dict[Any, tuple[Any, int]] = {}
    try:
        count = jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actors = [actor_class.remote(options, level) for _ in range(min(count, len(pending)))]
        for problem in ray.get([a.ready.remote() for a in actors]):
            if problem is not None:
                raise SubalignError(problem)
        idle = list(actors)
        while pending or in_flight:
            while idle and pending:
                actor, index = idle.pop(), pending.popleft()
                running.add(index)
                in_flight[actor.run.remote(index, items[index])] = (actor, index)
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                actor, index = in_flight.pop(ref)
                running.discard(index)
                try:
                    record = ray.get(ref)
                    idle.append(actor)
                except ray.exceptions.RayError as exc:  # the actor died: this item fails, a new one goes on
                    _remove_temp_files(items[index].output)
                    record = ItemResult.from_item(index, items[index], "failed",
                                                  error="the Ray worker died while running this item "
                                                  f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]})")
                    with contextlib.suppress(Exception):
                        ray.kill(actor)
                    actors.remove(actor)
                    if pending:
                        fresh = actor_class.remote(options, level)
                        actors.append(fresh)
                        idle.append(fresh)
                finish(record)
    finally:
        for actor in actors:
            with contextlib.suppress(Exception):
                ray.kill(actor)
        for index in running:
            _remove_temp_files(items[index].output)
        if started:
            ray.shutdown()


# ------------------------------------------------------------------------------------------------
# The batch


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_jobs() -> int:
    """The local workers by default: the cores this process may use."""
    return _cores()


class _Record:
    """``OUT_DIR/batch.json``: every item's `ItemResult`, rewritten atomically as they finish."""

    def __init__(self, out_dir: Path, about: Mapping[str, Any], records: list[ItemResult]) -> None:
        self.path = out_dir / RECORD_NAME
        self.about = dict(about)
        self.records = records
        self.written = 0.0

    def previous(self) -> dict[str, dict[str, Any]]:
        """The last run's successful items by output, to describe the items skipped now."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            return {r["output"]: r for r in doc["items"] if r.get("status") in ("ok", "skipped")}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def write(self, force: bool = False, interrupted: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.written < 1.0:
            return
        self.written = now
        counts = {s: 0 for s in ("ok", "skipped", "failed", "pending", "interrupted")}
        for r in self.records:
            counts[r.status] = counts.get(r.status, 0) + 1
        doc = {**self.about, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "interrupted": interrupted,
               "summary": {"items": len(self.records), **counts},
               "items": [r.as_dict() for r in self.records]}
        write_text(self.path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def run_batch(
    source: str | Path | Sequence[BatchItem],
    out_dir: str | Path,
    *,
    to: str = "srt",
    jobs: int | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    redo: bool = False,
    progress: bool | Progress | None = False,
    on_item: Callable[[ItemResult], None] | None = None,
    model: str = DEFAULT_MODEL,
    device: str = "auto",
    dtype: str = "auto",
    language: str = "en",
    audio_stream: int = 0,
    style: CueStyle | str | None = None,
    refine: bool = True,
    long: bool | None = None,
    encoding: str | None = None,
    force: bool = False,
) -> list[ItemResult]:
    """Align or sync every item of `source` (a media folder, a manifest, or `BatchItem`s) into
    `out_dir`, and return what became of each (`ItemResult`, in item order; also written to
    ``out_dir/batch.json`` as items finish).

    `to` is the output format of items that do not name their output; `jobs` the number of
    worker processes (local; default the cores this process may use) or Ray actors (default one
    per CPU of the cluster); `executor` "local" or "ray" (`ray_address`: a cluster's address,
    "auto", or None for the running or a new local instance). Items whose output is newer than
    their inputs are skipped unless `redo`. `progress` is True for one bar on a terminal or a
    `Progress` callback (its stage is the item's index as text); `on_item` is called in this
    process with each item's result as it is known. The other options are those of
    `subalign.align_media` and `subalign.sync_subtitles` (`encoding`, `force`: of the subtitles).

    Bad batch input (no such folder, a malformed manifest, a model that cannot be loaded)
    raises SubalignError; a failing item only fails itself. Ctrl-C or SIGTERM stop the workers,
    record the unfinished items as "interrupted" and raise KeyboardInterrupt.
    """
    if executor not in ("local", "ray"):
        raise SubalignError(f"unknown executor {executor!r}; use local or ray")
    if jobs is not None and jobs < 1:
        raise SubalignError("--jobs must be 1 or more")
    if audio_stream < 0:
        raise SubalignError("--audio-stream must be 0 or more")
    _check_model(model)
    options = BatchOptions(model=model, device=device, dtype=dtype, language=language,
                           audio_stream=audio_stream, style=None if style is None else get_style(style),
                           refine=refine, long=long, encoding=encoding, force=force)
    out = Path(out_dir).expanduser()
    items, problems = _plan(source, out, to)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder '{out}': {exc.strerror or exc}") from exc

    records: list[ItemResult] = []
    todo: list[tuple[int, BatchItem]] = []
    about = {"subalign": _version(), "input": str(source) if isinstance(source, (str, os.PathLike)) else None,
             "output_dir": str(out.absolute()), "executor": executor,
             "options": {**dataclasses.asdict(options), "style": None if options.style is None else options.style.as_dict(),
                         "to": to, "redo": redo},
             "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    record = _Record(out, about, records)
    before = record.previous()
    keep = ("words", "words_not_found", "cues", "placement", "warnings", "report", "seconds", "worker")
    for i, item in enumerate(items):
        if i in problems:
            records.append(ItemResult.from_item(i, item, "failed", error=problems[i]))
        elif not redo and _up_to_date(item):
            old = before.get(str(item.output), {})
            details = {k: tuple(old[k]) if isinstance(old.get(k), list) and k in ("warnings", "report")
                       else old[k] for k in keep if k in old}
            records.append(ItemResult.from_item(i, item, "skipped", **details))
        elif (trouble := _make_folder(item.output.parent)) is not None:
            records.append(ItemResult.from_item(i, item, "failed", error=trouble))
        else:
            records.append(ItemResult.from_item(i, item, "pending"))
            todo.append((i, item))
    record.write(force=True)

    weights = {str(i): float(_size(item.media)) for i, item in todo}
    running: set[int] = set()
    with job_progress(progress, weights, f"batch 0/{len(todo)}") as report, _sigterm_interrupts():
        for r in records:
            if r.status != "pending" and on_item is not None:
                on_item(r)
        finished = [0]

        def finish(result: ItemResult) -> None:
            records[result.index] = result
            finished[0] += 1
            if report is not None:
                report(str(result.index), 1.0)
                bar = getattr(report, "bar", None)
                if bar is not None:
                    bar.set_description_str(f"batch {finished[0]}/{len(todo)}", refresh=False)
            record.write(force=finished[0] == len(todo))
            if on_item is not None:
                on_item(result)

        def advance(index: int, share: float) -> None:
            if report is not None:
                report(str(index), share)

        try:
            if todo:
                if executor == "ray":
                    _run_ray(todo, options, jobs, ray_address, finish, running)
                else:
                    count = min(jobs or default_jobs(), len(todo))
                    _run_local(todo, options, count, finish, advance, running)
        except BaseException as exc:
            interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
            for i, r in enumerate(records):
                if r.status == "pending":
                    records[i] = dataclasses.replace(r, status="interrupted" if interrupted else "pending")
            with contextlib.suppress(SubalignError):
                record.write(force=True, interrupted=interrupted)
            raise
    record.write(force=True)
    return records


class BatchInterrupted(KeyboardInterrupt):
    """The batch was stopped by a signal (SIGTERM); `signum` is the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While a batch runs, SIGTERM stops it like Ctrl-C (so the workers are stopped and the
    record written) instead of killing this process outright."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let the clean-up finish
        raise BatchInterrupted(signum)

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _make_folder(folder: Path) -> str | None:
    """Create an output's folder (sub-folders of OUT_DIR mirror the input's); why not, or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create the output folder '{folder}': {exc.strerror or exc}"
    return None


def _check_model(spec: str) -> None:
    """Refuse an unknown model name before any worker starts."""
    from .models import model_registry, parse_model_spec

    name, _ = parse_model_spec(spec)
    if name not in model_registry():
        raise SubalignError(f"unknown model {name!r}; run 'subalign models' to list them")


def _size(path: Path) -> int:
    try:
        return max(1, path.stat().st_size)
    except OSError:
        return 1


def _version() -> str:
    from . import __version__

    return __version__
