"""Command line: `subalign align MEDIA TRANSCRIPT -o OUT [--style ...] [--report]`,
`subalign sync MEDIA SUBS -o OUT`, `subalign models`.

User errors (SubalignError) print one line and exit 2; internal faults exit 1; `--debug` shows
the traceback. Outputs are written atomically, so an interrupted or failed run leaves no file.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from . import __version__
from .cues.style import CueStyle, get_style
from .errors import SubalignError

EXIT_USAGE = 2
EXIT_INTERNAL = 1


def add_job_options(parser: argparse.ArgumentParser, text: str) -> None:
    """Add what every job on a media file takes: -o, --audio-stream, the model options and
    --language (of `text`, "the transcript" or "the subtitles")."""
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file (.srt, .vtt or .json)")
    parser.add_argument("--audio-stream", type=int, default=0, metavar="N",
                        help="which audio stream of MEDIA to use, counting from 0 (default 0)")
    add_model_options(parser)
    parser.add_argument("--language", default="en", metavar="LANG",
                        help=f"language of {text} (ISO 639 code), for its pronunciation and for "
                        "reading numbers and symbols (default en)")


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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="subalign",
        description="Exact word and subtitle timings from media and text.",
    )
    p.add_argument("--version", action="version", version=f"subalign {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser(
        "align",
        help="time a plain transcript against a media file and write SRT, WebVTT or JSON",
        description="Align TRANSCRIPT (UTF-8 text, '-' for stdin) to the audio of MEDIA "
        "(anything ffmpeg reads) and write OUT; its extension picks the format: .srt, .vtt, .json.",
    )
    a.add_argument("media", metavar="MEDIA")
    a.add_argument("transcript", metavar="TRANSCRIPT")
    add_job_options(a, "the transcript")
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
        help="re-time existing SRT or WebVTT subtitles to a media file, cue by cue",
        description="Re-time the cues of SUBS (SRT or WebVTT) to the speech in MEDIA and write OUT. "
        "Each cue keeps its text, tags and settings; only its times change. OUT's extension picks "
        "the format: .srt, .vtt (the same as SUBS keeps everything else as it was) or .json.",
    )
    y.add_argument("media", metavar="MEDIA")
    y.add_argument("subtitles", metavar="SUBS")
    add_job_options(y, "the subtitles")
    y.add_argument("--encoding", metavar="ENC",
                   help="text encoding of SUBS (default: detected; UTF-8/16/32, else cp1252)")
    y.add_argument("--force", action="store_true",
                   help="write the result even when neither the words nor the cue pattern fit the audio")
    y.add_argument("--fast", action="store_true",
                   help="use the speech pattern only (no acoustic model): any language, a few seconds "
                   "for a film; cue starts land on speech onsets, not on words")
    for q in (p, a, y, m):
        q.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars")
        q.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks and debug logs")
    return p


def _cmd_align(args: argparse.Namespace, progress: bool) -> None:
    from .formats import check_output_path
    from .pipeline import align_media
    from .text import read_text

    if args.audio_stream < 0:
        raise SubalignError("--audio-stream must be 0 or more")
    style = style_from_arguments(args)
    inputs = [args.media] + ([args.transcript] if args.transcript != "-" else [])
    out = check_output_path(args.output, inputs=inputs)
    text = read_text(args.transcript)
    result = align_media(args.media, text, language=args.language, audio_stream=args.audio_stream,
                         progress=progress, style=style, refine=not args.plain_boundaries, long=args.long,
                         **model_kwargs(args))
    result.save(out, inputs=inputs)
    missing = result.missing
    if missing:
        print(f"subalign: warning: {_not_found(result.words, missing)}", file=sys.stderr)
    if args.report:
        _print_report(result.report, len(result.cues))
    if progress:
        print(f"wrote {out} ({len(result.words)} words, {len(result.cues)} cues)", file=sys.stderr)


def _not_found(words: Sequence[object], missing: Sequence[int]) -> str:
    """One line naming the runs of words that were not found in the audio (the first few)."""
    runs: list[tuple[int, int]] = []
    for i in missing:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    shown = []
    for a, b in runs[:4]:
        text = " ".join(w.text for w in words[a : min(b, a + 8)]) + (" …" if b - a > 8 else "")  # type: ignore[attr-defined]
        shown.append(f'words {a + 1}–{b} "{text}"' if b - a > 1 else f'word {a + 1} "{text}"')
    more = f" and {len(runs) - 4} more runs" if len(runs) > 4 else ""
    return (f"{len(missing)} of {len(words)} words were not found in the audio and have no times "
            f"(left out of the cues; \"found\": false in JSON): {'; '.join(shown)}{more}")


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
    from .formats import check_output_path, read_subtitles
    from .sync import sync_subtitles

    if args.audio_stream < 0:
        raise SubalignError("--audio-stream must be 0 or more")
    inputs = [args.media, args.subtitles]
    out = check_output_path(args.output, inputs=inputs)
    subs = read_subtitles(args.subtitles, encoding=args.encoding)
    result = sync_subtitles(args.media, subs, language=args.language, audio_stream=args.audio_stream,
                            progress=progress, fast=args.fast, **model_kwargs(args))
    for line in result.warnings:
        print(f"subalign: warning: {line}", file=sys.stderr)
    if not result.trusted:
        why = result.why_untrusted()
        if not args.force:
            raise SubalignError(
                f"{why}; the re-timed subtitles would likely be worse than the input (wrong media, "
                f"language or subtitle file?), so nothing was written; use --force to write them anyway"
            )
        print(f"subalign: warning: {why}; writing anyway (--force)", file=sys.stderr)
    result.save(out, inputs=inputs)
    if progress:
        methods = ", ".join(f"{n} by {m}" for m, n in result.meta()["methods"].items() if n)
        print(f"wrote {out} ({len(result.cues)} cues: {methods})", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
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
        elif args.command == "models":
            _cmd_models(args)
    except SubalignError as exc:
        if debug:
            traceback.print_exc()
        message = " ".join(str(exc).split())  # always one line
        print(f"subalign: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("subalign: interrupted; no output written", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal fault: say so plainly, traceback only on request
        if debug:
            traceback.print_exc()
        print(f"subalign: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        return EXIT_INTERNAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
