"""Subtitle and output formats: one table, one module per format, and the verbs that read and
write files.

* `document` — the subtitle document model (`Subtitles`, `SubtitleCue`) every format reads into
  and writes from, losslessly in its own format;
* `srt`, `vtt`, `ass` (ASS and SSA), `sbv` — read, write back changing only the times, render
  fresh cues; `ttml` — TTML written as IMSC 1.1 Text (read by pysubs2); `pysubs` — MicroDVD,
  MPL2, TMPlayer and SAMI through pysubs2 (written afresh); `jsonfile` — the JSON of words, cues
  and how they were made (and reading it back);
* `html` — the review page, `plot` — the alignment plot: formats drawn from the media as well as
  the result (`MediaWriter`s: they get the media as a `MediaInput` and the result as its JSON
  document, so a JSON file read back draws the same as a fresh result);
* this module — `FORMATS` (the table), `read_subtitles` / `parse_subtitles`, `write_subtitles`,
  `write_output` (words + cues), `write_document` (a JSON result), and `write_text` /
  `write_bytes`: every file is written atomically.

Writer plugins (entry point group `subalign.writers`) add output formats to `WRITERS`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import interrupts
from ..errors import OutputError, TranscriptError
from ..plugins import WRITER_GROUP, distribution, entry_points_of
from ..text.markup import spoken_text
from ..text.read import decode_subtitles, decode_transcript, read_bytes
from ..types import Cue, WordSpan
from .ass import ASS, SSA, AssFormat, AssWriter, SsaWriter
from .base import MediaInput, MediaWriter, Writer
from .document import FreshWriter, SubtitleCue, SubtitleFormat, Subtitles
from .html import ReviewWriter
from .jsonfile import JsonWriter, json_document
from .plot import PlotWriter
from .pysubs import MICRODVD, MPL2, SAMI, TMP, Pysubs2Format
from .sbv import SBV, SbvWriter
from .srt import SRT, SrtWriter
from .ttml import TTML, TtmlWriter
from .vtt import VTT, VttWriter

log = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "WRITERS",
    "Format",
    "MediaInput",
    "MediaWriter",
    "SubtitleCue",
    "Subtitles",
    "Writer",
    "check_output_path",
    "format_for",
    "parse_subtitles",
    "read_subtitles",
    "read_transcript",
    "subtitle_format",
    "subtitle_format_for",
    "supported_extensions",
    "write_bytes",
    "write_document",
    "write_output",
    "write_subtitles",
    "write_text",
]


@dataclass(frozen=True)
class Format:
    """One row of the format table: its name, file extensions (the first is the usual one), the
    writer of aligned words and cues (None: read only; a writer with a `karaoke` attribute can
    highlight words, made with `type(writer)(karaoke=…)`; a `MediaWriter` for formats drawn from
    the media too), and — for subtitle formats — the module object that reads and writes
    documents."""

    name: str
    extensions: tuple[str, ...]
    writer: Writer | MediaWriter | None
    subtitles: SubtitleFormat | None = None


#: The built-in formats. Reading tries their contents in this order (then the extension).
FORMATS: tuple[Format, ...] = (
    Format("srt", SRT.extensions, SrtWriter(), SRT),
    Format("vtt", VTT.extensions, VttWriter(), VTT),
    Format("ass", ASS.extensions, AssWriter(), ASS),
    Format("ssa", SSA.extensions, SsaWriter(), SSA),
    Format("sbv", SBV.extensions, SbvWriter(), SBV),
    Format("ttml", TTML.extensions, TtmlWriter(), TTML),
    Format("microdvd", MICRODVD.extensions, FreshWriter("microdvd", ".sub"), MICRODVD),
    Format("mpl2", MPL2.extensions, FreshWriter("mpl2", ".mpl2"), MPL2),
    Format("tmp", TMP.extensions, FreshWriter("tmp", ".tmp"), TMP),
    Format("sami", SAMI.extensions, None, SAMI),
    Format("json", (".json",), JsonWriter()),
    Format("html", (".html", ".htm"), ReviewWriter()),
    Format("png", (".png",), PlotWriter(".png")),
    Format("svg", (".svg",), PlotWriter(".svg")),
)

#: Writers by lower-case extension (with the dot): the table's, then `subalign.writers` plugins.
WRITERS: dict[str, Writer | MediaWriter] = {
    f.extensions[0]: f.writer for f in FORMATS if f.writer is not None
}
_plugins_loaded = False

# What a file that is not a subtitle format subalign reads probably is, by extension, for the error.
_OTHER_FORMATS = {
    ".scc": "an SCC file", ".stl": "an EBU STL file", ".ytt": "a YouTube timed-text file",
    ".json": "a JSON file", ".txt": "a plain text file",
}  # fmt: skip
# Text formats that another reader would take for one it knows (SCC's lines look like TMPlayer's).
_UNREADABLE = {"Scenarist_SCC": "an SCC (CEA-608 broadcast caption) file"}
#: The formats subalign reads, for error messages.
READABLE = ("SubRip (.srt), WebVTT (.vtt), ASS/SSA, SBV, TTML/DFXP, MicroDVD (.sub), MPL2, "
            "TMPlayer (.tmp) and SAMI (.smi)")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def subtitle_format(name: str) -> SubtitleFormat:
    """The subtitle format named `name` ("srt", "vtt", "ass", …)."""
    for f in FORMATS:
        if f.subtitles is not None and f.name == name:
            return f.subtitles
    raise ValueError(f"unknown subtitle format {name!r}")


def format_for(path: str | Path) -> Format | None:
    """The table's row for a path's extension (case-insensitive), else None."""
    suffix = Path(path).suffix.lower()
    return next((f for f in FORMATS if suffix in f.extensions), None)


def subtitle_format_for(path: str | Path) -> str | None:
    """The subtitle format's name ("srt", "vtt", "ass"…) from a path's extension
    (case-insensitive), else None."""
    row = format_for(path)
    return row.name if row is not None and row.subtitles is not None else None


# ------------------------------------------------------------------------------------------------
# Reading


def read_subtitles(path: str | Path, encoding: str | None = None, fps: float | None = None) -> Subtitles:
    """Read a subtitle file; the content decides the format ("WEBVTT" first), then the
    extension. `fps` is the video's frame rate, for a MicroDVD file that does not declare its own.
    Raises TranscriptError naming the file (and line) when it cannot be read."""
    data, name = read_bytes(path, "subtitles", "give a subtitle file (.srt, .vtt, .ass…)")
    return parse_subtitles(data, name=name, format=subtitle_format_for(path), encoding=encoding, fps=fps)


def parse_subtitles(
    data: bytes | str, name: str = "<subtitles>", format: str | None = None, encoding: str | None = None,
    fps: float | None = None,
) -> Subtitles:
    """Parse a subtitle file from bytes or text. `format` is a hint (a format's name, from the
    extension); what the file holds decides (a file that starts with "WEBVTT" is always read as
    WebVTT, one that starts with "[Script Info]" as ASS/SSA…)."""
    if isinstance(data, bytes):
        if not data.strip(b" \t\r\n\x00"):
            raise TranscriptError(f"{name} is empty; there are no cues to re-time")
        text, enc, bom = decode_subtitles(data, name, encoding)
    else:
        text, enc, bom = data, "utf-8", False
    if text.startswith("\ufeff"):
        text, bom = text[1:], True
    if "\x00" in text:
        raise TranscriptError(
            f"{name} looks binary (it holds NUL characters); give a text subtitle file such as SRT"
        )
    lines = _LINE_BREAK.split(text)
    final_newline = bool(lines) and lines[-1] == ""
    if final_newline:
        lines.pop()
    match = _LINE_BREAK.search(text)
    newline = match.group(0) if match else "\n"
    fmt = _detect(lines, name, format)
    if not any(line.strip() for line in lines):
        raise TranscriptError(f"{name} is empty; there are no cues to re-time")
    if isinstance(fmt, Pysubs2Format):
        cues, timing_lines = fmt.parse(lines, name, fps=fps)
    else:
        cues, timing_lines = fmt.parse(lines, name)
    if not cues:
        what = {"srt": "no 'start --> end' timing lines", "vtt": "no 'start --> end' timing lines",
                "ass": "no Dialogue lines in an [Events] section", "ssa": "no Dialogue lines in an "
                "[Events] section"}.get(fmt.name, "no timed text")
        raise TranscriptError(f"{name} has no cues ({what})")
    return Subtitles(format=fmt.name, cues=tuple(cues), source_lines=tuple(lines),
                     timing_lines=tuple(timing_lines), name=name, encoding=enc, bom=bom,
                     newline=newline, final_newline=final_newline, fps=fps)


def read_transcript(source: str | Path) -> tuple[str, Subtitles | None]:
    """The transcript in `source` ("-": stdin) for `align`, and the subtitle document it came
    from, if it is one.

    A file whose extension is a subtitle format's, or whose content starts like one (a WebVTT
    header, an ASS section, SubRip or SBV timings, TTML…), is a subtitle file: its transcript is
    what its cues say out loud (`text.markup.spoken_text`: markup, sound descriptions, music and
    speaker labels left out, as `sync` aligns them), one line per cue line — never its cue
    numbers and timecodes. Anything else is plain text (`text.read.decode_transcript`).
    """
    data, name = read_bytes(source, "transcript")
    hint = subtitle_format_for(source) if str(source) != "-" else None
    if hint is None and not _looks_like_subtitles(data, name):
        return decode_transcript(data, name), None
    subs = parse_subtitles(data, name=name, format=hint)
    lines = [text for cue in subs.cues if (text := spoken_text(cue.text))]
    if not lines:
        raise TranscriptError(f"{name} is a subtitle file whose cues have no words to align "
                              "(only sound descriptions, music or markup)")
    return unicodedata.normalize("NFC", "\n".join(lines)), subs


def _looks_like_subtitles(data: bytes, name: str) -> bool:
    """Whether text (that is not known to be subtitles by its name) starts like a subtitle file."""
    head = data[:20000]
    if not head.strip() or b"\x00" in head.lstrip(b"\xff\xfe\xef\xbb\xbf"):
        return False
    text, _, _ = decode_subtitles(head, name)
    lines = _LINE_BREAK.split(text.removeprefix("\ufeff"))[:-1] or [text]
    return any(fmt.sniff(lines) for fmt in (VTT, ASS, TTML, SBV, SRT, MICRODVD, MPL2, TMP, SAMI))


def _detect(lines: list[str], name: str, hint: str | None) -> SubtitleFormat:
    """The format of a file from its content, then the hint its extension gives."""
    if VTT.sniff(lines):
        return VTT
    first = lines[0] if lines else ""
    if hint == "vtt":
        from .srt import show

        raise TranscriptError(f"{name} line 1: a WebVTT file must start with 'WEBVTT', found {show(first)}")
    head = next((line.strip() for line in lines[:20] if line.strip()), "")
    for signature, kind in _UNREADABLE.items():
        if head.startswith(signature):
            raise TranscriptError(f"{name} is {kind}, which subalign does not read; subalign reads "
                                  f"{READABLE}: convert it first, e.g. with ffmpeg -i IN OUT.srt")
    if ASS.sniff(lines):
        # One family: the extension names the dialect when it is one of the two
        return subtitle_format(hint if hint in AssFormat.family else AssFormat.variant_of(lines))
    for fmt in (TTML, SBV, SRT, MICRODVD, MPL2, TMP, SAMI):
        if fmt.sniff(lines):
            return fmt
    if hint in AssFormat.family:
        return subtitle_format(AssFormat.variant_of(lines) if hint == "ass" else hint)
    if hint is not None:
        return subtitle_format(hint)
    kind = _OTHER_FORMATS.get(Path(name).suffix.lower())
    what = f"looks like {kind}" if kind else "is not a subtitle file subalign can read"
    raise TranscriptError(
        f"{name} {what} (no cue timings near the top); subalign reads {READABLE}: "
        "convert it first, e.g. with ffmpeg -i IN OUT.srt"
    )


# ------------------------------------------------------------------------------------------------
# Writing


def _load_writer_plugins() -> None:
    """Add the installed `subalign.writers` entry points (once; built-in formats win)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points_of(WRITER_GROUP):
        try:
            obj = ep.load()
            writer = obj() if isinstance(obj, type) else obj
            ext = str(writer.extension).lower()
            if not (callable(getattr(writer, "render", None))
                    or isinstance(writer, MediaWriter)):
                raise TypeError("it has no render() method (nor check() and render_document())")
        except Exception as exc:  # one broken plugin must not stop the built-in formats
            log.warning("writer plugin %r (%s) skipped: %s", ep.name, distribution(ep), exc)
            continue
        WRITERS.setdefault(ext if ext.startswith(".") else "." + ext, writer)


def supported_extensions() -> list[str]:
    """The extensions ``write_output`` accepts, sorted."""
    _load_writer_plugins()
    return sorted(WRITERS)


def _writer_for(path: Path, karaoke: bool | None = None) -> Writer | MediaWriter:
    """The writer registered for the path's extension (case-insensitive), or an OutputError;
    with `karaoke` True the format's word-highlighting writer (False: its plain one)."""
    _load_writer_plugins()
    row = format_for(path)
    if row is not None and row.writer is None:
        raise OutputError(
            f"cannot write '{path}': subalign reads {row.name.upper()} files but cannot write them; "
            f"use one of {', '.join(supported_extensions())}"
        )
    writer = WRITERS.get(path.suffix.lower()) or (row.writer if row is not None else None)
    if writer is not None and karaoke is not None:
        if hasattr(writer, "karaoke"):
            if writer.karaoke != karaoke:
                writer = type(writer)(karaoke=karaoke)  # type: ignore[call-arg]
        elif karaoke:
            raise OutputError(
                f"cannot write '{path}' with word highlighting (--karaoke): its format has none; "
                "use .ass, .ssa, .vtt or .srt"
            )
    if writer is None:
        what = f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise OutputError(
            f"cannot write '{path}': {what} is not a known output format; "
            f"use one of {', '.join(supported_extensions())}"
        )
    return writer


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file, by identity when both exist, else by resolved path."""
    with contextlib.suppress(OSError):
        if a.exists() and b.exists() and os.path.samefile(a, b):
            return True
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def check_output_path(path: str | Path, inputs: Sequence[str | Path] = (),
                      karaoke: bool | None = None, media: MediaInput | None = None) -> Path:
    """Check up front that ``path`` can be written: known extension (with word highlighting when
    `karaoke`), existing writable folder, not a folder itself, not one of ``inputs``; return it
    as a Path or raise OutputError.

    A format drawn from the media (.html, .png, .svg) also checks what it needs: ``media``
    given, its optional packages installed, media small enough to embed.
    """
    dest = _check_dest(path, inputs, karaoke)
    writer = _writer_for(dest, karaoke)
    if isinstance(writer, MediaWriter):
        writer.check(media)
    return dest


def _check_dest(path: str | Path, inputs: Sequence[str | Path], karaoke: bool | None = None) -> Path:
    """`check_output_path` without the format's own checks (for writing a rendered file)."""
    dest = Path(path).expanduser()
    _writer_for(dest, karaoke)
    if dest.is_dir():
        raise OutputError(f"cannot write '{dest}': it is a folder; give a file name")
    folder = dest.parent
    if not folder.is_dir():
        raise OutputError(
            f"cannot write '{dest}': the folder '{folder}' does not exist; create it first"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write '{dest}': no permission to write in '{folder}'")
    for source in inputs:
        if _same_file(dest, Path(source).expanduser()):
            raise OutputError(
                f"refusing to overwrite the input '{source}' with the output; "
                "choose another output file"
            )
    return dest


def _new_file_mode(dest: Path) -> int:
    """Permissions for the written file: the replaced file's, else the usual 0o666 less umask."""
    try:
        return dest.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_output(
    path: str | Path,
    words: Sequence[WordSpan],
    cues: Sequence[Cue],
    *,
    inputs: Sequence[str | Path] = (),
    meta: Mapping[str, Any] | None = None,
    karaoke: bool | None = None,
    media: MediaInput | str | Path | None = None,
) -> Path:
    """Write words and cues to ``path`` in the format its extension names; return the path.

    `karaoke` True highlights each word as it is said (ASS/SSA: {\\kf} tags, WebVTT: timestamp
    tags, SubRip: one cue per word with the word underlined); False writes plain cues (also for
    ASS/SSA, which have karaoke by default); None is each format's default. Formats drawn from the
    media (the review page .html, the plot .png/.svg) need ``media`` (a path or a `MediaInput`);
    the others ignore it. The file is rendered in full first, then written atomically.
    """
    source = MediaInput.of(media) if media is not None else None
    inputs = [*inputs, source.path] if source is not None else inputs
    dest = check_output_path(path, inputs, karaoke, source)
    writer = _writer_for(dest, karaoke)
    if isinstance(writer, MediaWriter):
        assert source is not None  # writer.check refused None
        document = json_document(words, cues, dict(meta or {}))
        return write_bytes(dest, writer.render_document(document, source, dest), inputs=inputs)
    return write_text(dest, writer.render(words, cues, dict(meta or {})), inputs=inputs)


def write_document(
    path: str | Path,
    document: Mapping[str, Any],
    media: MediaInput | str | Path,
    *,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Draw a result given as its JSON document (`jsonfile.read_result`, `json_document`) to
    ``path``: a review page (.html) or a plot (.png, .svg) of ``media``; atomic like the rest."""
    source = MediaInput.of(media)
    inputs = [*inputs, source.path]
    dest = check_output_path(path, inputs, None, source)
    writer = _writer_for(dest)
    if not isinstance(writer, MediaWriter):
        drawn = ", ".join(e for e in supported_extensions() if isinstance(WRITERS[e], MediaWriter))
        raise OutputError(
            f"cannot write '{dest}' from a JSON result: that draws {drawn}; for subtitles, "
            "run 'subalign align' or 'sync' with -o NAME.srt"
        )
    return write_bytes(dest, writer.render_document(document, source, dest), inputs=inputs)


def write_text(path: str | Path, text: str, *, inputs: Sequence[str | Path] = ()) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (see `write_bytes`)."""
    return write_bytes(path, text.encode("utf-8"), inputs=inputs)


def write_bytes(path: str | Path, data: bytes, *, inputs: Sequence[str | Path] = ()) -> Path:
    """Write ``data`` to ``path`` atomically (the path checked like ``write_output``'s).

    The data goes to a temporary file in the same folder, which is then moved over ``path`` in
    one step, so a reader never sees a partial file and a failure leaves any previous file
    untouched and no temporary file behind.
    """
    dest = _check_dest(path, inputs)
    mode = _new_file_mode(dest)
    temp = None
    try:
        # A stop signal (Ctrl-C, SIGTERM, SIGHUP: `subalign.interrupts`) may cut the write short
        # anywhere, and then the `finally` removes the temporary file; it is only held back
        # while the file is created and named, and while it is renamed into place and recorded.
        with interrupts.deferred():
            fd, temp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
        with interrupts.deferred():
            os.replace(temp, dest)
            temp = None
            interrupts.note_written(dest)
    except OSError as error:
        raise OutputError(f"cannot write '{dest}': {error.strerror or error}") from error
    finally:
        if temp is not None:
            with interrupts.deferred(), contextlib.suppress(OSError):
                os.unlink(temp)
    return dest


def write_subtitles(path: str | Path, subs: Subtitles, *, inputs: Sequence[str | Path] = ()) -> Path:
    """Write `subs` to `path` (the format by extension) as UTF-8, atomically.

    In the document's own format (ASS and SSA: either) everything but the cue times is kept,
    including its line endings and a byte-order mark if it had one; another format, or one read
    through pysubs2, is rendered afresh.
    """
    fmt = subtitle_format_for(path)
    if fmt is None:
        raise OutputError(f"cannot write subtitles to '{path}': use a subtitle file name (.srt, .vtt, .ass…)")
    check_output_path(path, inputs)
    text = subs.render(fmt)
    if subs.bom and subs.written_back(fmt):
        text = "\ufeff" + text
    return write_text(path, text, inputs=inputs)
