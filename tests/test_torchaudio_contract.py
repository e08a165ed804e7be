"""torchaudio's forced-alignment contract, as a user of its "CTC forced alignment API" tutorial
relies on it, checked on subalign.forced_align / subalign.merge_tokens without torchaudio.

What is encoded here comes from torchaudio's documentation: forced_align takes (1, T, C)
log-probs and (1, L) targets and returns (1, T) paths in the targets' dtype and (1, T) scores in
the log-probs' dtype, the log-prob of each frame's label; invalid input raises RuntimeError
(ValueError for a blank or too large target id) with a recognisable phrase; merge_tokens turns a
path and per-frame scores into TokenSpan(token, start, end, score) with score the plain mean of
the scores it is given.  The expected paths were worked out by hand and are checked again here
by enumerating every alignment.  tests/test_torchaudio_diff.py runs the same calls through
torchaudio itself where it is installed.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import math

import pytest
import torch

import subalign
from subalign.align import forced_align_reference
from subalign.types import TokenSpan

# --------------------------------------------------------------------------- a hand-made emission

#: Frame probabilities of a 5-frame emission over 6 classes, blank = 5.  Token 1 is likely on
#: frames 0-2 (most on 0), the blank peaks on frame 2, token 2 on frame 3, token 3 on frame 4.
PROBS = [
    [0.05, 0.60, 0.05, 0.05, 0.05, 0.20],
    [0.05, 0.50, 0.05, 0.05, 0.05, 0.30],
    [0.05, 0.40, 0.05, 0.05, 0.10, 0.35],
    [0.05, 0.10, 0.55, 0.10, 0.05, 0.15],
    [0.05, 0.05, 0.10, 0.60, 0.05, 0.15],
]
BLANK = 5

#: targets -> the best path over PROBS (each optimum is unique, by at least 0.028 nats).
BEST_PATHS = {
    "repeat needing a blank": ([1, 1], [1, 5, 1, 5, 5]),
    "no repeats": ([0, 3], [5, 5, 5, 0, 3]),
    "all tokens equal": ([4, 4, 4], [4, 5, 4, 5, 4]),
    "token held several frames": ([1, 2, 3], [1, 1, 1, 2, 3]),
}


def emission(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """PROBS as (1, T, C) log-probs."""
    return torch.tensor(PROBS, dtype=torch.float64).log().to(dtype)[None]


def all_best_paths(log_probs: torch.Tensor, targets: list[int], blank: int) -> list[tuple]:
    """Every frame labelling that collapses to `targets` (merge repeats, drop blanks) and has
    the highest total log-prob, found by trying all C**T labellings."""
    frames, classes = log_probs.shape
    table = log_probs.to(torch.float64).tolist()
    best, found = -math.inf, []
    for labels in itertools.product(range(classes), repeat=frames):
        runs = [k for i, k in enumerate(labels) if i == 0 or k != labels[i - 1]]
        if [k for k in runs if k != blank] != targets:
            continue
        total = math.fsum(table[t][k] for t, k in enumerate(labels))
        if total > best:
            best, found = total, [labels]
        elif total == best:
            found.append(labels)
    return found


BACKENDS = {
    "public": subalign.forced_align,  # the extension where it builds, else the reference
    "reference": forced_align_reference,
}


@pytest.fixture(params=sorted(BACKENDS))
def forced_align(request):
    return BACKENDS[request.param]


# --------------------------------------------------------------------------- the signature


@pytest.mark.parametrize("name", ["public", "reference", "extension wrapper"])
def test_signature_is_torchaudios_plus_keyword_only_extras(name) -> None:
    fn = {
        "public": subalign.forced_align,
        "reference": forced_align_reference,
        "extension wrapper": importlib.import_module("subalign.align._extension").forced_align_ext,
    }[name]
    params = inspect.signature(fn).parameters
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert [(p.name, p.kind, p.default) for p in params.values()] == [
        ("log_probs", positional, inspect.Parameter.empty),
        ("targets", positional, inspect.Parameter.empty),
        ("input_lengths", positional, None),
        ("target_lengths", positional, None),
        ("blank", positional, 0),
        ("star", inspect.Parameter.KEYWORD_ONLY, None),
        ("mode", inspect.Parameter.KEYWORD_ONLY, "auto"),
        ("memory_budget", inspect.Parameter.KEYWORD_ONLY, None),
    ]


# --------------------------------------------------------------------------- the best path


def test_the_expected_paths_are_the_unique_optima() -> None:
    for targets, path in BEST_PATHS.values():
        assert all_best_paths(emission(torch.float64)[0], targets, BLANK) == [tuple(path)]


@pytest.mark.parametrize("case", sorted(BEST_PATHS))
@pytest.mark.parametrize("index_type", [torch.int32, torch.int64])
@pytest.mark.parametrize("float_type", [torch.float32, torch.float64])
def test_batch_one_best_path(forced_align, case, index_type, float_type) -> None:
    targets, expected = BEST_PATHS[case]
    log_probs = emission(float_type)
    tokens = torch.tensor([targets], dtype=index_type)
    paths, scores = forced_align(log_probs, tokens, blank=BLANK)
    assert paths.shape == scores.shape == (1, 5)
    assert paths.dtype == index_type  # paths come back in the targets' dtype
    assert scores.dtype == float_type  # scores in the log-probs' dtype
    assert paths[0].tolist() == expected
    gathered = log_probs[0, torch.arange(5), paths[0].long()]
    assert torch.equal(scores[0], gathered)


def test_lengths_given_explicitly_change_nothing(forced_align) -> None:
    targets, expected = BEST_PATHS["token held several frames"]
    paths, scores = forced_align(
        emission(), torch.tensor([targets]), torch.tensor([5]), torch.tensor([3]), blank=BLANK
    )
    assert paths[0].tolist() == expected
    assert torch.equal(scores, forced_align(emission(), torch.tensor([targets]), blank=BLANK)[1])


# --------------------------------------------------------------------------- invalid input

LP = emission()
TG = torch.tensor([[1, 2]])

#: name -> (log_probs, targets, keyword arguments, the phrase a torchaudio user matches on,
#: whether torchaudio raises ValueError there rather than RuntimeError).
INVALID_INPUTS = {
    "too many targets for the frames": (
        LP, torch.tensor([[1, 1, 2, 2]]), {}, "targets length is too long for CTC", False
    ),
    "blank inside the targets": (
        LP, torch.tensor([[1, BLANK, 2]]), {}, "targets Tensor shouldn't contain blank index", True
    ),
    "integer log_probs": (
        torch.zeros(1, 5, 6, dtype=torch.int64), TG, {},
        "log_probs must be float64, float32 or float16", False,
    ),
    "float targets": (LP, TG.float(), {}, "targets must be int32 or int64 type", False),
    "log_probs batch differs from the targets'": (
        torch.cat([LP, LP]), TG, {}, "batch size mismatch", False
    ),
    "targets batch differs": (LP, torch.cat([TG, TG]), {}, "batch size mismatch", False),
    "2-D input_lengths": (
        LP, TG, {"input_lengths": torch.tensor([[5]])}, "input_lengths must be 1-D", False
    ),
    "2-D target_lengths": (
        LP, TG, {"target_lengths": torch.tensor([[2]])}, "target_lengths must be 1-D", False
    ),
    "input length larger than T": (
        LP, TG, {"input_lengths": torch.tensor([6])}, "input length mismatch", False
    ),
    "target length larger than L": (
        LP, TG, {"target_lengths": torch.tensor([3])}, "target length mismatch", False
    ),
    "target id not below C": (
        LP, torch.tensor([[1, 6]]), {}, "targets values must be less than the CTC dimension", True
    ),
    "blank equal to C": (LP, TG, {"blank": 6}, "blank must be within [0, num classes)", False),
    "negative blank": (LP, TG, {"blank": -1}, "blank must be within [0, num classes)", False),
}


@pytest.mark.parametrize("name", sorted(INVALID_INPUTS))
def test_invalid_input_raises_what_torchaudio_code_catches(forced_align, name) -> None:
    log_probs, targets, kwargs, phrase, value_error = INVALID_INPUTS[name]
    kwargs = {"blank": BLANK, **kwargs}
    with pytest.raises(RuntimeError) as caught:
        forced_align(log_probs, targets, **kwargs)
    assert phrase in str(caught.value)
    if value_error:
        assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, subalign.AlignmentError)


def test_messages_keep_our_item_index_and_numbers(forced_align) -> None:
    with pytest.raises(RuntimeError, match=r"item 0: 4 tokens \(\+2 repeats\) need at least 6"):
        forced_align(LP, torch.tensor([[1, 1, 2, 2]]), blank=BLANK)
    with pytest.raises(ValueError, match=r"item 0: target 1 = 6 is outside \[0, 6\)"):
        forced_align(LP, torch.tensor([[1, 6]]), blank=BLANK)
    with pytest.raises(RuntimeError, match=r"input_lengths\[0\] = 6 is outside \[0, 5\]"):
        forced_align(LP, TG, torch.tensor([6]), blank=BLANK)


def test_bfloat16_is_named_beside_torchaudios_types() -> None:
    with pytest.raises(RuntimeError, match="float16 .*bfloat16.*, got torch.int64"):
        subalign.forced_align(torch.zeros(1, 5, 6, dtype=torch.int64), TG)


# --------------------------------------------------------------------------- merge_tokens


def spans_of(path: list[int], scores: list[float], blank: int = 0) -> list[TokenSpan]:
    return subalign.merge_tokens(
        torch.tensor(path, dtype=torch.int64), torch.tensor(scores), blank=blank
    )


def test_merge_tokens_empty_input() -> None:
    assert spans_of([], []) == []
    assert spans_of([0, 0, 0], [0.5, 0.5, 0.5]) == []  # blanks only


def test_merge_tokens_single_frames() -> None:
    spans = spans_of([3, 1, 4], [0.25, 0.5, 0.75])
    assert [(s.token, s.start, s.end) for s in spans] == [(3, 0, 1), (1, 1, 2), (4, 2, 3)]
    assert [s.score for s in spans] == [0.25, 0.5, 0.75]
    assert [len(s) for s in spans] == [1, 1, 1]


def test_merge_tokens_score_is_the_plain_mean_of_the_given_scores() -> None:
    (span,) = spans_of([2, 2], [0.4, 0.6])
    assert (span.token, span.start, span.end) == (2, 0, 2)
    assert span.score == pytest.approx(0.5)
    # not exponentiated, not clipped: log-probs stay log-probs, values above 1 stay above 1
    assert spans_of([2, 2, 2], [-1.0, -2.0, -6.0])[0].score == pytest.approx(-3.0)
    assert spans_of([2, 2], [1.5, 2.5])[0].score == pytest.approx(2.0)


def test_merge_tokens_two_tokens_back_to_back() -> None:
    spans = spans_of([1, 1, 2, 2, 2], [0.2, 0.4, 0.9, 0.6, 0.3])
    assert [(s.token, s.start, s.end, len(s)) for s in spans] == [(1, 0, 2, 2), (2, 2, 5, 3)]
    assert [s.score for s in spans] == pytest.approx([0.3, 0.6])


@pytest.mark.parametrize("before", [0, 1, 2])
@pytest.mark.parametrize("after", [0, 1, 2])
@pytest.mark.parametrize("blank", [0, 7])
def test_merge_tokens_blanks_around_shift_the_frames_not_the_scores(before, after, blank):
    path = [blank] * before + [3, 3, blank, 3, 5, 5, 5] + [blank] * after
    scores = [0.99] * before + [0.5, 0.7, 0.1, 0.25, 0.1, 0.2, 0.6] + [0.98] * after
    spans = spans_of(path, scores, blank=blank)
    assert [(s.token, s.start - before, s.end - before) for s in spans] == [
        (3, 0, 2), (3, 3, 4), (5, 4, 7)
    ]
    assert [s.score for s in spans] == pytest.approx([0.6, 0.25, 0.3])
    assert [len(s) for s in spans] == [2, 1, 3]


def test_token_span_fields_and_len() -> None:
    span = TokenSpan(token=4, start=3, end=7, score=0.25)
    assert (span.token, span.start, span.end, span.score) == (4, 3, 7, 0.25)
    assert len(span) == 4


# --------------------------------------------------------------------------- the tutorial's flow


def test_tutorial_flow_gives_probabilities_below_one(forced_align) -> None:
    """forced_align, then merge_tokens on the scores' exp(): probabilities, never all 1.00."""
    gen = torch.Generator().manual_seed(7)
    log_probs = (torch.randn(1, 60, 8, generator=gen) * 1.5).log_softmax(-1)
    targets = torch.tensor([[3, 1, 4, 1, 5, 2, 6, 5, 3, 5]], dtype=torch.int32)
    paths, scores = forced_align(log_probs, targets, blank=0)
    spans = subalign.merge_tokens(paths[0], scores[0].exp())
    assert [s.token for s in spans] == targets[0].tolist()
    for s in spans:
        assert 0.0 < s.score < 1.0
        assert s.score == pytest.approx(float(scores[0, s.start : s.end].exp().mean()), rel=1e-6)
    assert len({round(s.score, 2) for s in spans}) > 1


# --------------------------------------------------------------------------- CUDA


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: CUDA checks skip")


@cuda
@pytest.mark.parametrize("float_type", [torch.float16, torch.float32, torch.float64])
@pytest.mark.parametrize("index_type", [torch.int32, torch.int64])
def test_cuda_gives_the_cpu_answer(float_type, index_type) -> None:
    gen = torch.Generator().manual_seed(3)
    log_probs = torch.randn(1, 400, 30, generator=gen).log_softmax(-1).to(float_type)
    targets = torch.randint(1, 30, (1, 120), generator=gen).to(index_type)
    cpu = subalign.forced_align(log_probs, targets)
    gpu = subalign.forced_align(log_probs.cuda(), targets.cuda())
    assert gpu[0].is_cuda and gpu[1].is_cuda
    assert gpu[0].dtype == index_type and gpu[1].dtype == float_type
    assert torch.equal(cpu[0], gpu[0].cpu()) and torch.equal(cpu[1], gpu[1].cpu())
    for case, (tokens, expected) in BEST_PATHS.items():
        got, _ = subalign.forced_align(
            emission(float_type).cuda(), torch.tensor([tokens], dtype=index_type).cuda(), blank=BLANK
        )
        if float_type != torch.float16:  # half rounding may move a near tie
            assert got[0].tolist() == expected, case


# --------------------------------------------------------------------------- subalign's extras


def _extension():
    ext = importlib.import_module("subalign.align._extension")
    return ext if ext.load_op() is not None else None


def star_backends() -> list:
    """Every backend that takes star and mode: the reference, and the extension when it loads."""
    found = [forced_align_reference]
    ext = _extension()
    if ext is not None:
        found.append(ext.forced_align_ext)
    return found


def test_batches_with_lengths_and_padding(forced_align) -> None:
    gen = torch.Generator().manual_seed(5)
    log_probs = torch.randn(3, 40, 7, generator=gen).log_softmax(-1)
    log_probs[0, 30:] = float("nan")  # padding beyond item 0's length is never read
    targets = torch.tensor([[1, 2, 2, 3], [4, 4, 4, 4], [6, 5, -9, 99]], dtype=torch.int32)
    in_len, tg_len = torch.tensor([30, 40, 12]), torch.tensor([4, 4, 2])
    paths, scores = forced_align(log_probs, targets, in_len, tg_len, blank=0)
    assert paths.dtype == torch.int32 and scores.dtype == torch.float32
    for b in range(3):
        frames, tokens = int(in_len[b]), int(tg_len[b])
        one = forced_align(log_probs[b : b + 1, :frames], targets[b : b + 1, :tokens], blank=0)
        assert torch.equal(paths[b, :frames], one[0][0])
        assert torch.equal(scores[b, :frames], one[1][0])
        assert (paths[b, frames:] == 0).all() and (scores[b, frames:] == 0).all()


def test_bfloat16_aligns_like_its_float32_values(forced_align) -> None:
    gen = torch.Generator().manual_seed(9)
    log_probs = torch.randn(2, 50, 9, generator=gen).log_softmax(-1).to(torch.bfloat16)
    targets = torch.randint(1, 9, (2, 12), generator=gen)
    paths, scores = forced_align(log_probs, targets)
    assert paths.dtype == torch.int64 and scores.dtype == torch.bfloat16
    as_float = forced_align(log_probs.float(), targets)  # the same values, exactly
    assert torch.equal(paths, as_float[0])
    assert torch.equal(scores.float(), as_float[1])


@pytest.mark.parametrize("where", ["virtual (C)", "a real class"])
def test_star_scores_zero_on_every_backend(where) -> None:
    gen = torch.Generator().manual_seed(13)
    log_probs = (torch.randn(2, 60, 6, generator=gen) * 2).log_softmax(-1)
    star = 6 if where == "virtual (C)" else 4
    targets = torch.tensor([[star, 1, 2, star, 3, star], [2, star, 2, 1, 1, star]])
    in_len, tg_len = torch.tensor([60, 41]), torch.tensor([6, 5])
    zero_column = log_probs.clone()
    if star == 6:
        zero_column = torch.cat([zero_column, torch.zeros(2, 60, 1)], dim=2)
    else:
        zero_column[:, :, star] = 0.0
    expected = forced_align_reference(zero_column, targets, in_len, tg_len)
    answers = [fn(log_probs, targets, in_len, tg_len, star=star) for fn in star_backends()]
    answers.append(subalign.forced_align(log_probs, targets, in_len, tg_len, star=star))
    for paths, scores in answers:
        assert torch.equal(paths, expected[0]) and torch.equal(scores, expected[1])
        assert (scores[paths == star] == 0.0).all()
        assert (paths == star).any()


def test_star_id_is_checked() -> None:
    for fn in (*star_backends(), subalign.forced_align):
        for bad in (0, 7, -1):
            with pytest.raises(RuntimeError, match=f"star = {bad} must be a class in"):
                fn(emission(), TG, star=bad, blank=0)


@pytest.mark.parametrize("mode", ["auto", "full", "checkpoint"])
def test_mode_changes_nothing_but_memory(mode) -> None:
    gen = torch.Generator().manual_seed(17)
    log_probs = torch.randn(2, 300, 12, generator=gen).log_softmax(-1)
    targets = torch.randint(1, 12, (2, 80), generator=gen)
    expected = forced_align_reference(log_probs, targets)
    for fn in (*star_backends(), subalign.forced_align):
        for budget in (None, 0):
            got = fn(log_probs, targets, mode=mode, memory_budget=budget)
            assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_bad_mode_and_budget_are_rejected_by_every_backend() -> None:
    for fn in (*star_backends(), subalign.forced_align):
        with pytest.raises(RuntimeError, match="mode must be one of"):
            fn(emission(), TG, mode="fast")
        with pytest.raises(RuntimeError, match="memory_budget must be a byte count"):
            fn(emission(), TG, memory_budget=-1)
