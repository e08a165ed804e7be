"""The espeak-ng route of the embedded model: real libespeak-ng, real hama vocabulary, real speech."""

from __future__ import annotations

import pytest

from subalign.errors import ModelError
from subalign.models import g2p_espeak, get_model
from subalign.models.g2p_espeak import CORE, NEAREST, EspeakG2P, to_inventory

if not g2p_espeak.available():
    pytest.skip("espeak-ng is not available (pip install 'subalign[espeak]')", allow_module_level=True)


@pytest.fixture(scope="module")
def hama():
    return get_model("hama")


def test_espeak_reads_french_german_spanish():
    assert EspeakG2P("fr").phonemes("bonjour") == ["b", "ɔ̃", "ʒ", "ˈu", "ʁ"]
    de = EspeakG2P("de").phonemes("ich")
    assert de[-1] == "ç"
    es = EspeakG2P("es-ES").phonemes("jamón")
    assert es[0] == "x" and "ˈo" in es


def test_unknown_language_is_a_model_error(hama):
    with pytest.raises(ModelError, match="no voice for language 'qq'"):
        EspeakG2P("qq")
    with pytest.raises(ModelError, match="no voice"):
        hama.tokenize(["hello"], language="qq")


def test_every_mapping_lands_in_the_recogniser_vocabulary(hama):
    vocab = {t: i for i, t in enumerate(hama.vocabulary)}
    assert CORE <= set(vocab)
    for source, target in NEAREST.items():
        assert all(p in vocab for p in target), source
        assert to_inventory(source, vocab) == list(target)
    assert to_inventory("ˈɑ̃", vocab) == ["ɑ", "n"]  # stress dropped, nasal vowel → vowel + n
    assert to_inventory("ʁ", vocab) == ["ɹ"]
    assert to_inventory("iː", vocab) == ["i"]  # length dropped
    assert to_inventory("ˈ", vocab) == []


def test_hama_tokenize_routes_by_language(hama):
    vocab = hama.vocabulary
    fr = [vocab[i] for i in hama.tokenize(["bonjour"], language="fr")[0]]
    assert fr == ["b", "ɔ", "n", "ʒ", "u", "ɹ"]
    en = hama.tokenize(["bonjour"], language="en")[0]
    assert [vocab[i] for i in en] != fr  # English (hama's own G2P) reads it differently
    de = hama.tokenize(["zwei", "Bücher"], language="de_DE")
    assert all(de) and all(i not in (hama.blank, hama.word_boundary) for w in de for i in w)


def test_french_speech_aligns_in_order(corpus):
    """ej-fra (34 s, read French): every word timed, in order, with the first word near the start."""
    from subalign import align_media
    from subalign.text import read_text

    folder = corpus / "readalongs_fra"
    text = read_text(folder / "ej-fra.txt")
    result = align_media(folder / "ej-fra.16k.wav", text, language="fr")
    words = result.words
    assert words[0].text == "Bonjour." and words[0].start < 1.5
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:], strict=False))
    assert words[-1].end > result.duration - 5
    # the recogniser agrees better with espeak's French than with English G2P of the same text
    english = align_media(folder / "ej-fra.16k.wav", text, language="en").words
    assert sum(w.score for w in words) > sum(w.score for w in english)
