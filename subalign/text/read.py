"""Reading text inputs: transcripts and subtitle files, as bytes and then as text.

One reader for every text input (`read_bytes`), so every one gets the same checks and the same
one-line errors. Two decoders, because the two kinds of file differ in what is safe to guess:

* a transcript (`decode_transcript`) is UTF-8, or UTF-16/32 with a byte-order mark; anything else
  is refused with the offset of the first bad byte, since a wrong guess would silently corrupt
  names and accents in the subtitles made from it;
* a subtitle file (`decode_subtitles`) is what people download: UTF-8/16/32 with or without a
  byte-order mark, and very often cp1252/Latin-1, which is taken for anything that is not UTF-8.
"""

from __future__ import annotations

import os
import stat
import sys
import unicodedata
from pathlib import Path
from typing import BinaryIO, NoReturn

from ..errors import TranscriptError

__all__ = ["BOMS", "MAX_TEXT_BYTES", "decode_subtitles", "decode_transcript", "read_bytes", "read_text"]

#: Byte-order marks, longest first (the UTF-32-LE mark starts with the UTF-16-LE one).
BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


#: The most bytes a transcript or subtitle file may hold (64 MiB): the text of 40 hours of speech
#: is about 3 MB, so this only stops a wrong file (a video, /dev/zero on stdin) before it fills
#: the memory. Decoding and the checks that follow stay well under a second or two at this size.
MAX_TEXT_BYTES = 64 << 20


def read_bytes(source: str | Path, what: str, hint: str = "give a text file") -> tuple[bytes, str]:
    """The bytes of `source` ("-" reads stdin) and the name to show for it in messages.

    `what` names the input in errors ("transcript", "subtitles"); every failure is a
    TranscriptError of one line. Only a regular file (or stdin) of at most `MAX_TEXT_BYTES` is
    read: a directory, a FIFO, a device or a socket is refused at once, without waiting for a
    writer (the file is opened non-blocking and checked on the open descriptor).
    """
    if str(source) == "-":
        try:
            return _read_limited(sys.stdin.buffer, "<stdin>", what), "<stdin>"
        except (OSError, ValueError, AttributeError) as exc:
            raise TranscriptError(f"cannot read the {what} from stdin: {exc}") from None
    path = Path(source)
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise TranscriptError(f"{what} {name} not found; check the path") from None
    except PermissionError:
        raise TranscriptError(
            f"{what} {name} cannot be read (permission denied); check its permissions"
        ) from None
    except OSError as exc:  # a socket (ENXIO), a loop of links...
        raise TranscriptError(f"{what} {name} cannot be read ({exc.strerror or exc}); {hint}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise TranscriptError(f"{what} {name} is a directory; {hint}")
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a device"
                    if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a regular file")
            raise TranscriptError(
                f"{what} {name} is {kind}, not a regular file; {hint} (or pipe it to stdin with '-')"
            )
        if info.st_size > MAX_TEXT_BYTES:
            _too_big(name, what)
        with os.fdopen(fd, "rb") as handle:
            fd = -1  # the handle closes it now
            return _read_limited(handle, name, what), name
    except OSError as exc:
        raise TranscriptError(f"{what} {name} cannot be read ({exc.strerror or exc})") from None
    finally:
        if fd >= 0:
            os.close(fd)


def _read_limited(handle: BinaryIO, name: str, what: str) -> bytes:
    """Read all of `handle`, refusing more than `MAX_TEXT_BYTES` (reads at most one byte more)."""
    data = handle.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        _too_big(name, what)
    return data


def _too_big(name: str, what: str) -> NoReturn:
    raise TranscriptError(
        f"{what} {name} holds more than {MAX_TEXT_BYTES >> 20} MiB, far more text than any "
        "recording is spoken in; is it the right file?"
    )


def read_text(source: str | Path) -> str:
    """Read a transcript file ("-" for stdin) as text with "\\n" newlines and NFC Unicode.

    Accepts UTF-8 (with or without BOM) and UTF-16/UTF-32 with a BOM; anything else is refused
    with the byte offset of the first bad byte.
    """
    data, name = read_bytes(source, "transcript")
    return decode_transcript(data, name)


def decode_transcript(data: bytes, name: str) -> str:
    """Decode transcript bytes by BOM or as strict UTF-8, then normalise newlines and to NFC."""
    encoding, body = "utf-8", data
    for bom, enc in BOMS:
        if data.startswith(bom):
            encoding, body = enc, data[len(bom) :]
            break
    else:
        nul = data.find(b"\x00")
        if nul >= 0:
            raise TranscriptError(
                f"transcript {name} looks binary (NUL byte at byte offset {nul}); give a plain "
                "text file saved as UTF-8 (UTF-16 and UTF-32 need a byte-order mark)"
            )
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(data) - len(body))
        label = "UTF-8" if encoding == "utf-8" else encoding.upper()
        raise TranscriptError(
            f"transcript {name} is not valid {label} (bad byte 0x{data[offset]:02x} at byte "
            f"offset {offset}); save it as UTF-8"
        ) from None
    if "\x00" in text:
        raise TranscriptError(
            f"transcript {name} looks binary (it contains NUL characters); give a plain text file"
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u0085", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    return unicodedata.normalize("NFC", text)


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
        bom = any(data.startswith(mark) for mark, _ in BOMS) or text.startswith("\ufeff")
        return text.removeprefix("\ufeff"), encoding, bom
    for mark, enc in BOMS:
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
