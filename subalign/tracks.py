"""Subtitle tracks inside media files: read one as a subtitle document, write a re-timed document
back into a copy of the container.

ffmpeg does the container work (`subalign.media.extract_subtitles`, `embed_subtitles`); this
module turns a track into a `Subtitles` document (ASS and WebVTT tracks as they are, other text
tracks as SubRip) and a document into a file ffmpeg can mux.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .formats import Subtitles, parse_subtitles
from .media import SubtitleStream, embed_subtitles, extract_subtitles

__all__ = ["embed_track", "read_subtitle_track"]

#: Formats a Matroska subtitle track holds as they are; anything else is muxed as SubRip.
_MUXABLE = {"srt": "srt", "vtt": "vtt", "ass": "ass", "ssa": "ass"}


def read_subtitle_track(media: str | os.PathLike[str], stream: int | None = None,
                        encoding: str | None = None) -> tuple[Subtitles, SubtitleStream]:
    """The subtitle stream `stream` of `media` (counting its subtitle streams from 0 as ffmpeg's
    `0:s:N` does; None: the first text one) as a document, and the stream it came from. A file
    without a text subtitle stream is a MediaError of one line."""
    data, fmt, chosen = extract_subtitles(media, stream)
    name = f"{media} ({chosen.describe()})"
    return parse_subtitles(data, name=name, format=fmt, encoding=encoding or "utf-8"), chosen


def embed_track(media: str | os.PathLike[str], subs: Subtitles, out: str | os.PathLike[str],
                replace: SubtitleStream | None = None) -> Path:
    """Write a copy of `media` to `out` with `subs` as a subtitle track, replacing the track
    `replace` (the one `subs` was read from) or, when None, added after the existing ones.

    `subs` is written in its own format when the container can hold it as it is (an ASS track
    keeps its styles), else as SubRip; `media` is never modified and `out` appears in one step.
    """
    fmt = _MUXABLE.get(subs.format, "srt")
    with tempfile.TemporaryDirectory(prefix="subalign-track-") as tmp:
        track = Path(tmp) / f"track.{fmt}"
        track.write_text(subs.render(fmt), encoding="utf-8")
        return embed_subtitles(media, track, out, replace=replace)
