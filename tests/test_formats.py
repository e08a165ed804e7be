"""Tests for subalign.formats: SRT/WebVTT/JSON rendering, re-parsed by their own libraries, and
the safety of writing (atomic, no overwriting inputs, clear errors)."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import pysrt
import pytest
import webvtt

from subalign.cues import group_cues
from subalign.errors import OutputError
from subalign.formats import (
    WRITERS,
    MediaWriter,
    Writer,
    check_output_path,
    supported_extensions,
    write_output,
)
from subalign.formats.base import cue_times_ms, to_ms
from subalign.formats.jsonfile import check_document, json_document
from subalign.types import Cue, WordSpan

TEXT = ("Café crème, s'il vous plaît. 한국어 문장도 있어요 😀 and <tags> & arrows --> stay text. "
        "Then a long tail of ordinary words follows so that there is more than one cue to write "
        "and the second line gets used as well.")


def sample() -> tuple[list[WordSpan], list[Cue]]:
    """Realistic words (0.3 s each, small gaps, odd millisecond times) and their cues."""
    words, t = [], 0.1234
    for k, token in enumerate(TEXT.split()):
        words.append(WordSpan(token, t, t + 0.3117, 0.5 + (k % 5) / 10))
        t += 0.3117 + (0.0456 if k % 7 else 0.7)
    return words, group_cues(words)


def assert_ms(got: tuple[int, int], cue: Cue) -> None:
    """Written times are the cue's times rounded to the nearest millisecond (not truncated)."""
    assert abs(got[0] - cue.start * 1000) <= 0.5 + 1e-6
    assert abs(got[1] - cue.end * 1000) <= 0.5 + 1e-6
    assert got[1] > got[0]


def test_writers_table_follows_the_protocol():
    assert supported_extensions() == sorted(WRITERS)
    assert {".srt", ".vtt", ".json", ".html", ".png", ".svg"} <= set(WRITERS)
    for extension, writer in WRITERS.items():
        # text writers render words and cues; the page and the plot are drawn from the media too
        assert isinstance(writer, Writer) != isinstance(writer, MediaWriter)
        assert isinstance(writer, MediaWriter) == (extension in (".html", ".png", ".svg"))
        assert writer.extension == extension == extension.lower()


def test_formats_drawn_from_the_media_need_it(tmp_path):
    for name in ("page.html", "plot.png"):
        with pytest.raises(OutputError, match="needs the media file"):
            write_output(tmp_path / name, *sample())
    assert list(tmp_path.iterdir()) == []


def test_json_cue_details_go_into_each_cue(tmp_path):
    words, cues = sample()
    details = [{"status": "aligned" if k % 2 else "interpolated", "score": 0.5} for k in range(len(cues))]
    data = json.loads(write_output(tmp_path / "d.json", words, cues, meta={"cue_details": details, "x": 1})
                      .read_text("utf-8"))
    assert [c["status"] for c in data["cues"]] == [d["status"] for d in details]
    assert data["meta"] == {"x": 1}
    assert check_document(data) == data
    with pytest.raises(ValueError, match="cue_details"):
        json_document(words, cues, {"cue_details": details[:-1]})


def test_srt_round_trips_through_pysrt(tmp_path):
    words, cues = sample()
    assert len(cues) > 2 and any(len(c.lines) == 2 for c in cues)
    path = write_output(tmp_path / "out.srt", words, cues)
    subs = pysrt.open(str(path), encoding="utf-8")
    assert len(subs) == len(cues)
    for item, cue in zip(subs, cues, strict=True):
        assert_ms((item.start.ordinal, item.end.ordinal), cue)
        assert item.text == cue.text
    assert [item.index for item in subs] == list(range(1, len(cues) + 1))


def test_vtt_round_trips_through_webvtt(tmp_path):
    words, cues = sample()
    path = write_output(tmp_path / "out.vtt", words, cues)
    assert path.read_text(encoding="utf-8").startswith("WEBVTT")
    captions = webvtt.read(str(path)).captions
    assert len(captions) == len(cues)
    for caption, cue in zip(captions, cues, strict=True):
        assert_ms((caption.start_time.in_milliseconds(), caption.end_time.in_milliseconds()), cue)
        assert [html.unescape(line) for line in caption.lines] == list(cue.lines)
    # Markup characters are escaped, so a player shows them instead of reading tags.
    raw = path.read_text(encoding="utf-8")
    assert "&lt;tags&gt;" in raw and "--&gt;" in raw and "<tags>" not in raw


def test_json_round_trip(tmp_path):
    words, cues = sample()
    meta = {"model": "demo", "media": Path("talk.mp4"), "language": "ko"}
    path = write_output(tmp_path / "out.json", words, cues, meta=meta)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"words", "cues", "meta"}
    assert data["meta"] == {"model": "demo", "media": "talk.mp4", "language": "ko"}
    assert [w["text"] for w in data["words"]] == [w.text for w in words]
    for got, word in zip(data["words"], words, strict=True):
        assert got["start"] == pytest.approx(word.start, abs=0.0005)
        assert got["end"] == pytest.approx(word.end, abs=0.0005)
        assert round(got["start"] * 1000) == pytest.approx(got["start"] * 1000, abs=1e-6)
        assert got["score"] == pytest.approx(word.score, abs=1e-4)
    for got, cue in zip(data["cues"], cues, strict=True):
        assert_ms((round(got["start"] * 1000), round(got["end"] * 1000)), cue)
        assert got["text"] == cue.text and got["lines"] == list(cue.lines)
        assert [words[k] for k in got["words"]] == list(cue.words)


def test_json_word_indices_handle_repeated_identical_words(tmp_path):
    same = WordSpan("again", 1.0, 1.0, 1.0)
    words = [same, same, WordSpan("again", 1.0, 1.0, 1.0)]
    cues = [Cue(1.0, 1.5, ("again again",), (same, same)), Cue(1.5, 2.0, ("again",), (words[2],))]
    data = json.loads(write_output(tmp_path / "o.json", words, cues).read_text("utf-8"))
    assert [c["words"] for c in data["cues"]] == [[0, 1], [2]]


def test_non_ascii_survives_every_format(tmp_path):
    words = [WordSpan(t, k * 0.5, k * 0.5 + 0.4, 1.0)
             for k, t in enumerate(["Été", "한국어", "😀", "naïve", "日本語。"])]
    cues = group_cues(words)
    for extension in (".srt", ".vtt", ".json"):
        path = write_output(tmp_path / f"out{extension}", words, cues)
        raw = path.read_bytes()
        for text in ("Été", "한국어", "😀", "naïve"):
            assert text.encode("utf-8") in raw  # stored as UTF-8, not escaped


def test_times_round_to_nearest_millisecond():
    assert [to_ms(s) for s in (1.0005, 2.0009, 0.9994, 1.0004, 259.0395, -0.2)] == [
        1001, 2001, 999, 1000, 259040, 0]


def test_rounding_never_makes_cues_empty_or_overlapping(tmp_path):
    cues = [Cue(0.0001, 0.0004, ("a",)), Cue(0.0004, 0.0006, ("b",)), Cue(0.0006, 0.0014, ("c",)),
            Cue(5.0, 5.0, ("d",))]
    times = cue_times_ms(cues)
    for start, end in times:
        assert end > start
    for (_, end), (start, _) in zip(times, times[1:], strict=False):
        assert end <= start
    subs = pysrt.open(str(write_output(tmp_path / "t.srt", [], cues)), encoding="utf-8")
    assert [(s.start.ordinal, s.end.ordinal) for s in subs] == times


def test_write_is_atomic_when_rendering_fails(tmp_path, monkeypatch):
    class Broken:
        extension = ".srt"

        def render(self, words, cues, meta):
            raise RuntimeError("renderer exploded")

    monkeypatch.setitem(WRITERS, ".srt", Broken())
    with pytest.raises(RuntimeError, match="exploded"):
        write_output(tmp_path / "new.srt", [], [])
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old.srt"
    old.write_text("precious", encoding="utf-8")
    with pytest.raises(RuntimeError):
        write_output(old, [], [])
    assert old.read_text(encoding="utf-8") == "precious"
    assert list(tmp_path.iterdir()) == [old]


def test_write_is_atomic_when_the_disk_write_fails(tmp_path, monkeypatch):
    words, cues = sample()
    dest = tmp_path / "out.vtt"
    dest.write_text("previous", encoding="utf-8")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OutputError, match="No space left"):
        write_output(dest, words, cues)
    assert dest.read_text(encoding="utf-8") == "previous"
    assert list(tmp_path.iterdir()) == [dest]


def test_new_file_gets_normal_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    path = write_output(tmp_path / "p.json", [], [])
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_missing_folder_fails_fast(tmp_path):
    dest = tmp_path / "nope" / "out.srt"
    with pytest.raises(OutputError, match="does not exist"):
        check_output_path(dest)
    with pytest.raises(OutputError, match="does not exist"):
        write_output(dest, *sample())
    assert not dest.parent.exists()


def test_folder_as_destination_is_refused(tmp_path):
    folder = tmp_path / "subs.srt"
    folder.mkdir()
    with pytest.raises(OutputError, match="it is a folder"):
        check_output_path(folder)
    with pytest.raises(OutputError, match="it is a folder"):
        write_output(folder, *sample())
    assert folder.is_dir() and list(folder.iterdir()) == []


@pytest.mark.parametrize("name", ["out.txt", "out", "out.srt.bak"])
def test_unknown_extension_lists_the_supported_ones(tmp_path, name):
    with pytest.raises(OutputError) as caught:
        check_output_path(tmp_path / name)
    message = str(caught.value)
    assert "\n" not in message
    for extension in supported_extensions():
        assert extension in message
    assert list(tmp_path.iterdir()) == []


def test_extension_is_case_insensitive(tmp_path):
    words, cues = sample()
    path = write_output(tmp_path / "LOUD.SRT", words, cues)
    assert len(pysrt.open(str(path), encoding="utf-8")) == len(cues)
    assert json.loads(write_output(tmp_path / "x.Json", words, cues).read_text("utf-8"))["cues"]


def test_refuses_to_overwrite_an_input(tmp_path, monkeypatch):
    source = tmp_path / "talk.srt"
    source.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n", encoding="utf-8")
    original = source.read_bytes()
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.srt"
    link.symlink_to(source)
    hard = tmp_path / "hard.srt"
    os.link(source, hard)
    monkeypatch.chdir(tmp_path)
    spellings = [source, "talk.srt", tmp_path / "sub" / ".." / "talk.srt", link, hard]
    for dest in spellings:
        with pytest.raises(OutputError, match="overwrite the input"):
            write_output(dest, *sample(), inputs=[tmp_path / "media.mp4", source])
    assert source.read_bytes() == original
    # An input that does not exist yet is still compared by its resolved path.
    with pytest.raises(OutputError, match="overwrite the input"):
        check_output_path(tmp_path / "future.vtt", inputs=["future.vtt"])
    # A different file is fine.
    assert write_output(tmp_path / "other.srt", *sample(), inputs=[source]).exists()


def test_empty_cue_list_gives_valid_empty_documents(tmp_path):
    assert len(pysrt.open(str(write_output(tmp_path / "e.srt", [], [])), encoding="utf-8")) == 0
    assert len(webvtt.read(str(write_output(tmp_path / "e.vtt", [], [])))) == 0
    data = json.loads(write_output(tmp_path / "e.json", [], []).read_text("utf-8"))
    assert data == {"words": [], "cues": [], "meta": {}}


def test_blank_lines_in_cue_text_cannot_break_the_file(tmp_path):
    cues = [Cue(0.0, 1.0, ("first", "", "second\n\nthird")), Cue(1.0, 2.0, ("  ",)),
            Cue(2.0, 3.0, ("last",))]
    subs = pysrt.open(str(write_output(tmp_path / "b.srt", [], cues)), encoding="utf-8")
    assert [s.text for s in subs] == ["first\nsecond\nthird", "last"]
    captions = webvtt.read(str(write_output(tmp_path / "b.vtt", [], cues))).captions
    assert [c.text for c in captions] == ["first\nsecond\nthird", "last"]
