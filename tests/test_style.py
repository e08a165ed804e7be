"""Tests for subalign.style: presets, overrides, frame rates and the command-line options."""

from __future__ import annotations

import argparse
import math

import pytest

from subalign.cli import add_style_arguments, style_from_arguments
from subalign.cues.style import (
    BBC,
    DEFAULT_FPS,
    NETFLIX,
    PLAIN,
    STYLES,
    CueStyle,
    CueStyleError,
    get_style,
)
from subalign.errors import SubalignError


def test_presets_carry_the_published_numbers():
    assert (NETFLIX.max_chars, NETFLIX.max_lines, NETFLIX.max_cps) == (42, 2, 17)
    assert NETFLIX.min_gap_frames == 2
    assert NETFLIX.min_duration == pytest.approx(5 / 6) and NETFLIX.max_duration == 7.0
    assert NETFLIX.snap and NETFLIX.fps is None and NETFLIX.max_wpm is None
    assert (BBC.max_chars, BBC.max_lines, BBC.max_wpm, BBC.max_cps) == (37, 2, 180, None)
    assert PLAIN.max_cps is None and PLAIN.max_wpm is None and PLAIN.min_duration == 0
    assert PLAIN.min_gap_frames == 0 and not PLAIN.snap
    assert set(STYLES) == {"netflix", "bbc", "plain"}
    assert CueStyle() == NETFLIX


def test_gap_is_counted_in_frames_at_the_video_rate_or_25():
    assert NETFLIX.min_gap == pytest.approx(2 / DEFAULT_FPS) == pytest.approx(0.08)
    assert NETFLIX.grid is None  # no video: nothing to snap to
    video = NETFLIX.with_(fps=50)
    assert video.min_gap == pytest.approx(0.04) and video.grid == 50
    assert PLAIN.with_(fps=50).grid is None  # plain never snaps


@pytest.mark.parametrize(("given", "exact"), [
    (23.976, 24000 / 1001), (23.98, 24000 / 1001), (29.97, 30000 / 1001), (59.94, 60000 / 1001),
    (25, 25.0), (24, 24.0), (30, 30.0), (12.5, 12.5),
])
def test_rounded_ntsc_rates_become_exact(given, exact):
    assert NETFLIX.with_(fps=given).fps == exact


def test_overrides_change_one_setting_and_keep_the_rest():
    style = get_style("bbc", max_chars=40, max_cps=None)
    assert style.max_chars == 40 and style.max_wpm == 180 and style.name == "bbc"
    assert get_style("BBC") is BBC
    assert get_style(NETFLIX, max_cps=20).max_cps == 20
    assert get_style("netflix", max_cps=0).max_cps is None  # 0 = no limit
    assert CueStyle(max_wpm=0).max_wpm is None


@pytest.mark.parametrize(("settings", "word"), [
    ({"max_chars": 0}, "max_chars"),
    ({"max_chars": 4.5}, "max_chars"),
    ({"max_lines": 0}, "max_lines"),
    ({"min_duration": 8.0}, "min_duration"),
    ({"min_duration": -1.0}, "min_duration"),
    ({"max_duration": 0.0}, "max_duration"),
    ({"max_duration": math.inf}, "max_duration"),
    ({"max_cps": -3.0}, "max_cps"),
    ({"max_wpm": math.nan}, "max_wpm"),
    ({"min_gap_frames": -1}, "min_gap_frames"),
    ({"fps": 0.0}, "fps"),
    ({"fps": math.nan}, "fps"),
    ({"pause": 0.0}, "pause"),
])
def test_bad_settings_raise_one_clear_error(settings, word):
    with pytest.raises(CueStyleError, match=word) as info:
        NETFLIX.with_(**settings)
    assert isinstance(info.value, SubalignError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_unknown_names_are_refused():
    with pytest.raises(CueStyleError, match="unknown style 'fancy'.*netflix, bbc, plain"):
        get_style("fancy")
    with pytest.raises(CueStyleError, match="unknown style setting.*colour"):
        get_style("netflix", colour="red")


def test_as_dict_is_plain_data_with_the_gap_in_seconds():
    data = BBC.with_(fps=25).as_dict()
    assert data["name"] == "bbc" and data["fps"] == 25 and data["min_gap"] == pytest.approx(0.08)
    assert all(isinstance(v, (str, int, float, bool, type(None))) for v in data.values())


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_style_arguments(parser)
    return parser.parse_args(list(argv))


def test_command_line_options_build_the_style():
    assert style_from_arguments(_parse()) == NETFLIX
    args = _parse("--style", "bbc", "--max-chars", "40", "--max-wpm", "160", "--fps", "29.97",
                  "--min-gap-frames", "3", "--report")
    style = style_from_arguments(args)
    assert (style.name, style.max_chars, style.max_wpm, style.min_gap_frames) == ("bbc", 40, 160, 3)
    assert style.fps == 30000 / 1001 and args.report
    assert style_from_arguments(_parse("--max-cps", "0")).max_cps is None
    style = style_from_arguments(_parse("--min-duration", "1", "--max-duration", "5"))
    assert (style.min_duration, style.max_duration) == (1, 5)
    with pytest.raises(CueStyleError, match="min_duration"):
        style_from_arguments(_parse("--min-duration", "9"))
