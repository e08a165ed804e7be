"""Output formats: pick a writer from the file extension, render, and write the file atomically.

Each format is a small ``Writer`` (its extension and a pure ``render``) registered in ``WRITERS``;
``write_output`` is the one verb callers need, and ``check_output_path`` lets the CLI reject a bad
destination before any expensive work.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from subalign.errors import OutputError
from subalign.formats.base import Writer
from subalign.formats.jsonfile import JsonWriter
from subalign.formats.srt import SrtWriter
from subalign.formats.vtt import VttWriter
from subalign.types import Cue, WordSpan

__all__ = [
    "WRITERS",
    "Writer",
    "check_output_path",
    "supported_extensions",
    "write_output",
    "write_text",
]

#: Writers by lower-case extension (with the dot); `subalign.writers` plugins add to this table.
WRITERS: dict[str, Writer] = {w.extension: w for w in (SrtWriter(), VttWriter(), JsonWriter())}
_plugins_loaded = False


def _load_writer_plugins() -> None:
    """Add the installed `subalign.writers` entry points (once; built-in formats win)."""
    global _plugins_loaded
    if not _plugins_loaded:
        from subalign.plugins import writer_plugins

        for ext, writer in writer_plugins().items():
            WRITERS.setdefault(ext, writer)
        _plugins_loaded = True


def supported_extensions() -> list[str]:
    """The extensions ``write_output`` accepts, sorted."""
    _load_writer_plugins()
    return sorted(WRITERS)


def _writer_for(path: Path) -> Writer:
    """The writer registered for the path's extension (case-insensitive), or an OutputError."""
    _load_writer_plugins()
    writer = WRITERS.get(path.suffix.lower())
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


def check_output_path(path: str | Path, inputs: Sequence[str | Path] = ()) -> Path:
    """Check up front that ``path`` can be written: known extension, existing writable folder,
    not a folder itself, not one of ``inputs``; return it as a Path or raise OutputError."""
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
) -> Path:
    """Write words and cues to ``path`` in the format its extension names; return the path.

    The text is rendered in full first, then written atomically with ``write_text``.
    """
    dest = check_output_path(path, inputs)
    text = _writer_for(dest).render(words, cues, dict(meta or {}))
    return write_text(dest, text, inputs=inputs)


def write_text(path: str | Path, text: str, *, inputs: Sequence[str | Path] = ()) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (checked like ``write_output``).

    The text goes to a temporary file in the same folder, which is then moved over ``path`` in
    one step, so a reader never sees a partial file and a failure leaves any previous file
    untouched and no temporary file behind.
    """
    dest = check_output_path(path, inputs)
    data = text.encode("utf-8")
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
