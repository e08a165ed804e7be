"""Subtitle streams inside media files (`sync` without SUBS, --subtitle-stream, --embed) and the
`align` side of issue 17: subtitle files as transcripts, a wrong transcript refused, karaoke.
Real ffmpeg (imageio-ffmpeg's), the real model, TIMIT speech."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, write_wav

from subalign.cli import main
from subalign.errors import MediaError
from subalign.formats import read_subtitles
from subalign.media import (
    _parse_ffmpeg_stderr,
    _pick_subtitle_stream,
    ffmpeg_binary,
    load_audio,
    probe,
)

SR = 16_000
FIXTURES = CORPUS / "subtitle_parser_fixtures"
TOLERANCE = 0.2
GERMAN = ("Der abenteuerliche Simplicissimus ganz neu eingerichteter allenthalben viel verbesserter "
          "abenteuerlicher Simplicius Simplicissimus das ist ausführliche unerdichtete und recht "
          "memorable Lebensbeschreibung eines einfältigen wunderlichen und seltsamen Vaganten namens "
          "Melchior Sternfels von Fuchshaim wie wo wann auch welcher Gestalt er nämlich in diese Welt")


def _clock(x: float, sep: str = ",") -> str:
    ms = round(x * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def _ass_clock(x: float) -> str:
    cs = round(x * 100)
    return f"{cs // 360_000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


class Speech:
    def __init__(self, wav: Path, cues: list[tuple[str, float, float]]) -> None:
        self.wav, self.cues = wav, cues


@pytest.fixture(scope="module")
def speech(timit, tmp_path_factory) -> Speech:
    """Four TIMIT utterances of one speaker joined with pauses; one cue per utterance."""
    rng = random.Random(3)
    parts, cues, t = [], [], 0.0
    for txt in sorted((timit / "dr1-fvmh0").glob("s*.txt"))[:4]:
        wav = txt.with_suffix(".riff.wav") if txt.with_suffix(".riff.wav").exists() else txt.with_suffix(".wav")
        prompt = txt.read_text().split(maxsplit=2)[2].strip()
        rows = [r.split() for r in txt.with_suffix(".wrd").read_text().splitlines() if r.strip()]
        pause = np.random.default_rng(len(parts)).standard_normal(int(rng.uniform(0.6, 1.2) * SR)) * 3e-4
        audio = load_audio(wav, sample_rate=SR)
        parts += [pause.astype(np.float32), audio]
        t += len(pause) / SR
        cues.append((prompt, t + int(rows[0][0]) / SR, t + int(rows[-1][1]) / SR))
        t += len(audio) / SR
    parts.append(np.zeros(SR // 2, dtype=np.float32))
    path = tmp_path_factory.mktemp("tracks") / "speech.wav"
    write_wav(path, np.concatenate(parts))
    return Speech(path, cues)


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def containers(speech, tmp_path_factory) -> dict[str, Path]:
    """An .mkv with a SubRip track (off by +2 s) and an ASS track (off by -1 s), and an .mp4 with
    a mov_text track (off by +2 s), all made by ffmpeg from the speech."""
    folder = tmp_path_factory.mktemp("containers")
    srt, ass = folder / "late.srt", folder / "early.ass"
    srt.write_text("".join(f"{i}\n{_clock(a + 2)} --> {_clock(b + 2)}\n{text}\n\n"
                           for i, (text, a, b) in enumerate(speech.cues, 1)), encoding="utf-8")
    ass.write_text(
        "[Script Info]\nScriptType: v4.00+\nPlayResX: 640\nPlayResY: 360\n\n[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
        "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
        "Alignment, MarginL, MarginR, MarginV, Encoding\n"
        "Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        + "".join(f"Dialogue: 0,{_ass_clock(max(0, a - 1))},{_ass_clock(b - 1)},Default,,0,0,0,,"
                  f"{{\\an8\\i1}}{text}\n" for text, a, b in speech.cues), encoding="utf-8")
    mkv, mp4 = folder / "film.mkv", folder / "film.mp4"
    _ffmpeg("-i", str(speech.wav), "-i", str(srt), "-i", str(ass), "-map", "0", "-map", "1", "-map", "2",
            "-c:a", "flac", "-c:s", "copy", "-metadata:s:s:0", "language=eng",
            "-metadata:s:s:1", "title=Styled", str(mkv))
    _ffmpeg("-i", str(speech.wav), "-i", str(srt), "-map", "0", "-map", "1", "-c:a", "aac",
            "-c:s", "mov_text", str(mp4))
    return {"mkv": mkv, "mp4": mp4, "srt": srt, "ass": ass}


def _starts_ok(subs, speech) -> None:
    assert len(subs.cues) == len(speech.cues)
    for cue, (_, start, _) in zip(subs.cues, speech.cues, strict=True):
        assert abs(cue.start - start) <= TOLERANCE, (cue.start, start)


def test_probe_lists_subtitle_streams(containers):
    info = probe(containers["mkv"])
    assert [(s.index, s.codec, s.language, s.title) for s in info.subtitle_streams] == [
        (0, "subrip", "eng", None), (1, "ass", None, "Styled")]
    assert [s.codec for s in probe(containers["mp4"]).subtitle_streams] == ["mov_text"]


def test_sync_without_subs_uses_the_first_text_stream_and_embeds(speech, containers, tmp_path, capsys):
    mkv = containers["mkv"]
    before = mkv.read_bytes()
    out, copy = tmp_path / "out.srt", tmp_path / "copy.mkv"
    assert main(["sync", str(mkv), "-o", str(out), "--embed", str(copy), "-q"]) == 0, capsys.readouterr().err
    assert mkv.read_bytes() == before  # the input is never modified
    _starts_ok(read_subtitles(out), speech)
    streams = probe(copy).subtitle_streams
    assert [(s.codec, s.language, s.title) for s in streams] == [("ass", None, "Styled"), ("subrip", "eng", None)]
    assert len(probe(copy).audio_streams) == 1
    # the new track holds exactly the re-timed cues
    assert main(["sync", str(copy), "--subtitle-stream", "1", "-o", str(tmp_path / "again.srt"), "-q"]) == 0
    assert [round(c.start, 1) for c in read_subtitles(tmp_path / "again.srt").cues] == [
        round(c.start, 1) for c in read_subtitles(out).cues]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_sync_picks_the_ass_stream_and_keeps_everything_but_the_times(speech, containers, tmp_path):
    out = tmp_path / "out.ass"
    assert main(["sync", str(containers["mkv"]), "--subtitle-stream", "1", "-o", str(out), "-q"]) == 0
    subs = read_subtitles(out)
    _starts_ok(subs, speech)
    assert all(c.text.startswith("{\\an8\\i1}") for c in subs.cues)
    assert "PlayResX: 640" in out.read_text() and "Style: Default,Arial,20," in out.read_text()


def test_sync_reads_mov_text_and_embeds_into_mp4(speech, containers, tmp_path):
    out, copy = tmp_path / "out.vtt", tmp_path / "copy.mp4"
    assert main(["sync", str(containers["mp4"]), "-o", str(out), "--embed", str(copy), "-q"]) == 0
    _starts_ok(read_subtitles(out), speech)
    assert [s.codec for s in probe(copy).subtitle_streams] == ["mov_text"]
    # subtitles from a file are added beside the container's own tracks
    added = tmp_path / "added.mkv"
    assert main(["sync", str(containers["mkv"]), str(containers["ass"]), "-o", str(tmp_path / "x.ass"),
                 "--embed", str(added), "-q"]) == 0
    assert [s.codec for s in probe(added).subtitle_streams] == ["subrip", "ass", "ass"]


@pytest.mark.parametrize("args, message", [
    (["--subtitle-stream", "2"], "has 2 subtitle streams (0–1); --subtitle-stream 2 does not exist"),
    (["--subtitle-stream", "0", "SUBS"], "give SUBS or --subtitle-stream, not both"),
    (["--embed", "OUT"], "refusing to overwrite an input or the output"),
])
def test_sync_stream_options_refuse_with_one_line(containers, tmp_path, capsys, args, message):
    args = [str(containers["srt"]) if a == "SUBS" else str(tmp_path / "out.srt") if a == "OUT" else a
            for a in args]
    subs = [a for a in args if a.endswith(".srt") and "late" in a]
    rest = [a for a in args if a not in subs]
    assert main(["sync", str(containers["mkv"]), *subs, "-o", str(tmp_path / "out.srt"), *rest, "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "out.srt").exists()


def test_media_without_a_subtitle_stream_is_refused(speech, tmp_path, capsys):
    assert main(["sync", str(speech.wav), "-o", str(tmp_path / "out.srt"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "has no subtitle stream; give the subtitles as a file (SUBS)" in err and err.count("\n") == 1


def test_image_subtitle_streams_are_refused():
    dump = """Input #0, matroska,webm, from 'film.mkv':
  Duration: 00:01:00.00, start: 0.000000, bitrate: 100 kb/s
  Stream #0:0: Video: h264 (High), yuv420p(progressive), 1920x1080, 23.98 fps, 23.98 tbr, 1k tbn (default)
  Stream #0:1(eng): Audio: ac3, 48000 Hz, 5.1(side), fltp, 640 kb/s (default)
  Stream #0:2(eng): Subtitle: hdmv_pgs_subtitle (pgssub), 1920x1080 (default)
    Metadata:
      title           : English (PGS)
  Stream #0:3(fre): Subtitle: dvd_subtitle (dvdsub), 720x480
  Stream #0:4(ger): Subtitle: subrip (srt)
"""
    info = _parse_ffmpeg_stderr(Path("film.mkv"), dump)
    assert [(s.index, s.codec, s.language, s.title, s.is_text) for s in info.subtitle_streams] == [
        (0, "hdmv_pgs_subtitle", "eng", "English (PGS)", False), (1, "dvd_subtitle", "fre", None, False),
        (2, "subrip", "ger", None, True)]
    assert _pick_subtitle_stream(info, None).index == 2  # the first text stream
    with pytest.raises(MediaError, match=r"subtitle stream 0 \(hdmv_pgs_subtitle.*pictures of text"):
        _pick_subtitle_stream(info, 0)
    images_only = _parse_ffmpeg_stderr(Path("film.mkv"), dump.rsplit("  Stream #0:4", 1)[0])
    with pytest.raises(MediaError, match="subtitle streams are all pictures of text"):
        _pick_subtitle_stream(images_only, None)


def test_the_fixture_container_track_is_read_and_the_tone_is_not_speech(tmp_path, capsys):
    mp4 = FIXTURES / "auto-editor_embedded" / "mov_text.mp4"
    if not mp4.exists():
        pytest.skip(f"shared data not found: {mp4}")
    from subalign.tracks import read_subtitle_track

    subs, stream = read_subtitle_track(mp4)
    assert stream.codec == "mov_text" and [c.text for c in subs.cues] == ["oop", "boop"]
    assert main(["sync", str(mp4), "-o", str(tmp_path / "out.srt"), "-q"]) == 2
    assert "were found in the audio" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# align: subtitle files as transcripts, the fail-safe, karaoke


def test_align_takes_a_subtitle_file_as_its_transcript(speech, containers, tmp_path, capsys):
    out = tmp_path / "out.json"
    assert main(["align", str(speech.wav), str(containers["srt"]), "-o", str(out), "-q"]) == 0
    err = capsys.readouterr().err
    assert "is a subtitle file (srt): the text of its 4 cues is the transcript" in err
    words = [w["text"] for w in json.loads(out.read_text())["words"]]
    assert words == " ".join(text for text, _, _ in speech.cues).split()
    assert json.loads(out.read_text())["meta"]["confidence"] > 0.7


def test_align_refuses_a_transcript_that_does_not_belong_unless_forced(speech, tmp_path, capsys):
    text = tmp_path / "german.txt"
    text.write_text(GERMAN, encoding="utf-8")
    out = tmp_path / "out.srt"
    for extra in ([], ["--long"]):
        assert main(["align", str(speech.wav), str(text), "-o", str(out), "-q", *extra]) == 2
        err = capsys.readouterr().err
        assert "words" in err and "were heard in the audio" in err and "--force" in err
        assert err.count("\n") == 1 and not out.exists()
    assert main(["align", str(speech.wav), str(text), "-o", str(out), "-q", "--force"]) == 0
    assert "writing anyway (--force)" in capsys.readouterr().err and out.exists()


def test_align_writes_karaoke(speech, tmp_path, capsys):
    text = tmp_path / "right.txt"
    text.write_text("\n".join(t for t, _, _ in speech.cues), encoding="utf-8")
    ass = tmp_path / "out.ass"
    assert main(["align", str(speech.wav), str(text), "-o", str(ass), "-q"]) == 0
    assert "{\\kf" in ass.read_text() and "PlayResY: 1080" in ass.read_text()
    vtt = tmp_path / "out.vtt"
    assert main(["align", str(speech.wav), str(text), "-o", str(vtt), "-q", "--karaoke"]) == 0
    assert "<00:00:" in vtt.read_text()
    assert main(["align", str(speech.wav), str(text), "-o", str(tmp_path / "x.json"), "--karaoke", "-q"]) == 2
    assert "word highlighting" in capsys.readouterr().err
