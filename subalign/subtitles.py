"""Read SubRip (.srt) and WebVTT (.vtt) files so that their cues can be re-timed and written back.

A `Subtitles` document keeps the decoded source lines. Each cue knows the line that holds its
timing, so writing it back in its own format replaces only the times on those lines: text, line
breaks, tags, identifiers, VTT cue settings, NOTE, STYLE and REGION blocks, the header and the
line-ending style stay exactly as they were. Writing to the other format renders fresh cues.

Reading is strict where a guess would lose a cue: a line with "-->" that is not a timing, a cue
number without a timing, or a VTT block that is neither a cue nor a NOTE/STYLE/REGION block is an
error naming the file and line. Encodings: UTF-8/16/32 with or without a byte-order mark, and
cp1252 (which covers Latin-1) for anything that is not valid UTF-8; `encoding=` overrides.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import TranscriptError
from .formats.base import format_clock, to_ms

__all__ = [
    "SubtitleCue",
    "Subtitles",
    "decode_subtitles",
    "parse_subtitles",
    "read_subtitles",
    "subtitle_format_for",
    "write_subtitles",
]

FORMATS = ("srt", "vtt")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)

# SubRip: hours, minutes, seconds and an optional fraction after "," (or "." as some tools write).
_SRT_TIME = r"(\d{1,3}):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?"
_SRT_TIMING = re.compile(rf"^[ \t]*{_SRT_TIME}[ \t]*-->[ \t]*{_SRT_TIME}(?P<tail>(?:[ \t].*)?)$")
# WebVTT timestamps as the specification writes them: [hh:]mm:ss.ttt with mm, ss < 60.
_VTT_TIME = r"(?:(\d{2,}):)?(\d{2}):(\d{2})\.(\d{3})"
_VTT_TIMING = re.compile(rf"^{_VTT_TIME}[ \t]*-->[ \t]*{_VTT_TIME}(?P<tail>(?:\D.*)?)$")
_VTT_SIGNATURE = re.compile(r"^WEBVTT(?:[ \t].*)?$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_OTHER_FORMATS = {
    ".ass": "an ASS file", ".ssa": "an SSA file", ".ttml": "a TTML file", ".dfxp": "a DFXP file",
    ".xml": "an XML file", ".sbv": "an SBV file", ".smi": "a SAMI file", ".sami": "a SAMI file",
    ".scc": "an SCC file", ".stl": "an EBU STL file", ".sub": "a MicroDVD or SubViewer file",
    ".ytt": "a YouTube timed-text file", ".json": "a JSON file", ".txt": "a plain text file",
    ".tmp": "a TMPlayer file", ".mpl": "an MPL2 file",
}  # fmt: skip
_INDEX = re.compile(r"^[ \t]*\d+[ \t]*$")


@dataclass(frozen=True)
class SubtitleCue:
    """One cue as read: times in seconds, its text (lines joined by "\\n", tags kept), its
    identifier (the SRT number or VTT id, "" when absent), whatever followed the end time on the
    timing line (VTT cue settings, SRT coordinates) and the 1-based number of that line."""

    start: float
    end: float
    text: str
    identifier: str = ""
    settings: str = ""
    line: int = 0

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n") if self.text else []


@dataclass(frozen=True)
class Subtitles:
    """A subtitle file: its cues in file order and what it takes to write it back unchanged."""

    format: str  # "srt" or "vtt"
    cues: tuple[SubtitleCue, ...]
    source_lines: tuple[str, ...] = field(repr=False)
    timing_lines: tuple[int, ...] = field(repr=False)  # index into source_lines, per cue
    name: str = "<subtitles>"
    encoding: str = "utf-8"
    bom: bool = False
    newline: str = "\n"
    final_newline: bool = True

    def retimed(self, times: Sequence[tuple[float, float]]) -> Subtitles:
        """The same document with new (start, end) seconds for every cue, in cue order."""
        if len(times) != len(self.cues):
            raise ValueError(f"need {len(self.cues)} (start, end) pairs, got {len(times)}")
        cues = tuple(
            replace(c, start=float(s), end=float(e)) for c, (s, e) in zip(self.cues, times, strict=True)
        )
        return replace(self, cues=cues)

    def render(self, format: str | None = None) -> str:
        """The document as text in `format` (default: its own), with the current cue times.

        In its own format every line but the timing lines is written as it was read; converting
        between SRT and WebVTT renders the cues afresh (see `_srt_to_vtt_text`, `_vtt_to_srt_text`).
        """
        fmt = format or self.format
        if fmt not in FORMATS:
            raise ValueError(f"unknown subtitle format {fmt!r}")
        if fmt == self.format:
            lines = list(self.source_lines)
            for cue, at in zip(self.cues, self.timing_lines, strict=True):
                lines[at] = _timing_line(fmt, cue)
            text = self.newline.join(lines)
            if self.final_newline:
                text += self.newline
            return text
        if fmt == "vtt":
            return _render_vtt_from_srt(self)
        return _render_srt_from_vtt(self)


# ------------------------------------------------------------------------------------------------
# Decoding


def decode_subtitles(data: bytes, name: str = "<subtitles>", encoding: str | None = None) -> tuple[str, str, bool]:
    """Decode subtitle bytes; return (text, encoding used, whether there was a byte-order mark).

    Without `encoding`: a BOM decides; else UTF-32/UTF-16 when NUL bytes sit where that encoding
    of mostly-ASCII text puts them; else strict UTF-8; else cp1252, reading the five bytes cp1252
    leaves undefined as Latin-1.
    """
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except LookupError:
            raise TranscriptError(
                f"unknown encoding {encoding!r}; use a name Python knows, such as utf-8 or cp1252"
            ) from None
        except UnicodeDecodeError as exc:
            raise TranscriptError(
                f"{name} is not valid {encoding} (bad byte 0x{data[exc.start]:02x} at byte offset {exc.start})"
            ) from None
        bom = any(data.startswith(mark) for mark, _ in _BOMS) or text.startswith("\ufeff")
        return text.removeprefix("\ufeff"), encoding, bom
    for mark, enc in _BOMS:
        if data.startswith(mark):
            try:
                return data[len(mark):].decode(enc), enc, True
            except UnicodeDecodeError as exc:
                raise TranscriptError(
                    f"{name} starts with a {enc.upper()} byte-order mark but is not valid {enc.upper()} "
                    f"(at byte offset {exc.start + len(mark)})"
                ) from None
    guess = _guess_wide(data)
    if guess is not None:
        try:
            return data.decode(guess), guess, False
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        pass
    return "".join(_cp1252_char(b) for b in data), "cp1252", False


def _guess_wide(data: bytes) -> str | None:
    """UTF-16/32 without a BOM, told apart by where the NUL bytes of ASCII characters fall."""
    head = data[:4000]
    if len(head) < 8 or b"\x00" not in head:
        return None
    n4 = len(head) // 4 * 4
    cols4 = [head[i:n4:4].count(0) / (n4 // 4) for i in range(4)]
    if cols4[1] > 0.9 and cols4[2] > 0.9 and cols4[3] > 0.9 and cols4[0] < 0.5:
        return "utf-32-le"
    if cols4[0] > 0.9 and cols4[1] > 0.9 and cols4[2] > 0.9 and cols4[3] < 0.5:
        return "utf-32-be"
    n2 = len(head) // 2 * 2
    even = head[0:n2:2].count(0) / (n2 // 2)
    odd = head[1:n2:2].count(0) / (n2 // 2)
    if odd > 0.6 and even < 0.2:
        return "utf-16-le"
    if even > 0.6 and odd < 0.2:
        return "utf-16-be"
    return None


def _cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)  # 0x81, 0x8d, 0x8f, 0x90, 0x9d: Latin-1 control characters


# ------------------------------------------------------------------------------------------------
# Parsing


def subtitle_format_for(path: str | Path) -> str | None:
    """"srt" or "vtt" from a path's extension (case-insensitive), else None."""
    suffix = Path(path).suffix.lower()
    return {".srt": "srt", ".vtt": "vtt", ".webvtt": "vtt"}.get(suffix)


def read_subtitles(path: str | Path, encoding: str | None = None) -> Subtitles:
    """Read an SRT or WebVTT file; the content decides the format ("WEBVTT" first), then the
    extension. Raises TranscriptError naming the file (and line) when it cannot be read."""
    p = Path(path)
    name = str(p)
    if p.is_dir():
        raise TranscriptError(f"subtitles {name} is a directory; give an .srt or .vtt file")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise TranscriptError(f"subtitles {name} not found; check the path") from None
    except PermissionError:
        raise TranscriptError(f"subtitles {name} cannot be read (permission denied)") from None
    except OSError as exc:
        raise TranscriptError(f"subtitles {name} cannot be read ({exc.strerror or exc})") from None
    return parse_subtitles(data, name=name, format=subtitle_format_for(p), encoding=encoding)


def parse_subtitles(
    data: bytes | str, name: str = "<subtitles>", format: str | None = None, encoding: str | None = None
) -> Subtitles:
    """Parse SRT or WebVTT from bytes or text. `format` is a hint ("srt"/"vtt"); a file that
    starts with "WEBVTT" is always read as WebVTT."""
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
    first = lines[0] if lines else ""
    if first.startswith("WEBVTT"):
        fmt = "vtt"
    elif format == "vtt":
        raise TranscriptError(
            f"{name} line 1: a WebVTT file must start with 'WEBVTT', found {_show(first)}"
        )
    elif format == "srt" or any(_SRT_TIMING.match(line) for line in lines[:50]):
        fmt = "srt"
    else:
        suffix = Path(name).suffix.lower()
        kind = _OTHER_FORMATS.get(suffix)
        what = f"looks like {kind}" if kind else "is not an SRT or WebVTT file"
        raise TranscriptError(
            f"{name} {what} (no 'start --> end' timing lines near the top); subalign reads "
            "SubRip (.srt) and WebVTT (.vtt): convert it first, e.g. with ffmpeg -i IN OUT.srt"
        )
    if not any(line.strip() for line in lines):
        raise TranscriptError(f"{name} is empty; there are no cues to re-time")
    parse = _parse_vtt if fmt == "vtt" else _parse_srt
    cues, timing_lines = parse(lines, name)
    if not cues:
        raise TranscriptError(f"{name} has no cues (no 'start --> end' timing lines)")
    return Subtitles(
        format=fmt,
        cues=tuple(cues),
        source_lines=tuple(lines),
        timing_lines=tuple(timing_lines),
        name=name,
        encoding=enc,
        bom=bom,
        newline=newline,
        final_newline=final_newline,
    )


def _show(line: str, limit: int = 60) -> str:
    """A source line quoted for an error message, shortened."""
    line = line.strip()
    return repr(line if len(line) <= limit else line[: limit - 1] + "…")


def _seconds(h: str | None, m: str, s: str, frac: str | None) -> float:
    ms = int((frac or "0").ljust(3, "0")) if frac else 0
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + ms / 1000


def _parse_srt(lines: list[str], name: str) -> tuple[list[SubtitleCue], list[int]]:
    """SubRip: [number] / timing / text lines, cues separated by blank lines.

    Tolerated: no numbers, "." for ",", 1-3 fraction digits, no fraction, missing blank lines
    between cues, blank lines inside a cue's text (text after a blank line that does not start a
    cue continues the cue before), coordinates after the end time. Errors: a line with "-->"
    that is not a timing, a lone number without a timing, text before the first cue.
    """
    timings: list[tuple[int, re.Match[str]]] = []
    for i, line in enumerate(lines):
        if "-->" not in line:
            continue
        m = _SRT_TIMING.match(line)
        if m is None:
            raise TranscriptError(
                f"{name} line {i + 1}: cannot read the cue timing {_show(line)}; "
                "expected HH:MM:SS,mmm --> HH:MM:SS,mmm"
            )
        minutes_seconds = [int(m.group(k)) for k in (2, 3, 6, 7)]
        if any(v >= 60 for v in minutes_seconds):
            raise TranscriptError(
                f"{name} line {i + 1}: minutes and seconds must be below 60 in {_show(line)}"
            )
        timings.append((i, m))
    if not timings:
        return [], []

    def is_id(j: int, owner_from: int) -> bool:
        """Whether line j (just before a timing line) is that cue's number."""
        if j < owner_from or not lines[j].strip():
            return False
        if _INDEX.match(lines[j]):
            return True
        # A non-numeric label counts as an identifier only at the start of a block.
        return j == 0 or not lines[j - 1].strip()

    cues: list[SubtitleCue] = []
    timing_lines: list[int] = []
    starts = [i for i, _ in timings]
    prev_text_from = 0
    for k, (i, m) in enumerate(timings):
        has_id = is_id(i - 1, prev_text_from)
        # Anything between the previous cue's text and this cue must be blank.
        head_end = i - 1 if has_id else i
        if k == 0:
            for j in range(head_end):
                if lines[j].strip():
                    raise TranscriptError(
                        f"{name} line {j + 1}: expected a cue number or a timing line, found {_show(lines[j])}"
                    )
        stop = starts[k + 1] if k + 1 < len(starts) else len(lines)
        if k + 1 < len(starts) and is_id(stop - 1, i + 1):
            stop -= 1
        body = lines[i + 1 : stop]
        _check_srt_body(body, i + 1, name)
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        start = _seconds(m.group(1), m.group(2), m.group(3), m.group(4))
        end = _seconds(m.group(5), m.group(6), m.group(7), m.group(8))
        cues.append(
            SubtitleCue(
                start=start,
                end=end,
                text="\n".join(body),
                identifier=lines[i - 1].strip() if has_id else "",
                settings=m.group("tail").strip(),
                line=i + 1,
            )
        )
        timing_lines.append(i)
        prev_text_from = i + 1
    return cues, timing_lines


def _check_srt_body(body: list[str], first: int, name: str) -> None:
    """Refuse a cue number left without its timing line inside a cue's text region."""
    for j, line in enumerate(body):
        if not _INDEX.match(line):
            continue
        after_blank = j > 0 and not body[j - 1].strip()
        following = next((b for b in body[j + 1 :] if b.strip()), None)
        if after_blank and following is not None and j + 1 < len(body) and body[j + 1].strip():
            raise TranscriptError(
                f"{name} line {first + j + 1}: cue number {line.strip()} is not followed by a "
                f"timing line (found {_show(body[j + 1])})"
            )


def _parse_vtt(lines: list[str], name: str) -> tuple[list[SubtitleCue], list[int]]:
    """WebVTT per the specification's block rules: a header after "WEBVTT", then blocks
    separated by empty lines; a line with "-->" ends the block before it. Blocks are cues
    ([id] / timing / payload), NOTE, STYLE or REGION; anything else is an error."""
    if not _VTT_SIGNATURE.match(lines[0]):
        raise TranscriptError(
            f"{name} line 1: a WebVTT file must start with 'WEBVTT' followed by a space, a tab or "
            f"the end of the line, found {_show(lines[0])}"
        )
    blocks = _vtt_blocks(lines)
    cues: list[SubtitleCue] = []
    timing_lines: list[int] = []
    for n, (first, block) in enumerate(blocks):
        if n == 0:
            continue  # the header: signature and metadata lines, kept as they are
        head = block[0]
        arrow = next((j for j, line in enumerate(block[:2]) if "-->" in line), None)
        if arrow is None:
            if re.match(r"^NOTE(?:[ \t]|$)", head):
                continue
            if head.rstrip(" \t") in ("STYLE", "REGION"):
                if cues:
                    kind = head.strip()
                    raise TranscriptError(
                        f"{name} line {first + 1}: a {kind} block must come before the first cue"
                    )
                continue
            raise TranscriptError(
                f"{name} line {first + 1}: expected a cue timing ('00:00:01.000 --> 00:00:02.000'), "
                f"a NOTE, STYLE or REGION block, found {_show(head)}"
            )
        at = first + arrow
        m = _VTT_TIMING.match(block[arrow])
        if m is None:
            raise TranscriptError(
                f"{name} line {at + 1}: cannot read the cue timing {_show(block[arrow])}; expected "
                "[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm"
            )
        if any(int(m.group(k)) >= 60 for k in (2, 3, 6, 7)):
            raise TranscriptError(
                f"{name} line {at + 1}: minutes and seconds must be below 60 in {_show(block[arrow])}"
            )
        cues.append(
            SubtitleCue(
                start=_seconds(m.group(1), m.group(2), m.group(3), m.group(4)),
                end=_seconds(m.group(5), m.group(6), m.group(7), m.group(8)),
                text="\n".join(block[arrow + 1 :]),
                identifier=block[0] if arrow == 1 else "",
                settings=m.group("tail").strip(" \t"),
                line=at + 1,
            )
        )
        timing_lines.append(at)
    return cues, timing_lines


def _vtt_blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Split into (first line index, lines) blocks: empty lines separate blocks, and a line with
    "-->" that cannot be the current block's timing line (its first or second line) starts a new
    block. Only truly empty lines count; a line of spaces belongs to its block."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    header = True
    for i, line in enumerate(lines):
        if not line:
            if current:
                blocks.append((start, current))
                current, header = [], False
            continue
        if current and "-->" in line and (header or len(current) > 1 or "-->" in current[0]):
            blocks.append((start, current))
            current, header = [], False
        if not current:
            start = i
        current.append(line)
    if current:
        blocks.append((start, current))
    return blocks


# ------------------------------------------------------------------------------------------------
# Writing


def _timing_line(fmt: str, cue: SubtitleCue) -> str:
    start = to_ms(max(0.0, cue.start))
    end = max(to_ms(max(0.0, cue.end)), start)
    sep = "," if fmt == "srt" else "."
    timing = f"{format_clock(start, sep)} --> {format_clock(end, sep)}"
    return f"{timing} {cue.settings}" if cue.settings else timing


_SIMPLE_TAG = re.compile(r"</?([biu])>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>\n]*>")
_ASS_TAG = re.compile(r"\{\\[^}]*\}")


def _srt_text_as_vtt(text: str) -> list[str]:
    """SRT cue text as WebVTT payload lines: <b>, <i>, <u> kept, other tags (font) and ASS
    override codes dropped, &, < and > escaped, no empty lines, no "-->"."""
    out = []
    for line in text.split("\n"):
        line = _ASS_TAG.sub("", line)
        parts: list[str] = []
        pos = 0
        for m in _ANY_TAG.finditer(line):
            parts.append(_escape(line[pos : m.start()]))
            simple = _SIMPLE_TAG.fullmatch(m.group(0))
            if simple:
                parts.append(m.group(0).lower())
            pos = m.end()
        parts.append(_escape(line[pos:]))
        rendered = "".join(parts).strip()
        if rendered:
            out.append(rendered)
    return out


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_text_as_srt(text: str) -> list[str]:
    """WebVTT payload as SRT lines: <b>, <i>, <u> kept, other tags (voice, class, ruby,
    timestamps) dropped, entities decoded, empty lines dropped."""
    out = []
    for line in text.split("\n"):
        parts: list[str] = []
        pos = 0
        for m in _ANY_TAG.finditer(line):
            parts.append(html.unescape(line[pos : m.start()]))
            simple = re.fullmatch(r"<(/?)([biu])(?:\.[^>]*)?>", m.group(0), re.IGNORECASE)
            if simple:
                parts.append(f"<{simple.group(1)}{simple.group(2).lower()}>")
            pos = m.end()
        parts.append(html.unescape(line[pos:]))
        rendered = "".join(parts).strip()
        if rendered:
            out.append(rendered)
    return out


def _render_vtt_from_srt(subs: Subtitles) -> str:
    blocks = ["WEBVTT"]
    for cue in subs.cues:
        timing = _timing_line("vtt", replace(cue, settings=""))
        ident = cue.identifier if cue.identifier and "-->" not in cue.identifier else ""
        lines = ([ident] if ident else []) + [timing] + _srt_text_as_vtt(cue.text)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _render_srt_from_vtt(subs: Subtitles) -> str:
    blocks = []
    for number, cue in enumerate(subs.cues, 1):
        timing = _timing_line("srt", replace(cue, settings=""))
        blocks.append("\n".join([str(number), timing] + _vtt_text_as_srt(cue.text)))
    return "\n\n".join(blocks) + "\n"


def write_subtitles(path: str | Path, subs: Subtitles, *, inputs: Sequence[str | Path] = ()) -> Path:
    """Write `subs` to `path` (.srt or .vtt, by extension) as UTF-8, atomically.

    In the document's own format everything but the cue times is kept, including its line
    endings and a byte-order mark if it had one; the other format is rendered afresh.
    """
    from .errors import OutputError
    from .formats import write_text

    fmt = subtitle_format_for(path)
    if fmt is None:
        raise OutputError(f"cannot write subtitles to '{path}': use an .srt or .vtt file name")
    text = subs.render(fmt)
    if subs.bom and fmt == subs.format:
        text = "\ufeff" + text
    return write_text(path, text, inputs=inputs)
