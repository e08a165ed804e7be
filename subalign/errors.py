"""One exception hierarchy: every error a user can act on is a SubalignError.

The CLI prints the message of a SubalignError on one line and exits 2; anything else is
an internal fault (exit 1).
"""

from __future__ import annotations


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
