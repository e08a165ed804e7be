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

from .align import forced_align, forced_align_backend, merge_tokens  # noqa: E402
from .batch import BatchItem, ItemResult, run_batch  # noqa: E402
from .cues import (  # noqa: E402
    BBC,
    NETFLIX,
    PLAIN,
    CueStyle,
    CueStyleError,
    Finding,
    check_cues,
    get_style,
    group_cues,
)
from .errors import (  # noqa: E402
    AlignmentError,
    MediaError,
    ModelError,
    OutputError,
    SubalignError,
    TranscriptError,
)
from .formats import Subtitles, read_subtitles, write_output, write_subtitles  # noqa: E402
from .formats.html import write_review  # noqa: E402
from .formats.jsonfile import read_result  # noqa: E402
from .formats.plot import plot_alignment  # noqa: E402
from .media import load_audio  # noqa: E402
from .pipeline import Alignment, align_media  # noqa: E402
from .sync import SyncResult, sync_subtitles  # noqa: E402
from .types import Cue, TokenSpan, WordSpan  # noqa: E402

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
