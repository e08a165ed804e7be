"""Command line: `subalign align MEDIA TRANSCRIPT -o OUT`.

User errors (SubalignError) print one line and exit 2; internal faults exit 1; `--debug` shows
the traceback. Outputs are written atomically, so an interrupted or failed run leaves no file.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

from . import __version__
from .errors import SubalignError

EXIT_USAGE = 2
EXIT_INTERNAL = 1


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
    a.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (.srt, .vtt or .json)")
    a.add_argument("--audio-stream", type=int, default=0, metavar="N",
                   help="which audio stream of MEDIA to use, counting from 0 (default 0)")
    a.add_argument("--model", default="hama", metavar="NAME", help="acoustic model (default: hama, embedded)")
    a.add_argument("--language", default="en", metavar="LANG",
                   help="language of the transcript, for reading numbers and symbols (default en)")
    a.add_argument("--plain-boundaries", action="store_true",
                   help="keep the plain Viterbi word times (no acoustic boundary refinement)")
    for q in (p, a):
        q.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars")
        q.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks and debug logs")
    return p


def _cmd_align(args: argparse.Namespace, progress: bool) -> None:
    from .formats import check_output_path, write_output
    from .pipeline import align_media
    from .text import read_text

    if args.audio_stream < 0:
        raise SubalignError("--audio-stream must be 0 or more")
    inputs = [args.media] + ([args.transcript] if args.transcript != "-" else [])
    out = check_output_path(args.output, inputs=inputs)
    text = read_text(args.transcript)
    result = align_media(args.media, text, model=args.model, language=args.language,
                   audio_stream=args.audio_stream, progress=progress, refine=not args.plain_boundaries)
    write_output(out, result.words, result.cues, inputs=inputs, meta=result.meta())
    if progress:
        print(f"wrote {out} ({len(result.words)} words, {len(result.cues)} cues)", file=sys.stderr)


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
