"""subalign: exact word and subtitle timings from media and text.

    >>> import subalign
    >>> result = subalign.align_media("talk.mp4", open("talk.txt").read())
    >>> subalign.write_output("talk.srt", result.words, result.cues)

Lower-level pieces: `forced_align` (batched CTC Viterbi, torchaudio's contract), `merge_tokens`,
`group_cues` (cues that keep a `CueStyle`: `NETFLIX`, `BBC`, `PLAIN`), `check_cues` (the rules
they still break, as `Finding`s), `load_audio`; re-timing existing subtitles: `read_subtitles`,
`sync_subtitles`, `write_subtitles`; many files at once, on this machine or a Ray cluster:
`run_batch` (`BatchItem` in, `ItemResult` out); looking at a result: `write_review` (an HTML page
to play and check it), `plot_alignment` (emissions, path and words as a PNG/SVG), `read_result`
(a JSON result read back); result types `TokenSpan`, `WordSpan`, `Cue`; errors derive from
`SubalignError`.
"""

__version__ = "0.1.0"

# The names are imported when first used (PEP 562), so that `subalign --help` and the commands
# that need little (sync --fast) do not pay for everything else at start-up.
from ._lazy import lazy_exports  # noqa: E402
from .errors import (  # noqa: E402
    AlignmentError,
    MediaError,
    ModelError,
    OutputError,
    SubalignError,
    TranscriptError,
)
from .types import Cue, TokenSpan, WordSpan  # noqa: E402

_LAZY = {
    "forced_align": ".align", "forced_align_backend": ".align", "merge_tokens": ".align",
    "BatchItem": ".batch", "ItemResult": ".batch", "run_batch": ".batch",
    "BBC": ".cues", "NETFLIX": ".cues", "PLAIN": ".cues", "CueStyle": ".cues", "CueStyleError": ".cues",
    "Finding": ".cues", "check_cues": ".cues", "get_style": ".cues", "group_cues": ".cues",
    "Subtitles": ".formats", "read_subtitles": ".formats", "write_output": ".formats",
    "write_subtitles": ".formats", "write_review": ".formats.html", "read_result": ".formats.jsonfile",
    "plot_alignment": ".formats.plot", "load_audio": ".media", "Alignment": ".pipeline",
    "align_media": ".pipeline", "SyncResult": ".sync", "sync_subtitles": ".sync",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BBC",
    "NETFLIX",
    "PLAIN",
    "Alignment",
    "AlignmentError",
    "BatchItem",
    "Cue",
    "CueStyle",
    "CueStyleError",
    "Finding",
    "ItemResult",
    "MediaError",
    "ModelError",
    "OutputError",
    "SubalignError",
    "Subtitles",
    "SyncResult",
    "TokenSpan",
    "TranscriptError",
    "WordSpan",
    "align_media",
    "check_cues",
    "forced_align",
    "forced_align_backend",
    "get_style",
    "group_cues",
    "load_audio",
    "merge_tokens",
    "plot_alignment",
    "read_result",
    "read_subtitles",
    "run_batch",
    "sync_subtitles",
    "write_output",
    "write_review",
    "write_subtitles",
]
