"""Tests for subalign.cues: grouping timed words into readable, non-overlapping cues."""

from __future__ import annotations

import math
import unicodedata

import cuecheck
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subalign.cues import HARD_PAUSE, group_cues, wrap_lines
from subalign.cues.breaks import width
from subalign.cues.rules import check_cues as check_rules
from subalign.cues.style import BBC, NETFLIX, PLAIN
from subalign.types import Cue, WordSpan

LIMITS = {"max_chars": 42, "max_lines": 2, "max_duration": 7.0}


def speak(text: str, *, word: float = 0.3, gap: float = 0.05, pauses: dict[int, float] | None = None
          ) -> list[WordSpan]:
    """Words of ``text`` spoken one after another: ``word`` seconds each, ``gap`` between them,
    and an extra silence of ``pauses[k]`` seconds before word k."""
    pauses = pauses or {}
    out, t = [], 0.0
    for k, token in enumerate(text.split()):
        t += pauses.get(k, 0.0)
        out.append(WordSpan(token, t, t + word, 0.9))
        t += word + gap
    return out


def check_cues(cues: list[Cue], words: list[WordSpan], *, max_chars: int = 42, max_lines: int = 2,
               max_duration: float = 7.0) -> None:
    """Every rule a cue list must follow, whatever the input."""
    kept = [w for w in words if w.text.split()]
    # Text preserved: the cues' words are exactly the input words, in order, and the lines show them.
    assert [w for c in cues for w in c.words] == kept
    assert all(a is b for a, b in zip([w for c in cues for w in c.words], kept, strict=True))
    for c in cues:
        assert c.words, "a cue without words"
        assert " ".join(c.lines) == " ".join(" ".join(w.text.split()) for w in c.words)
        assert 1 <= len(c.lines) <= max_lines
        for line in c.lines:
            assert line and line == line.strip() and "\n" not in line
            if width(line) > max_chars:
                assert " " not in line, f"overlong line with several words: {line!r}"
        assert math.isfinite(c.start) and math.isfinite(c.end)
        assert 0 <= c.start < c.end
        if len(c.words) > 1:
            assert c.end - c.start <= max_duration + 1e-9
    for a, b in zip(cues, cues[1:], strict=False):
        assert a.end <= b.start, "cues overlap"
        assert a.start < b.start, "cues out of order"


PARAGRAPH = (
    "It was a bright cold day in April, and the clocks were striking thirteen. "
    "Winston Smith, his chin nuzzled into his breast in an effort to escape the vile wind, "
    "slipped quickly through the glass doors of Victory Mansions, though not quickly enough "
    "to prevent a swirl of gritty dust from entering along with him. The hallway smelt of "
    "boiled cabbage and old rag mats! At one end of it a coloured poster, too large for indoor "
    "display, had been tacked to the wall?"
)


def test_paragraph_follows_every_rule():
    words = speak(PARAGRAPH)
    cues = group_cues(words)
    check_cues(cues, words)
    assert len(cues) > 5


def test_cues_end_at_sentence_ends_when_sentences_fit():
    # Each sentence fits one cue, two never do: every cue must be exactly one sentence.
    first = "The committee reviewed all of the proposals in detail."
    second = "Nobody expected the final decision to take so long."
    third = "Everyone went home disappointed after a long evening."
    words = speak(" ".join([first, second, third]))
    cues = group_cues(words)
    check_cues(cues, words)
    assert [" ".join(c.lines) for c in cues] == [first, second, third]


def test_sentence_end_beats_a_better_balanced_cut():
    # 30 + 70 characters: a balanced cut would fall inside the long sentence.
    short = "We finally arrived at the inn."
    long = "The innkeeper showed us to a small room under the roof with two beds in it"
    words = speak(f"{short} {long}")
    cues = group_cues(words)
    check_cues(cues, words)
    assert any(c.words[-1].text == "inn." for c in cues)


def test_a_sentence_does_not_start_mid_line():
    # 49 + 31 characters fit one cue, but only with the second sentence starting mid-line.
    first = "The weather was far worse than anyone had feared."
    second = "We stayed inside all afternoon."
    assert len(wrap_lines(f"{first} {second}".split())) == 2  # they would fit one cue
    words = speak(f"{first} {second}")
    cues = group_cues(words)
    check_cues(cues, words)
    assert [" ".join(c.lines) for c in cues] == [first, second]


def test_many_short_sentences_cut_only_at_sentence_ends():
    text = " ".join(["Yes.", "No way!", "Really?", "I think so.", "Fine.", "Go on then.",
                     "Wait.", "What now?", "Nothing.", "Okay then."] * 4)
    words = speak(text)
    cues = group_cues(words)
    check_cues(cues, words)
    assert len(cues) > 1
    for c in cues[:-1]:
        assert c.words[-1].text[-1] in ".!?"
    # Short sentences are gathered, not flashed one by one.
    assert len(cues) < len(text.split(".")) // 2


@pytest.mark.parametrize("count", [17, 30, 120])
def test_long_text_without_punctuation_is_split_evenly(count):
    words = speak(" ".join(f"w{k:03d}rd" for k in range(count)))
    cues = group_cues(words)
    check_cues(cues, words)
    filled = [sum(width(line) for line in c.lines) for c in cues]
    # Evenly: no orphan, the emptiest cue is nearly as full as the fullest.
    assert min(filled) >= 0.8 * max(filled)


def test_cut_at_a_long_pause_rather_than_anywhere():
    text = ("so we kept walking down the long and dusty road for hours "
            "until finally someone noticed the small house behind the old trees")
    tokens = text.split()
    at = tokens.index("until")
    words = speak(text, pauses={at: 0.9})
    cues = group_cues(words)
    check_cues(cues, words)
    assert any(c.words[0].text == "until" for c in cues)


def test_cut_at_clause_punctuation_rather_than_anywhere():
    text = ("the results were better than anyone in the department had hoped for, "
            "yet the board still refused to approve the new budget")
    words = speak(text)
    cues = group_cues(words)
    check_cues(cues, words)
    assert len(cues) == 2
    assert cues[0].words[-1].text == "for,"


@pytest.mark.parametrize("pause", [0.6, HARD_PAUSE - 0.1])
def test_never_spans_a_long_silence(pause):
    words = speak("Hello there my friend", pauses={2: HARD_PAUSE + 0.3})
    cues = group_cues(words, pause=pause)
    check_cues(cues, words)
    assert [len(c.words) for c in cues] == [2, 2]


def test_duration_limit_splits_slow_speech():
    words = speak("one two three four five six", word=0.9, gap=0.5)
    cues = group_cues(words, max_duration=4.0)
    check_cues(cues, words, max_duration=4.0)
    assert len(cues) >= 2


def test_a_single_word_longer_than_max_duration_gets_its_own_cue():
    words = [WordSpan("Hmm", 0.0, 0.3, 1.0), WordSpan("aaaaaah", 0.3, 9.0, 1.0),
             WordSpan("okay.", 9.0, 9.4, 1.0)]
    cues = group_cues(words)
    check_cues(cues, words)
    long = [c for c in cues if any(w.text == "aaaaaah" for w in c.words)]
    assert len(long) == 1 and len(long[0].words) == 1


def test_a_sixty_character_word_gets_a_line_of_its_own():
    giant = "Pneumonoultramicroscopicsilicovolcanoconiosis" + "X" * 15
    assert len(giant) == 60
    words = speak(f"He said {giant} twice and then he stopped talking for a while.")
    cues = group_cues(words)
    check_cues(cues, words)
    lines = [line for c in cues for line in c.lines]
    assert giant in lines  # uncut, alone on its line
    assert all(width(line) <= 42 for line in lines if line != giant)


def test_lines_count_nfc_characters():
    # 21 decomposed "é" are 42 code points but 21 characters after NFC.
    decomposed = unicodedata.normalize("NFD", "é" * 20)
    text = f"{decomposed} {decomposed}"
    assert len(text) > 42 and width(text) == 41
    assert wrap_lines(text.split()) == [text]
    cues = group_cues(speak(text))
    assert cues[0].lines == (text,)


def test_identical_word_times_give_ordered_positive_cues():
    words = [WordSpan(f"word{k}", 5.0, 5.0, 0.1) for k in range(40)]
    cues = group_cues(words)
    check_cues(cues, words)
    assert len(cues) > 1
    assert cues[0].start == pytest.approx(5.0)


def test_overlapping_and_out_of_order_times_are_clamped():
    words = [WordSpan("first", 1.0, 3.0, 1.0), WordSpan("second", 0.5, 1.2, 1.0),
             WordSpan("third.", 2.0, 2.1, 1.0)]
    words += speak("Another sentence that is long enough to need its own cue here.")
    words = [WordSpan(w.text, w.start + 1.5, w.end + 1.5, w.score) if k >= 3 else w
             for k, w in enumerate(words)]
    cues = group_cues(words)
    check_cues(cues, words)
    assert cues[0].start == pytest.approx(1.0)


def test_short_cue_is_extended_into_silence_but_keeps_min_gap():
    words = [WordSpan("Hi.", 0.0, 0.2, 1.0), WordSpan("Hello.", 3.0, 3.2, 1.0)]
    cues = group_cues(words, min_duration=1.0)
    assert [c.end - c.start for c in cues] == pytest.approx([1.0, 1.0])
    # max_chars=6 on one line keeps the two words apart, whatever the gap between them.
    narrow = {"max_chars": 6, "max_lines": 1, "min_duration": 1.0, "min_gap_frames": 2}
    close = [WordSpan("Hi.", 0.0, 0.2, 1.0), WordSpan("Hello.", 0.7, 0.9, 1.0)]
    cues = group_cues(close, **narrow)
    check_cues(cues, close, max_chars=6, max_lines=1)
    assert cues[0].end == pytest.approx(0.7 - 0.08)
    touching = [WordSpan("Hi.", 0.0, 0.2, 1.0), WordSpan("Hello.", 0.22, 0.5, 1.0)]
    cues = group_cues(touching, **narrow)
    check_cues(cues, touching, max_chars=6, max_lines=1)
    # the gap wins over the speech: the cue ends 2 frames (at 25 fps) before the next one
    assert cues[0].end == pytest.approx(0.22 - 0.08)
    assert cues[1].start == pytest.approx(0.22)


def test_empty_texts_are_left_out_and_nothing_gives_nothing():
    assert group_cues([]) == []
    words = [WordSpan("", 0.0, 0.1, 1.0), WordSpan("  ", 0.1, 0.2, 1.0)]
    assert group_cues(words) == []
    words.append(WordSpan("real", 0.2, 0.5, 1.0))
    cues = group_cues(words)
    assert len(cues) == 1 and cues[0].words == (words[2],)


def test_bad_settings_and_times_raise_clear_errors():
    words = speak("a b c")
    with pytest.raises(ValueError, match="max_chars"):
        group_cues(words, max_chars=0)
    with pytest.raises(ValueError, match="min_duration"):
        group_cues(words, min_duration=10.0)
    with pytest.raises(ValueError, match="non-finite"):
        group_cues([WordSpan("x", math.nan, 1.0, 1.0)])


def test_wrap_prefers_punctuation_and_never_ends_a_line_on_an_article():
    lines = wrap_lines("When the rain stopped, we walked to the station together".split())
    assert lines[0].endswith("stopped,")
    for line in wrap_lines("I could not believe what the man at the counter told me".split()):
        assert line.split()[-1].lower() not in {"the", "a", "at"}


def test_wrap_is_bottom_heavy():
    # Seven equal words: three over four and four over three are equally balanced.
    lines = wrap_lines(["abcdefgh"] * 7)
    assert len(lines) == 2 and width(lines[0]) < width(lines[1])
    lines = wrap_lines(["abcdefgh"] * 7, max_chars=30)  # three lines: 2 + 2 + 3 words
    assert [width(line) for line in lines] == sorted(width(line) for line in lines)
    assert width(lines[0]) < width(lines[-1])


def test_wrap_uses_one_line_when_it_fits():
    assert wrap_lines("a short line".split()) == ["a short line"]


# Words: a few letters, sometimes punctuation, sometimes a very long word.
_token = st.one_of(
    st.text(alphabet="abcdéxyz한국😀", min_size=1, max_size=12),
    st.text(alphabet="abcdefgh", min_size=40, max_size=70),
).flatmap(lambda w: st.sampled_from(["", ".", ",", "!", "?\u201d", ";"]).map(lambda p: w + p))


@st.composite
def _word_lists(draw):
    n = draw(st.integers(min_value=0, max_value=60))
    words, t = [], draw(st.floats(min_value=0, max_value=5))
    for _ in range(n):
        text = draw(_token)
        t += draw(st.sampled_from([0.0, 0.0, 0.05, 0.3, 0.7, 2.5, -0.2, -1.0]))
        length = draw(st.sampled_from([0.0, 0.1, 0.3, 0.6, 8.0]))
        words.append(WordSpan(text, max(t, 0.0), max(t, 0.0) + length, 0.5))
        t = max(t, 0.0) + length
    return words


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_word_lists(), st.sampled_from([(42, 2), (20, 1), (30, 3)]))
def test_invariants_hold_for_any_words(words, shape):
    max_chars, max_lines = shape
    cues = group_cues(words, max_chars=max_chars, max_lines=max_lines)
    check_cues(cues, words, max_chars=max_chars, max_lines=max_lines)


# --------------------------------------------------------------------------------------------
# Timing to a style: extension, merge, split, frame grid, gap, report.

def say(text: str, t0: float, t1: float) -> list[WordSpan]:
    """The words of ``text`` spoken evenly between t0 and t1, 20 ms apart."""
    tokens = text.split()
    step = (t1 - t0) / len(tokens)
    return [WordSpan(w, t0 + k * step, t0 + (k + 1) * step - 0.02, 0.9) for k, w in enumerate(tokens)]


def report_rules(cues, style) -> list[tuple[int, str]]:
    return [(f.cue, f.rule) for f in check_rules(cues, style)]


def test_fast_cue_is_extended_into_the_following_silence_just_enough():
    text = "This sentence is said rather quickly."  # 37 characters: 37/17 s to read
    words = say(text, 1.0, 2.5) + say("Next.", 6.0, 6.4)
    cues = group_cues(words)
    assert cues[0].end == math.ceil((1.0 + 37 / 17) * 1000) / 1000  # up to the millisecond
    assert group_cues(words, PLAIN)[0].end == pytest.approx(2.48)  # plain: as spoken
    video = group_cues(words, fps=25)
    assert video[0].start == 1.0 and video[0].end == pytest.approx(3.2)  # 2.176 s, up to a frame
    assert report_rules(cues, NETFLIX) == [] and report_rules(video, NETFLIX.with_(fps=25)) == []


def test_extension_stops_at_the_gap_and_the_rest_is_reported():
    long_next = "and then the rest of the family arrived with even more luggage than before"
    words = say("This sentence is said rather quickly.", 0.0, 1.5) + say(long_next, 1.9, 6.0)
    cues = group_cues(words)
    assert len(cues) == 2  # 37 + 75 characters cannot merge
    assert cues[0].end == pytest.approx(1.9 - 0.08)  # up to the 2-frame gap at 25 fps, no further
    assert cues[1].start == pytest.approx(1.9)
    (finding,) = check_rules(cues, NETFLIX)
    assert (finding.cue, finding.rule, finding.limit) == (1, "max_cps", 17)
    assert finding.value == pytest.approx(37 / 1.82, abs=1e-3)


def test_a_cue_too_fast_to_read_merges_with_its_neighbour():
    first = "The river was far too cold for swimming."  # 40 characters in 1.6 s, then 0.8 s pause
    second = "We walked back home along the old road."
    words = say(first, 0.0, 1.6) + say(second, 2.4, 4.0)
    apart = group_cues(words, max_cps=0)
    assert [c.lines for c in apart] == [(first,), (second,)]  # nicer, when speed does not matter
    cues = group_cues(words)
    assert [c.lines for c in cues] == [(first, second)]  # 40 chars need 2.35 s; 2.32 s were free
    assert cues[0].end == pytest.approx(79 / 17, abs=0.001)  # 40 + 39 characters at 17 cps
    assert report_rules(cues, NETFLIX) == []


def test_a_merge_that_does_not_give_the_time_is_not_made():
    first = "The river was far too cold for swimming."
    second = "We walked back home along the old road."
    words = say(first, 0.0, 1.6) + say(second, 2.4, 3.2) + say("Then we slept.", 3.7, 4.5)
    cues = group_cues(words)
    assert cues[0].lines == (first,)  # merging would still be too fast: reported instead
    assert (1, "max_cps") in report_rules(cues, NETFLIX)


def test_a_cue_that_runs_into_max_duration_is_split():
    words = ([WordSpan("Sooo", 0.0, 2.5, 0.9)]
             + say("we all went down to the river and then we swam right across it", 2.6, 5.5)
             + [WordSpan("Done.", 20.0, 20.5, 0.9)])
    style = NETFLIX.with_(max_cps=10, max_duration=6.0)
    whole = group_cues(words, style.with_(max_cps=0))
    assert len(whole[0].words) == 15  # as one cue it would need 6.6 s, more than 6
    cues = group_cues(words, style)
    assert len(cues) == 3 and len(cues[0].words) < 15
    assert check_rules(cues, style) == []


def test_short_cue_followed_by_close_speech_joins_it():
    words = [WordSpan("Yes.", 0.0, 0.3, 0.9)] + say("I think we should go now.", 0.5, 1.6)
    cues = group_cues(words)
    assert cues[0].words[0].text == "Yes." and len(cues[0].words) > 1  # 0.42 s alone is too short
    assert all(c.end - c.start >= 5 / 6 - 1e-9 for c in cues)


@pytest.mark.parametrize("fps", [25.0, 24000 / 1001, 30000 / 1001, 50.0])
def test_times_sit_on_the_frame_grid_with_the_gap_in_frames(fps):
    words = speak(PARAGRAPH, word=0.23, gap=0.04, pauses={12: 0.5, 40: 1.1})
    style = NETFLIX.with_(fps=fps)
    cues = group_cues(words, style)
    check_cues(cues, words)
    for c in cues:
        assert cuecheck.on_grid(c.start, fps) and cuecheck.on_grid(c.end, fps)
        assert c.start <= c.words[0].start + 1e-9  # never late: snapped down
    for a, b in zip(cues, cues[1:], strict=False):
        assert round((b.start - a.end) * fps) >= 2
    times = [(c.start, c.end) for c in cues]
    assert set(report_rules(cues, style)) == cuecheck.violations(times, [c.lines for c in cues], style)


def test_without_video_times_are_whole_milliseconds_so_files_keep_them():
    words = speak(PARAGRAPH, word=0.2371, gap=0.0333)
    for style in (NETFLIX, BBC, PLAIN):
        for c in group_cues(words, style):
            for t in (c.start, c.end):
                assert t * 1000 == pytest.approx(round(t * 1000), abs=1e-6)


def test_the_last_cue_stops_at_the_end_of_the_media():
    words = say("A quick last sentence before the end.", 0.0, 1.0)
    cues = group_cues(words, media_end=1.5)
    assert cues[-1].end == pytest.approx(1.5)
    assert (1, "max_cps") in report_rules(cues, NETFLIX)
    assert group_cues(words, fps=25, media_end=1.519)[-1].end == pytest.approx(1.48)


# --------------------------------------------------------------------------------------------
# Tricky text: numbers, names, several scripts, and any words at all.

def test_numbers_count_as_written_and_stay_with_their_noun():
    text = ("In 1999 the company paid $3.50 a share for 10,000 shares, "
            "and by 2005 it owned 75% of the old mill.")
    words = speak(text, word=0.35, gap=0.05)
    cues = group_cues(words)
    check_cues(cues, words)
    assert [w.text for c in cues for w in c.words] == text.split()
    found = check_rules(cues, NETFLIX)
    assert not [f for f in found if f.rule in ("line_break", "cue_break")]
    for c in cues:
        for upper, lower in zip(c.lines, c.lines[1:], strict=False):
            assert (upper.split()[-1], lower.split()[0]) != ("10,000", "shares,")


def test_no_break_between_article_adjective_name_or_pronoun_and_what_follows():
    text = ("Yesterday afternoon I met the famous writer Winston Smith at the old train station "
            "near the river, and she told me that they would publish his new book in the spring.")
    words = speak(text, word=0.3, gap=0.06)
    for style in (NETFLIX, BBC, PLAIN, NETFLIX.with_(max_chars=30)):
        cues = group_cues(words, style)
        check_cues(cues, words, max_chars=style.max_chars, max_lines=style.max_lines,
                   max_duration=style.max_duration)
        found = check_rules(cues, style)
        assert not [f for f in found if f.rule in ("line_break", "cue_break")], found


@pytest.mark.parametrize("text", [
    "오늘은 날씨가 정말 좋아서 우리는 공원에 가서 산책을 하고 점심을 먹었습니다. 그리고 저녁에는 "
    "친구들과 함께 영화를 보러 갔어요.",
    "Вчера вечером мы долго гуляли по набережной, а потом зашли в маленькое кафе и заказали "
    "горячий чай с лимоном.",
    "Χθες το βράδυ περπατήσαμε για πολύ ώρα στην παραλία και μετά πήγαμε σε ένα μικρό καφενείο.",
    "ذهبنا أمس إلى السوق القديم واشترينا الكثير من الفواكه الطازجة ثم عدنا إلى البيت مساءً.",
    "कल शाम हम बहुत देर तक समुद्र के किनारे घूमते रहे और फिर एक छोटे से कैफ़े में चाय पी।",
    "We said 안녕 and Привет and 你好世界 to everyone 👋🏽 before leaving.",
])
def test_several_scripts_keep_every_rule(text):
    words = speak(text, word=0.4, gap=0.08)
    for style in (NETFLIX, BBC.with_(fps=25)):
        cues = group_cues(words, style)
        check_cues(cues, words, max_chars=style.max_chars, max_lines=style.max_lines,
                   max_duration=style.max_duration)
        assert all(width(line) <= style.max_chars for c in cues for line in c.lines)
        times = [(c.start, c.end) for c in cues]
        numeric = {(f.cue, f.rule) for f in check_rules(cues, style)
                   if f.rule not in ("line_break", "cue_break")}
        assert numeric == cuecheck.violations(times, [c.lines for c in cues], style) == set()


def test_a_cjk_run_without_spaces_is_one_word_and_reported_when_too_long():
    run = "我们今天早上一起去公园散步然后在湖边的小餐馆吃了午饭下午又去博物馆看了展览晚上回家做饭"
    assert width(run) > 42
    words = [WordSpan(run, 0.0, 6.0, 0.9), WordSpan("OK.", 6.2, 6.6, 0.9)]
    cues = group_cues(words)
    assert cues[0].lines[0] == run  # on a line of its own, never cut inside the word
    assert (1, "max_chars") in report_rules(cues, NETFLIX)


_STYLES = [NETFLIX, NETFLIX.with_(fps=25), NETFLIX.with_(fps=23.976), BBC, BBC.with_(fps=50),
           PLAIN, NETFLIX.with_(max_chars=20, max_lines=1, max_cps=12, min_gap_frames=4)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_word_lists(), st.sampled_from(_STYLES), st.sampled_from([None, 0.5, 30.0]))
def test_cues_keep_hard_rules_and_report_every_soft_one(words, style, tail):
    media_end = (max((w.end for w in words), default=0.0) + tail) if tail is not None else None
    cues = group_cues(words, style, media_end=media_end)
    check_cues(cues, words, max_chars=style.max_chars, max_lines=style.max_lines,
               max_duration=style.max_duration)
    found = check_rules(cues, style)
    numeric = {(f.cue, f.rule) for f in found if f.rule not in ("line_break", "cue_break")}
    times = [(c.start, c.end) for c in cues]
    # The report says exactly what an independent check finds...
    assert numeric == cuecheck.violations(times, [c.lines for c in cues], style)
    # ...and the gap, the frame grid, the line count and the duration of multi-word cues always hold.
    for number, rule in numeric:
        c = cues[number - 1]
        assert rule not in ("min_gap", "frame_grid", "max_lines"), (rule, c)
        if rule == "max_chars":
            assert any(" " not in line and width(line) > style.max_chars for line in c.lines)
        if rule == "max_duration":
            assert len(c.words) == 1
