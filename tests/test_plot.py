"""The alignment plot (-o NAME.png / NAME.svg, `subalign render`, `plot_alignment`): emissions of
the transcript's tokens, the best path over them, words over the waveform — on real speech with
the real model, and the one-line error without matplotlib."""

from __future__ import annotations

import io
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from subalign import plot_alignment
from subalign.cli import main
from subalign.errors import OutputError
from subalign.formats import MediaInput
from subalign.formats.jsonfile import read_result
from subalign.formats.plot import DEFAULT_SECONDS, plot_data

pytest.importorskip("matplotlib", reason="the plot needs matplotlib (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def data(sonnet_clip):
    """The plot's data for 2-9 s of the clip, from its JSON result."""
    return plot_data(read_result(sonnet_clip["json"]), MediaInput(sonnet_clip["wav"], plot_range=(2.0, 9.0)))


def test_the_path_walks_the_transcript_tokens_in_order(data):
    rows, frames = data.probs.shape
    assert frames == pytest.approx(7.0 / data.frame_seconds, abs=2)
    assert rows == len(data.labels) > 20 and 0 <= data.probs.min() and data.probs.max() <= 1
    path = np.array(data.path)
    assert (np.diff(path[:, 0]) > 0).all()  # one point per frame, in time order
    assert (np.diff(path[:, 1]) >= 0).all()  # tokens in transcript order
    assert set(path[:, 1]) == set(range(rows))  # every token gets at least one frame
    # the model is confident where the path runs: far above the mean probability
    assert data.probs[path[:, 1], path[:, 0]].mean() > 10 * data.probs.mean()


def test_words_are_those_of_the_range_and_lie_on_their_path(data, sonnet_clip):
    doc = read_result(sonnet_clip["json"])
    inside = [w["text"] for w in doc["words"] if w["start"] >= 2.0 and w["end"] <= 9.0]
    assert [w[0] for w in data.words] == inside and len(inside) >= 10
    frames_of_row = {}
    for f, r in data.path:
        frames_of_row.setdefault(r, []).append(f)
    fs = data.frame_seconds
    for text, start, end, _score, first, n in data.words:
        frames = [f for r in range(first, first + n) for f in frames_of_row.get(r, [])]
        t0, t1 = data.start + min(frames) * fs, data.start + (max(frames) + 1) * fs
        # the path's stretch of the word overlaps the word's (refined) times
        assert t0 < end + 0.06 and t1 > start - 0.06, (text, start, end, t0, t1)
    assert [c[0] for c in data.cues] == [k + 1 for k, c in enumerate(doc["cues"])
                                         if c["end"] > 2.0 and c["start"] < 9.0]


def test_cli_writes_png_and_svg(sonnet_clip, tmp_path):
    from PIL import Image

    png, svg = tmp_path / "a.png", tmp_path / "a.svg"
    assert main(["render", str(sonnet_clip["json"]), str(sonnet_clip["wav"]), "-o", str(png), "-q"]) == 0
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width >= 1000 and image.height >= 500
        pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # a picture, not a blank
    assert main(["render", str(sonnet_clip["json"]), str(sonnet_clip["wav"]), "-o", str(svg),
                 "--plot-range", "3:6.5", "-q"]) == 0
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = svg.read_text("utf-8")
    assert "3.00–6.50 s" in text and "creatures" in text


def test_align_writes_a_plot_directly(sonnet_clip, tmp_path):
    out = tmp_path / "direct.png"
    assert main(["align", str(sonnet_clip["wav"]), str(sonnet_clip["txt"]), "-o", str(out),
                 "--plot-range", "0:5", "-q"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_api_default_range_and_errors(sonnet_clip, tmp_path):
    doc = read_result(sonnet_clip["json"])
    whole = plot_data(doc, MediaInput(sonnet_clip["wav"]))
    assert DEFAULT_SECONDS > 14.9 and whole.start == 0 and whole.end == pytest.approx(14.9, abs=0.01)
    assert len(whole.words) == len(doc["words"])
    out = plot_alignment(tmp_path / "p.svg", sonnet_clip["json"], sonnet_clip["wav"], plot_range=(1, 4))
    assert out.exists()
    for bad, message in (((20, 30), "after the media's end"), ((5, 5), "is empty"),
                         ((0.0, 0.3), "no aligned words")):
        with pytest.raises(OutputError, match=message):
            plot_alignment(tmp_path / "q.png", doc, sonnet_clip["wav"], plot_range=bad)
    assert not (tmp_path / "q.png").exists()
    with pytest.raises(OutputError, match="give a .png or .svg"):
        plot_alignment(tmp_path / "q.html", doc, sonnet_clip["wav"])


@pytest.mark.parametrize("value", ["10", "a:b", "5:3", "-1:4"])
def test_bad_plot_range_is_a_usage_error(sonnet_clip, tmp_path, value, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["render", str(sonnet_clip["json"]), str(sonnet_clip["wav"]), "-o", str(tmp_path / "x.png"),
              "--plot-range", value])
    assert caught.value.code == 2 and "--plot-range" in capsys.readouterr().err


def test_without_matplotlib_one_line_says_what_to_install(sonnet_clip, tmp_path):
    """matplotlib made unimportable in a fresh interpreter: align refuses before aligning."""
    out = tmp_path / "x.png"
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from subalign.cli import main\n"
            f"sys.exit(main(['align', {str(sonnet_clip['wav'])!r}, {str(sonnet_clip['txt'])!r}, '-o', {str(out)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "subalign: error: writing a plot (.png, .svg) needs matplotlib: pip install 'subalign[plot]'"]
    assert not out.exists()


def test_plot_of_a_sync_result(sonnet_clip, tmp_path):
    subs = tmp_path / "s.srt"
    subs.write_text("1\n00:00:03,000 --> 00:00:05,000\nFrom fairest creatures we desire increase,\n\n"
                    "2\n00:00:06,000 --> 00:00:08,000\nThat thereby beauty's rose might never die,\n",
                    encoding="utf-8")
    js, png = tmp_path / "s.json", tmp_path / "s.png"
    assert main(["sync", str(sonnet_clip["wav"]), str(subs), "-o", str(js), "-q"]) == 0
    d = plot_data(read_result(js), MediaInput(sonnet_clip["wav"], plot_range=(2, 9)))
    assert [w[0] for w in d.words][:3] == ["From", "fairest", "creatures"]
    assert [c[0] for c in d.cues] == [1, 2] and {c[3] for c in d.cues} == {"words"}
    assert main(["render", str(js), str(sonnet_clip["wav"]), "-o", str(png), "-q"]) == 0
    assert io.BytesIO(png.read_bytes()).read(4) == b"\x89PNG"
