"""Command line: `subalign align MEDIA TRANSCRIPT -o OUT [--style ...] [--report]`,
`subalign sync MEDIA SUBS -o OUT`, `subalign render RESULT.json MEDIA -o OUT`, `subalign models`.

User errors (SubalignError) and usage errors print one line and exit 2; internal faults exit 1;
`--debug` shows the traceback. Outputs are written atomically, so an interrupted or failed run
leaves no file. Ctrl-C, SIGTERM and SIGHUP stop a run the same way (`subalign.interrupts`): one
line, exit 130, 143 or 129 (128 + the signal number). Everything written to stdout and stderr
while a command runs (our messages, log records, progress bars, argparse's errors) passes through
`EscapingStream`, so control characters in a file name or a word cannot act on the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__, interrupts
from .cues.style import CueStyle, get_style
from .errors import SubalignError, printable

EXIT_USAGE = 2
EXIT_INTERNAL = 1


def add_job_options(parser: argparse.ArgumentParser, text: str,
                    output: str = "output file; its extension picks the format: .srt, .vtt, .ass, .ssa, "
                    ".sbv, .ttml, .sub, .mpl2, .tmp, .json, .html (a review page to play and check the "
                    "result) or .png/.svg (an alignment plot)", metavar: str = "OUT") -> None:
    """Add what every job on a media file takes: -o (`output` says what it is), --audio-stream,
    the model options, --language (of `text`, "the transcript" or "the subtitles") and the
    options of the review page and the plot."""
    parser.add_argument("-o", "--output", required=True, metavar=metavar, help=output)
    parser.add_argument("--audio-stream", type=int, default=0, metavar="N",
                        help="which audio stream of MEDIA to use, counting from 0 (default 0)")
    add_model_options(parser)
    if metavar == "OUT":  # a single job (a batch's --jobs counts files instead)
        parser.add_argument("--jobs", "-j", type=_positive, default=None, metavar="N",
                            help="worker processes for the model (emissions and tokens); default: the "
                            "cores this process may use; the result does not depend on it")
    parser.add_argument("--language", default="en", metavar="LANG",
                        help=f"language of {text} (ISO 639 code), for its pronunciation and for "
                        "reading numbers and symbols (default en)")
    add_view_options(parser)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def add_view_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of the review page and the plot: --embed-media and --plot-range."""
    parser.add_argument("--embed-media", action="store_true",
                        help="-o NAME.html: put the media inside the page (up to 64 MB) instead of "
                        "referring to it by its path relative to the page")
    parser.add_argument("--plot-range", type=_plot_range, default=None, metavar="START:END",
                        help="-o NAME.png/.svg: the seconds to plot, e.g. 12.5:40 or 60: (default: "
                        "the first 30 s, or the whole file when shorter; at most 120 s)")


def _plot_range(text: str) -> tuple[float, float]:
    """START:END seconds (either may be left out: from 0, to the end) for --plot-range."""
    start, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        a = float(start) if start.strip() else 0.0
        b = float(end) if end.strip() else math.inf
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:END in seconds, e.g. 10:40, got {text!r}") from None
    if not (math.isfinite(a) and a >= 0 and b > a):
        raise argparse.ArgumentTypeError(f"expected 0 <= START < END, got {text!r}")
    return a, b


def media_input(args: argparse.Namespace) -> Any:
    """The `MediaInput` the review page and the plot get from the parsed options; a
    SubalignError when --embed-media or --plot-range is given for an output that does not use it."""
    from pathlib import Path

    from .formats import MediaInput

    suffix = Path(args.output).suffix.lower()
    if args.embed_media and suffix not in (".html", ".htm"):
        raise SubalignError("--embed-media is for the review page: use it with -o NAME.html")
    if args.plot_range is not None and suffix not in (".png", ".svg"):
        raise SubalignError("--plot-range is for the plot: use it with -o NAME.png or NAME.svg")
    return MediaInput(Path(args.media), embed=args.embed_media, model=args.model, language=args.language,
                      device=args.device, dtype=args.dtype, audio_stream=args.audio_stream,
                      plot_range=args.plot_range)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Add --model, --device and --dtype (shared by align and sync); see `model_kwargs`."""
    parser.add_argument("--model", default="hama", metavar="NAME[:ARG]",
                        help="acoustic model: hama (default, embedded), mms, hf:<model id or folder>, "
                        "or an installed plugin; 'subalign models' lists them")
    parser.add_argument("--device", default="auto", metavar="DEV",
                        help="where torch models run: auto (CUDA if available), cpu, cuda, cuda:N")
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "float16", "bfloat16"),
                        help="precision of torch models (auto: float16 on CUDA, float32 on CPU)")


def model_kwargs(args: argparse.Namespace) -> dict[str, str]:
    """The model options parsed by `add_model_options`, as keyword arguments of `align_media`."""
    return {"model": args.model, "device": args.device, "dtype": args.dtype}


# The cue-style options, the same for every command that makes cues.
_OPTIONS: tuple[tuple[str, type, str, str], ...] = (
    ("--max-chars", int, "N", "characters per line"),
    ("--max-lines", int, "N", "lines per cue"),
    ("--max-cps", float, "X", "reading speed in characters per second (0: no limit)"),
    ("--max-wpm", float, "X", "reading speed in words per minute (0: no limit)"),
    ("--min-duration", float, "S", "shortest cue, seconds"),
    ("--max-duration", float, "S", "longest cue, seconds"),
    ("--min-gap-frames", int, "N", "frames between cues"),
    ("--fps", float, "X", "frame rate for the gap and the frame grid (default: the video's; "
     "without video the gap is counted at 25 fps and times are not snapped)"),
)


def add_style_arguments(parser: Any) -> None:
    """Add ``--style``, the single-setting overrides and ``--report`` to an argparse parser."""
    group = parser.add_argument_group(
        "cue style", "Presets: netflix (default: 42 chars x 2 lines, 5/6-7 s, 17 cps, 2-frame gap, "
        "frame grid), bbc (37 x 2, 1-6 s, 180 wpm), plain (42 x 2, at most 7 s, nothing else). "
        "Each option below overrides one setting of the preset.")
    group.add_argument("--style", default="netflix", metavar="NAME",
                       help="netflix, bbc or plain (default netflix)")
    for flag, kind, metavar, text in _OPTIONS:
        group.add_argument(flag, type=kind, default=None, metavar=metavar, help=text)
    group.add_argument("--report", action="store_true",
                       help="print each rule a cue still breaks to stderr, one line each")


def style_from_arguments(args: Any) -> CueStyle:
    """The style the parsed ``add_style_arguments`` options ask for; CueStyleError if invalid."""
    overrides = {flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_"))
                 for flag, *_ in _OPTIONS}
    return get_style(args.style, **overrides)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (`subalign: error: ...`, exit 2); the usage itself is
    in --help."""

    def error(self, message: str) -> Any:  # argparse's signature says NoReturn
        text = " ".join(message.split())
        self.exit(EXIT_USAGE, f"subalign: error: {text} (see '{self.prog} --help')\n")


class EscapingStream(io.TextIOBase):
    """A text stream that writes to `stream` with control characters escapes (`printable`), but
    tabs, newlines and carriage returns (what progress bars redraw with) as they are."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text, keep_layout=True))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="subalign",
        description="Exact word and subtitle timings from media and text.",
    )
    p.add_argument("--version", action="version", version=f"subalign {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser(
        "align",
        help="time a transcript against a media file and write subtitles (SRT, WebVTT, ASS, TTML…) or JSON",
        description="Align TRANSCRIPT (UTF-8 text, '-' for stdin, or a subtitle file whose cue "
        "text is then the transcript) to the audio of MEDIA (anything ffmpeg reads) and write "
        "OUT; its extension picks the format: .srt, .vtt, .ass, .ssa, .sbv, .ttml, .sub, .mpl2, "
        ".tmp, .json.",
    )
    a.add_argument("media", metavar="MEDIA")
    a.add_argument("transcript", metavar="TRANSCRIPT",
                   help="plain text, or a subtitle file whose cue text is then the transcript")
    add_job_options(a, "the transcript")
    a.add_argument("--karaoke", action=argparse.BooleanOptionalAction, default=None,
                   help="highlight each word as it is said: .ass/.ssa karaoke tags (on by default), "
                   ".vtt timestamp tags, .srt one cue per word with the word underlined")
    a.add_argument("--force", action="store_true",
                   help="write the result even when too few of the transcript's words were heard")
    a.add_argument("--plain-boundaries", action="store_true",
                   help="keep the plain Viterbi word times (no acoustic boundary refinement)")
    a.add_argument("--long", action=argparse.BooleanOptionalAction, default=None,
                   help="align piece by piece in bounded memory, reporting words that are not in the "
                   "audio as not found (default: on for media over 10 minutes)")
    add_style_arguments(a)

    m = sub.add_parser(
        "models",
        help="list the installed acoustic models (languages, rates, licences, local weights)",
        description="List acoustic model plugins, or describe NAME[:ARG] (e.g. hf:<id>) in detail.",
    )
    m.add_argument("specs", nargs="*", metavar="NAME[:ARG]", help="models to describe (default: all)")
    y = sub.add_parser(
        "sync",
        help="re-time existing subtitles (a file or a track inside MEDIA) to a media file, cue by cue",
        description="Re-time the cues of SUBS (SRT, WebVTT, ASS/SSA, SBV, TTML, MicroDVD, MPL2, "
        "TMPlayer, SAMI; default: MEDIA's own text subtitle stream) to the speech in MEDIA and "
        "write OUT. Each cue keeps its text, tags and settings; only its times change. OUT's "
        "extension picks the format: the same as SUBS keeps everything else as it was (SRT, "
        "WebVTT, ASS/SSA, SBV); others are written afresh; .json writes the cues with their words.",
    )
    y.add_argument("media", metavar="MEDIA")
    y.add_argument("subtitles", metavar="SUBS", nargs="?",
                   help="subtitle file (default: the first text subtitle stream inside MEDIA)")
    add_job_options(y, "the subtitles")
    y.add_argument("--subtitle-stream", type=int, metavar="N",
                   help="re-time subtitle stream N of MEDIA instead of a file, counting MEDIA's "
                   "subtitle streams from 0 as ffmpeg does (0:s:N; text and image streams alike)")
    y.add_argument("--embed", metavar="OUT.mkv",
                   help="also write a copy of MEDIA with the re-timed subtitles as a track (the "
                   "track they came from is replaced; other streams are copied as they are)")
    y.add_argument("--encoding", metavar="ENC",
                   help="text encoding of SUBS (default: detected; UTF-8/16/32, else cp1252)")
    y.add_argument("--force", action="store_true",
                   help="write the result even when neither the words nor the cue pattern fit the audio")
    y.add_argument("--fast", action="store_true",
                   help="use the speech pattern only (no acoustic model): any language, a few seconds "
                   "for a film; cue starts land on speech onsets, not on words")
    r = sub.add_parser(
        "render",
        help="draw an existing JSON result: a review page (.html) or an alignment plot (.png, .svg)",
        description="Draw RESULT (the JSON written by 'subalign align|sync ... -o NAME.json') over "
        "MEDIA without aligning again: OUT.html is a review page to play and check it, OUT.png or "
        "OUT.svg an alignment plot (emissions, best path, words; recomputed for its range with the "
        "result's model unless --model names another).",
    )
    r.add_argument("result", metavar="RESULT.json")
    r.add_argument("media", metavar="MEDIA")
    add_job_options(r, "the result's text", "output file: .html (a review page) or .png/.svg (a plot)")
    r.set_defaults(model=None)  # the model the result names
    b = _batch_parser(sub)
    for q in (p, a, y, m, r, b):
        q.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars")
        q.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks and debug logs")
    return p


def _cmd_align(args: argparse.Namespace, progress: bool) -> None:
    from .jobs import align_file

    style = style_from_arguments(args)
    job = align_file(args.media, args.transcript, args.output, language=args.language,
                     audio_stream=args.audio_stream, progress=progress, style=style,
                     refine=not args.plain_boundaries, long=args.long, karaoke=args.karaoke,
                     force=args.force, view=media_input(args), jobs=args.jobs, **model_kwargs(args))
    result = job.result
    for line in job.notes:
        print(f"subalign: note: {line}", file=sys.stderr)
    for line in job.warnings:
        print(f"subalign: warning: {line}", file=sys.stderr)
    if args.report:
        _print_report(result.report, len(result.cues))
    if progress:
        print(f"wrote {job.output} ({len(result.words)} words, {len(result.cues)} cues)", file=sys.stderr)


def _print_report(findings: Sequence[object], n_cues: int) -> None:
    """``--report``: one line per rule a cue breaks, or one line saying there are none."""
    for finding in findings:
        print(f"subalign: report: {finding}", file=sys.stderr)
    if not findings:
        print(f"subalign: report: all {n_cues} cues keep the style", file=sys.stderr)


def _cmd_models(args: argparse.Namespace) -> None:
    from .models import describe_model, list_models, model_registry, parse_model_spec

    if args.specs:
        infos = []
        for spec in args.specs:
            name, arg = parse_model_spec(spec)
            if name not in model_registry():
                raise SubalignError(f"unknown model {name!r}; run 'subalign models' to list them")
            infos.append(describe_model(name, arg))
    else:
        infos = list_models()
    for info in infos:
        print(info.name + (f"  [{info.source}]" if info.source != "subalign" else ""))
        if info.error:
            print(f"    error:      {info.error}")
            continue
        audio = (f"{info.sample_rate} Hz, frames of {info.frame_seconds * 1000:g} ms"
                 if info.sample_rate and info.frame_seconds else "per model")
        for label, value in (("about", info.summary), ("use", info.usage), ("languages", info.languages),
                             ("audio", audio), ("licence", info.license),
                             ("weights", info.weights)):
            if value:
                print(f"    {label + ':':<11} {value}")


def _cmd_sync(args: argparse.Namespace, progress: bool) -> None:
    from .jobs import sync_file

    job = sync_file(args.media, args.subtitles, args.output, language=args.language,
                    audio_stream=args.audio_stream, encoding=args.encoding, force=args.force,
                    subtitle_stream=args.subtitle_stream, embed=args.embed, progress=progress,
                    warn=lambda line: print(f"subalign: warning: {line}", file=sys.stderr),
                    note=(lambda line: print(f"subalign: {line}", file=sys.stderr)) if progress else None,
                    view=media_input(args), fast=args.fast, jobs=args.jobs, **model_kwargs(args))
    result = job.result
    if progress:
        methods = ", ".join(f"{n} by {m}" for m, n in result.meta()["methods"].items() if n)
        print(f"wrote {job.output} ({len(result.cues)} cues: {methods})"
              + (f" and {job.embedded}" if job.embedded is not None else ""), file=sys.stderr)


EXIT_SOME_FAILED = 3


def _batch_parser(sub: Any) -> argparse.ArgumentParser:
    """`subalign batch IN -o OUT_DIR`: the options of align and sync, plus how to run the batch."""
    b = sub.add_parser(
        "batch",
        help="align or sync a whole folder (or a manifest) of media files, on this machine or a Ray cluster",
        description="Run align or sync for every media file of IN and write the outputs to OUT_DIR. "
        "IN is a folder (each media file paired with the file of the same name beside it: STEM.txt, a "
        "transcript, is aligned; STEM.srt or .vtt, subtitles, are synced; sub-folders too) or a manifest: "
        "CSV with a header row, or JSON lines, with the columns media, text or subtitles, and optionally "
        "output (relative to OUT_DIR) and language. OUT_DIR/batch.json records every item. A rerun skips "
        "the items whose output is newer than their inputs. Exit status 0 when every item succeeded, 3 "
        "when some failed, 2 for bad batch input.",
    )
    b.add_argument("input", metavar="IN", help="a media folder, or a manifest (.csv, .jsonl)")
    add_job_options(b, "the transcripts and subtitles", output="output folder (created if missing)",
                    metavar="OUT_DIR")
    b.add_argument("--to", default="srt", metavar="FORMAT",
                   help="output format of items that do not name their output: srt (default), vtt, json")
    b.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="worker processes (each loads the model once); default: the cores this process "
                   "may use; with --executor ray, actors (default: one per CPU of the cluster)")
    b.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local worker processes (default), or Ray actors on a Ray cluster "
                   "(pip install 'subalign[ray]')")
    b.add_argument("--ray-address", metavar="ADDR", default=None,
                   help="the Ray cluster to run on: auto (the one this machine belongs to, after ray "
                   "start), HOST:PORT, or ray://HOST:PORT; default: start a local Ray instance")
    b.add_argument("--redo", action="store_true", help="run every item again, even when its output is up to date")
    b.add_argument("--plain-boundaries", action="store_true",
                   help="align: keep the plain Viterbi word times (no acoustic boundary refinement)")
    b.add_argument("--long", action=argparse.BooleanOptionalAction, default=None,
                   help="align: piece by piece in bounded memory (default: on for media over 10 minutes)")
    b.add_argument("--encoding", metavar="ENC",
                   help="sync: text encoding of the subtitles (default: detected)")
    b.add_argument("--force", action="store_true",
                   help="write a result even when the transcript or subtitles do not fit the audio")
    add_style_arguments(b)
    return b


def _cmd_batch(args: argparse.Namespace, progress: bool) -> int:
    from tqdm import tqdm

    from .batch import run_batch

    style = style_from_arguments(args)

    def show(item: Any) -> None:
        for line in item.warnings:
            tqdm.write(f"subalign: warning: {item.media}: {line}", file=sys.stderr)
        if args.report:
            for line in item.report:
                tqdm.write(f"subalign: report: {item.media}: {line}", file=sys.stderr)
        if item.status == "failed":  # named by its media unless the message names it
            named = item.error if Path(item.media).name in item.error else f"{item.media}: {item.error}"
            tqdm.write(f"subalign: error: {named}", file=sys.stderr)

    try:
        records = run_batch(args.input, args.output, to=args.to, jobs=args.jobs, executor=args.executor,
                            ray_address=args.ray_address, redo=args.redo, progress=progress, on_item=show,
                            language=args.language, audio_stream=args.audio_stream, style=style,
                            refine=not args.plain_boundaries, long=args.long, encoding=args.encoding,
                            force=args.force, **model_kwargs(args))
    except KeyboardInterrupt as exc:
        print("subalign: interrupted; the finished items' outputs are kept, the others were not written; "
              "run the same command again to go on", file=sys.stderr)
        return 128 + int(getattr(exc, "signum", signal.SIGINT))  # BatchInterrupted, interrupts.Interrupted
    counts = {s: sum(r.status == s for r in records) for s in ("ok", "skipped", "failed")}
    if not getattr(args, "quiet", False):
        print(f"subalign: batch: {counts['ok']} done, {counts['skipped']} up to date, {counts['failed']} failed "
              f"of {len(records)}; see {Path(args.output) / 'batch.json'}", file=sys.stderr)
    return EXIT_SOME_FAILED if counts["failed"] else 0


def _cmd_render(args: argparse.Namespace, progress: bool) -> None:
    from .formats import write_document
    from .formats.jsonfile import read_result

    if args.audio_stream < 0:
        raise SubalignError("--audio-stream must be 0 or more")
    media = media_input(args)
    inputs = [args.result, args.media]
    document = read_result(args.result)
    out = write_document(args.output, document, media, inputs=inputs)
    if progress:
        print(f"wrote {out} ({len(document['words'])} words, {len(document['cues'])} cues)", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: the process's own) and return the exit status.

    While it runs, SIGINT, SIGTERM and SIGHUP raise `subalign.interrupts.Interrupted` and stdout
    and stderr escape control characters; all is put back on return. When `argv` is None (the `subalign`
    command itself) the process ends right after, so they stay, and a stop signal during the
    interpreter's shutdown ends it at once with the status already decided instead of printing
    a traceback from an exit handler.
    """
    previous = interrupts.install()
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = EscapingStream(stdout), EscapingStream(stderr)
    status = EXIT_INTERNAL
    try:
        status = _main(argv)
    except KeyboardInterrupt as exc:  # a stop signal just before or after the command ran
        status = _interrupted(exc, False)
    except SystemExit as exc:  # argparse: --help, --version, a usage error
        status = exc.code if isinstance(exc.code, int) else EXIT_USAGE if exc.code else 0
        raise
    finally:
        if argv is None:
            _stop_quietly(status)
        else:
            sys.stdout, sys.stderr = stdout, stderr
            interrupts.restore(previous)
    return status


def _stop_quietly(status: int) -> None:
    """From now on a stop signal ends the process at once with `status` (the run is over)."""

    def stop(signum: int, frame: object) -> None:
        os._exit(status)

    # The stop signals are held back while the handlers change: one arriving in between would
    # otherwise reach the run's handler, whose exception has nowhere to go now (a traceback).
    # Held back, it reaches `stop` when they are let through again.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, interrupts.SIGNALS)
    try:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(ValueError):  # not the main thread: nothing to do
            for sig in interrupts.SIGNALS:
                if signal.getsignal(sig) != signal.SIG_IGN:
                    signal.signal(sig, stop)
    except interrupts.Interrupted:
        # A signal that arrived just before the block: the interpreter runs its handler at the
        # next bytecode, here. The run is over, so it ends the process as `stop` would.
        os._exit(status)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _say(line: str) -> None:
    """Print one line to stderr; a terminal that is gone (SIGHUP) must not turn it into a fault."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def _interrupted(exc: KeyboardInterrupt, debug: bool) -> int:
    """One line for a stop signal, and its exit status (130 for Ctrl-C, 128 + N for others)."""
    if debug:
        traceback.print_exc()
    status, what = 130, "interrupted"
    if isinstance(exc, interrupts.Interrupted) and exc.signum != signal.SIGINT:
        status, what = exc.status, f"stopped by {exc.name}"
    done = interrupts.written()
    _say(f"subalign: {what}; " + (f"{', '.join(map(str, done))} had been written in full"
                                  if done else "no output written"))
    return status


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="subalign: %(levelname)s: %(message)s")
    from .progress import progress_enabled

    progress = progress_enabled(not getattr(args, "quiet", False))
    try:
        if args.command == "align":
            _cmd_align(args, progress)
        elif args.command == "sync":
            _cmd_sync(args, progress)
        elif args.command == "render":
            _cmd_render(args, progress)
        elif args.command == "models":
            _cmd_models(args)
        elif args.command == "batch":
            return _cmd_batch(args, progress)
    except SubalignError as exc:
        if debug:
            traceback.print_exc()
        message = " ".join(str(exc).split())  # always one line
        print(f"subalign: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP (`interrupts.Interrupted`)
        return _interrupted(exc, debug)
    except Exception as exc:  # an internal fault: say so plainly, traceback only on request
        if debug:
            traceback.print_exc()
        print(f"subalign: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        return EXIT_INTERNAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
