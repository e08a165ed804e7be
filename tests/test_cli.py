"""`subalign align` end to end on real media and the embedded model, and every bad input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pysrt
import pytest
import webvtt

from subalign.cli import main
from subalign.media import ffmpeg_binary

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "sonnet001.mp3"
SAMPLE_TEXT = REPO / "samples" / "sonnet001.txt"


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(["align", *argv, "--quiet"])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def sample_outputs(tmp_path_factory) -> dict[str, Path]:
    """The README demo: the 53 s LibriVox sample (two model windows) in all three formats."""
    out = tmp_path_factory.mktemp("sample")
    paths = {ext: out / f"sonnet.{ext}" for ext in ("srt", "vtt", "json")}
    before = digest(SAMPLE), digest(SAMPLE_TEXT)
    assert main(["align", str(SAMPLE), str(SAMPLE_TEXT), "-o", str(paths["json"]), "-q"]) == 0
    for ext in ("srt", "vtt"):
        assert main(["align", str(SAMPLE), str(SAMPLE_TEXT), "-o", str(paths[ext]), "-q"]) == 0
    assert (digest(SAMPLE), digest(SAMPLE_TEXT)) == before  # inputs untouched
    return paths


def test_json_keeps_every_word_exactly(sample_outputs):
    data = json.loads(sample_outputs["json"].read_text(encoding="utf-8"))
    source_words = SAMPLE_TEXT.read_text(encoding="utf-8").split()
    assert [w["text"] for w in data["words"]] == source_words
    starts = [w["start"] for w in data["words"]]
    assert starts == sorted(starts)
    assert all(0 <= w["start"] <= w["end"] <= 53.3 and 0 <= w["score"] <= 1 for w in data["words"])
    # the reader says "one" for the first line "1" in the first second, and "thee" near the end
    assert data["words"][0]["text"] == "1" and data["words"][0]["start"] < 1.5
    assert data["words"][-1]["end"] > 50.0
    # most words are confidently found in clean read speech
    assert sum(w["score"] > 0.5 for w in data["words"]) > 0.8 * len(data["words"])
    assert data["meta"]["model"] == "hama" and data["cues"]


def test_srt_and_vtt_reparse(sample_outputs):
    data = json.loads(sample_outputs["json"].read_text(encoding="utf-8"))
    subs = pysrt.open(str(sample_outputs["srt"]), encoding="utf-8")
    vtt = webvtt.read(str(sample_outputs["vtt"]))
    assert len(subs) == len(vtt) == len(data["cues"])
    for item, cap, cue in zip(subs, vtt, data["cues"], strict=True):
        assert item.start.ordinal == round(cue["start"] * 1000)
        assert item.end.ordinal == round(cue["end"] * 1000)
        assert item.text == cue["text"] == "\n".join(cue["lines"])
        assert cap.text == cue["text"]
        lines = item.text.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines)
        assert item.end.ordinal - item.start.ordinal <= 7000
    for a, b in zip(subs, subs[1:], strict=False):
        assert a.end.ordinal <= b.start.ordinal  # in order, never overlapping
    joined = " ".join(item.text.replace("\n", " ") for item in subs)
    assert joined.split() == SAMPLE_TEXT.read_text(encoding="utf-8").split()


def test_video_container_and_stdin(tmp_path, timit, monkeypatch, capsys):
    """A real mp4 (video + AAC) with the transcript on stdin; words land near the human labels."""
    utt = timit / "dr1-fvmh0" / "sa1"
    video = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-i", f"{utt}.wav",
           "-shortest", "-c:v", "mpeg4", "-c:a", "aac", str(video))
    text = Path(f"{utt}.txt").read_text().split(maxsplit=2)[2]
    monkeypatch.setattr(sys, "stdin", open_bytes_as_stdin(tmp_path, text))
    out = tmp_path / "clip.json"
    code, err = run_cli(capsys, str(video), "-", "-o", str(out))
    assert code == 0, err
    words = json.loads(out.read_text())["words"]
    gold = [line.split() for line in Path(f"{utt}.wrd").read_text().splitlines()]
    assert len(words) == len(gold)
    errors = sorted(abs(w["start"] - int(g[0]) / 16000) for w, g in zip(words, gold, strict=True))
    assert errors[len(errors) // 2] < 0.1  # median start error under 100 ms (AAC adds ~20 ms delay)


def open_bytes_as_stdin(tmp_path: Path, text: str):
    p = tmp_path / "stdin.txt"
    p.write_bytes(b"\xef\xbb\xbf" + text.encode())  # with a BOM, which must be tolerated
    return open(p, encoding="utf-8")


def test_real_cli_process_exit_codes(tmp_path):
    """The installed entry point as a process: success writes the file, bad input exits 2."""
    clip = tmp_path / "clip.wav"
    ffmpeg("-i", str(SAMPLE), "-t", "6", str(clip))
    (tmp_path / "t.txt").write_text("1 From fairest creatures we desire increase,")
    ok = subprocess.run([sys.executable, "-m", "subalign", "align", str(clip), str(tmp_path / "t.txt"),
                         "-o", str(tmp_path / "o.vtt")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert webvtt.read(str(tmp_path / "o.vtt")).captions
    bad = subprocess.run([sys.executable, "-m", "subalign", "align", str(tmp_path / "nope.mp4"),
                          str(tmp_path / "t.txt"), "-o", str(tmp_path / "x.srt")],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.srt").exists()


# --- bad input: one clear line, exit 2, no traceback, no output, inputs untouched -------------

@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    clip = d / "clip.mp3"
    ffmpeg("-i", str(SAMPLE), "-t", "4", "-c:a", "libmp3lame", str(clip))
    files = {"clip": clip, "text": d / "text.txt"}
    files["text"].write_text("From fairest creatures we desire increase,\n", encoding="utf-8")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "2", "-c:v", "mpeg4", str(d / "video.mp4"))
    files["video_only"] = d / "video.mp4"
    files["corrupt"] = d / "corrupt.mp4"
    files["corrupt"].write_bytes(bytes(range(256)) * 64)
    full = d / "full.m4a"
    ffmpeg("-i", str(SAMPLE), "-t", "10", "-c:a", "aac", str(full))
    files["truncated"] = d / "truncated.m4a"
    files["truncated"].write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    files["empty_text"] = d / "empty.txt"
    files["empty_text"].write_text("  \n\n", encoding="utf-8")
    files["long_text"] = d / "long.txt"
    files["long_text"].write_text(SAMPLE_TEXT.read_text(encoding="utf-8") * 10, encoding="utf-8")
    files["cp1252"] = d / "cp1252.txt"
    files["cp1252"].write_bytes("Café déjà vu, naïve façade".encode("cp1252"))
    return files


CASES = {
    "missing media": (lambda f: ["{d}/missing.mp4", f["text"]], "no such file"),
    "no audio stream": (lambda f: [f["video_only"], f["text"]], "no audio stream"),
    "corrupt media": (lambda f: [f["corrupt"], f["text"]], ""),
    "truncated media": (lambda f: [f["truncated"], f["text"]], "truncated"),
    "missing transcript": (lambda f: [f["clip"], "{d}/missing.txt"], ""),
    "empty transcript": (lambda f: [f["clip"], f["empty_text"]], "no words"),
    "transcript too long": (lambda f: [f["clip"], f["long_text"]], "too long"),
    "undecodable transcript": (lambda f: [f["clip"], f["cp1252"]], "UTF-8"),
    "audio stream out of range": (lambda f: [f["clip"], f["text"], "--audio-stream", "3"], "audio stream"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clear_line(case, bad_inputs, tmp_path, capsys):
    make_args, expected = CASES[case]
    d = bad_inputs["clip"].parent
    args = [str(a).format(d=d) for a in make_args(bad_inputs)]
    before = {p: digest(p) for p in bad_inputs.values()}
    out = tmp_path / "out.srt"
    code, err = run_cli(capsys, *args, "-o", str(out))
    assert code == 2, err
    assert err.startswith("subalign: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert expected.lower() in err.lower()
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no partial or temp file
    assert {p: digest(p) for p in bad_inputs.values()} == before


def test_output_errors(bad_inputs, tmp_path, capsys):
    clip, text = str(bad_inputs["clip"]), str(bad_inputs["text"])
    code, err = run_cli(capsys, clip, text, "-o", str(tmp_path / "no" / "such" / "dir.srt"))
    assert code == 2 and "does not exist" in err
    code, err = run_cli(capsys, clip, text, "-o", str(tmp_path / "out.docx"))
    assert code == 2 and ".srt" in err
    transcript = tmp_path / "transcript.json"  # a transcript that happens to end in .json
    transcript.write_text("From fairest creatures", encoding="utf-8")
    before = digest(transcript)
    code, err = run_cli(capsys, clip, str(transcript), "-o", str(transcript))
    assert code == 2 and "input" in err
    assert digest(transcript) == before
