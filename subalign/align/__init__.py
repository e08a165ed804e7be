"""Forced alignment: CTC Viterbi over emissions, token spans, and timed words.

`forced_align` has the contract of torchaudio.functional.forced_align, batched (`api`). It runs
our C++/CUDA extension when that is built and loads, else the PyTorch reference in `viterbi`; both
give the same answers (the reference is the extension's test oracle). The other modules: `checks`
(the one input validation), `spans`, `words` (timed words), `refine` (word boundaries), `chunks`
and `anchoring` (runs of text in long audio), `pieces`, `timeline` (cue patterns on speech,
without words), `onsets`.

The names below are imported on first use, so that the modules that need no torch (`timeline`,
`onsets`) can be imported without it.
"""

from __future__ import annotations

from .._lazy import lazy_exports

__all__ = [
    "forced_align",
    "forced_align_backend",
    "forced_align_reference",
    "merge_tokens",
    "token_spans_to_words",
]

_LAZY = {
    "forced_align": ".api", "forced_align_backend": ".api", "forced_align_reference": ".api",
    "merge_tokens": ".spans", "token_spans_to_words": ".spans",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())
