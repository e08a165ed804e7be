"""Every style rule on real speech: TIMIT sentences aligned by the real pipeline (ffmpeg, the
embedded model, the aligner), as a video at 23.976 fps and as plain audio, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cuecheck
import pysrt
import pytest

from subalign.cli import main
from subalign.cues import group_cues
from subalign.cues.rules import check_cues
from subalign.cues.style import BBC, NETFLIX, PLAIN
from subalign.media import ffmpeg_binary
from subalign.types import WordSpan

NTSC_FILM = 24000 / 1001
MS = 0.0011  # times in files are rounded to the millisecond


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def concatenate(speaker: Path, out: Path) -> str:
    """All utterances of a TIMIT speaker in one WAV (with their own silences); return the text."""
    utterances = sorted(speaker.glob("s[aix]*.txt"))
    wavs = [u.with_suffix(".wav") for u in utterances
            if u.with_suffix(".wav").read_bytes()[:4] == b"RIFF"]  # one of TIMIT's is SPHERE
    listing = out.with_suffix(".list")
    listing.write_text("".join(f"file '{w}'\n" for w in wavs))
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c:a", "pcm_s16le", str(out))
    return "\n".join(w.with_suffix(".txt").read_text().split(maxsplit=2)[2].strip() for w in wavs)


@pytest.fixture(scope="module")
def video_run(tmp_path_factory, timit):
    """One real `subalign align` of ten sentences as an MP4 at 23.976 fps, JSON out, --report."""
    folder = tmp_path_factory.mktemp("speech")
    audio = folder / "faem0.wav"
    text = concatenate(timit / "dr2-faem0", audio)
    (folder / "faem0.txt").write_text(text + "\n")
    video = folder / "faem0.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=24000/1001", "-i", str(audio),
           "-shortest", "-c:v", "mpeg4", "-c:a", "aac", str(video))
    out = folder / "faem0.json"
    proc = subprocess.run(
        [sys.executable, "-m", "subalign", "align", str(video), str(folder / "faem0.txt"), "-o", str(out),
         "--report", "-q"], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    return {"data": json.loads(out.read_text()), "stderr": proc.stderr, "text": text}


def cue_lists(data: dict) -> tuple[list[tuple[float, float]], list[list[str]]]:
    return [(c["start"], c["end"]) for c in data["cues"]], [c["lines"] for c in data["cues"]]


def test_video_cues_keep_the_netflix_rules_or_report_them(video_run):
    data = video_run["data"]
    style = data["meta"]["style"]
    assert style["name"] == "netflix" and style["fps"] == pytest.approx(NTSC_FILM, abs=1e-12)
    assert style["min_gap"] == pytest.approx(2 / NTSC_FILM, abs=1e-6)
    netflix = NETFLIX.with_(fps=NTSC_FILM)
    times, lines = cue_lists(data)
    assert len(times) >= 8
    expected = cuecheck.violations(times, lines, netflix)
    reported = {(f["cue"], f["rule"]) for f in data["report"]}
    assert reported == expected  # so no line_break or cue_break either: none was needed here
    # The hard rules hold outright: frame grid, 2-frame gap, layout, maximum duration.
    for start, end in times:
        for t in (start, end):
            assert abs(t * NTSC_FILM - round(t * NTSC_FILM)) < MS * NTSC_FILM
    for (_, end), (start, _) in zip(times, times[1:], strict=False):
        assert start - end >= 2 / NTSC_FILM - MS
    assert all(len(c) <= 2 and all(len(line) <= 42 for line in c) for c in lines)
    assert all(end - start <= 7.0 + MS for start, end in times)
    # The rest (duration, reading speed) broke only where no time was left before the next cue.
    for number, rule in expected:
        assert rule in ("min_duration", "max_cps")
        assert number < len(times)
        assert times[number][0] - times[number - 1][1] <= 2 / NTSC_FILM + MS
    # --report printed one line per finding, the same ones.
    printed = [line for line in video_run["stderr"].splitlines()
               if line.startswith("subalign: report:")]
    if data["report"]:
        assert len(printed) == len(data["report"])
        for line, finding in zip(printed, data["report"], strict=True):
            assert f"cue {finding['cue']} " in line and finding["rule"] in line
    else:
        assert printed == [f"subalign: report: all {len(times)} cues keep the style"]


def test_video_cues_follow_speech_and_sentences(video_run):
    data = video_run["data"]
    words = data["words"]
    times, lines = cue_lists(data)
    gap = 2 / NTSC_FILM
    for k, cue in enumerate(data["cues"]):
        first, last = words[cue["words"][0]], words[cue["words"][-1]]
        assert cue["start"] <= first["start"] + MS  # never late: snapped down to a frame
        assert cue["start"] > first["start"] - 1 / NTSC_FILM - MS
        if cue["end"] < last["end"] - MS:  # cut short of the speech only by the next cue's gap
            assert times[k + 1][0] - cue["end"] <= gap + MS
        # Every sentence fits a cue, so every cue ends at a sentence end.
        assert last["text"][-1] in ".?!"
        # In a two-line cue a new sentence starts on a line of its own, never mid-line.
        if len(cue["lines"]) > 1:
            for line in cue["lines"]:
                assert not any(w[-1] in ".?!" for w in line.split()[:-1]), cue["lines"]
    # The text is all there, in order.
    assert " ".join(" ".join(c) for c in lines).split() == video_run["text"].split()


def _words(data: dict) -> list[WordSpan]:
    return [WordSpan(w["text"], w["start"], w["end"], w["score"]) for w in data["words"]]


@pytest.mark.parametrize("style", [
    BBC, BBC.with_(fps=25), PLAIN, NETFLIX.with_(fps=25), NETFLIX.with_(max_cps=12),
    NETFLIX.with_(fps=NTSC_FILM, max_chars=32, max_lines=1, min_gap_frames=3),
], ids=["bbc", "bbc-25", "plain", "netflix-25", "netflix-12cps", "netflix-32x1"])
def test_real_words_in_every_style(video_run, style):
    """The same real word timings grouped in other styles: rules kept, or reported and earned."""
    words = _words(video_run["data"])
    duration = video_run["data"]["meta"]["duration"]
    cues = group_cues(words, style, media_end=duration)
    times = [(c.start, c.end) for c in cues]
    found = check_cues(cues, style)
    numeric = {(f.cue, f.rule) for f in found if f.rule not in ("line_break", "cue_break")}
    assert numeric == cuecheck.violations(times, [c.lines for c in cues], style)
    assert [w for c in cues for w in c.words] == words
    for c in cues:
        assert len(c.lines) <= style.max_lines and all(len(x) <= style.max_chars for x in c.lines)
    for a, b in zip(cues, cues[1:], strict=False):
        assert b.start - a.end >= style.min_gap - 1e-9
    for number, rule in numeric:
        # a reading-time rule broken only where the cue was extended as far as it could go
        assert rule in ("min_duration", "max_cps", "max_wpm"), rule
        c = cues[number - 1]
        room = min(cues[number].start - style.min_gap if number < len(cues) else duration,
                   c.start + style.max_duration)
        assert c.end >= room - (1 / style.grid if style.grid else 1e-9)
    if style.max_cps == 12:
        assert numeric  # strict enough to leave something to report on this fast reader
    if style.max_cps == 17 and style.grid == 25:
        assert all(cuecheck.on_grid(t, 25) for c in cues for t in (c.start, c.end))


def test_audio_only_bbc_with_report_on_the_command_line(tmp_path, timit, capsys):
    """Plain audio (no frame grid, the gap counted at 25 fps), the BBC preset, SRT out."""
    audio = tmp_path / "mbgt0.wav"
    text = concatenate(timit / "dr5-mbgt0", audio)
    (tmp_path / "t.txt").write_text(text)
    out = tmp_path / "out.srt"
    code = main(["align", str(audio), str(tmp_path / "t.txt"), "-o", str(out), "--style", "bbc",
                 "--max-wpm", "150", "--report", "-q"])
    err = capsys.readouterr().err
    assert code == 0, err
    subs = pysrt.open(str(out), encoding="utf-8")
    times = [(s.start.ordinal / 1000, s.end.ordinal / 1000) for s in subs]
    lines = [s.text.split("\n") for s in subs]
    style = BBC.with_(max_wpm=150)
    expected = cuecheck.violations(times, lines, style)
    printed = [line for line in err.splitlines() if line.startswith("subalign: report:")]
    assert expected, "150 wpm should leave something to report for read TIMIT speech"
    assert {int(line.split("cue ")[1].split()[0]) for line in printed} == {n for n, _ in expected}
    assert len(printed) == len(expected)
    assert all(len(x) <= 37 for cue_lines in lines for x in cue_lines)
    for (_, end), (start, _) in zip(times, times[1:], strict=False):
        assert start - end >= 0.08 - MS


@pytest.mark.parametrize(("option", "word"), [
    (["--max-chars", "0"], "max_chars"),
    (["--style", "fancy"], "unknown style 'fancy'"),
    (["--min-duration", "9"], "min_duration"),
    (["--fps", "-5"], "fps"),
    (["--max-cps", "-1"], "max_cps"),
])
def test_bad_style_options_exit_2_with_one_line_before_any_work(tmp_path, capsys, option, word):
    out = tmp_path / "x.srt"
    code = main(["align", str(tmp_path / "missing.mp4"), str(tmp_path / "missing.txt"),
                 "-o", str(out), *option])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("subalign: error: ")
    assert word in err
    assert not out.exists()
