"""One file's job, as the command line runs it: check the output path, read the inputs, align or
sync, apply the fail-safe, write the output atomically.

`subalign align` and `subalign sync` print around `align_file` and `sync_file`; `subalign batch`
(`subalign.batch`) runs the very same functions item by item in its worker processes, so a batch
item fails with exactly the one-line message the single command prints, and a change to what a
single job does reaches batches without a second copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cues import CueStyle
from .errors import SubalignError
from .formats import check_output_path, read_subtitles
from .models import DEFAULT_MODEL
from .pipeline import Alignment, align_media
from .progress import Progress
from .sync import SyncResult, sync_subtitles
from .text import read_text

__all__ = ["JobOutcome", "align_file", "not_found_message", "sync_file", "untrusted_message"]


@dataclass(frozen=True)
class JobOutcome:
    """What one job wrote (`output`), its result, and the warnings to show (one line each)."""

    output: Path
    result: Alignment | SyncResult
    warnings: tuple[str, ...] = ()


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
) -> JobOutcome:
    """`subalign align`: align the transcript file (``"-"`` for stdin) to `media` and write
    `output` (its extension picks the format); a warning names the words not found."""
    _check_stream(audio_stream)
    inputs = [media] + ([transcript] if str(transcript) != "-" else [])
    out = check_output_path(output, inputs=inputs)
    text = read_text(transcript)
    result = align_media(media, text, language=language, audio_stream=audio_stream, progress=progress,
                         style=style, refine=refine, long=long, model=model, device=device, dtype=dtype)
    result.save(out, inputs=inputs)
    missing = result.missing
    warnings = (not_found_message(result.words, missing),) if missing else ()
    return JobOutcome(out, result, warnings)


def sync_file(
    media: str | Path,
    subtitles: str | Path,
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
) -> JobOutcome:
    """`subalign sync`: re-time the subtitle file to `media` and write `output`. When too few
    cues were found the result is refused (SubalignError) unless `force`; `warn` is given each
    warning as soon as it is known, so the warnings are shown even when the result is refused."""
    _check_stream(audio_stream)
    inputs = [media, subtitles]
    out = check_output_path(output, inputs=inputs)
    subs = read_subtitles(subtitles, encoding=encoding)
    result = sync_subtitles(media, subs, language=language, audio_stream=audio_stream,
                            progress=progress, model=model, device=device, dtype=dtype)
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
    result.save(out, inputs=inputs)
    return JobOutcome(out, result, tuple(warnings))


def untrusted_message(result: SyncResult) -> str:
    """Why a sync result is not trusted: how many of the cues with words were found."""
    return (f"only {result.found} of the {result.spoken} cues with words "
            f"({result.confidence:.0%}) were found in the audio"
            if result.spoken else "no cue has words that can be aligned")


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
