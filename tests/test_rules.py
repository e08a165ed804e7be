"""Tests for subalign.rules: every rule is found when broken, and only then."""

from __future__ import annotations

import json

import pytest

from subalign.cues.rules import Finding, check_cues
from subalign.cues.style import BBC, NETFLIX
from subalign.types import Cue


def cue(start: float, end: float, *lines: str) -> Cue:
    return Cue(start=start, end=end, lines=tuple(lines))


def rules(cues, style=NETFLIX) -> list[tuple[int, str]]:
    return [(f.cue, f.rule) for f in check_cues(cues, style)]


def test_cues_that_keep_every_rule_give_no_finding():
    cues = [cue(0.0, 2.1, "A short first line", "and a second one."),  # 35 chars in 2.1 s
            cue(2.18, 3.1, "Then a pause."),                          # gap of exactly 2 frames
            cue(10.0, 17.0, "x" * 42)]                                 # exactly 7 s, 42 chars
    assert check_cues(cues, NETFLIX) == []


def test_each_numeric_rule_is_found():
    cues = [
        cue(0.0, 1.0, "x" * 43),                    # 1: max_chars and max_cps (43 cps)
        cue(2.0, 3.0, "one", "two", "three"),       # 2: max_lines
        cue(4.0, 4.5, "Hi."),                        # 3: min_duration
        cue(5.0, 12.5, "A long cue."),               # 4: max_duration; gap 0.04 to the next
        cue(12.54, 14.0, "Next."),                   # 5
    ]
    found = rules(cues)
    assert found == [(1, "max_chars"), (1, "max_cps"), (2, "max_lines"), (3, "min_duration"),
                     (4, "max_duration"), (4, "min_gap")]
    by_rule = {f.rule: f for f in check_cues(cues, NETFLIX)}
    assert by_rule["max_chars"].value == 43 and by_rule["max_chars"].limit == 42
    assert by_rule["max_cps"].value == pytest.approx(43) and by_rule["max_cps"].limit == 17
    assert by_rule["min_duration"].value == pytest.approx(0.5)
    assert by_rule["min_gap"].value == pytest.approx(0.04) and by_rule["min_gap"].limit == 0.08


def test_reading_speed_counts_characters_of_the_lines_not_the_line_break():
    # 17 characters a second exactly: 34 characters (spaces and punctuation count) in 2 s.
    lines = ("Sixteen chars ok", "and eighteen more.")
    assert sum(len(line) for line in lines) == 34
    assert rules([cue(0.0, 2.0, *lines)]) == []
    assert rules([cue(0.0, 1.9, *lines)]) == [(1, "max_cps")]
    # Half a millisecond of tolerance: 5/6 s written to the millisecond (0.833) is not too short.
    assert rules([cue(0.0, 0.833, "Yes.")]) == []


def test_words_per_minute_for_bbc():
    nine = cue(0.0, 3.0, "one two three four five", "six seven eight nine")  # 180 wpm exactly
    assert rules([nine], BBC) == []
    fast = cue(0.0, 2.5, "one two three four five", "six seven eight nine")   # 216 wpm
    (finding,) = check_cues([fast], BBC)
    assert finding.rule == "max_wpm" and finding.value == pytest.approx(216)
    assert finding.limit == 180


def test_overlap_is_a_negative_gap():
    found = check_cues([cue(0.0, 2.0, "First."), cue(1.5, 3.0, "Second.")], NETFLIX)
    assert [(f.rule, f.value) for f in found] == [("min_gap", pytest.approx(-0.5))]


def test_frame_grid_with_video_only():
    style = NETFLIX.with_(fps=25)
    on = [cue(1.0, 2.0, "On the grid."), cue(2.08, 3.2, "Also on it.")]
    assert rules(on, style) == []
    off = [cue(1.01, 2.0, "Not on the grid.")]
    assert rules(off, style) == [(1, "frame_grid")]
    assert rules(off, NETFLIX) == []  # no video, no grid
    ntsc = NETFLIX.with_(fps=23.976)
    assert rules([cue(1001 / 24000 * 24, 1001 / 24000 * 72, "Two seconds or so.")], ntsc) == []


def test_bad_line_and_cue_breaks_are_reported():
    cues = [cue(0.0, 3.0, "I went to the", "station with the"),
            cue(3.08, 6.0, "dark suit and Winston", "Smith was there.")]
    found = check_cues(cues, NETFLIX)
    assert [(f.cue, f.rule, f.value, f.limit) for f in found] == [
        (1, "line_break", "the | station", "article + noun"),
        (1, "cue_break", "the | dark", "article + noun"),
        (2, "line_break", "Winston | Smith", "first + last name"),
    ]


def test_finding_as_dict_and_message():
    finding = Finding(cue=3, start=12.3456, rule="max_cps", value=19.4, limit=17.0)
    assert json.loads(json.dumps(finding.as_dict())) == {
        "cue": 3, "start": 12.346, "rule": "max_cps", "value": 19.4, "limit": 17.0}
    assert str(finding) == "cue 3 at 12.346 s: max_cps 19.4 > 17"
    short = Finding(cue=1, start=0.0, rule="min_duration", value=0.5, limit=0.8333)
    assert str(short) == "cue 1 at 0.000 s: min_duration 0.5 < 0.833"
    text = Finding(cue=2, start=1.0, rule="line_break", value="the | house", limit="article + noun")
    assert str(text) == "cue 2 at 1.000 s: line_break at 'the | house' (article + noun)"


def test_a_cue_of_no_duration_is_reported_and_still_writes_as_json():
    (dur, cps) = check_cues([cue(1.0, 1.0, "Flash.")], NETFLIX)
    assert (dur.rule, cps.rule, cps.value) == ("min_duration", "max_cps", float("inf"))
    assert json.loads(json.dumps(cps.as_dict(), allow_nan=False))["value"] == "infinite"
