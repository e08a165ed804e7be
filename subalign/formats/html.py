"""The review page (``-o NAME.html``): one self-contained HTML file to check a result by watching.

The page plays the media (referred to by a path relative to the page, or embedded as a data URI),
draws the waveform with the words and cues on it, highlights the word being spoken, jumps to a
word or cue when clicked, and lists where to look: words with a low score, words not found, cues
placed by interpolation (sync) and each rule a cue breaks (the report). A cue's start and end can
be nudged and the corrected subtitles downloaded as SRT or WebVTT, written in the page exactly as
subalign writes them.

Everything is inline (the template, style and script are package data files beside this module:
``review.html``, ``review.css``, ``review.js``), so the file works offline, from a folder or an
e-mail attachment, without a server. Every word is an element ``<span class="w" data-start
data-end data-score>`` (seconds; empty for a word not found, which has ``data-found="false"``),
inside its cue's ``<div class="cue" data-start data-end>``, so scripts and tests can read it.

Big files stay light: the waveform is stored as min/max peaks at `PEAKS_PER_SECOND` (two bytes
each) and only the visible stretch is drawn; the transcript's blocks are laid out only when
scrolled into view (CSS ``content-visibility``).
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import mimetypes
import os
import re
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from ..errors import OutputError
from ..media import iter_audio, probe
from ..types import Cue
from .base import ALIGNED, EMBED_LIMIT, MediaInput, cue_lines, cue_method, format_clock, to_ms
from .srt import SRT
from .vtt import VTT

__all__ = ["LOW_SCORE", "PEAKS_PER_SECOND", "ReviewWriter", "review_page", "waveform_peaks",
           "write_review"]

#: Waveform resolution of the page: min/max pairs per second (10 ms, a quarter of a short phone).
PEAKS_PER_SECOND = 100
#: Sample rate the media is decoded at for the peaks (the peaks need no more).
PEAK_RATE = 8000
#: Word score below which the page marks a word (the page has a control to change it).
LOW_SCORE = 0.5

_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")

# What a media file is served as, by extension, where Python's table has no (browser) answer.
_MIME = {".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".aac": "audio/aac", ".wav": "audio/wav",
         ".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg",
         ".weba": "audio/webm", ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm",
         ".mkv": "video/x-matroska", ".mov": "video/quicktime", ".ogv": "video/ogg"}  # fmt: skip


class ReviewWriter:
    """The review page as an output format (``.html``); see the module docstring."""

    extension = ".html"

    def check(self, media: MediaInput | None) -> None:
        """Refuse early: no media, or media too big to embed."""
        if media is None:
            raise OutputError("the review page (.html) needs the media file to play and draw; "
                              "pass media= (the CLI does this itself)")
        if media.embed:
            check_embeddable(media.path, media.embed_limit)

    def render_document(self, document: Mapping[str, Any], media: MediaInput, dest: Path) -> bytes:
        return review_page(document, media, dest).encode("utf-8")


def write_review(path: str | Path, result: Any, media: str | Path, *, embed_media: bool = False,
                 embed_limit: int = EMBED_LIMIT, audio_stream: int = 0,
                 inputs: Sequence[str | Path] = ()) -> Path:
    """Write the review page of `result` — an `Alignment`, a `SyncResult`, a JSON document or the
    path of a JSON file written by ``-o x.json`` (nothing is aligned again) — for `media` to
    `path` (.html), atomically. `embed_media` puts the media inside the page (at most
    `embed_limit` bytes) instead of referring to it relative to the page."""
    from . import write_document
    from .jsonfile import result_document

    if Path(path).suffix.lower() not in (".html", ".htm"):
        raise OutputError(f"cannot write the review page to '{path}': give a .html file name")
    source = MediaInput(Path(media), embed=embed_media, embed_limit=embed_limit, audio_stream=audio_stream)
    if isinstance(result, str | os.PathLike):
        inputs = [*inputs, result]
    return write_document(path, result_document(result), source, inputs=inputs)


def check_embeddable(path: Path, limit: int) -> None:
    """Refuse media larger than `limit` bytes for embedding, with what to do instead."""
    try:
        size = Path(path).stat().st_size
    except OSError:
        return  # the media's own check names a missing file
    if size > limit:
        raise OutputError(
            f"cannot embed '{path}' in the review page: it is {_size(size)}, over the "
            f"{_size(limit)} limit for --embed-media; leave --embed-media out (the page then "
            f"refers to the file beside it) or embed a smaller audio-only copy, e.g. "
            f"ffmpeg -i '{Path(path).name}' -vn -c:a libopus -b:a 32k small.ogg"
        )


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


# ------------------------------------------------------------------------------------------------
# Waveform peaks


def waveform_peaks(path: str | Path, stream: int = 0,
                   per_second: int = PEAKS_PER_SECOND) -> tuple[np.ndarray, float]:
    """Min/max pairs of the audio of `path`, `per_second` of them per second, as an (N, 2) int8
    array scaled so the loudest peak is ±127, and the scale (the loudest sample's magnitude).

    The audio is decoded as a stream at `PEAK_RATE`, so hours of media take little memory.
    """
    hop = PEAK_RATE // per_second
    parts: list[np.ndarray] = []
    rest = np.zeros(0, dtype=np.float32)
    chunks = iter_audio(path, sample_rate=PEAK_RATE, stream=stream, chunk_seconds=60.0)
    with contextlib.closing(chunks):
        for chunk in chunks:
            data = np.concatenate([rest, chunk]) if rest.size else chunk
            n = data.size // hop * hop
            block = data[:n].reshape(-1, hop)
            parts.append(np.stack([block.min(axis=1), block.max(axis=1)], axis=1))
            rest = data[n:].copy()
    if rest.size:
        parts.append(np.array([[rest.min(), rest.max()]], dtype=np.float32))
    peaks = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.float32)
    scale = float(np.abs(peaks).max()) if peaks.size else 0.0
    quantized = np.round(peaks / scale * 127) if scale > 0 else np.zeros_like(peaks)
    return np.clip(quantized, -127, 127).astype(np.int8), scale


# ------------------------------------------------------------------------------------------------
# The page


def media_source(media: MediaInput, dest: Path) -> str:
    """The media's URL in the page: a data URI when embedding, else its path relative to the
    page's folder (percent-encoded), or a file URI when there is no relative path (another drive)."""
    path = Path(media.path).expanduser()
    if media.embed:
        check_embeddable(path, media.embed_limit)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"data:{media_type(path)};base64,{data}"
    try:
        relative = os.path.relpath(path.resolve(), Path(dest).expanduser().resolve().parent)
    except ValueError:
        return path.resolve().as_uri()
    return quote(Path(relative).as_posix())


def media_type(path: Path) -> str:
    """The MIME type a browser expects for a media file, by its extension."""
    suffix = path.suffix.lower()
    return _MIME.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _seconds(x: float | None) -> str:
    """A time for a data attribute: as JSON writes it, empty for none."""
    return "" if x is None else repr(float(x))


def _cue_lines(cue: Mapping[str, Any], markup: str | None) -> tuple[list[str], list[str], str]:
    """A cue's lines as subalign writes them in SRT and in WebVTT, and its text to show.

    `markup` is the format the lines come from when they hold markup (sync: the subtitles'
    format), None for plain aligned text — the same conversions `Subtitles.render` makes.
    """
    raw = [str(x) for x in cue.get("lines") or str(cue.get("text", "")).split("\n")]
    if markup is None:
        lines = cue_lines(Cue(0.0, 0.0, tuple(raw)))
        return lines, [VTT.from_plain(line) for line in lines], " ".join(lines)
    source = VTT if markup == "vtt" else SRT
    common = source.text_lines("\n".join(raw))
    shown = " ".join("".join(piece for is_tag, piece in line if not is_tag) for line in common)
    srt = [line for line in (SRT.from_markup(m) for m in common) if line]
    vtt = [line for line in (VTT.from_markup(m) for m in common) if line]
    return srt, vtt, shown


def _finding_text(f: Mapping[str, Any]) -> str:
    """A report finding as one line, as `--report` prints it (without the cue and time)."""
    rule, value, limit = f.get("rule", "?"), f.get("value"), f.get("limit")
    if isinstance(value, str):
        return f"{rule} at '{value}' ({limit})"
    if rule == "frame_grid":
        return f"frame_grid: {value} s is off the {limit} fps grid"
    op = "<" if rule in ("min_duration", "min_gap") else ">"
    return f"{rule} {_num(value)} {op} {_num(limit)}"


def _num(x: Any) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") if isinstance(x, float) else str(x)


def _word_span(k: int, word: Mapping[str, Any]) -> str:
    """One word as its element: times and score in data attributes."""
    text = html.escape(str(word.get("text", "")), quote=False)
    if word.get("found", True) is False or word.get("start") is None:
        return f'<span class="w nf" data-i="{k}" data-found="false" data-start="" data-end="" data-score="0">{text}</span>'
    score = float(word.get("score", 0.0))
    return (f'<span class="w" data-i="{k}" data-start="{_seconds(word["start"])}" '
            f'data-end="{_seconds(word["end"])}" data-score="{score:g}">{text}</span>')


def _transcript(document: Mapping[str, Any], shown: Sequence[str],
                findings: Mapping[int, list[str]]) -> str:
    """The transcript as HTML: one block per cue, holding its words (or its text when it has
    none), and the words no cue holds (not found) in blocks of their own between them."""
    words = document["words"]
    out: list[str] = []
    pos = 0

    def gap(lo: int, hi: int) -> None:
        if hi > lo:
            spans = " ".join(_word_span(k, words[k]) for k in range(lo, hi))
            out.append(f'<div class="gap">{spans}</div>')

    for k, cue in enumerate(document["cues"]):
        indices = [i for i in cue.get("words", []) if i >= pos]
        status = cue_method(cue)
        classes = ["cue"]
        if status not in ALIGNED:  # placed without its words: "interpolated", "unspoken", ...
            classes += ["placed", html.escape(status.replace(" ", "-"))]
        if k in findings:
            classes.append("broken")
        start_ms = to_ms(cue["start"])
        head = (f'<span class="num">{k + 1}</span><span class="ct">'
                f'{format_clock(start_ms, ".")}</span>')
        flags = "".join(f'<span class="flag" title="{html.escape(t)}">{html.escape(t.split()[0])}</span>'
                        for t in findings.get(k, []))
        if status not in ALIGNED:
            flags += f'<span class="flag st">{html.escape(status)}</span>'
        if indices:
            lo, hi = min(indices), max(indices) + 1
            gap(pos, lo)
            body = " ".join(_word_span(i, words[i]) for i in range(lo, hi))
            pos = hi
        else:
            body = f'<span class="tx">{html.escape(shown[k]) or "&nbsp;"}</span>'
        out.append(f'<div class="{" ".join(classes)}" data-cue="{k}" data-start="{_seconds(cue["start"])}" '
                   f'data-end="{_seconds(cue["end"])}"><div class="ch">{head}{flags}</div>'
                   f'<div class="cb">{body}</div></div>')
    gap(pos, len(words))
    return "\n".join(out)


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no "<" at all, so neither "</script" nor "<!--" can
    change how the page is parsed (JSON reads "\\u003c" back as "<")."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _resource(name: str) -> str:
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


def review_page(document: Mapping[str, Any], media: MediaInput, dest: str | Path,
                peaks: tuple[np.ndarray, float] | None = None) -> str:
    """The review page of a result (its JSON `document`) for `media`, to be written at `dest`
    (the media is referred to relative to it). `peaks` (`waveform_peaks`) are computed from the
    media when not given."""
    dest = Path(dest)
    path = Path(media.path).expanduser()
    info = probe(path)
    if peaks is None:
        peaks = waveform_peaks(path, media.audio_stream)
    meta = dict(document.get("meta") or {})
    report = list(document.get("report") or [])
    markup = str(meta.get("format", "srt")) if meta.get("command") == "sync" else None
    findings: dict[int, list[str]] = {}
    for f in report:
        if isinstance(f, Mapping) and isinstance(f.get("cue"), int):
            findings.setdefault(f["cue"] - 1, []).append(_finding_text(f))
    cues = []
    shown = []
    for k, cue in enumerate(document["cues"]):
        srt, vtt, text = _cue_lines(cue, markup)
        shown.append(text)
        item: dict[str, Any] = {"s": to_ms(cue["start"]), "e": to_ms(cue["end"]), "srt": srt}
        if vtt != srt:  # the page takes the SRT lines and the plain text from them otherwise
            item["vtt"] = vtt
        if text != " ".join(srt):
            item["text"] = text
        status = cue_method(cue)
        if status not in ALIGNED:
            item["placed"] = status
        if k in findings:
            item["findings"] = findings[k]
        cues.append(item)
    kind = "video" if info.fps else "audio"
    element = (f'<{kind} id="media" controls preload="auto" src="{html.escape(media_source(media, dest))}">'
               f"</{kind}>")
    duration = meta.get("duration") or info.duration or len(peaks[0]) / PEAKS_PER_SECOND
    data = {
        "name": dest.stem,
        "duration": float(duration),
        "media": {"kind": kind, "name": path.name, "embedded": media.embed},
        "peaks": {"rate": PEAKS_PER_SECOND, "scale": round(peaks[1], 6),
                  "data": base64.b64encode(peaks[0].tobytes()).decode("ascii")},
        "cues": cues,
        "report": report,
        "low": LOW_SCORE,
        "command": str(meta.get("command", "align")),
    }
    summary = [f"{len(document['words'])} words", f"{len(cues)} cues", f"{duration:.1f} s"]
    summary += [str(meta["model"])] if meta.get("model") else []
    made = [f"{key}: {meta[key]}" for key in ("command", "model", "device", "backend", "boundaries",
                                              "method", "subalign") if meta.get(key)]
    title = f"subalign review: {path.name}"
    values = {
        "TITLE": html.escape(title),
        "SUMMARY": html.escape(" · ".join(summary)),
        "MADE": html.escape(", ".join(made), quote=True),
        "MEDIA": element,
        "STYLE": _resource("review.css"),
        "TRANSCRIPT": _transcript(document, shown, findings),
        "DATA": _script_json(data),
        "SCRIPT": _resource("review.js"),
    }
    # One pass, so text put in (a word, a file name) is never read as a placeholder.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _resource("review.html"))
