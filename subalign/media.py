"""Media stage: any file ffmpeg can read -> float32 mono waveform at the model's sample rate.

ffmpeg does the demuxing, decoding, downmixing and resampling; we stream its raw f32le output
through a pipe in fixed-size chunks so hours-long media never has to sit in memory at once, and
turn ffmpeg's multi-line complaints into one actionable MediaError line.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from subalign.errors import MediaError
from subalign.progress import Progress, job_progress

__all__ = [
    "IMAGE_SUBTITLE_CODECS",
    "AudioStream",
    "MediaInfo",
    "SubtitleStream",
    "embed_subtitles",
    "extract_subtitles",
    "check_audio_stream",
    "ffmpeg_binary",
    "iter_audio",
    "load_audio",
    "probe",
]

_FFMPEG_ENV = "SUBALIGN_FFMPEG"


# --------------------------------------------------------------------------------------------
# The ffmpeg binary


def ffmpeg_binary() -> str:
    """The ffmpeg executable to run: $SUBALIGN_FFMPEG, else `ffmpeg` on PATH, else imageio-ffmpeg's.

    Cached per value of $SUBALIGN_FFMPEG, so changing the variable takes effect at the next call.
    """
    return _resolve_ffmpeg(os.environ.get(_FFMPEG_ENV) or None)


@functools.lru_cache(maxsize=8)
def _resolve_ffmpeg(override: str | None) -> str:
    if override is not None:
        found = shutil.which(override)
        if found is None:
            raise MediaError(
                f"{_FFMPEG_ENV}={override!r} is not an executable ffmpeg; "
                f"point it at an ffmpeg binary or unset it"
            )
        return found
    on_path = shutil.which("ffmpeg")
    if on_path is not None:
        return on_path
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        raise MediaError(
            "no ffmpeg found: install ffmpeg on PATH or the imageio-ffmpeg package, "
            f"or set {_FFMPEG_ENV} to an ffmpeg binary"
        ) from exc


def _cannot_run(binary: str, exc: OSError) -> MediaError:
    return MediaError(f"cannot run ffmpeg ({binary}): {exc.strerror or exc}; "
                      f"check the installation or set {_FFMPEG_ENV}")


def _ffprobe_binary() -> str | None:
    """An ffprobe next to the chosen ffmpeg, else one on PATH, else None."""
    sibling = Path(ffmpeg_binary()).with_name("ffprobe")
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    return shutil.which("ffprobe")


# --------------------------------------------------------------------------------------------
# Probing


@dataclass(frozen=True)
class AudioStream:
    """One audio stream of a media file; `index` is its 0-based ordinal among the audio streams."""

    index: int
    codec: str
    sample_rate: int | None
    channels: int | None
    language: str | None


#: Subtitle codecs that are pictures, not text: they cannot be re-timed by what they say.
IMAGE_SUBTITLE_CODECS = frozenset({
    "hdmv_pgs_subtitle", "pgssub", "dvd_subtitle", "dvdsub", "dvb_subtitle", "dvbsub", "xsub",
    "dvb_teletext", "arib_caption",
})


@dataclass(frozen=True)
class SubtitleStream:
    """One subtitle stream of a media file. `index` is its 0-based ordinal among the subtitle
    streams (text and image alike, as ffmpeg's `0:s:N` counts them); `stream` its index among
    all the file's streams; `codec` ffmpeg's name (subrip, ass, webvtt, mov_text,
    hdmv_pgs_subtitle…)."""

    index: int
    codec: str
    language: str | None = None
    title: str | None = None
    stream: int | None = None
    default: bool = False

    @property
    def is_text(self) -> bool:
        """Whether the stream holds text (not pictures of text, such as PGS or VobSub)."""
        return self.codec not in IMAGE_SUBTITLE_CODECS

    def describe(self) -> str:
        """"subtitle stream 1 (subrip, eng, "English")" for messages."""
        extra = ", ".join(x for x in (self.codec, self.language, f'"{self.title}"' if self.title else None) if x)
        return f"subtitle stream {self.index} ({extra})"


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds: container format, duration (s), audio streams, video frame rate,
    subtitle streams."""

    path: Path
    format: str | None
    duration: float | None
    audio_streams: tuple[AudioStream, ...]
    fps: float | None
    subtitle_streams: tuple[SubtitleStream, ...] = ()


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Describe a media file, with ffprobe when there is one, else by parsing `ffmpeg -i` output.

    Raises MediaError (one line naming the file) when it is missing, unreadable or not media.
    """
    p = _check_file(path)
    ffprobe = _ffprobe_binary()
    return _probe_ffprobe(p, ffprobe) if ffprobe is not None else _probe_ffmpeg(p)


def _probe_ffprobe(p: Path, ffprobe: str) -> MediaInfo:
    try:
        data = ffmpeg.probe(str(p.resolve()), cmd=ffprobe)
    except ffmpeg.Error as exc:
        raise _open_error(p, exc.stderr.decode("utf-8", "replace")) from None
    return _info_from_ffprobe(p, data)


def _probe_ffmpeg(p: Path) -> MediaInfo:
    """The route without ffprobe (imageio-ffmpeg ships none): parse `ffmpeg -i`'s stream dump."""
    cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-i", str(p.resolve())]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, check=False)
    except OSError as exc:
        raise _cannot_run(cmd[0], exc) from None
    return _parse_ffmpeg_stderr(p, proc.stderr.decode("utf-8", "replace"))


def _check_file(path: str | os.PathLike[str]) -> Path:
    """Fail early, with a clear line, on paths ffmpeg would only reject cryptically."""
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise MediaError(f"{p} is a directory, not a media file; give the path of a file in it")
    if not p.is_file():
        raise MediaError(f"{p} is not a regular file (a pipe or device?); save the media to a file")
    try:
        with p.open("rb"):
            pass
    except PermissionError:
        raise MediaError(f"{p}: permission denied; make the file readable (chmod +r)") from None
    except OSError as exc:
        raise MediaError(f"{p} cannot be read: {exc.strerror or exc}") from None
    return p


_CHANNEL_LAYOUTS = {
    "mono": 1, "stereo": 2, "downmix": 2, "2.1": 3, "3.0": 3, "3.0(back)": 3, "4.0": 4,
    "quad": 4, "quad(side)": 4, "3.1": 4, "5.0": 5, "5.0(side)": 5, "4.1": 5, "5.1": 6,
    "5.1(side)": 6, "6.0": 6, "6.0(front)": 6, "3.1.2": 6, "hexagonal": 6, "6.1": 7,
    "6.1(back)": 7, "6.1(front)": 7, "7.0": 7, "7.0(front)": 7, "7.1": 8, "7.1(wide)": 8,
    "7.1(wide-side)": 8, "5.1.2": 8, "octagonal": 8, "cube": 8, "5.1.4": 10, "7.1.2": 10,
    "7.1.4": 12, "7.2.3": 12, "9.1.4": 14, "hexadecagonal": 16, "22.2": 24,
}  # fmt: skip

_INPUT_RE = re.compile(r"^Input #0, (?P<format>.+?), from '")
_DURATION_RE = re.compile(r"^\s*Duration: (?:(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)|N/A)")
_STREAM_RE = re.compile(
    r"^\s*Stream #0:(?P<idx>\d+)(?:\[[^\]]*\])?(?:\((?P<lang>[^)]*)\))?: "
    r"(?P<kind>Video|Audio|Subtitle|Data|Attachment): (?P<rest>.*)$"
)
_TITLE_RE = re.compile(r"^\s{4,}title\s*: (?P<title>.*)$", re.IGNORECASE)
_OUTPUT_RE = re.compile(r"^Output #")
_HZ_RE = re.compile(r"(?P<rate>\d+) Hz(?:, (?P<layout>[^,]+))?")
_CHANNELS_RE = re.compile(r"^(?P<n>\d+) channels")
_RATE_RE = re.compile(r"(?P<v>\d+(?:\.\d+)?)(?P<k>k?) (?P<unit>fps|tbr)\b")
# The demuxer's complaints that mean "the file stops before its own headers say it should".
_TRUNCATION_HINTS = (
    "moov atom not found",
    "partial file",
    "ended prematurely",
    "filesize and duration do not match",
    "truncated",
    "unexpected end of file",
)
_LOG_PREFIX_RE = re.compile(r"^(?:\[[^\]]*\] ?)+")


def _parse_ffmpeg_stderr(path: Path, stderr: str) -> MediaInfo:
    """Build MediaInfo from the stream dump `ffmpeg -i PATH` prints (our route without ffprobe)."""
    lines = stderr.splitlines()
    fmt = None
    for line in lines:
        m = _INPUT_RE.match(line)
        if m:
            fmt = m.group("format")
            break
    if fmt is None:
        raise _open_error(path, stderr)
    if "misdetection possible" in stderr and not any("Audio:" in x or "Video:" in x for x in lines):
        raise _open_error(path, stderr)  # e.g. a text file read as a lyrics/subtitle format
    duration: float | None = None
    streams: dict[int, tuple[str, str | None, str]] = {}
    titles: dict[int, str] = {}
    current: int | None = None  # the stream whose metadata lines follow
    for line in lines:
        m = _DURATION_RE.match(line)
        if m and duration is None and m.group("h") is not None:
            duration = int(m.group("h")) * 3600 + int(m.group("m")) * 60 + float(m.group("s"))
        m = _STREAM_RE.match(line)
        if m:
            kind_lang_rest = (m.group("kind"), m.group("lang"), m.group("rest"))
            current = int(m.group("idx"))
            streams.setdefault(current, kind_lang_rest)
            continue
        if _OUTPUT_RE.match(line):
            current = None
        t = _TITLE_RE.match(line)
        if t and current is not None:
            titles.setdefault(current, t.group("title").strip())
    audio: list[AudioStream] = []
    subtitles: list[SubtitleStream] = []
    fps: float | None = None
    for idx, (kind, lang, rest) in sorted(streams.items()):
        if kind == "Audio":
            audio.append(_audio_from_dump(len(audio), lang, rest))
        elif kind == "Subtitle":
            subtitles.append(SubtitleStream(len(subtitles), _codec(rest), _language(lang), titles.get(idx),
                                            idx, "(default)" in rest))
        elif kind == "Video" and fps is None and "(attached pic)" not in rest:
            rates = {m.group("unit"): float(m.group("v")) * (1000 if m.group("k") else 1)
                     for m in _RATE_RE.finditer(rest)}
            fps = rates.get("fps", rates.get("tbr"))
    return MediaInfo(path=path, format=fmt, duration=duration, audio_streams=tuple(audio), fps=fps,
                     subtitle_streams=tuple(subtitles))


def _codec(rest: str) -> str:
    """The codec name that starts a stream line's description ("aac (LC), 44100 Hz…")."""
    return re.split(r"[\s,(]", rest, maxsplit=1)[0] or "unknown"


def _audio_from_dump(ordinal: int, lang: str | None, rest: str) -> AudioStream:
    codec = _codec(rest)
    rate = channels = None
    m = _HZ_RE.search(rest)
    if m:
        rate = int(m.group("rate"))
        layout = (m.group("layout") or "").strip()
        channels = _CHANNEL_LAYOUTS.get(layout)
        n = _CHANNELS_RE.match(layout)
        if channels is None and n:
            channels = int(n.group("n"))
    return AudioStream(index=ordinal, codec=codec, sample_rate=rate, channels=channels,
                       language=_language(lang))


def _language(tag: str | None) -> str | None:
    return tag if tag and tag.lower() not in ("und", "unknown") else None


def _info_from_ffprobe(path: Path, data: dict) -> MediaInfo:
    """Build MediaInfo from `ffprobe -show_format -show_streams -of json` output."""
    fmt = data.get("format", {})
    audio: list[AudioStream] = []
    subtitles: list[SubtitleStream] = []
    fps: float | None = None
    for st in sorted(data.get("streams", []), key=lambda s: int(s.get("index", 0))):
        kind = st.get("codec_type")
        tags = st.get("tags") or {}
        if kind == "subtitle":
            subtitles.append(SubtitleStream(
                index=len(subtitles), codec=st.get("codec_name") or "unknown",
                language=_language(tags.get("language")), title=tags.get("title") or None,
                stream=_int_or_none(st.get("index")),
                default=bool((st.get("disposition") or {}).get("default")),
            ))
        elif kind == "audio":
            audio.append(AudioStream(
                index=len(audio),
                codec=st.get("codec_name") or "unknown",
                sample_rate=_int_or_none(st.get("sample_rate")),
                channels=_int_or_none(st.get("channels")),
                language=_language((st.get("tags") or {}).get("language")),
            ))
        elif kind == "video" and fps is None and not _is_cover_art(st):
            fps = _ratio(st.get("avg_frame_rate")) or _ratio(st.get("r_frame_rate"))
    return MediaInfo(path=path, format=fmt.get("format_name"),
                     duration=_float_or_none(fmt.get("duration")), audio_streams=tuple(audio),
                     fps=fps, subtitle_streams=tuple(subtitles))


def _is_cover_art(stream: dict) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _int_or_none(v: object) -> int | None:
    try:
        return int(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _float_or_none(v: object) -> float | None:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _ratio(v: str | None) -> float | None:
    if not v or "/" not in v:
        return None
    num, den = v.split("/", 1)
    try:
        return float(num) / float(den) if float(den) and float(num) else None
    except ValueError:
        return None


def _clean(line: str) -> str:
    """One ffmpeg log line without its `[demuxer @ 0x...] [error]` prefixes."""
    return _LOG_PREFIX_RE.sub("", line.strip()).strip()


def _truncated(path: Path, why: str) -> MediaError:
    return MediaError(f"{path} looks truncated or corrupt ({why}); re-download or re-export it")


def _open_error(path: Path, stderr: str) -> MediaError:
    """Condense ffmpeg's/ffprobe's failure to open a file into one line that says what to do."""
    lines = [_clean(x) for x in stderr.splitlines() if x.strip()]
    low = stderr.lower()
    if "misdetection possible" in low:  # ffmpeg only guessed a format from a weak signature
        return MediaError(f"{path} is not a media file ffmpeg can read (or it is corrupt); "
                          f"check that it is audio or video")
    if "error opening input: end of file" in low:
        return _truncated(path, "it ends inside its own headers")
    if any(h in low for h in _TRUNCATION_HINTS):
        hint = next(x for x in lines if any(h in x.lower() for h in _TRUNCATION_HINTS))
        return _truncated(path, hint)
    if "permission denied" in low:
        return MediaError(f"{path}: permission denied; make the file readable (chmod +r)")
    if "no such file" in low:
        return MediaError(f"{path}: no such file; check the path")
    if "invalid data found" in low or not lines:
        return MediaError(f"{path} is not a media file ffmpeg can read (or it is corrupt); "
                          f"check that it is audio or video")
    reason = next((x for x in lines if "error" in x.lower()), lines[-1])
    reason = re.sub(r"^Error opening input(?: files?)?:\s*", "", reason)
    return MediaError(f"{path} cannot be opened by ffmpeg: {reason[:200]}")


# --------------------------------------------------------------------------------------------
# Subtitle streams

#: How ffmpeg writes a text subtitle codec as a file: (muxer, codec, format name). ASS and WebVTT
#: are copied as they are (styles and positions kept); everything else (mov_text, text…) becomes
#: SubRip, which keeps bold, italic and underline.
_EXTRACT = {
    "ass": ("ass", "copy", "ass"), "ssa": ("ass", "copy", "ass"), "webvtt": ("webvtt", "copy", "vtt"),
    "subrip": ("srt", "copy", "srt"), "srt": ("srt", "copy", "srt"),
}
_TO_SRT = ("srt", "srt", "srt")
#: The subtitle codec a container needs for a written track (others take the file's own: copy).
_CONTAINER_CODEC = {".mp4": "mov_text", ".m4v": "mov_text", ".mov": "mov_text", ".3gp": "mov_text",
                    ".webm": "webvtt"}


def _pick_subtitle_stream(info: MediaInfo, stream: int | None) -> SubtitleStream:
    """The subtitle stream `stream` (None: the first text one), or a MediaError saying why not."""
    subs = info.subtitle_streams
    if not subs:
        raise MediaError(f"{info.path} has no subtitle stream; give the subtitles as a file (SUBS)")
    if stream is None:
        chosen = next((s for s in subs if s.is_text), None)
        if chosen is None:
            raise _image_stream(info.path, subs[0] if len(subs) == 1 else None)
        return chosen
    if not 0 <= stream < len(subs):
        have = "1 subtitle stream (0)" if len(subs) == 1 else f"{len(subs)} subtitle streams (0–{len(subs) - 1})"
        raise MediaError(f"{info.path} has {have}; --subtitle-stream {stream} does not exist")
    if not subs[stream].is_text:
        raise _image_stream(info.path, subs[stream])
    return subs[stream]


def _image_stream(path: Path, stream: SubtitleStream | None) -> MediaError:
    what = (f"its {stream.describe()} is" if stream is not None
            else "its subtitle streams are all")
    return MediaError(
        f"{path}: {what} pictures of text (PGS, VobSub or DVB bitmaps), which cannot be re-timed by "
        "what they say; convert them to text first (OCR, e.g. with Subtitle Edit) and give the "
        "result as SUBS"
    )


def extract_subtitles(path: str | os.PathLike[str], stream: int | None = None) -> tuple[bytes, str, SubtitleStream]:
    """The text of a subtitle stream of `path`, as ffmpeg writes it: `stream` counts the file's
    subtitle streams from 0 (text and image alike, as ffmpeg's `0:s:N`); None takes the first
    text stream. Returns the file's bytes, its format ("ass", "vtt" or "srt") and the stream.

    ASS/SSA and WebVTT streams are copied as they are; others (SubRip, mov_text, text…) are
    written as SubRip. A file without subtitle streams, an image stream (PGS, VobSub, DVB) or a
    stream ffmpeg cannot write as text is a MediaError of one line.
    """
    info = probe(path)
    chosen = _pick_subtitle_stream(info, stream)
    attempts = [_EXTRACT.get(chosen.codec, _TO_SRT), _TO_SRT]
    said = ""
    for muxer, codec, name in attempts:
        cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i",
               str(info.path.resolve()), "-map", f"0:s:{chosen.index}", "-c:s", codec, "-f", muxer, "pipe:1"]
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
        except OSError as exc:
            raise _cannot_run(cmd[0], exc) from None
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout, name, chosen
        said = next((_clean(x) for x in reversed(proc.stderr.decode("utf-8", "replace").splitlines())
                     if x.strip()), "") or ("no text" if proc.returncode == 0 else f"exit status {proc.returncode}")
    raise MediaError(f"ffmpeg could not read {chosen.describe()} of {info.path} as text: {said[:200]}")


def embed_subtitles(
    media: str | os.PathLike[str], subtitles: str | os.PathLike[str], out: str | os.PathLike[str], *,
    replace: SubtitleStream | None = None, language: str | None = None, title: str | None = None,
) -> Path:
    """Write a copy of `media` to `out` with the subtitle file `subtitles` as a subtitle track:
    every stream of `media` is copied as it is (no re-encoding), except that the track `replace`
    (the one that was re-timed) is left out and the new track takes its language, title and
    default flag. The new track is the last subtitle track; its codec is the subtitle file's own
    (SubRip, ASS, WebVTT) in Matroska, mov_text in MP4/MOV, WebVTT in WebM.

    `media` is never modified: ffmpeg writes a temporary file in `out`'s folder, which is then
    renamed to `out` in one step (no partial file on failure). Raises MediaError (one line).
    """
    src, dest = Path(media), Path(out).expanduser()
    if dest.parent and not dest.parent.is_dir():
        raise MediaError(f"cannot write '{dest}': the folder '{dest.parent}' does not exist; create it first")
    with contextlib.suppress(OSError):
        if dest.exists() and os.path.samefile(src, dest):
            raise MediaError(f"refusing to overwrite the input '{src}'; give --embed another file name")
    info = probe(src)
    kept = len(info.subtitle_streams) - (1 if replace is not None else 0)
    cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
           "-i", str(src.resolve()), "-i", str(Path(subtitles).resolve()), "-map", "0"]
    if replace is not None:
        cmd += ["-map", f"-0:s:{replace.index}"]
    cmd += ["-map", "1:0", "-c", "copy", f"-c:s:{kept}", _CONTAINER_CODEC.get(dest.suffix.lower(), "copy")]
    language = language or (replace.language if replace is not None else None)
    title = title or (replace.title if replace is not None else None)
    if language:
        cmd += [f"-metadata:s:s:{kept}", f"language={language}"]
    if title:
        cmd += [f"-metadata:s:s:{kept}", f"title={title}"]
    if replace is not None and replace.default:
        cmd += [f"-disposition:s:{kept}", "default"]
    fd, temp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=dest.suffix or ".mkv", dir=dest.parent or ".")
    os.close(fd)
    try:
        try:
            proc = subprocess.run([*cmd, temp], stdin=subprocess.DEVNULL, capture_output=True, check=False)
        except OSError as exc:
            raise _cannot_run(cmd[0], exc) from None
        if proc.returncode != 0:
            lines = [_clean(x) for x in proc.stderr.decode("utf-8", "replace").splitlines() if x.strip()]
            reason = lines[-1] if lines else f"exit status {proc.returncode}"
            raise MediaError(f"ffmpeg could not write '{dest}' with the subtitle track: {reason[:200]} "
                             "(a container holds only some subtitle formats; try a .mkv file name)")
        with contextlib.suppress(OSError):
            os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, dest)
        temp = ""
    finally:
        if temp:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    return dest


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------------------------
# Decoding


def iter_audio(
    path: str | os.PathLike[str],
    sample_rate: int = 16000,
    stream: int = 0,
    chunk_seconds: float = 30.0,
    progress: bool | Progress | None = False,
) -> Iterator[np.ndarray]:
    """Stream the audio of `path` as float32 mono chunks at `sample_rate`, decoded by ffmpeg.

    The file is checked now (missing, not media, no such stream: MediaError at the call); ffmpeg
    starts at the first chunk. `progress` (see `subalign.progress`) hears the "decode" stage. Each chunk holds `chunk_seconds` of audio, the last one less. A
    failed, truncated or corrupt decode raises MediaError after the last chunk. Stopping early
    kills ffmpeg: close the iterator (`contextlib.closing`) or let an exception pass through it.
    """
    return _open(path, sample_rate, stream, chunk_seconds, progress)[1]


def load_audio(
    path: str | os.PathLike[str],
    sample_rate: int = 16000,
    stream: int = 0,
    progress: bool | Progress | None = False,
) -> np.ndarray:
    """The whole audio of `path` as one float32 mono array at `sample_rate` (see iter_audio).

    Filled in place into a buffer sized from the probed duration, so peak memory stays near the
    waveform's own size even for hours of audio.
    """
    info, chunks = _open(path, sample_rate, stream, 10.0, progress)
    out = np.empty(int((info.duration or 0) * sample_rate) + int(sample_rate), dtype=np.float32)
    n = 0
    with contextlib.closing(chunks):  # stops ffmpeg now on Ctrl-C, not when the traceback dies
        for chunk in chunks:
            if n + chunk.size > out.size:
                out = np.resize(out, max(2 * out.size, n + chunk.size))
            out[n : n + chunk.size] = chunk
            n += chunk.size
    return out[:n] if n >= 0.9 * out.size else out[:n].copy()


def _open(path: str | os.PathLike[str], sample_rate: int, stream: int, chunk_seconds: float,
          progress: bool | Progress | None) -> tuple[MediaInfo, Iterator[np.ndarray]]:
    """Validate the arguments and the file, and return its info and a (not yet started) decoder."""
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    if not chunk_seconds > 0:
        raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds!r}")
    info = probe(path)
    check_audio_stream(info, stream)
    chunk_samples = max(1, round(chunk_seconds * sample_rate))
    return info, _decode(info, int(stream), int(sample_rate), chunk_samples, progress)


def _decode(info: MediaInfo, stream: int, sample_rate: int, chunk_samples: int,
            progress: bool | Progress | None) -> Iterator[np.ndarray]:
    """Run ffmpeg to f32le on a pipe; read stdout here and stderr on a thread (no deadlock)."""
    p = info.path
    args = (
        ffmpeg.input(str(p.resolve()), hide_banner=None, nostdin=None, loglevel="level+warning")
        .output("pipe:", map=f"0:a:{stream}", format="f32le", acodec="pcm_f32le", ac=1,
                ar=sample_rate)
        .compile(cmd=ffmpeg_binary())
    )
    try:
        # A session of its own: Ctrl-C reaches only Python, which then kills ffmpeg (no race
        # between ffmpeg's own exit on SIGINT and our KeyboardInterrupt).
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise _cannot_run(args[0], exc) from None
    assert proc.stdout is not None and proc.stderr is not None
    stderr_lines: list[str] = []
    reader = threading.Thread(target=_drain, args=(proc.stderr, stderr_lines), daemon=True)
    reader.start()
    decoded = 0
    finished = False
    try:
        with job_progress(progress, {"decode": 1.0}, f"decoding {p.name}") as report:
            while True:
                buf = bytearray(chunk_samples * 4)
                got = _read_full(proc.stdout, buf)
                got -= got % 4
                if got == 0:
                    break
                chunk = np.frombuffer(buf, "<f4", count=got // 4).astype(np.float32, copy=False)
                decoded += chunk.size
                if report is not None and info.duration:
                    report("decode", decoded / sample_rate / info.duration)
                yield chunk
                if got < len(buf):
                    break
        proc.wait()
        reader.join()
        finished = True
    finally:
        if not finished:  # consumer stopped early, Ctrl-C, or an error: don't leave ffmpeg behind
            _kill(proc)
            reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    _check_decode(info, stream, proc.returncode, stderr_lines, decoded / sample_rate)


def check_audio_stream(info: MediaInfo, stream: int) -> None:
    """Raise a MediaError (one line) unless `info` has audio stream `stream` (0-based)."""
    n = len(info.audio_streams)
    if n == 0:
        holds = "it holds video only" if info.fps else f"ffmpeg reads it as {info.format!r}"
        raise MediaError(f"{info.path} has no audio stream ({holds}); give a file with sound")
    if not (isinstance(stream, int | np.integer) and 0 <= stream < n):
        have = "1 audio stream (0)" if n == 1 else f"{n} audio streams (0–{n - 1})"
        raise MediaError(f"{info.path} has {have}; --audio-stream {stream} does not exist")


def _read_full(pipe, buf: bytearray) -> int:
    """Fill `buf` from `pipe` unless EOF comes first; return the number of bytes read."""
    view = memoryview(buf)
    got = 0
    while got < len(buf):
        n = pipe.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _drain(pipe, sink: list[str]) -> None:
    """Collect ffmpeg's stderr on a thread so a chatty ffmpeg never blocks on a full pipe."""
    for raw in pipe:
        if len(sink) < 2000:
            sink.append(raw.decode("utf-8", "replace").rstrip("\r\n"))


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _check_decode(info: MediaInfo, stream: int, rc: int, stderr_lines: list[str],
                  decoded_seconds: float) -> None:
    """Turn a failed, damaged or empty decode into one MediaError line; silence means success."""
    path = info.path
    errors = [_clean(x) for x in stderr_lines if "[error]" in x or "[fatal]" in x]
    if rc != 0:
        said = errors or [_clean(x) for x in stderr_lines if x.strip()] or [f"exit status {rc}"]
        reason = said[-1]
        raise MediaError(f"ffmpeg could not decode audio stream {stream} of {path}: {reason[:200]}")
    low = [x.lower() for x in stderr_lines]
    trunc = next((_clean(x) for x, lx in zip(stderr_lines, low, strict=True)
                  if any(h in lx for h in _TRUNCATION_HINTS)), None)
    if trunc is None:
        trunc = _wav_truncation(path)
    if trunc is None and errors:
        more = f" and {len(errors) - 1} more" if len(errors) > 1 else ""
        trunc = f"decode error: {errors[0][:160]}{more}"
    if trunc is None and _duration_is_exact(info, low) and info.duration is not None:
        short = info.duration - decoded_seconds
        if short > max(0.5, 0.01 * info.duration):
            trunc = f"decoded {decoded_seconds:.2f} s of the {info.duration:.2f} s it declares"
    if trunc is not None:
        raise _truncated(path, trunc)
    if decoded_seconds == 0:
        raise MediaError(f"{path}: audio stream {stream} decodes to zero samples; "
                         f"the file holds no sound to align")


def _duration_is_exact(info: MediaInfo, stderr_lower: list[str]) -> bool:
    """Whether the container's duration is a reliable length for the decoded stream.

    Only for single-audio-stream files without video or subtitles (else the duration may belong
    to another stream: a subtitle track may end after the sound) and not when ffmpeg had to guess
    it from the bitrate (VBR mp3 without a header).
    """
    if info.fps is not None or len(info.audio_streams) != 1 or info.subtitle_streams:
        return False
    return not any("estimating duration from bitrate" in x for x in stderr_lower)


def _wav_truncation(path: Path) -> str | None:
    """For RIFF/WAVE files: the data chunk's declared size vs the bytes actually present.

    ffmpeg silently shortens a cut WAV (it only warns about the last packet, as it also does for
    valid streamed WAVs), so we read the header ourselves.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            pos = 12
            for _ in range(64):  # chunk list before "data" is short; bound the walk
                hdr = f.read(8)
                if len(hdr) < 8:
                    return None
                cid, n = hdr[:4], struct.unpack("<I", hdr[4:])[0]
                if cid == b"data":
                    if n in (0, 0xFFFFFFFF):  # streamed / unfinalised header: no size promised
                        return None
                    missing = pos + 8 + n - size
                    if missing <= 0:
                        return None
                    return f"its WAV header promises {missing} more bytes of audio"
                pos += 8 + n + (n & 1)
                f.seek(pos)
    except OSError:
        return None
    return None
