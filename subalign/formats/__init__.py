"""Subtitle and output formats: one table, one module per format, and the verbs that read and
write files.

* `document` — the subtitle document model (`Subtitles`, `SubtitleCue`) every format reads into
  and writes from, losslessly in its own format;
* `srt`, `vtt` — SubRip and WebVTT: read, write back, render fresh cues; `jsonfile` — the JSON of
  words, cues and how they were made (and reading it back);
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import OutputError, TranscriptError
from ..plugins import WRITER_GROUP, distribution, entry_points_of
from ..text.read import decode_subtitles, read_bytes
from ..types import Cue, WordSpan
from .base import MediaInput, MediaWriter, Writer
from .document import SubtitleCue, SubtitleFormat, Subtitles
from .html import ReviewWriter
from .jsonfile import JsonWriter, json_document
from .plot import PlotWriter
from .srt import SRT, SrtWriter
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
    writer of aligned words and cues (a `MediaWriter` for formats drawn from the media too), and —
    for subtitle formats — the module object that reads and writes documents."""

    name: str
    extensions: tuple[str, ...]
    writer: Writer | MediaWriter
    subtitles: SubtitleFormat | None = None


#: The built-in formats.
FORMATS: tuple[Format, ...] = (
    Format("srt", SRT.extensions, SrtWriter(), SRT),
    Format("vtt", VTT.extensions, VttWriter(), VTT),
    Format("json", (".json",), JsonWriter()),
    Format("html", (".html", ".htm"), ReviewWriter()),
    Format("png", (".png",), PlotWriter(".png")),
    Format("svg", (".svg",), PlotWriter(".svg")),
)

#: Writers by lower-case extension (with the dot): the table's, then `subalign.writers` plugins.
WRITERS: dict[str, Writer | MediaWriter] = {ext: f.writer for f in FORMATS for ext in f.extensions[:1]}
_plugins_loaded = False

# What a file that is not SRT or WebVTT probably is, by extension, for the error message.
_OTHER_FORMATS = {
    ".ass": "an ASS file", ".ssa": "an SSA file", ".ttml": "a TTML file", ".dfxp": "a DFXP file",
    ".xml": "an XML file", ".sbv": "an SBV file", ".smi": "a SAMI file", ".sami": "a SAMI file",
    ".scc": "an SCC file", ".stl": "an EBU STL file", ".sub": "a MicroDVD or SubViewer file",
    ".ytt": "a YouTube timed-text file", ".json": "a JSON file", ".txt": "a plain text file",
    ".tmp": "a TMPlayer file", ".mpl": "an MPL2 file",
}  # fmt: skip
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def subtitle_format(name: str) -> SubtitleFormat:
    """The subtitle format named `name` ("srt", "vtt")."""
    for f in FORMATS:
        if f.subtitles is not None and f.name == name:
            return f.subtitles
    raise ValueError(f"unknown subtitle format {name!r}")


def format_for(path: str | Path) -> Format | None:
    """The table's row for a path's extension (case-insensitive), else None."""
    suffix = Path(path).suffix.lower()
    return next((f for f in FORMATS if suffix in f.extensions), None)


def subtitle_format_for(path: str | Path) -> str | None:
    """"srt" or "vtt" from a path's extension (case-insensitive), else None."""
    row = format_for(path)
    return row.name if row is not None and row.subtitles is not None else None


# ------------------------------------------------------------------------------------------------
# Reading


def read_subtitles(path: str | Path, encoding: str | None = None) -> Subtitles:
    """Read a subtitle file; the content decides the format ("WEBVTT" first), then the
    extension. Raises TranscriptError naming the file (and line) when it cannot be read."""
    data, name = read_bytes(path, "subtitles", "give an .srt or .vtt file")
    return parse_subtitles(data, name=name, format=subtitle_format_for(path), encoding=encoding)


def parse_subtitles(
    data: bytes | str, name: str = "<subtitles>", format: str | None = None, encoding: str | None = None
) -> Subtitles:
    """Parse a subtitle file from bytes or text. `format` is a hint ("srt"/"vtt"); what the file
    holds decides (a file that starts with "WEBVTT" is always read as WebVTT)."""
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
            f"{name} looks binary (it holds NUL characters); give an SRT or WebVTT text file"
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
    cues, timing_lines = fmt.parse(lines, name)
    if not cues:
        raise TranscriptError(f"{name} has no cues (no 'start --> end' timing lines)")
    return Subtitles(format=fmt.name, cues=tuple(cues), source_lines=tuple(lines),
                     timing_lines=tuple(timing_lines), name=name, encoding=enc, bom=bom,
                     newline=newline, final_newline=final_newline)


def _detect(lines: list[str], name: str, hint: str | None) -> SubtitleFormat:
    """The format of a file from its first lines, then the hint its extension gives."""
    if VTT.sniff(lines):
        return VTT
    first = lines[0] if lines else ""
    if hint == "vtt":
        from .srt import show

        raise TranscriptError(f"{name} line 1: a WebVTT file must start with 'WEBVTT', found {show(first)}")
    if hint == "srt" or SRT.sniff(lines):
        return SRT
    kind = _OTHER_FORMATS.get(Path(name).suffix.lower())
    what = f"looks like {kind}" if kind else "is not an SRT or WebVTT file"
    raise TranscriptError(
        f"{name} {what} (no 'start --> end' timing lines near the top); subalign reads "
        "SubRip (.srt) and WebVTT (.vtt): convert it first, e.g. with ffmpeg -i IN OUT.srt"
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


def _writer_for(path: Path) -> Writer | MediaWriter:
    """The writer registered for the path's extension (case-insensitive), or an OutputError."""
    _load_writer_plugins()
    row = format_for(path)
    writer = WRITERS.get(path.suffix.lower()) or (row.writer if row is not None else None)
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


def check_output_path(
    path: str | Path, inputs: Sequence[str | Path] = (), media: MediaInput | None = None
) -> Path:
    """Check up front that ``path`` can be written: known extension, existing writable folder,
    not a folder itself, not one of ``inputs``; return it as a Path or raise OutputError.

    A format drawn from the media (.html, .png, .svg) also checks what it needs: ``media``
    given, its optional packages installed, media small enough to embed.
    """
    dest = _check_dest(path, inputs)
    writer = _writer_for(dest)
    if isinstance(writer, MediaWriter):
        writer.check(media)
    return dest


def _check_dest(path: str | Path, inputs: Sequence[str | Path]) -> Path:
    """`check_output_path` without the format's own checks (for writing a rendered file)."""
    dest = Path(path).expanduser()
    _writer_for(dest)
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
    media: MediaInput | str | Path | None = None,
) -> Path:
    """Write words and cues to ``path`` in the format its extension names; return the path.

    The file is rendered in full first, then written atomically. Formats drawn from the media
    (the review page .html, the plot .png/.svg) need ``media`` (a path or a `MediaInput`); the
    others ignore it.
    """
    source = MediaInput.of(media) if media is not None else None
    inputs = [*inputs, source.path] if source is not None else inputs
    dest = check_output_path(path, inputs, source)
    writer = _writer_for(dest)
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
    dest = check_output_path(path, inputs, source)
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
        fd, temp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
        os.replace(temp, dest)
        temp = None
    except OSError as error:
        raise OutputError(f"cannot write '{dest}': {error.strerror or error}") from error
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    return dest


def write_subtitles(path: str | Path, subs: Subtitles, *, inputs: Sequence[str | Path] = ()) -> Path:
    """Write `subs` to `path` (.srt or .vtt, by extension) as UTF-8, atomically.

    In the document's own format everything but the cue times is kept, including its line
    endings and a byte-order mark if it had one; another format is rendered afresh.
    """
    fmt = subtitle_format_for(path)
    if fmt is None:
        raise OutputError(f"cannot write subtitles to '{path}': use an .srt or .vtt file name")
    text = subs.render(fmt)
    if subs.bom and fmt == subs.format:
        text = "\ufeff" + text
    return write_text(path, text, inputs=inputs)
