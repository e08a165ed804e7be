"""ASS/SSA: lossless reading and writing back, conversions, fresh scripts with karaoke; the
--karaoke writers of WebVTT and SubRip. pysubs2, pysrt and webvtt-py re-read what we write as
independent parsers."""

from __future__ import annotations

import re

import pysrt
import pysubs2
import pytest
import webvtt
from conftest import CORPUS

from subalign.errors import OutputError, TranscriptError
from subalign.formats import parse_subtitles, write_output, write_subtitles
from subalign.formats.ass import AssWriter, SsaWriter, ass_clock
from subalign.formats.base import to_cs
from subalign.formats.srt import SrtWriter
from subalign.formats.vtt import VttWriter
from subalign.types import Cue, WordSpan

FIXTURES = CORPUS / "subtitle_parser_fixtures"

# Fields in an unusual order, a Comment, a Picture event, text with commas, override tags,
# drawing mode, a {comment}, a karaoke line, CRLF line ends and a BOM.
ASS_DOC = "\r\n".join([
    "[Script Info]",
    "; made by hand",
    "ScriptType: v4.00+",
    "PlayResX: 1280",
    "PlayResY: 720",
    "",
    "[V4+ Styles]",
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
    "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
    "Alignment, MarginL, MarginR, MarginV, Encoding",
    "Style: Sign,Arial,40,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,-1,0,0,0,100,100,0,0,1,2,2,8,10,10,10,1",
    "",
    "[Events]",
    "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    "Comment: 0,0:00:00.00,0:00:05.00,Default,,0,0,0,,a note for the typesetter",
    "Dialogue: 0,0:00:01.00,0:00:02.50,Default,Anna,0,0,0,,{\\i1}Well, hello{\\i0} there,\\Nmy friend",
    "Dialogue: 1,0:00:03.20,0:00:04.00,Sign,,0010,0020,0030,Banner;5,{\\pos(640,50)\\an8}EXIT {\\p1}m 0 0 l 100 0{\\p0}",
    "Picture: 0,0:00:04.00,0:00:05.00,Default,,0,0,0,,logo.png",
    "Dialogue: 0,0:00:05.00,0:00:06.00,Default,,0,0,0,,{\\k20}Sing {\\kf30}a{just a note} song {\\b1}loud{\\b0}",
    "",
]) + "\r\n"

SSA_DOC = "\n".join([
    "[Script Info]",
    "ScriptType: v4.00",
    "",
    "[V4 Styles]",
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, TertiaryColour, BackColour, Bold, "
    "Italic, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, AlphaLevel, Encoding",
    "Style: Default,Arial,20,16777215,255,0,0,0,0,1,2,2,2,10,10,10,0,1",
    "",
    "[Events]",
    "Format: Marked, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    "Dialogue: Marked=0,0:00:12.44,0:00:14.96,Default,,0000,0000,0000,,I've spent nearly two decades",
    "Dialogue: Marked=0,0:00:14.98,0:00:18.53,Default,,0000,0000,0000,,observing people",
]) + "\n"


def test_ass_is_read_with_its_dialogue_lines_as_cues():
    subs = parse_subtitles(("\ufeff" + ASS_DOC).encode("utf-8"), name="in.ass")
    assert subs.format == "ass" and subs.bom and subs.newline == "\r\n"
    assert [(c.start, c.end) for c in subs.cues] == [(1.0, 2.5), (3.2, 4.0), (5.0, 6.0)]
    assert subs.cues[0].text == "{\\i1}Well, hello{\\i0} there,\nmy friend"
    assert subs.cues[0].lines == ["{\\i1}Well, hello{\\i0} there,", "my friend"]
    assert [c.line for c in subs.cues] == [14, 15, 17]


def test_ass_written_back_changes_only_start_and_end(tmp_path):
    src = tmp_path / "in.ass"
    src.write_bytes(("\ufeff" + ASS_DOC).encode("utf-8"))
    from subalign.formats import read_subtitles

    subs = read_subtitles(src)
    assert ("\ufeff" + subs.render()).encode("utf-8") == src.read_bytes()  # lossless as read
    moved = subs.retimed([(c.start + 10.004, c.end + 10.006) for c in subs.cues])
    out = write_subtitles(tmp_path / "out.ass", moved, inputs=[src])
    before = src.read_bytes().decode("utf-8").split("\r\n")
    after = out.read_bytes().decode("utf-8").split("\r\n")
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") and len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 3
    for a, b in changed:  # a Dialogue line: every field but Start and End as it was
        fa, fb = a.split(",", 9), b.split(",", 9)
        assert fa[0] == fb[0] and fa[3:] == fb[3:]
    assert [(c.start, c.end) for c in read_subtitles(out).cues] == [(11.0, 12.51), (13.2, 14.01), (15.0, 16.01)]
    # the same document written as .ssa (one family): also only the times change
    out_ssa = write_subtitles(tmp_path / "out.ssa", moved, inputs=[src])
    assert out_ssa.read_bytes() == out.read_bytes()


def test_ssa_v4_is_read_and_written_back():
    subs = parse_subtitles(SSA_DOC.encode(), name="in.ssa")
    assert subs.format == "ssa" and len(subs.cues) == 2 and subs.render() == SSA_DOC
    moved = subs.retimed([(1.0, 2.0), (3.0, 4.555)]).render()
    assert "Dialogue: Marked=0,0:00:01.00,0:00:02.00,Default,,0000,0000,0000,,I've spent" in moved
    assert "Dialogue: Marked=0,0:00:03.00,0:00:04.56,Default" in moved  # 4.555 rounds half up


def test_ass_converts_to_other_formats_through_the_common_markup():
    subs = parse_subtitles(ASS_DOC.encode(), name="in.ass")
    srt = subs.render("srt")
    assert "<i>Well, hello</i> there,\nmy friend" in srt
    assert "EXIT\n" in srt and "m 0 0" not in srt  # the drawing is not text
    assert "Sing a song <b>loud</b>" in srt and "just a note" not in srt
    vtt = subs.render("vtt")
    assert vtt.startswith("WEBVTT") and "<i>Well, hello</i> there," in vtt
    # back: SRT's tags become override tags
    again = parse_subtitles(srt.encode(), name="x.srt").render("ass")
    assert "{\\i1}Well, hello{\\i0} there,\\Nmy friend" in again
    assert again.startswith("[Script Info]") and "PlayResY: 1080" in again


def test_ass_refuses_what_it_cannot_read_with_one_line():
    bad_time = ASS_DOC.replace("0:00:03.20", "0:00:3.2x")
    with pytest.raises(TranscriptError, match=r"in.ass line 15: cannot read the Start time"):
        parse_subtitles(bad_time.encode(), name="in.ass")
    short = SSA_DOC.replace("Marked=0,0:00:14.98,0:00:18.53,Default,,0000,0000,0000,,", "Marked=0,0:00:14.98,")
    with pytest.raises(TranscriptError, match=r"in.ssa line 11: a Dialogue line needs 10 comma-separated fields \(Marked, Start, End,"):
        parse_subtitles(short.encode(), name="in.ssa")
    with pytest.raises(TranscriptError, match=r"no Dialogue lines"):
        parse_subtitles(b"[Script Info]\nTitle: x\n\n[Events]\n", name="e.ass")


def test_centiseconds_round_half_up_and_monotonic():
    assert [to_cs(x) for x in (0.0, 0.004, 0.005, 1.015, 2.999, 3599.995)] == [0, 0, 1, 102, 300, 360000]
    assert ass_clock(360000) == "1:00:00.00" and ass_clock(123) == "0:00:01.23"


# --------------------------------------------------------------------------------------------
# Fresh scripts and karaoke


def _cues() -> tuple[list[WordSpan], list[Cue]]:
    ws = [WordSpan("Hello,", 1.003, 1.42, 0.9), WordSpan("big", 1.61, 1.8, 0.9),
          WordSpan("world!", 1.8, 2.3, 0.9), WordSpan("Next", 3.0, 3.3, 0.9), WordSpan("{one}", 3.4, 3.9, 0.9)]
    return ws, [Cue(1.0, 2.5, ("Hello, big", "world!"), tuple(ws[:3])), Cue(3.0, 4.2, ("Next {one}",), tuple(ws[3:]))]


@pytest.mark.parametrize("writer, tag", [(AssWriter(), "kf"), (SsaWriter(), "k")])
def test_fresh_script_times_every_word_and_adds_up(writer, tag):
    words, cues = _cues()
    text = writer.render(words, cues, {})
    parsed = pysubs2.SSAFile.from_string(text)
    assert [(e.start, e.end) for e in parsed.events] == [(1000, 2500), (3000, 4200)]
    assert list(parsed.styles) == ["Default"]
    for event in parsed.events:
        durations = [int(d) for d in re.findall(r"\\k[f]?(\d+)", event.text)]
        assert sum(durations) * 10 == event.end - event.start  # gaps included, exactly
    first = parsed.events[0].text
    assert first == f"{{\\{tag}42}}Hello, {{\\k19}}{{\\{tag}19}}big\\N{{\\{tag}50}}world!{{\\k20}}"
    assert "\\{one\\}" in parsed.events[1].text  # braces in text cannot open a block
    assert parsed.events[0].plaintext == "Hello, big\nworld!"
    ours = parse_subtitles(text.encode(), name="x." + writer.format)
    assert ours.format == writer.format and ours.render() == text


def test_ass_without_karaoke_and_cues_made_elsewhere_are_plain(tmp_path):
    words, cues = _cues()
    plain = AssWriter(karaoke=False).render(words, cues, {})
    assert "\\k" not in plain and "Hello, big\\Nworld!" in plain
    odd = [Cue(1.0, 2.0, ("not the words",), tuple(words[:2]))]
    assert "\\k" not in AssWriter().render(words, odd, {})
    out = write_output(tmp_path / "x.ass", words, cues, karaoke=False)
    assert "\\kf" not in out.read_text()


def test_vtt_karaoke_has_timestamps_inside_the_cue(tmp_path):
    words, cues = _cues()
    out = write_output(tmp_path / "k.vtt", words, cues, karaoke=True)
    text = out.read_text()
    assert "<00:00:01.003>Hello, <00:00:01.610>big\n<00:00:01.800>world!" in text
    assert "Next <00:00:03.400>{one}" in text  # "Next" starts with its cue: no tag
    for caption in webvtt.read(str(out)):
        start, end = caption.start_in_seconds, caption.end_in_seconds
        stamps = [int(h) * 3600 + int(m) * 60 + float(s)
                  for h, m, s in re.findall(r"<(\d\d):(\d\d):(\d\d\.\d{3})>", caption.raw_text)]
        assert stamps == sorted(set(stamps)) and all(start < t < end for t in stamps)
    assert "<" not in VttWriter().render(words, cues, {})


def test_srt_karaoke_is_one_cue_per_word_underlined(tmp_path):
    words, cues = _cues()
    out = write_output(tmp_path / "k.srt", words, cues, karaoke=True)
    items = pysrt.open(str(out))
    assert len(items) == 5
    assert [i.text for i in items[:3]] == ["<u>Hello,</u> big\nworld!", "Hello, <u>big</u>\nworld!",
                                           "Hello, big\n<u>world!</u>"]
    assert [(i.start.ordinal, i.end.ordinal) for i in items[:3]] == [(1000, 1610), (1610, 1800), (1800, 2500)]
    assert "<u>" not in SrtWriter().render(words, cues, {})


def test_karaoke_where_a_format_has_none_is_refused(tmp_path):
    words, cues = _cues()
    for name in ("x.json", "x.ttml", "x.sbv"):
        with pytest.raises(OutputError, match="word highlighting"):
            write_output(tmp_path / name, words, cues, karaoke=True)
    assert not list(tmp_path.iterdir())


def test_every_ass_fixture_round_trips_or_is_refused_with_one_line():
    if not FIXTURES.exists():
        pytest.skip(f"shared data not found: {FIXTURES}")
    from subalign.formats import read_subtitles

    files = sorted(p for p in FIXTURES.rglob("*") if p.suffix.lower() in (".ass", ".ssa"))
    read = 0
    for path in files:
        try:
            subs = read_subtitles(path)
        except TranscriptError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            continue
        read += 1
        text = ("\ufeff" if subs.bom else "") + subs.render()
        assert text.encode(subs.encoding) == path.read_bytes(), path
        moved = subs.retimed([(c.start + 1, c.end + 1) for c in subs.cues]).render()
        assert len(moved.split(subs.newline)) == len(text.split(subs.newline))
    assert read >= 7
