"""The review page (-o NAME.html) in real headless browsers: Debian's chromium (driven by
Playwright, which starts /usr/bin/chromium itself; nothing is downloaded) and, where installed,
firefox-esr (over WebDriver BiDi, `bidi.py`).

Real media (the first 15 s of the LibriVox sample, as WAV, and as an MP4 with a video track), the
real model and aligner, the real CLI: the page must show exactly what the JSON holds, play, follow
the playback, seek on a click, and download nudged cues exactly as subalign writes them.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CLIP_TEXT

from subalign import Alignment, WordSpan, read_subtitles, write_review
from subalign.cli import main
from subalign.errors import OutputError
from subalign.formats import MediaInput, Subtitles, check_output_path
from subalign.formats.html import PEAKS_PER_SECOND, review_page, waveform_peaks
from subalign.formats.jsonfile import read_result
from subalign.media import ffmpeg_binary
from subalign.types import Cue

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium as root needs --no-sandbox; the rest keeps it off the network. Playwright gives every
# launch a fresh temporary --user-data-dir.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-default-apps", "--autoplay-policy=no-user-gesture-required"]
SUBS = """1
00:00:01,000 --> 00:00:02,000
One.

2
00:00:03,500 --> 00:00:06,000
<i>From fairest creatures</i> we desire increase,

3
00:00:06,500 --> 00:00:07,500
[MUSIC]

4
00:00:07,000 --> 00:00:09,500
That thereby beauty's rose might never die,

5
00:00:10,000 --> 00:00:11,000
Nobody speaks about the weather in Madrid today.

6
00:00:11,200 --> 00:00:13,000
But as the riper should by time decease,
"""


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def made(sonnet_clip) -> dict[str, Path]:
    """The clip (WAV, and MP4 with a video track), its transcript and subtitles; aligned and
    synced by the CLI to JSON and straight to review pages."""
    d = sonnet_clip["dir"]
    clip, video = sonnet_clip["wav"], d / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=0x334455:s=320x180:r=25", "-i", str(clip), "-shortest",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(video))
    (d / "clip.srt").write_text(SUBS, encoding="utf-8")
    (d / "pages").mkdir()
    paths = {"clip": clip, "video": video, "dir": d, "json": sonnet_clip["json"]}
    for name, argv in {
        "html": ["align", str(clip), str(sonnet_clip["txt"]), "-o", str(d / "pages" / "clip.html")],
        "sync_json": ["sync", str(clip), str(d / "clip.srt"), "-o", str(d / "sync.json")],
        "sync_html": ["sync", str(clip), str(d / "clip.srt"), "-o", str(d / "sync.html")],
    }.items():
        assert main([*argv, "-q"]) == 0, name
        paths[name] = Path(argv[4])
    return paths


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Tab:
    """One page in its own browser context; collects console errors and uncaught exceptions."""

    def __init__(self, browser, path: Path, width: int = 1280) -> None:
        self.context = browser.new_context(accept_downloads=True, viewport={"width": width, "height": 800})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("html[data-ready='1']", state="attached", timeout=60_000)

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def seek(self, t: float) -> tuple[float, int | None]:
        """Set the media's time; after it has seeked, its time and the highlighted word's index."""
        return tuple(self.js("""t => new Promise(done => {
            media.addEventListener('seeked', () => requestAnimationFrame(() => {
                const now = document.querySelector('#transcript .w.now');
                done([media.currentTime, now ? +now.dataset.i : null]);
            }), {once: true});
            media.currentTime = t;
        })""", t))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser):
    tabs: list[Tab] = []

    def open_tab(path: Path, **kw) -> Tab:
        tabs.append(Tab(browser, path, **kw))
        return tabs[-1]

    yield open_tab
    for t in tabs:
        errors = list(t.errors)
        # offline: the page loads nothing but itself and its media (file:, data: or blob: URLs)
        remote = [u for u in t.requests if not u.startswith(("file:", "data:", "blob:"))]
        t.close()
        assert errors == [], f"console errors in {t.page.url}: {errors}"
        assert remote == [], f"the page asked the network for {remote}"


def page_words(t: Tab) -> list[list]:
    return t.js("""() => Array.from(document.querySelectorAll('#transcript .w'), e =>
        [e.textContent, e.dataset.start, e.dataset.end, e.dataset.found || null])""")


def json_words(doc: dict) -> list[list]:
    return [[w["text"], "" if w["start"] is None else w["start"], "" if w["end"] is None else w["end"],
             "false" if w.get("found", True) is False else None] for w in doc["words"]]


def as_numbers(rows: list[list]) -> list[list]:
    return [[text, float(s) if s != "" else "", float(e) if e != "" else "", f] for text, s, e, f in rows]


def word_holding(doc: dict, t: float) -> int | None:
    """The index of the JSON word whose [start, end) holds t."""
    hits = [i for i, w in enumerate(doc["words"]) if w["start"] is not None and w["start"] <= t < w["end"]]
    return hits[-1] if hits else None


# ------------------------------------------------------------------------------------------------
# What the page shows


def test_page_shows_exactly_the_json(made, tab):
    doc = read_result(made["json"])
    t = tab(made["html"])
    assert as_numbers(page_words(t)) == as_numbers(json_words(doc))
    assert len(doc["words"]) == len(CLIP_TEXT.split())
    cues = t.js("() => Array.from(document.querySelectorAll('#transcript .cue'), e => [+e.dataset.start, +e.dataset.end])")
    assert cues == [[c["start"], c["end"]] for c in doc["cues"]]
    # The media is referred to relative to the page (pages/ is one folder down from the clip).
    assert t.js("() => media.getAttribute('src')") == "../clip.wav"
    assert t.js("() => media.tagName") == "AUDIO"
    assert t.js("() => new Promise(r => media.readyState >= 1 ? r(media.duration) : "
                "media.addEventListener('loadedmetadata', () => r(media.duration)))") == pytest.approx(14.9, abs=0.05)
    # The waveform strip is drawn: the canvas is not blank.
    assert t.js("""() => { const c = document.getElementById('wave');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }""") > 1000


def test_render_from_json_gives_the_same_page_as_align(made):
    out = made["dir"] / "rendered" / "clip.html"
    out.parent.mkdir()
    assert main(["render", str(made["json"]), str(made["clip"]), "-o", str(out), "-q"]) == 0
    assert out.read_text("utf-8") == made["html"].read_text("utf-8")


def test_playing_moves_the_highlight(made, tab):
    doc = read_result(made["json"])
    t = tab(made["html"])
    start = doc["cues"][1]["start"]  # where the words follow each other (the clip opens with a pause)
    t.seek(start)
    t.page.click("#play")
    seen = []
    for _ in range(3):
        t.page.wait_for_timeout(900)
        seen.append(t.js("() => new Promise(r => { media.addEventListener('pause', () => r(["
                         "media.currentTime, (document.querySelector('#transcript .w.now') || {dataset: {}}).dataset.i"
                         "]), {once: true}); media.pause(); })"))
        t.js("() => media.play()")
    t.js("() => media.pause()")
    times = [s for s, _ in seen]
    assert times == sorted(times) and times[-1] > start + 0.5, f"playback did not advance: {times}"
    for s, now in seen:
        expected = word_holding(doc, s)
        assert (None if now is None else int(now)) == expected, (s, now, expected)
    assert any(now is not None for _, now in seen)


def test_setting_the_time_highlights_the_word_there(made, tab):
    doc = read_result(made["json"])
    t = tab(made["html"])
    for i in (0, 3, 10, len(doc["words"]) - 1):
        w = doc["words"][i]
        mid = (w["start"] + w["end"]) / 2
        at, now = t.seek(mid)
        assert at == pytest.approx(mid, abs=1e-3)
        assert now == i == word_holding(doc, at)
        caption = t.js("() => document.getElementById('caption').textContent")
        assert w["text"] in caption
    # Between two cues nothing is highlighted.
    gap = next((a["end"] + b["start"]) / 2 for a, b in zip(doc["cues"], doc["cues"][1:], strict=False)
               if b["start"] - a["end"] > 0.2)
    if word_holding(doc, gap) is None:
        assert t.seek(gap)[1] is None


def test_clicking_a_word_or_cue_plays_from_there(made, tab):
    doc = read_result(made["json"])
    t = tab(made["html"])
    i = 12
    t.page.click(f"#transcript .w[data-i='{i}']")
    t.page.wait_for_function(f"media.currentTime > {doc['words'][i]['start'] + 0.05}", timeout=20_000)
    now, paused = t.js("() => [media.currentTime, media.paused]")
    t.js("() => media.pause()")
    assert not paused and doc["words"][i]["start"] <= now < doc["words"][i]["start"] + 2.0
    # a click on a cue's head selects it and plays from its start
    t.page.click("#transcript .cue[data-cue='2'] .num")
    t.page.wait_for_timeout(200)
    now, selected = t.js("() => [media.currentTime, document.querySelector('.cue.sel').dataset.cue]")
    t.js("() => media.pause()")
    assert selected == "2" and doc["cues"][2]["start"] <= now < doc["cues"][2]["start"] + 1.0
    assert t.js("() => document.getElementById('ed-num').textContent") == "3"


# ------------------------------------------------------------------------------------------------
# Nudging and downloading


def download(t: Tab, button: str, path: Path) -> str:
    with t.page.expect_download() as info:
        t.page.click(button)
    info.value.save_as(path)
    return path.read_text(encoding="utf-8")


def expected_file(doc: dict, fmt: str, changes: dict[int, tuple[int, int]]) -> str:
    """What subalign itself writes for the JSON's cues with `changes` (cue: start, end ms)."""
    cues = []
    for k, c in enumerate(doc["cues"]):
        start, end = changes.get(k, (round(c["start"] * 1000), round(c["end"] * 1000)))
        cues.append(Cue(start / 1000, end / 1000, tuple(c["lines"])))
    return Subtitles.from_cues(cues, fmt).render(fmt)


def test_nudged_cue_downloads_as_subalign_writes_it(made, tab, tmp_path):
    doc = read_result(made["json"])
    t = tab(made["html"])
    k = 1
    start, end = round(doc["cues"][k]["start"] * 1000), round(doc["cues"][k]["end"] * 1000)
    t.page.click(f"#transcript .cue[data-cue='{k}'] .num")
    t.js("() => media.pause()")
    for b in ("start:100", "start:100", "start:10", "end:-10"):
        t.page.click(f"[data-nudge='{b}']")
    assert t.js("() => document.getElementById('ed-start').textContent") == \
        f"00:00:{(start + 210) // 1000:02d},{(start + 210) % 1000:03d}"
    srt = download(t, "#dl-srt", tmp_path / "nudged.srt")
    vtt = download(t, "#dl-vtt", tmp_path / "nudged.vtt")
    changes = {k: (start + 210, end - 10)}
    assert srt == expected_file(doc, "srt", changes)
    assert vtt == expected_file(doc, "vtt", changes)
    subs = read_subtitles(tmp_path / "nudged.srt")
    assert len(subs.cues) == len(doc["cues"])
    # (in whole ms: the reader's 2.905 may be 2.9050000000000002, never a ms off)
    assert round(subs.cues[k].start * 1000) == start + 210 and round(subs.cues[k].end * 1000) == end - 10
    assert [round(c.start * 1000) for j, c in enumerate(subs.cues) if j != k] == \
        [round(c["start"] * 1000) for j, c in enumerate(doc["cues"]) if j != k]
    assert round(read_subtitles(tmp_path / "nudged.vtt").cues[k].start * 1000) == start + 210
    # the page marks the cue as changed, with its new time
    assert t.js(f"() => document.querySelector('.cue[data-cue=\"{k}\"]').classList.contains('edited')")


def test_nudges_keep_cues_ordered_and_apart(made, tab, tmp_path):
    doc = read_result(made["json"])
    t = tab(made["html"])
    t.page.click("#transcript .cue[data-cue='0'] .num")
    t.js("() => media.pause()")
    for _ in range(60):  # end +100 ms, far past the next cue's start: it stops there
        t.page.keyboard.press("Shift+L")
    t.page.click("#transcript .cue[data-cue='1'] .num")
    t.js("() => media.pause()")
    for _ in range(60):  # start -100 ms: it stops at the previous cue's end
        t.page.keyboard.press("Shift+A")
    for _ in range(3):
        t.page.keyboard.press("a")  # and -10 ms is refused there too
    subs = read_subtitles(_save(t, tmp_path / "ordered.srt"))
    next_start = round(doc["cues"][1]["start"] * 1000)  # whole ms, as the files hold them
    assert round(subs.cues[0].end * 1000) == next_start and round(subs.cues[1].start * 1000) == next_start
    times = [(c.start, c.end) for c in subs.cues]
    assert all(s < e for s, e in times)
    assert all(a[1] <= b[0] for a, b in zip(times, times[1:], strict=False))
    assert "kept" in t.js("() => document.getElementById('status').textContent")


def _save(t: Tab, path: Path) -> Path:
    download(t, "#dl-srt", path)
    return path


# ------------------------------------------------------------------------------------------------
# Marks: where to look


def test_marks_low_scores_words_not_found_interpolated_cues_and_rules(made, tab, tmp_path):
    doc = read_result(made["json"])
    # A word not found (as long media reports it), a cue placed by interpolation, a broken rule.
    lost = 8
    doc["words"][lost] = {"text": doc["words"][lost]["text"], "start": None, "end": None, "score": 0.0,
                          "found": False}
    for c in doc["cues"]:
        c["words"] = [i for i in c["words"] if i != lost]
    doc["cues"][2]["status"] = "interpolated"
    doc["cues"][3]["method"] = "interpolated"  # the name issue 13 gives the same fact
    doc["cues"][3]["status"] = "aligned"  # ... and the method wins
    doc["cues"][1]["method"] = "speech"  # any way of placing a cue but by its words is marked
    doc["report"] = [{"cue": 1, "start": doc["cues"][0]["start"], "rule": "max_cps", "value": 19.3, "limit": 17}]
    doc["words"][4]["score"] = 0.2
    page = write_review(tmp_path / "marks.html", doc, made["clip"])
    t = tab(page)
    assert as_numbers(page_words(t)) == as_numbers(json_words(doc))
    nf = t.js("() => Array.from(document.querySelectorAll('.w.nf'), e => [+e.dataset.i, e.dataset.found, e.dataset.start])")
    assert nf == [[lost, "false", ""]]
    assert t.js("() => Array.from(document.querySelectorAll('.cue.interpolated'), e => +e.dataset.cue)") == [2, 3]
    assert t.js("() => Array.from(document.querySelectorAll('.cue.placed'), e => +e.dataset.cue)") == [1, 2, 3]
    assert t.js("() => document.querySelector('.cue[data-cue=\"1\"] .flag.st').textContent") == "speech"
    assert t.js("() => document.querySelector('.cue[data-cue=\"0\"]').classList.contains('broken')")
    assert "max_cps 19.3 > 17" in t.js("() => document.querySelector('.cue[data-cue=\"0\"] .flag').title")
    assert 4 in t.js("() => Array.from(document.querySelectorAll('.w.low'), e => +e.dataset.i)")
    kinds = t.js("() => Array.from(document.querySelectorAll('#mark-list li'), e => e.className)")
    assert {"k-low", "k-nf", "k-interp", "k-rule"} <= set(kinds)
    assert kinds.count("k-interp") == 3
    # clicking a mark goes there; raising the threshold marks more words
    t.page.click("#mark-list li.k-interp")
    assert t.js("() => document.querySelector('.cue.sel').dataset.cue") == "1"
    before = len(t.js("() => Array.from(document.querySelectorAll('.w.low'))"))
    t.page.fill("#low", "0.95")
    t.page.dispatch_event("#low", "change")
    assert len(t.js("() => Array.from(document.querySelectorAll('.w.low'))")) > before
    # unticking a kind hides its marks
    t.page.click("#filters input[data-kind='low']")
    assert "k-low" not in t.js("() => Array.from(document.querySelectorAll('#mark-list li'), e => e.className)")


def test_text_that_looks_like_markup_is_shown_as_text(made, tab, tmp_path):
    doc = read_result(made["json"])
    odd = ["<script>alert(1)</script>", "a&amp;b", "-->", "<!--", "</div>", '"q"']
    for i, text in enumerate(odd):
        doc["words"][i]["text"] = text
    doc["cues"][0]["lines"] = ["<i>x</i> & <!-- y </script>"]
    doc["cues"][0]["text"] = doc["cues"][0]["lines"][0]
    page = write_review(tmp_path / "odd.html", doc, made["clip"])
    assert "\n".join(odd[:1]) not in page.read_text("utf-8")
    t = tab(page)
    assert [row[0] for row in page_words(t)][: len(odd)] == odd
    assert t.js("() => document.querySelectorAll('script').length") == 2
    srt = download(t, "#dl-srt", tmp_path / "odd.srt")
    vtt = download(t, "#dl-vtt", tmp_path / "odd.vtt")
    assert srt == expected_file(doc, "srt", {}) and vtt == expected_file(doc, "vtt", {})
    assert "&lt;i&gt;x&lt;/i&gt; &amp; &lt;!-- y &lt;/script&gt;" in vtt


def test_sync_page_marks_interpolated_and_unspoken_cues(made, tab, tmp_path):
    doc = read_result(made["sync_json"])
    statuses = [c["status"] for c in doc["cues"]]
    assert statuses[2] == "unspoken" and statuses[4] == "interpolated"
    assert all(s in ("aligned", "interpolated", "unspoken") for s in statuses)
    t = tab(made["sync_html"])
    assert as_numbers(page_words(t)) == as_numbers(json_words(doc))
    methods = [c["method"] for c in doc["cues"]]  # how sync placed each cue (issue 13)
    assert methods[2] == "nothing" and methods[4] == "interpolated"
    classes = t.js("() => Array.from(document.querySelectorAll('#transcript .cue'), e => e.className)")
    assert "nothing" in classes[2] and "interpolated" in classes[4]
    assert sum(any(m in c for m in ("interpolated", "nothing", "speech")) for c in classes) == \
        sum(m != "words" for m in methods)
    # the downloaded SRT keeps the subtitles' markup, as 'subalign sync -o x.srt' would write it
    srt = download(t, "#dl-srt", tmp_path / "sync.srt")
    assert "<i>From fairest creatures</i> we desire increase," in srt
    assert [c.text for c in read_subtitles(tmp_path / "sync.srt").cues] == \
        [c.text for c in read_subtitles(made["dir"] / "clip.srt").cues]


# ------------------------------------------------------------------------------------------------
# Media: embedded, video, errors


def test_embedded_media_plays_without_the_file(made, tab, tmp_path):
    out = tmp_path / "alone.html"
    assert main(["render", str(made["json"]), str(made["clip"]), "-o", str(out), "--embed-media", "-q"]) == 0
    assert out.stat().st_size > made["clip"].stat().st_size
    t = tab(out)
    assert t.js("() => media.src.slice(0, 27)") == "data:audio/wav;base64,UklGR"
    assert t.js("() => new Promise(r => media.readyState >= 1 ? r(media.duration) : "
                "media.addEventListener('loadedmetadata', () => r(media.duration)))") == pytest.approx(14.9, abs=0.05)
    doc = read_result(made["json"])
    w = doc["words"][5]
    assert t.seek((w["start"] + w["end"]) / 2)[1] == 5


def test_media_with_an_awkward_name_in_another_folder_plays(made, tab, tmp_path):
    media = tmp_path / "media dir" / "my clip #1 é%.wav"
    media.parent.mkdir()
    shutil.copy(made["clip"], media)
    page = tmp_path / "pages" / "review.html"
    page.parent.mkdir()
    write_review(page, made["json"], media)
    t = tab(page)
    assert t.js("() => media.getAttribute('src')") == "../media%20dir/my%20clip%20%231%20%C3%A9%25.wav"
    assert t.js("() => new Promise(r => media.readyState >= 1 ? r(media.duration) : "
                "media.addEventListener('loadedmetadata', () => r(media.duration)))") == pytest.approx(14.9, abs=0.05)


def test_embedding_too_big_media_is_refused_early(made, tmp_path, capsys):
    with pytest.raises(OutputError, match="--embed-media") as caught:
        write_review(tmp_path / "x.html", made["json"], made["clip"], embed_media=True, embed_limit=1000)
    assert "\n" not in str(caught.value) and not (tmp_path / "x.html").exists()
    with pytest.raises(OutputError, match=r"it is \d+ KB, over the 10 bytes limit"):
        check_output_path(tmp_path / "x.html", media=MediaInput(made["clip"], embed=True, embed_limit=10))
    # options for another output are refused, before any work
    assert main(["render", str(made["json"]), str(made["clip"]), "-o", str(tmp_path / "x.srt"), "--embed-media"]) == 2
    assert "subalign: error: --embed-media is for the review page" in capsys.readouterr().err
    assert main(["render", str(made["json"]), str(made["clip"]), "-o", str(tmp_path / "x.json")]) == 2
    assert "from a JSON result" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"words": [{"text": "a", "start": 2, "end": 1}], "cues": []}', encoding="utf-8")
    assert main(["render", str(bad), str(made["clip"]), "-o", str(tmp_path / "x.html")]) == 2
    assert "word 1 ('a') has no valid start and end" in capsys.readouterr().err
    assert main(["render", str(made["json"]), str(made["json"]), "-o", str(tmp_path / "x.html")]) == 2
    assert capsys.readouterr().err.startswith("subalign: error:")
    assert list(tmp_path.glob("x.*")) == []


def test_video_plays_in_the_page(made, tab, tmp_path):
    out = tmp_path / "video.html"
    assert main(["render", str(made["json"]), str(made["video"]), "-o", str(out), "-q"]) == 0
    t = tab(out)
    assert t.js("() => [media.tagName, document.getElementById('stage').className]") == ["VIDEO", "video"]
    t.page.click("#play")
    t.page.wait_for_function("media.currentTime > 0.3", timeout=20_000)
    assert t.js("() => { media.pause(); return media.videoWidth; }") == 320


def test_review_page_api_takes_results_documents_and_paths(made, tmp_path):
    doc = read_result(made["json"])
    words = [WordSpan(w["text"], w["start"], w["end"], w["score"]) for w in doc["words"]]
    cues = [Cue(c["start"], c["end"], tuple(c["lines"]), tuple(words[i] for i in c["words"]))
            for c in doc["cues"]]
    result = Alignment(words, cues, doc["meta"]["duration"], doc["meta"]["model"], "extension-cpu",
                       boundaries=doc["meta"]["boundaries"])
    pages = []
    for n, source in enumerate((doc, made["json"], result)):
        (tmp_path / str(n)).mkdir()
        pages.append(write_review(tmp_path / str(n) / "p.html", source, made["clip"]).read_text("utf-8"))
    assert pages[0] == pages[1] == pages[2]
    with pytest.raises(OutputError, match="give a .html file name"):
        write_review(tmp_path / "c.png", doc, made["clip"])


def test_waveform_peaks_follow_the_audio(made):
    peaks, scale = waveform_peaks(made["clip"])
    assert peaks.dtype == np.int8 and peaks.shape == (math.ceil(14.9 * PEAKS_PER_SECOND), 2)
    assert (peaks[:, 0] <= peaks[:, 1]).all() and np.abs(peaks).max() == 127 and 0 < scale <= 1
    doc = read_result(made["json"])
    loud = np.abs(peaks.astype(int)).max(axis=1)
    inside = np.zeros(len(peaks), bool)
    for w in doc["words"]:
        inside[int(w["start"] * PEAKS_PER_SECOND) : int(w["end"] * PEAKS_PER_SECOND)] = True
    assert loud[inside].mean() > 4 * loud[~inside].mean()  # words sit on the loud parts


# ------------------------------------------------------------------------------------------------
# A film's worth


def test_a_films_worth_of_words_loads_and_plays(made, tab, tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    from review_page import film_document  # the benchmark's film: 20,000 words, 2,000 cues

    doc = film_document()
    assert len(doc["cues"]) >= 1900 and doc["meta"]["duration"] > 6000
    rng = np.random.default_rng(1)
    peaks = rng.integers(-127, 128, size=(720_000, 2)).astype(np.int8)
    peaks.sort(axis=1)
    page = tmp_path / "film.html"
    page.write_text(review_page(doc, MediaInput(made["clip"]), page, peaks=(peaks, 1.0)), encoding="utf-8")
    t = tab(page)
    assert t.js("() => document.querySelectorAll('#transcript .w').length") == 20_000
    assert t.js("() => document.querySelectorAll('#transcript .cue').length") == len(doc["cues"])
    # marks: low scores are listed a page at a time; without them every finding and every run
    # of words not found is in the list
    assert t.js("() => document.querySelectorAll('#mark-list li').length") == 400
    assert not t.js("() => document.getElementById('more-marks').hidden")
    t.page.click("#filters input[data-kind='low']")
    assert t.js("() => document.querySelectorAll('#mark-list li.k-rule').length") == len(doc["report"])
    lost = sum(w["start"] is None for w in doc["words"])
    assert t.js("() => document.querySelectorAll('#mark-list li.k-nf').length") == lost > 10
    # zoom all the way out (the whole film drawn from the coarse peaks) and back
    for _ in range(12):
        t.page.click("#zoom-out")
    for _ in range(12):
        t.page.click("#zoom-in")
    w = next(i for i, x in enumerate(doc["words"]) if x["start"] is not None and x["start"] > 8)
    mid = (doc["words"][w]["start"] + doc["words"][w]["end"]) / 2
    assert t.seek(mid)[1] == w


# ------------------------------------------------------------------------------------------------
# Firefox


def test_page_in_firefox(made):
    from bidi import Firefox, firefox_binary

    binary = firefox_binary()
    if binary is None:
        pytest.skip("firefox is not installed (Debian: apt-get install firefox-esr)")
    pytest.importorskip("websockets", reason="websockets is not installed (pip install -e '.[test]')")
    doc = read_result(made["json"])
    ff = Firefox(binary)
    try:
        ff.open(made["html"])
        assert ff.eval("document.documentElement.dataset.ready") == "1"
        rows = ff.eval("Array.from(document.querySelectorAll('#transcript .w'), e => "
                       "[e.textContent, e.dataset.start, e.dataset.end, e.dataset.found || null])")
        assert as_numbers(rows) == as_numbers(json_words(doc))
        for i in (2, 9):
            w = doc["words"][i]
            mid = (w["start"] + w["end"]) / 2
            got = ff.eval(f"""new Promise(done => {{
                media.addEventListener('seeked', () => requestAnimationFrame(() =>
                    done(+document.querySelector('#transcript .w.now').dataset.i)), {{once: true}});
                media.currentTime = {mid}; }})""")
            assert got == i
        ff.eval("document.querySelector(\"#transcript .w[data-i='12']\").click()")
        now = ff.eval("new Promise(r => setTimeout(() => { media.pause(); r(media.currentTime); }, 500))")
        assert doc["words"][12]["start"] <= now < doc["words"][12]["start"] + 1.5
        ff.eval("document.querySelector(\"#transcript .cue[data-cue='1'] .num\").click()")
        ff.eval("document.querySelector(\"[data-nudge='start:100']\").click()")
        start = round(doc["cues"][1]["start"] * 1000) + 100
        assert ff.eval("document.getElementById('ed-start').textContent") == \
            f"00:00:{start // 1000:02d},{start % 1000:03d}"
        assert ff.errors == []
    finally:
        ff.close()
