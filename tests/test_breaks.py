"""Tests for subalign.breaks: counting characters and classifying the places between words."""

from __future__ import annotations

import unicodedata

import pytest

from subalign.cues.breaks import (
    AVOID,
    BEFORE_STARTER,
    CLAUSE,
    NEVER,
    PAUSE,
    PLAIN,
    SENTENCE,
    classify,
    width,
)
from subalign.text import is_sentence_end


@pytest.mark.parametrize(("text", "expected"), [
    ("plain text, with punctuation!", 29),
    (unicodedata.normalize("NFD", "café crème"), 10),      # combining accents count once
    ("한국어 자막", 6),                                       # Hangul syllables
    ("字幕の行", 4),                                          # wide CJK characters count once
    ("Привет, мир", 11),
    ("مَرْحَبًا", 5),                                          # Arabic harakat are marks
    ("नमस्ते", 4),                                             # virama is a mark; vowel sign counts
    ("👩\u200d💻 ok", 5),                                      # the zero-width joiner is invisible
    ("a\u200fb", 2),                                           # a direction mark is invisible
])
def test_width_counts_what_a_reader_sees(text, expected):
    assert width(text) == expected


@pytest.mark.parametrize(("before", "after", "previous", "reason"), [
    ("the", "house", None, "article + noun"),
    ("an", "orange", "ate", "article + noun"),
    ("The", "committee", None, "article + noun"),
    ("their", "voices", "raised", "determiner + noun"),
    ("Rachel's", "talk.", "after", "possessive + noun"),
    ("world’s", "fresh", "the", "possessive + noun"),
    ("boys'", "bikes", "the", "possessive + noun"),
    ("dark", "suit", "your", "adjective + noun"),
    ("famous", "writer", "a", "adjective + noun"),            # suffix rule
    ("beautiful", "garden", "a", "adjective + noun"),
    ("Winston", "Smith,", None, "first + last name"),
    ("Anna", "Karenina", "met", "first + last name"),
    ("Лев", "Толстой", "писал", "first + last name"),        # capitals work in any cased script
    ("Mr.", "Meldrew", "Hello,", "title + name"),
    ("J.", "Smith", "by", "title + name"),
    ("Doctor", "Watson", "said", "title + name"),
    ("she", "had", None, "subject pronoun + verb"),
    ("They", "will", None, "subject pronoun + verb"),
    ("I", "really", "and", "subject pronoun + verb"),
    ("you", "know", "and", "subject pronoun + verb"),        # "you" after a conjunction
    ("It", "rains", None, "subject pronoun + verb"),           # "it" at the start
])
def test_never_breaks(before, after, previous, reason):
    result = classify(before, after, previous)
    assert result.kind == NEVER and result.reason == reason


@pytest.mark.parametrize(("before", "after", "previous", "kind"), [
    ("home.", "The", "went", SENTENCE),
    ("now?”", "Yes", "what", SENTENCE),
    ("stopped,", "we", "rain", CLAUSE),                        # punctuation lifts any rule
    ("dark,", "cold", "a", CLAUSE),
    ("the", "—", None, CLAUSE),
    ("work", "and", "hard", BEFORE_STARTER),
    ("sat", "under", "he", BEFORE_STARTER),
    ("want", "to", "I", BEFORE_STARTER),
    ("went", "to", "we", BEFORE_STARTER),
    ("of", "them", "one", AVOID),                              # ending a line on a preposition
    ("will", "go", "we", AVOID),                               # auxiliary + verb
    ("3", "people", "saw", AVOID),                             # number + noun
    ("1999", "he", "in", PLAIN),                               # number, then no noun
    ("saw", "you", "I", PLAIN),
    ("it's", "raining", None, PLAIN),                          # a contraction, not a possessive
    ("that's", "true", "and", PLAIN),
    ("you", "yesterday", "saw", PLAIN),                        # "you" as an object
    ("it", "now", "do", PLAIN),
    ("the", "very", "was", PLAIN),                             # no noun after the article
    ("한국어", "자막", None, PLAIN),                             # no case, no word lists
    ("Dr.", "Who", None, NEVER),
])
def test_other_kinds(before, after, previous, kind):
    assert classify(before, after, previous).kind == kind


def test_a_pause_is_a_good_break_unless_a_never_rule_holds():
    assert classify("walked", "until", "we", gap=0.8, pause=0.6).kind == PAUSE
    assert classify("walked", "home", "we", gap=0.5, pause=0.6).kind == PLAIN
    assert classify("the", "house", None, gap=1.5, pause=0.6).kind == NEVER


@pytest.mark.parametrize(("word", "after", "ends"), [
    ("end.", "Then", True), ("really?!", "no", True), ("so…", "and", True), ("said.”", "He", True),
    ("了。", None, True), ("Dr.", "Who", False), ("J.", "Smith", False), ("J.", None, True),
    ("e.g.", "apples", False), ("3.5", "kg", False), ("wait...", "what", True), ("and", "then", False),
    # the words the two old rules disagreed on, decided once (subalign.text.words):
    ("p.m.", "We", True), ("p.m.", "and", False), ("etc.", "Then", True), ("etc.", "are", False),
    ("Jan.", "5", False), ("Feb.", "the", False), ("Fig.", "3", False), ("no.", "Then", True),
    ("No.", "5", False),
])
def test_sentence_ends(word, after, ends):
    assert is_sentence_end(word, after) is ends


def test_breaks_and_transcripts_use_the_same_sentence_rule():
    """A cue break after a word is a sentence break exactly when split_words says the word ends
    a sentence (one rule for both)."""
    from subalign.text import split_words

    text = "We met at 5 p.m. and left. See Fig. 3 now. It rained in Jan. Then etc. are fine. He said no. Then left."
    words = split_words(text)
    for a, b in zip(words, words[1:], strict=False):
        assert (classify(a.text, b.text).kind == SENTENCE) is a.sentence_end, (a.text, b.text)
