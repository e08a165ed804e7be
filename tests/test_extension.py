"""The compiled forced-align op (subalign/_extensions/, subalign.align._extension) against its oracles.

Oracles: the golden vectors (float64 optimum, torchaudio's paths) and the PyTorch reference
``subalign.align.viterbi.forced_align``, which the op must match exactly (paths, scores and
error messages).  The CUDA kernel is compile-checked with nvcc and, with no GPU, run on CPU
threads by tests/cuda_emulator/emulate_cuda.cpp; the real-GPU tests skip without one.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import GOLDEN, REPO, need
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils import cpp_extension

from subalign.align.viterbi import forced_align as reference
from subalign.errors import AlignmentError

ext = importlib.import_module("subalign.align._extension")
EXT_DIR = REPO / "subalign" / "_extensions"
EMULATOR = Path(__file__).resolve().parent / "cuda_emulator" / "emulate_cuda.cpp"
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def op():
    """The built op; the build runs here (first use) and a failed build fails the tests."""
    loaded = ext.load_op()
    if loaded is None:
        reason = ext.backend()
        if "no C++ compiler" in reason or "disabled" in reason:
            pytest.skip(reason)
        pytest.fail(f"the extension did not build: {reason}")
    return loaded


def run_both(*args, options=None, **kwargs):
    """(reference result or error text, extension result or error text); `options` (mode, star,
    memory_budget) go to both: the reference checks mode and memory_budget and ignores them."""
    out = []
    for fn in (reference, ext.forced_align_ext):
        try:
            out.append(fn(*args, **kwargs, **(options or {})))
        except AlignmentError as exc:
            out.append(f"AlignmentError: {exc}")
    return out


def assert_same(ref, got):
    """Same paths and scores, bit for bit, in the same dtypes."""
    if isinstance(ref, str) or isinstance(got, str):
        assert ref == got
        return
    assert got[0].dtype == ref[0].dtype and got[1].dtype == ref[1].dtype
    assert torch.equal(ref[0], got[0]), (ref[0] != got[0]).nonzero()[:5]
    assert torch.equal(ref[1], got[1])


def as_emulated(ref):
    """A reference result in the emulator's output dtypes: int64 paths, scores in the
    accumulation type (float64 for float64 log-probs, else float32)."""
    if isinstance(ref, str):
        return ref
    acc = torch.float64 if ref[1].dtype == torch.float64 else torch.float32
    return ref[0].to(torch.int64), ref[1].to(acc)


def collapse(path: np.ndarray, blank: int) -> list[int]:
    out, prev = [], None
    for v in path.tolist():
        if v != prev and v != blank:
            out.append(v)
        prev = v
    return out


# ---------------------------------------------------------------------------------------------
# Build and backend


def test_backend_names_the_extension(op):
    assert callable(op)
    assert ext.backend() in ("extension-cpu", "extension-cuda")
    assert ext.backend() == ("extension-cuda" if torch.cuda.is_available() else "extension-cpu")


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
        check=False,
    )


BACKEND = "import importlib; print(importlib.import_module('subalign.align._extension').backend())"


def test_env_var_forces_the_reference():
    out = _python(BACKEND, SUBALIGN_NO_EXTENSION="1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "reference (disabled by SUBALIGN_NO_EXTENSION)"
    assert out.stderr == ""  # asked for: nothing to announce


def test_missing_compiler_falls_back(tmp_path):
    out = _python(BACKEND + "; " + BACKEND, CXX=str(tmp_path / "no-such-c++"), SUBALIGN_CACHE=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("reference (no C++ compiler")
    # the fallback is announced, once
    assert out.stderr.splitlines() == [
        "subalign: warning: the forced-align extension is not available (no C++ compiler found "
        "(install g++ or set CXX)); using the much slower reference aligner"
    ]


def test_failed_build_falls_back_without_crashing(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(EXT_DIR, src)
    for name in ("forced_align_op.cpp", "forced_align_cpu.cpp"):
        broken = "#include <subalign_no_such_header.h>  // fails at once\n"
        (src / name).write_text(broken + (src / name).read_text())
    out = _python(BACKEND, SUBALIGN_EXTENSION_DIR=str(src), SUBALIGN_CACHE=str(tmp_path / "c"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("reference (extension build failed")


def test_cached_build_is_reused(op):
    library = Path(ext.build_info()["cache"]) / "subalign_forced_align.so"
    assert library.is_file()
    before = library.stat().st_mtime_ns
    out = _python(BACKEND)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ext.backend()
    assert library.stat().st_mtime_ns == before  # loaded, not rebuilt


# ---------------------------------------------------------------------------------------------
# Golden vectors: optimal score everywhere, torchaudio's path wherever it is optimal


GROUPS = ["tiny", "repeats", "blank_not_zero", "peaky", "medium", "star", "ties"]


def golden_cases(group: str):
    z = np.load(need(GOLDEN / f"{group}.npz"))
    for i in range(int(z["meta/n_cases"])):
        yield {k[5:]: z[k] for k in z.files if k.startswith(f"{i:04d}/")}


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("mode", ["full", "checkpoint"])
def test_golden_optimal_and_torchaudio_paths(op, group, mode):
    checked = torchaudio_same = 0
    for c in golden_cases(group):
        lp, tg, blank = c["log_probs"], c["targets"], int(c["blank"])
        path, scores = ext.forced_align_ext(
            torch.from_numpy(lp)[None], torch.from_numpy(tg)[None], blank=blank, mode=mode
        )
        path = path[0].numpy()
        assert collapse(path, blank) == tg.tolist()
        assert np.array_equal(scores[0].numpy(), lp[np.arange(len(path)), path])
        score = math.fsum(lp[np.arange(len(path)), path].astype(np.float64))
        opt = float(c["opt_score"])
        assert opt - score <= 1e-6 * max(1.0, abs(opt))
        if float(c["opt_margin"]) > 8 * np.spacing(np.float32(abs(opt))):
            assert np.array_equal(path, c["opt_path"])
        if bool(c["ta_ok"]) and bool(c["ta_is_optimal"]):
            if str(c["ta_class"]) == "other_optimum":  # an exact tie: we keep the oracle's rule
                assert np.array_equal(path, c["opt_path"])
            else:
                assert np.array_equal(path, c["ta_path"])
                torchaudio_same += 1
        checked += 1
    assert checked == int(np.load(GOLDEN / f"{group}.npz")["meta/n_cases"])
    assert torchaudio_same > 0


def test_golden_star_as_native_wildcard(op):
    """star.npz appends a 0.0 column for <star>; the native star id needs no column."""
    for c in golden_cases("star"):
        lp, tg, blank, star = c["log_probs"], c["targets"], int(c["blank"]), int(c["star"])
        assert star == lp.shape[1] - 1
        path, scores = ext.forced_align_ext(
            torch.from_numpy(np.ascontiguousarray(lp[:, :star]))[None],
            torch.from_numpy(tg)[None],
            blank=blank,
            star=star,
        )
        with_column = ext.forced_align_ext(
            torch.from_numpy(lp)[None], torch.from_numpy(tg)[None], blank=blank
        )
        assert torch.equal(path, with_column[0])
        assert torch.equal(scores, with_column[1])
        by_reference = reference(
            torch.from_numpy(np.ascontiguousarray(lp[:, :star]))[None],
            torch.from_numpy(tg)[None],
            blank=blank,
            star=star,
        )
        assert_same(by_reference, (path, scores))
        opt = float(c["opt_score"])
        assert opt - math.fsum(scores[0].double().tolist()) <= 1e-6 * max(1.0, abs(opt))


# ---------------------------------------------------------------------------------------------
# Property tests against the reference


@st.composite
def problems(draw, max_batch=3, max_frames=40, max_classes=9, max_tokens=14):
    """A random batch: repeats, blank anywhere, per-item lengths, tight items, junk padding."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    batch = draw(st.integers(1, max_batch))
    classes = draw(st.integers(2, max_classes))
    blank = draw(st.integers(0, classes - 1))
    tokens = draw(st.integers(0, max_tokens))
    repeat_p = draw(st.sampled_from([0.0, 0.3, 0.8]))
    others = [c for c in range(classes) if c != blank]
    targets = rng.integers(-3, classes + 3, size=(batch, tokens))  # padding may hold anything
    tg_len = rng.integers(0, tokens + 1, size=batch)
    needs = []
    for b in range(batch):
        y = []
        for _ in range(tg_len[b]):
            y.append(y[-1] if y and rng.random() < repeat_p else int(rng.choice(others)))
        targets[b, : len(y)] = y
        needs.append(len(y) + sum(1 for i in range(1, len(y)) if y[i] == y[i - 1]))
    frames = max(1, max(needs) + draw(st.integers(0, max_frames)))
    tight = draw(st.booleans())
    in_len = np.array([n if tight else rng.integers(n, frames + 1) for n in needs])
    if not tight:
        in_len[rng.integers(batch)] = frames  # some item fills the padded length
    kind = draw(st.sampled_from(["normal", "peaky", "ties", "neginf"]))
    logits = rng.normal(size=(batch, frames, classes)) * (6 if kind == "peaky" else 1.5)
    log_probs = torch.from_numpy(logits).log_softmax(-1).float()
    if kind == "ties":  # few distinct values: exact ties in every frame
        log_probs = (torch.round(log_probs * 2) / 2).clamp(min=-3)
    if kind == "neginf":
        log_probs[torch.from_numpy(rng.random(log_probs.shape) < 0.15)] = -math.inf
    return (
        log_probs,
        torch.from_numpy(targets),
        torch.from_numpy(in_len),
        torch.from_numpy(tg_len),
        blank,
    )


@PROPERTY
@given(case=problems(), mode=st.sampled_from(["full", "checkpoint", "auto"]))
def test_matches_reference_float32(op, case, mode):
    lp, tg, il, tl, blank = case
    assert_same(*run_both(lp, tg, il, tl, blank, options={"mode": mode, "memory_budget": 64}))


@PROPERTY
@given(case=problems(), dtype=st.sampled_from([torch.float16, torch.bfloat16, torch.float64]))
def test_matches_reference_other_dtypes(op, case, dtype):
    lp, tg, il, tl, blank = case
    assert_same(*run_both(lp.to(dtype), tg.to(torch.int32), il.tolist(), tl.to(torch.int32), blank))


@PROPERTY
@given(case=problems(max_tokens=10), where=st.sampled_from(["virtual", "column"]))
def test_star_wildcard_matches_a_zero_column(op, case, where):
    """A native star id equals an ordinary class whose log-prob is 0.0 in every frame."""
    lp, tg, il, tl, blank = case
    classes = lp.shape[2]
    star = classes if where == "virtual" else (blank + 1) % classes
    rng = np.random.default_rng(int(tg.abs().sum()))
    tg = tg.clone()
    tg[torch.from_numpy(rng.random(tg.shape) < 0.3)] = star  # may add repeats: re-check length
    column = lp.clone()
    if star == classes:
        column = torch.cat([column, torch.zeros(*lp.shape[:2], 1)], dim=2)
    else:
        column[:, :, star] = 0.0
    ref = run_both(column, tg, il, tl, blank)[0]
    star_ref, got = run_both(lp, tg, il, tl, blank, options={"star": star})
    assert_same(ref, got)
    assert_same(star_ref, got)


@PROPERTY
@given(case=problems(max_frames=80, max_tokens=40))
def test_every_instruction_set_gives_the_same_bits(op, case, monkeypatch_module):
    lp, tg, il, tl, blank = case
    results = []
    for isa in ("scalar", "avx2", "avx512"):
        monkeypatch_module.setenv("SUBALIGN_FA_ISA", isa)
        results.append(run_both(lp, tg, il, tl, blank)[1])
    monkeypatch_module.delenv("SUBALIGN_FA_ISA")
    for other in results[1:]:
        assert_same(results[0], other)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_batch_is_the_same_on_one_and_two_threads(op):
    g = torch.Generator().manual_seed(3)
    lp = torch.randn(9, 300, 12, generator=g).log_softmax(-1)
    tg = torch.randint(1, 12, (9, 60), generator=g)
    il = torch.randint(200, 301, (9,), generator=g)
    tl = torch.randint(0, 61, (9,), generator=g)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ext.forced_align_ext(lp, tg, il, tl)
        torch.set_num_threads(2)
        two = ext.forced_align_ext(lp, tg, il, tl)
    finally:
        torch.set_num_threads(threads)
    assert_same(reference(lp, tg, il, tl), one)
    assert_same(one, two)


def test_checkpoint_blocks_cover_long_inputs_exactly(op):
    """Many checkpoint blocks and a tight stretch: the recomputed bits give the same path."""
    g = torch.Generator().manual_seed(5)
    lp = torch.randn(2, 2500, 30, generator=g).log_softmax(-1)
    tg = torch.randint(1, 30, (2, 700), generator=g)
    tg[1, 1::2] = tg[1, 0::2]  # many repeats: item 1 is nearly tight
    repeats = int((tg[1, 1:] == tg[1, :-1]).sum())
    il = torch.tensor([2500, 700 + repeats + 3])
    full = ext.forced_align_ext(lp, tg, il, mode="full")
    assert_same(reference(lp, tg, il), full)
    assert_same(full, ext.forced_align_ext(lp, tg, il, mode="checkpoint"))
    assert_same(full, ext.forced_align_ext(lp, tg, il, mode="auto", memory_budget=0))


def test_past_two_to_the_31_trellis_states(op):
    """T * (2L + 1) > 2**31, where torchaudio's 32-bit index crashes; the peaks fix the path."""
    frames, tokens, classes = 110_000, 10_000, 8
    lp = torch.full((1, frames, classes), -8.0)
    lp[0, :, 0] = -0.01
    tg = torch.arange(tokens) % (classes - 1) + 1
    peaks = torch.arange(tokens) * (frames // tokens) + 5
    lp[0, peaks, tg] = -0.01
    lp[0, peaks, 0] = -8.0
    path, _ = ext.forced_align_ext(lp, tg[None], mode="checkpoint")
    expect = torch.zeros(frames, dtype=torch.int64)
    expect[peaks] = tg
    assert torch.equal(path[0], expect)


# ---------------------------------------------------------------------------------------------
# Bad input: same AlignmentError as the reference, no crash, no leak


def _lsm(frames: int, classes: int, dtype=torch.float32, batch: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(batch, frames, classes, generator=g, dtype=torch.float64)
        .log_softmax(-1)
        .to(dtype)
    )


def _set(t: torch.Tensor, index, value) -> torch.Tensor:
    t = t.clone()
    t[index] = value
    return t


T2 = torch.tensor
BAD_INPUTS = {
    "negative_target": (_lsm(8, 5), T2([[1, -1, 2]]), {}),
    "huge_negative_target": (_lsm(8, 5), T2([[1, -(10**9), 2]]), {}),
    "target_eq_C": (_lsm(8, 5), T2([[1, 5, 2]]), {}),
    "target_huge": (_lsm(8, 5), T2([[1, 10**9]]), {}),
    "target_eq_blank": (_lsm(8, 5), T2([[1, 0, 2]]), {}),
    "target_eq_blank_nonzero": (_lsm(8, 5), T2([[1, 4, 2]]), {"blank": 4}),
    "too_short_for_repeats": (_lsm(4, 5), T2([[1, 1, 2, 2]]), {}),
    "too_short_by_one": (_lsm(5, 5), T2([[1, 1, 2, 2]]), {}),
    "too_short_no_repeats": (_lsm(3, 5), T2([[1, 2, 3, 4]]), {}),
    "empty_time_axis": (_lsm(0, 5), T2([[1]]), {}),
    "log_probs_2d": (_lsm(8, 5)[0], T2([[1, 2]]), {}),
    "log_probs_4d": (_lsm(8, 5)[None], T2([[1, 2]]), {}),
    "targets_1d": (_lsm(8, 5), T2([1, 2]), {}),
    "targets_list": (_lsm(8, 5), [[1, 2]], {}),
    "batch_mismatch": (_lsm(8, 5), T2([[1, 2], [1, 2]]), {}),
    "integer_log_probs": (torch.zeros(1, 8, 5, dtype=torch.int64), T2([[1, 2]]), {}),
    "int16_targets": (_lsm(8, 5), T2([[1, 2]], dtype=torch.int16), {}),
    "float_targets": (_lsm(8, 5), T2([[1.0, 2.0]]), {}),
    "blank_eq_C": (_lsm(8, 5), T2([[1, 2]]), {"blank": 5}),
    "blank_negative": (_lsm(8, 5), T2([[1, 2]]), {"blank": -1}),
    "blank_bool": (_lsm(8, 5), T2([[1, 2]]), {"blank": True}),
    "single_class": (_lsm(8, 1), T2([[1]]), {}),
    "input_length_too_long": (_lsm(8, 5), T2([[1, 2]]), {"input_lengths": T2([9])}),
    "input_length_negative": (_lsm(8, 5), T2([[1, 2]]), {"input_lengths": T2([-1])}),
    "input_lengths_float": (_lsm(8, 5), T2([[1, 2]]), {"input_lengths": T2([8.0])}),
    "input_lengths_shape": (_lsm(8, 5, batch=2), T2([[1, 2], [1, 2]]), {"input_lengths": T2([8])}),
    "target_length_too_long": (_lsm(8, 5), T2([[1, 2, 3]]), {"target_lengths": T2([4])}),
    "nan": (_set(_lsm(8, 5), (0, 3, 1), math.nan), T2([[1, 2]]), {}),
    "posinf": (_set(_lsm(8, 5), (0, 3, 4), math.inf), T2([[1, 2]]), {}),
    "nan_in_second_item": (
        _set(_lsm(8, 5, batch=2), (1, 6, 0), math.nan),
        T2([[1, 2], [2, 3]]),
        {},
    ),
    "no_finite_path": (_set(_lsm(6, 4), (0, slice(None), 2), -math.inf), T2([[1, 2]]), {}),
    "no_finite_path_blank_only": (
        _set(_lsm(6, 4), (0, 2, 0), -math.inf),
        T2([[]], dtype=torch.int64),
        {},
    ),
}
FINE_INPUTS = {
    "empty_targets": (_lsm(8, 5), torch.zeros(1, 0, dtype=torch.int64), {}),
    "non_contiguous_log_probs": (_lsm(5, 8).transpose(1, 2), T2([[1, 2]]), {}),
    "non_contiguous_targets": (_lsm(8, 5), T2([[1, 9, 2, 9]])[:, ::2], {}),
    "nan_in_padding": (_set(_lsm(8, 5), (0, 7, 1), math.nan), T2([[1, 2]]), {"input_lengths": [7]}),
    "bad_target_in_padding": (_lsm(8, 5), T2([[1, 2, -5]]), {"target_lengths": [2]}),
    "zero_length_item": (
        _lsm(8, 5, batch=2),
        T2([[1, 2], [3, 4]]),
        {"input_lengths": [8, 0], "target_lengths": [2, 0]},
    ),
    "empty_batch": (_lsm(5, 4, batch=0), torch.zeros(0, 2, dtype=torch.int64), {}),
    "requires_grad": (_lsm(8, 5).requires_grad_(), T2([[1, 2]]), {}),
    "tight_with_repeat": (_lsm(4, 5), T2([[1, 1, 2]]), {}),
    "neginf_but_feasible": (_set(_lsm(12, 5), (0, slice(0, 6), 2), -math.inf), T2([[1, 2, 3]]), {}),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_raises_the_reference_error(op, name):
    lp, tg, kw = BAD_INPUTS[name]
    ref, got = run_both(lp, tg, **kw)
    assert isinstance(ref, str) and ref.startswith("AlignmentError: ")
    assert got == ref


@pytest.mark.parametrize("name", sorted(FINE_INPUTS))
def test_edge_inputs_match_the_reference(op, name):
    lp, tg, kw = FINE_INPUTS[name]
    ref, got = run_both(lp, tg, **kw)
    assert not isinstance(ref, str), ref
    assert_same(ref, got)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"mode": "fast"}, "mode must be one of"),
        ({"star": 0}, "star = 0 must be a class"),
        ({"star": 6}, "star = 6 must be a class"),
        ({"memory_budget": -1}, "memory_budget must be"),
    ],
)
def test_bad_options_raise(op, kwargs, words):
    with pytest.raises(AlignmentError, match=words):
        ext.forced_align_ext(_lsm(8, 5), T2([[1, 2]]), **kwargs)


def test_raw_op_rejects_bad_input_without_crashing(op):
    """Callers that skip the Python wrapper still get exceptions, never a crash."""
    lp = _lsm(8, 5)
    lens = (T2([8]), T2([2]))
    cases = [
        (lp, T2([[1, -(10**9)]]), *lens, 0),
        (lp, T2([[1, 2]]), T2([80]), T2([2]), 0),
        (lp, T2([[1, 2]]), T2([8]), T2([-3]), 0),
        (lp, T2([[1, 2]]), *lens, 7),
        (lp[0], T2([[1, 2]]), *lens, 0),
        (lp, T2([[1, 1, 1, 1, 1]]), T2([8]), T2([5]), 0),
        (_set(lp, (0, 2, 2), math.nan), T2([[1, 2]]), *lens, 0),
    ]
    for args in cases:
        with pytest.raises((ValueError, RuntimeError)):
            op(*args)


@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n, (_, tg, kw) in BAD_INPUTS.items()
        if isinstance(tg, torch.Tensor) and not isinstance(kw.get("blank"), bool)
    ),
)
def test_raw_op_says_what_the_wrapper_says(op, name):
    """The op's own guard (C++) and the wrapper's check (checks.py) word each mistake alike."""
    lp, tg, kw = BAD_INPUTS[name]
    batch, frames = (lp.shape[0], lp.shape[1]) if lp.dim() == 3 else (1, 1)
    lengths = [torch.as_tensor(kw.get(key, torch.full((batch,), size)))
               for key, size in (("input_lengths", frames), ("target_lengths", tg.shape[-1]))]
    with pytest.raises(AlignmentError) as wrapped:
        ext.forced_align_ext(lp, tg, **kw)
    with pytest.raises(ValueError) as raw:
        op(lp, tg, *lengths, kw.get("blank", 0))
    assert str(raw.value).splitlines()[0] == str(wrapped.value)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_error_paths_do_not_leak(op):
    """Every error case, repeated: the peak RSS stays flat (nothing kept, nothing huge made)."""
    big_lp = torch.zeros(1, 200_000, 4)
    cases = [v for v in BAD_INPUTS.values() if isinstance(v[1], torch.Tensor)]
    cases.append((big_lp, torch.full((1, 150_000), 7), {}))  # out of range, checked first
    cases.append((big_lp, torch.ones(1, 150_000, dtype=torch.int64), {}))  # 150k repeats
    dead = torch.randn(1, 20_000, 6).log_softmax(-1)
    dead[0, :, 3] = -math.inf  # found only after the forward pass, with its bits allocated
    cases.append((dead, torch.tensor([[1, 2, 3, 4] * 250]), {}))

    def once():
        for lp, tg, kw in cases:
            with pytest.raises(AlignmentError):
                ext.forced_align_ext(lp, tg, **kw)

    once()
    once()
    start = _peak_rss_mib()
    for _ in range(40):
        once()
    assert _peak_rss_mib() - start < 8


# ---------------------------------------------------------------------------------------------
# Memory: 1.5 bits per state in the band, or O(L sqrt T) with checkpoints


MEMORY_SCRIPT = """
import importlib, json, torch
ext = importlib.import_module("subalign.align._extension")
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
lp = torch.randn(1, 60_000, 30, generator=g).log_softmax(-1)
tg = torch.randint(1, 30, (1, 4_000), generator=g)
ext.forced_align_ext(lp[:, :100], tg[:, :10])

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

out = {}
for mode, budget in (("checkpoint", None), ("auto", 16 << 20), ("full", None)):
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    before = status("VmRSS:")
    result = ext.forced_align_ext(lp, tg, mode=mode, memory_budget=budget)
    out[mode] = status("VmHWM:") - before
    out[mode + "_path"] = result[0].sum().item()
print(json.dumps(out))
"""


@pytest.mark.skipif(
    not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc/self/clear_refs"
)
def test_memory_full_bits_versus_checkpoints(op):
    """Extra peak RSS of one call: the full band's bits, or far less with checkpoints."""
    out = _python(MEMORY_SCRIPT)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    bits = 59_999 * 3 * (4_000 // 64 + 1) * 8  # 3 bit planes over the band's 64-bit words
    assert 0.8 * bits <= got["full"] <= 1.1 * bits + (8 << 20)
    assert got["checkpoint"] < bits / 8
    assert got["auto"] < bits / 8  # the 16 MiB budget made auto checkpoint
    assert got["full_path"] == got["checkpoint_path"] == got["auto_path"]


# ---------------------------------------------------------------------------------------------
# CUDA: compile checks with nvcc, the kernel on emulated threads, the real GPU when present


def _nvcc() -> str | None:
    found = shutil.which("nvcc")
    if found is None and cpp_extension.CUDA_HOME:
        cand = Path(cpp_extension.CUDA_HOME) / "bin" / "nvcc"
        found = str(cand) if cand.is_file() else None
    return found


@pytest.fixture(scope="module")
def nvcc():
    path = _nvcc()
    if path is None:
        pytest.skip("nvcc not found: the CUDA sources cannot be compile-checked here")
    return path


def test_cuda_kernels_compile(nvcc, tmp_path):
    unit = tmp_path / "kernels.cu"
    inst = "template cudaError_t subalign::gpu::launch_forced_align<{s}, {a}>(const subalign::gpu::Params<{s}, {a}>&, int64_t, cudaStream_t);\n"
    unit.write_text(
        '#include "forced_align_kernels.cuh"\n'
        + "".join(
            inst.format(s=s, a=a)
            for s, a in [
                ("float", "float"),
                ("double", "double"),
                ("__half", "float"),
                ("__nv_bfloat16", "float"),
            ]
        )
    )
    out = subprocess.run(
        [
            nvcc,
            "-c",
            str(unit),
            "-o",
            str(tmp_path / "k.o"),
            f"-I{EXT_DIR}",
            "-std=c++17",
            "-O3",
            "-gencode=arch=compute_80,code=sm_80",
            "-gencode=arch=compute_90,code=sm_90",
            "-Xptxas",
            "-v",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    # A 1024-thread block can only launch with at most 64 registers per thread.
    registers = [int(n) for n in re.findall(r"Used (\d+) registers", out.stderr)]
    assert len(registers) == 8 and max(registers) <= 64, out.stderr


def test_cuda_binding_compiles(nvcc, tmp_path):
    """forced_align_cuda.cu against the installed torch headers (CPU wheels lack one generated
    header of c10/cuda, which a two-line stand-in provides)."""
    includes = [*cpp_extension.include_paths(), sysconfig.get_paths()["include"]]
    macros = "c10/cuda/impl/cuda_cmake_macros.h"
    if not any((Path(p) / macros).is_file() for p in includes):
        stub = tmp_path / "stub" / macros
        stub.parent.mkdir(parents=True)
        stub.write_text("#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n")
        includes.append(str(tmp_path / "stub"))
    out = subprocess.run(
        [
            nvcc,
            "-c",
            str(EXT_DIR / "forced_align_cuda.cu"),
            "-o",
            str(tmp_path / "b.o"),
            f"-I{EXT_DIR}",
            *[a for p in includes for a in ("-isystem", p)],
            "-std=c++20",
            "-O0",
            "-gencode=arch=compute_80,code=sm_80",
            "--expt-relaxed-constexpr",
            "-Xcompiler",
            "-fPIC",
            "-D__CUDA_NO_HALF_OPERATORS__",
            "-D__CUDA_NO_HALF_CONVERSIONS__",
            "-D__CUDA_NO_BFLOAT16_CONVERSIONS__",
            "-D__CUDA_NO_HALF2_OPERATORS__",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    cxx = shutil.which(os.environ.get("CXX", "c++")) or shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler for the CUDA emulator")
    exe = tmp_path_factory.mktemp("emu") / "emulate_cuda"
    subprocess.run(
        [
            cxx,
            "-std=c++20",
            "-O1",
            "-pthread",
            f"-I{EXT_DIR}",
            str(EMULATOR),
            "-o",
            str(exe),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return exe


def emulate(exe, lp, tg, il, tl, blank, star=-1, threads=0, shared=False):
    """Runs the CUDA kernel on emulated threads; returns (paths, scores, dead) as arrays."""
    lp = lp.numpy()
    batch, frames, classes = lp.shape
    head = np.array(
        [
            batch,
            frames,
            classes,
            tg.shape[1],
            blank,
            star,
            int(lp.dtype == np.float64),
            threads,
            int(shared),
        ],
        np.int64,
    )
    data = b"".join(
        a.tobytes()
        for a in (
            head,
            lp,
            tg.numpy().astype(np.int64),
            il.numpy().astype(np.int64),
            tl.numpy().astype(np.int64),
        )
    )
    out = subprocess.run(
        [str(exe)], input=data, capture_output=True, check=True, timeout=120
    ).stdout
    n = batch * frames
    acc = np.float64 if lp.dtype == np.float64 else np.float32  # scores in the accumulation type
    end = 8 * n + np.dtype(acc).itemsize * n
    return (
        torch.from_numpy(np.frombuffer(out[: 8 * n], np.int64).reshape(batch, frames).copy()),
        torch.from_numpy(np.frombuffer(out[8 * n : end], acc).reshape(batch, frames).copy()),
        np.frombuffer(out[end:], np.int32),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=problems(max_tokens=45),
    threads=st.sampled_from([0, 32]),
    double=st.booleans(),
    shared=st.booleans(),
)
def test_cuda_kernel_on_emulated_threads(emulator, case, threads, double, shared):
    lp, tg, il, tl, blank = case
    if double:
        lp = lp.double()
    paths, scores, dead = emulate(emulator, lp, tg, il, tl, blank, threads=threads, shared=shared)
    ref = run_both(lp, tg, il, tl, blank)[0]
    if isinstance(ref, str):
        if "no alignment has a finite score" in ref:
            assert dead.any()
        return  # other errors are the host's job (validate), not the kernel's
    assert not dead.any()
    assert_same(as_emulated(ref), (paths, scores))


def test_cuda_kernel_star_on_emulated_threads(emulator):
    g = torch.Generator().manual_seed(11)
    lp = torch.randn(2, 50, 6, generator=g).log_softmax(-1)
    tg = torch.tensor([[6, 1, 2, 6, 3, 6], [2, 6, 2, 4, 1, 1]])
    il, tl = torch.tensor([50, 37]), torch.tensor([6, 5])
    paths, scores, dead = emulate(emulator, lp, tg, il, tl, 0, star=6, shared=True)
    assert not dead.any()
    column = torch.cat([lp, torch.zeros(2, 50, 1)], dim=2)
    assert_same(reference(column, tg, il, tl), (paths, scores))
    assert_same(reference(lp, tg, il, tl, star=6), (paths, scores))


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@cuda
@PROPERTY
@given(
    case=problems(max_tokens=60),
    dtype=st.sampled_from([torch.float32, torch.float16, torch.float64]),
)
def test_cuda_matches_reference(op, case, dtype):
    lp, tg, il, tl, blank = case
    ref, got = run_both(lp.to(dtype).cuda(), tg.cuda(), il, tl, blank)
    if isinstance(ref, str) or isinstance(got, str):
        assert ref == got
    else:
        assert got[0].is_cuda and ref[0].is_cuda  # both hand results back on log_probs' device
        assert_same((ref[0].cpu(), ref[1].cpu()), (got[0].cpu(), got[1].cpu()))


@cuda
def test_cuda_long_batch_matches_cpu(op):
    g = torch.Generator().manual_seed(2)
    lp = torch.randn(6, 4000, 30, generator=g).log_softmax(-1)
    tg = torch.randint(1, 30, (6, 1500), generator=g)
    il = torch.tensor([4000, 3999, 3100, 4000, 1600, 2])
    tl = torch.tensor([1500, 1200, 1500, 0, 1500, 1])
    cpu = ext.forced_align_ext(lp, tg, il, tl)
    gpu = ext.forced_align_ext(lp.cuda(), tg.cuda(), il.cuda(), tl.cuda())
    assert_same(cpu, (gpu[0].cpu(), gpu[1].cpu()))
