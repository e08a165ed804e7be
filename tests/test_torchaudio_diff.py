"""subalign against torchaudio itself: identical inputs through both, where torchaudio imports.

torchaudio is not a test dependency (CI does not install it), so every test here skips with a
reason when it cannot be imported or lacks forced_align / merge_tokens.  Where it is present,
random batch-1 inputs go through ``torchaudio.functional.forced_align`` / ``merge_tokens`` and
``subalign.forced_align`` / ``merge_tokens``: paths must be equal wherever the optimum is
unique (a different path must be an exact tie), scores and dtypes equal, spans equal; and each
invalid input of test_torchaudio_contract.INVALID_INPUTS must raise, in subalign, an instance
of the exception class torchaudio raises, with the phrase torchaudio's message holds.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from test_torchaudio_contract import BLANK, INVALID_INPUTS

import subalign


def _torchaudio_functional():
    """(torchaudio.functional, "") or (None, why it cannot be used here)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import torchaudio.functional as functional
    except Exception as exc:  # not installed, or built for another torch
        return None, f"torchaudio is not importable here ({type(exc).__name__}: {exc})"
    missing = [n for n in ("forced_align", "merge_tokens") if not hasattr(functional, n)]
    if missing:
        return None, f"this torchaudio has no {', '.join(missing)}"
    return functional, ""


TAF, WHY = _torchaudio_functional()
pytestmark = pytest.mark.skipif(TAF is None, reason=WHY or "torchaudio available")

#: Invalid inputs whose message is ours alone: torchaudio (batch 1 only) words them otherwise.
OUR_PHRASE_ONLY = {"log_probs batch differs from the targets'", "targets batch differs"}


def torchaudio_call(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices of newer torchaudio releases
        return fn(*args, **kwargs)


def random_case(seed: int):
    """A feasible batch-1 problem: (log_probs, targets, blank), varied sizes, dtypes, peakiness."""
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(2, 12))
    blank = int(rng.choice([0, classes - 1, int(rng.integers(0, classes))]))
    others = [c for c in range(classes) if c != blank]
    tokens: list[int] = []
    for _ in range(int(rng.integers(1, 15))):
        repeat = tokens and rng.random() < 0.3
        tokens.append(tokens[-1] if repeat else int(rng.choice(others)))
    need = len(tokens) + sum(a == b for a, b in zip(tokens, tokens[1:], strict=False))
    frames = need + int(rng.integers(0, 40))
    scale = float(rng.choice([0.5, 1.5, 5.0]))
    float_type = torch.float64 if rng.random() < 0.5 else torch.float32
    index_type = torch.int32 if rng.random() < 0.5 else torch.int64
    logits = torch.from_numpy(rng.normal(size=(1, frames, classes)) * scale)
    log_probs = logits.log_softmax(-1).to(float_type)
    return log_probs, torch.tensor([tokens], dtype=index_type), blank


def total(log_probs: torch.Tensor, path: torch.Tensor) -> float:
    """Exactly rounded float64 sum of a path's log-probs."""
    frames = torch.arange(path.shape[0])
    return math.fsum(log_probs[frames, path.long()].double().tolist())


@pytest.mark.parametrize("seed", range(200))
def test_same_paths_scores_and_dtypes(seed: int) -> None:
    log_probs, targets, blank = random_case(seed)
    ta_paths, ta_scores = torchaudio_call(TAF.forced_align, log_probs, targets, blank=blank)
    paths, scores = subalign.forced_align(log_probs, targets, blank=blank)
    assert paths.dtype == ta_paths.dtype and scores.dtype == ta_scores.dtype
    assert paths.shape == ta_paths.shape and scores.shape == ta_scores.shape
    if not torch.equal(paths, ta_paths):  # allowed only where the optimum is not unique
        ours, theirs = total(log_probs[0], paths[0]), total(log_probs[0], ta_paths[0])
        assert ours >= theirs - 1e-6 * max(1.0, abs(theirs)), (seed, ours, theirs)
        assert abs(ours - theirs) <= 1e-4 * max(1.0, abs(theirs)), (
            f"case {seed}: torchaudio's path scores {theirs}, ours {ours}: not a tie"
        )
        return
    assert torch.equal(scores, ta_scores)

    ta_spans = torchaudio_call(TAF.merge_tokens, ta_paths[0], ta_scores[0].exp(), blank=blank)
    spans = subalign.merge_tokens(paths[0], scores[0].exp(), blank=blank)
    assert [(s.token, s.start, s.end) for s in spans] == [
        (s.token, s.start, s.end) for s in ta_spans
    ]
    assert [s.score for s in spans] == pytest.approx([s.score for s in ta_spans], rel=1e-6)
    assert [len(s) for s in spans] == [len(s) for s in ta_spans]


@pytest.mark.parametrize("name", sorted(INVALID_INPUTS))
def test_same_exception_classes(name: str) -> None:
    log_probs, targets, kwargs, phrase, _ = INVALID_INPUTS[name]
    kwargs = {"blank": BLANK, **kwargs}
    try:
        torchaudio_call(TAF.forced_align, log_probs, targets, **kwargs)
    except Exception as exc:  # whatever torchaudio raises is what its users catch
        theirs = exc
    else:
        pytest.skip(f"this torchaudio accepts {name!r}")
    with pytest.raises(subalign.AlignmentError) as ours:
        subalign.forced_align(log_probs, targets, **kwargs)
    assert isinstance(ours.value, type(theirs)), (type(theirs), type(ours.value))
    if name not in OUR_PHRASE_ONLY:
        assert phrase in str(theirs), str(theirs)
    assert phrase in str(ours.value)
