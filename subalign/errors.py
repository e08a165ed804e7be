"""One exception hierarchy: every error a user can act on is a SubalignError.

The CLI prints the message of a SubalignError on one line and exits 2; anything else is
an internal fault (exit 1). `printable` escapes the control characters of user text (paths, words)
that a message shows.
"""

from __future__ import annotations

import re


class SubalignError(Exception):
    """A problem with the user's input or environment, with a message that says what to do."""


class MediaError(SubalignError):
    """The media file is missing, unreadable, has no audio, or ffmpeg failed on it."""


class TranscriptError(SubalignError):
    """The transcript or subtitle text is missing, empty, undecodable or cannot fit the audio."""


class AlignmentError(SubalignError, ValueError, RuntimeError):
    """The forced aligner got inputs it cannot align (shapes, ranges, too many tokens).

    Also a ValueError and a RuntimeError: torchaudio's forced_align raises ValueError for a
    blank or out-of-range target id and RuntimeError for the rest, so code written against it
    keeps catching our errors whichever it catches.
    """


class ModelError(SubalignError):
    """An acoustic model could not be loaded or run."""


class OutputError(SubalignError):
    """The output cannot be written (missing folder, unknown format, would overwrite an input)."""


# Control characters (C0 but tab, newline and carriage return; DEL; C1) and the bidirectional
# controls that can reorder what a terminal shows ("Trojan source"): a file name or transcript
# holding them must not move the cursor, recolour or hide text when a message shows it.
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{_CONTROLS}]")
_UNSAFE_OR_LAYOUT = re.compile(f"[\t\n\r{_CONTROLS}]")


def printable(text: str, *, keep_layout: bool = False) -> str:
    """`text` with control characters written as escapes (ESC as ``\\x1b``, U+202E as
    ``\\u202e``), so showing user text (a path, a word) on a terminal cannot act on it.

    `keep_layout` leaves tab, newline and carriage return alone (what a stream of progress bars
    and messages needs); otherwise they are escaped too.
    """
    pattern = _UNSAFE_OR_LAYOUT if not keep_layout else _UNSAFE
    return pattern.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
