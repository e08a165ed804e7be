"""One file's job, as the command line runs it: check the output path, read the inputs, align or
sync, apply the fail-safe, write the output atomically.

`subalign align` and `subalign sync` print around `align_file` and `sync_file`; `subalign batch`
(`subalign.batch`) runs the very same functions item by item in its worker processes, so a batch
item fails with exactly the one-line message the single command prints, and a change to what a
single job does reaches batches without a second copy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cues import CueStyle
from .errors import SubalignError
from .formats import MediaInput, check_output_path, read_subtitles, read_transcript
from .media import probe
from .models import DEFAULT_MODEL
from .progress import Progress
from .sync import SyncResult, sync_subtitles
from .tracks import embed_track, read_subtitle_track

if TYPE_CHECKING:  # the align chain imports torch; `sync --fast` does without it
    from .pipeline import Alignment

__all__ = ["JobOutcome", "align_file", "not_found_message", "sync_file", "untrusted_message"]


@dataclass(frozen=True)
class JobOutcome:
    """What one job wrote (`output`), its result, and the warnings to show (one line each)."""

    output: Path
    result: Alignment | SyncResult
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    embedded: Path | None = None  # sync --embed: the container copy written


def _check_stream(audio_stream: int) -> None:
    if audio_stream < 0:
        raise SubalignError("--audio-stream must be 0 or more")


def align_file(
    media: str | Path,
    transcript: str | Path,
    output: str | Path,
    *,
    language: str = "en",
    audio_stream: int = 0,
    style: CueStyle | str | None = None,
    refine: bool = True,
    long: bool | None = None,
    model: str = DEFAULT_MODEL,
    device: str = "auto",
    dtype: str = "auto",
    progress: bool | Progress | None = False,
    karaoke: bool | None = None,
    force: bool = False,
    view: MediaInput | None = None,
    jobs: int | None = None,
) -> JobOutcome:
    """`subalign align`: align the transcript file (``"-"`` for stdin; a subtitle file's cue text
    works too) to `media` and write `output` (its extension picks the format). A transcript that
    does not belong to the audio (too few words heard) is refused (SubalignError) unless `force`;
    a warning names the words not found. `view`: how the review page or the plot (.html, .png,
    .svg) shows the media (default: the media as it is, with these model options)."""
    from .pipeline import MIN_WORD_SCORE, align_media

    _check_stream(audio_stream)
    inputs = [media] + ([transcript] if str(transcript) != "-" else [])
    view = view or _view(media, model, language, device, dtype, audio_stream)
    out = check_output_path(output, inputs=inputs, karaoke=karaoke, media=view)
    text, subs = read_transcript(transcript)
    notes: list[str] = []
    if subs is not None:
        notes.append(f"{subs.name} is a subtitle file ({subs.format}): the text of its {len(subs.cues)} "
                     "cues is the transcript (not its numbers and times); new cues are made to the style "
                     "— to keep its cues and only re-time them, use 'subalign sync'")
    result = align_media(media, text, language=language, audio_stream=audio_stream, progress=progress,
                         style=style, refine=refine, long=long, model=model, device=device, dtype=dtype,
                         jobs=jobs)
    warnings: list[str] = []
    if not result.trusted:
        heard = round(result.confidence * len(result.words))
        why = (f"only {heard} of the transcript's {len(result.words)} words ({result.confidence:.0%}) "
               f"were heard in the audio (found with a score of at least {MIN_WORD_SCORE})")
        if not force:
            raise SubalignError(
                f"{why}; the transcript likely does not belong to this audio (wrong text, language "
                "or file?), so nothing was written; use --force to write the result anyway")
        warnings.append(f"{why}; writing anyway (--force)")
    result.save(out, inputs=inputs, karaoke=karaoke, media=view)
    missing = result.missing
    if missing:
        warnings.append(not_found_message(result.words, missing))
    return JobOutcome(out, result, tuple(warnings), tuple(notes))


def sync_file(
    media: str | Path,
    subtitles: str | Path | None,
    output: str | Path,
    *,
    language: str = "en",
    audio_stream: int = 0,
    encoding: str | None = None,
    force: bool = False,
    model: str = DEFAULT_MODEL,
    device: str = "auto",
    dtype: str = "auto",
    progress: bool | Progress | None = False,
    warn: Callable[[str], None] | None = None,
    subtitle_stream: int | None = None,
    embed: str | Path | None = None,
    note: Callable[[str], None] | None = None,
    view: MediaInput | None = None,
    fast: bool = False,
    jobs: int | None = None,
) -> JobOutcome:
    """`subalign sync`: re-time the subtitle file (None: the media's own text subtitle track,
    `subtitle_stream` picks another) to `media` and write `output`; `embed` also writes a copy of
    the container with the re-timed track; `fast` uses the speech pattern only (no acoustic
    model). When the result is not trusted it is refused
    (SubalignError) unless `force`; `warn` is given each warning as soon as it is known, so the
    warnings are shown even when the result is refused; `note` hears which track is used."""
    _check_stream(audio_stream)
    if subtitle_stream is not None and subtitle_stream < 0:
        raise SubalignError("--subtitle-stream must be 0 or more")
    if subtitles is not None and subtitle_stream is not None:
        raise SubalignError("give SUBS or --subtitle-stream, not both")
    inputs = [media] + ([subtitles] if subtitles is not None else [])
    view = view or _view(media, model, language, device, dtype, audio_stream)
    out = check_output_path(output, inputs=inputs, media=view)
    copy = _check_embed_path(embed, [*inputs, out]) if embed else None
    info = probe(media)
    track = None
    if subtitles is not None:
        subs = read_subtitles(subtitles, encoding=encoding, fps=info.fps)
    else:
        subs, track = read_subtitle_track(media, subtitle_stream, encoding=encoding)
        if note is not None:
            note(f"re-timing {track.describe()} of {media}")
    subs = replace(subs, fps=info.fps, language=language)
    result = sync_subtitles(media, subs, language=language, audio_stream=audio_stream,
                            progress=progress, model=model, device=device, dtype=dtype, fast=fast,
                            jobs=jobs)
    warnings = list(result.warnings)
    for line in warnings if warn is not None else ():
        warn(line)
    if not result.trusted:
        why = untrusted_message(result)
        if not force:
            raise SubalignError(
                f"{why}; the re-timed subtitles would likely be worse than the input (wrong media, "
                f"language or subtitle file?), so nothing was written; use --force to write them anyway"
            )
        warnings.append(f"{why}; writing anyway (--force)")
        if warn is not None:
            warn(warnings[-1])
    result.save(out, inputs=inputs, media=view)
    if copy is not None:
        embed_track(media, result.subtitles, copy, replace=track)
    return JobOutcome(out, result, tuple(warnings), embedded=copy)


def _view(media: str | Path, model: str, language: str, device: str, dtype: str,
          audio_stream: int) -> MediaInput:
    """The media as the review page and the plot show it, by default."""
    return MediaInput(Path(media), model=model, language=language, device=device, dtype=dtype,
                      audio_stream=audio_stream)


def _check_embed_path(path: str | Path, others: Sequence[object]) -> Path:
    """--embed's file: not an input nor OUT, in an existing writable folder, with an extension."""
    dest = Path(path).expanduser()
    if not dest.suffix:
        raise SubalignError(f"--embed {path}: give the copy a container extension such as .mkv or .mp4")
    for other in others:
        if dest.resolve() == Path(str(other)).expanduser().resolve():
            raise SubalignError(f"--embed {path}: refusing to overwrite an input or the output; choose another name")
    folder = dest.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise SubalignError(f"--embed {path}: the folder '{folder}' does not exist or cannot be written")
    return dest


def untrusted_message(result: SyncResult) -> str:
    """Why a sync result is not trusted: neither the words nor the cue pattern fit."""
    return result.why_untrusted()


def not_found_message(words: Sequence[Any], missing: Sequence[int]) -> str:
    """One line naming the runs of words that were not found in the audio (the first few)."""
    runs: list[tuple[int, int]] = []
    for i in missing:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    shown = []
    for a, b in runs[:4]:
        text = " ".join(w.text for w in words[a : min(b, a + 8)]) + (" …" if b - a > 8 else "")
        shown.append(f'words {a + 1}–{b} "{text}"' if b - a > 1 else f'word {a + 1} "{text}"')
    more = f" and {len(runs) - 4} more runs" if len(runs) > 4 else ""
    return (f"{len(missing)} of {len(words)} words were not found in the audio and have no times "
            f"(left out of the cues; \"found\": false in JSON): {'; '.join(shown)}{more}")
