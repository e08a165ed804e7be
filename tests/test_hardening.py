"""Bad inputs, faults and signals (issue 19): every one ends in one line and a clear exit status,
fast, with no traceback, no partial output and no temporary file left behind.

Real processes, real files, real signals: text inputs that are not regular files (devices, a FIFO
without a writer, a directory, stdin of endless zeros), texts that cannot fit the audio, media
without audio, stop signals at random moments around the writing of the output, control
characters in file names, argparse's usage errors, and the progress bar on a pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import run_on_terminal

from subalign import interrupts
from subalign.cli import main
from subalign.errors import TranscriptError, printable
from subalign.media import ffmpeg_binary
from subalign.text import check_text_fits, read_bytes
from subalign.text.fit import MAX_WORD_LETTERS
from subalign.text.read import MAX_TEXT_BYTES

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "sonnet001.mp3"
SAMPLE_TEXT = REPO / "samples" / "sonnet001.txt"
CLIP_TEXT = "1 From fairest creatures we desire increase,\n"  # the sample's first 6 s
ENV = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def _default_signals() -> None:
    # a test run in the background or under nohup inherits SIGINT or SIGHUP ignored (and the
    # child keeps them ignored, as it should); a user's terminal delivers them
    for sig in interrupts.SIGNALS:
        signal.signal(sig, signal.SIG_DFL)


def _limit_memory() -> None:
    # a regression must fail fast, not fill the machine's memory (torch maps a lot of address
    # space, so the limit is generous)
    resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30))
    _default_signals()


def subalign(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """`python -m subalign ARGS` as a process; `timeout` only guards against a hang."""
    return subprocess.run([sys.executable, "-m", "subalign", *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout, preexec_fn=_limit_memory, **kwargs)


def one_line_error(err: str) -> str:
    assert err.startswith("subalign: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    files = {"3s": d / "tone3.wav", "3.4s": d / "tone34.wav", "120s": d / "tone120.wav",
             "video5s": d / "video5.mp4", "clip": d / "clip.wav"}
    for key, seconds in (("3s", 3), ("3.4s", 3.4), ("120s", 120)):
        ffmpeg("-f", "lavfi", "-i", f"sine=frequency=300:duration={seconds}", "-ar", "16000",
               "-ac", "1", str(files[key]))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-t", "5", "-c:v", "mpeg4",
           str(files["video5s"]))
    ffmpeg("-i", str(SAMPLE), "-t", "6", str(files["clip"]))  # says CLIP_TEXT
    return files


def srt(texts: list[str]) -> str:
    def stamp(t: float) -> str:
        ms = round(t * 1000)
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "".join(f"{i + 1}\n{stamp(2 * i)} --> {stamp(2 * i + 1.5)}\n{t}\n\n" for i, t in enumerate(texts))


# --- item 2: text inputs are regular files (or stdin), of bounded size -------------------------

@pytest.mark.parametrize("command", ["align", "sync"])
@pytest.mark.parametrize("kind", ["/dev/zero", "/dev/urandom", "fifo", "directory"])
def test_text_input_must_be_a_regular_file(kind, command, media, tmp_path):
    if kind == "fifo":
        path = tmp_path / "pipe.txt"
        os.mkfifo(path)  # nobody ever writes to it: reading would block forever
    elif kind == "directory":
        path = tmp_path / "folder.srt"
        path.mkdir()
    else:
        path = Path(kind)
    out = tmp_path / "out.srt"
    proc = subalign(command, str(media["clip"]), str(path), "-o", str(out), "-q")
    assert proc.returncode == 2, proc.stderr
    err = one_line_error(proc.stderr)
    assert ("directory" if kind == "directory" else "not a regular file") in err
    assert not out.exists()


def test_stdin_is_read_with_the_same_limit(media, tmp_path):
    out = tmp_path / "out.srt"
    with open("/dev/zero", "rb") as zeros:
        proc = subalign("align", str(media["clip"]), "-", "-o", str(out), "-q", stdin=zeros)
    assert proc.returncode == 2
    assert f"more than {MAX_TEXT_BYTES >> 20} MiB" in one_line_error(proc.stderr)
    assert not out.exists()


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(MAX_TEXT_BYTES + 1)  # sparse: nothing to read, but too big
    with pytest.raises(TranscriptError, match=r"more than 64 MiB"):
        read_bytes(big, "transcript")
    ok = tmp_path / "ok.txt"
    ok.write_bytes(b"hello world\n")
    assert read_bytes(ok, "transcript") == (b"hello world\n", str(ok))


# --- item 2: what cannot fit the audio is refused before any G2P or model work ---------------

def test_five_megabytes_of_transcript_for_three_seconds(media, tmp_path, capsys):
    words = SAMPLE_TEXT.read_text(encoding="utf-8").split()
    rng = random.Random(0)
    text = tmp_path / "big.txt"
    text.write_text("\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(75_000)))
    assert text.stat().st_size > 5_000_000
    code = main(["align", str(media["3s"]), str(text), "-o", str(tmp_path / "o.srt"), "-q"])
    err = one_line_error(capsys.readouterr().err)
    assert code == 2 and "letters and digits" in err and "too long" in err


def test_a_ten_thousand_letter_word(media, tmp_path, capsys):
    text = tmp_path / "word.txt"
    text.write_text("a" * 10_000 + "\n")
    code = main(["align", str(media["120s"]), str(text), "-o", str(tmp_path / "o.srt"), "-q"])
    err = one_line_error(capsys.readouterr().err)
    assert code == 2 and "10,000 letters" in err
    assert not (tmp_path / "o.srt").exists()


def test_subtitles_that_cannot_fit_the_audio(media, tmp_path, capsys):
    words = SAMPLE_TEXT.read_text(encoding="utf-8").split()
    rng = random.Random(1)
    many = tmp_path / "many.srt"
    many.write_text(srt([" ".join(rng.choice(words) for _ in range(7)) for _ in range(1332)]))
    code = main(["sync", str(media["3.4s"]), str(many), "-o", str(tmp_path / "o.srt"), "-q"])
    err = one_line_error(capsys.readouterr().err)
    assert code == 2 and "letters and digits" in err and "3.4 s" in err
    one_word = tmp_path / "word.srt"
    one_word.write_text(srt(["a" * 5_000]))  # fewer letters than 120 s could hold
    code = main(["sync", str(media["120s"]), str(one_word), "-o", str(tmp_path / "o.srt"), "-q"])
    err = one_line_error(capsys.readouterr().err)
    assert code == 2 and "5,000 letters" in err
    huge = tmp_path / "huge.srt"
    with open(huge, "w") as f:  # a cue holding one 100 MB word
        f.write(srt(["a"])[:-3])
        for _ in range(100):
            f.write("a" * 1_000_000)
        f.write("\n\n")
    code = main(["sync", str(media["120s"]), str(huge), "-o", str(tmp_path / "o.srt"), "-q"])
    err = one_line_error(capsys.readouterr().err)
    assert code == 2 and "64 MiB" in err
    assert not (tmp_path / "o.srt").exists()


def test_the_cheap_check_refuses_only_the_impossible():
    # real words, however long, and scripts written without spaces pass
    check_text_fits("Taumatawhakatangihangakoauauotamateaturipukakapikimaungahoronukupokaiwhenuakitanatahu "
                    "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft", 5.0)
    check_text_fits("今日は天気がいいですね" * 2000, None)  # 22,000 characters, one "word"
    check_text_fits("今日はiPhoneを買いました" * 2000, None)  # Latin words inside a Japanese run
    check_text_fits("สวัสดีครับ" * 3000, None)
    check_text_fits("word " * 200, 10.0)  # 800 letters in 10 s: fast, but possible
    check_text_fits("x" * MAX_WORD_LETTERS, None)
    with pytest.raises(TranscriptError, match="201 letters"):
        check_text_fits("ok " + "x" * (MAX_WORD_LETTERS + 1) + " ok", None)
    with pytest.raises(TranscriptError, match="letters with no space"):
        check_text_fits(["fine", "你好" + "Привет" * 40], None)
    with pytest.raises(TranscriptError, match="too long"):
        check_text_fits(["1999 " * 50, "1999 " * 50], 3.0)  # digits count
    check_text_fits("— … !!! ??? " * 1000, 1.0)  # what is not said does not count
    check_text_fits("word " * 10_000, None)  # unknown duration: the words only


# --- item 7: media without audio is said first, whatever the text --------------------------

def test_video_without_audio_is_reported_as_such(media, tmp_path, capsys):
    out = tmp_path / "o.srt"
    code = main(["align", str(media["video5s"]), str(SAMPLE_TEXT), "-o", str(out), "-q"])
    assert code == 2 and "no audio stream" in one_line_error(capsys.readouterr().err)
    subs = tmp_path / "s.srt"
    subs.write_text(srt([line for line in SAMPLE_TEXT.read_text().splitlines() if line.strip()] * 5))
    code = main(["sync", str(media["video5s"]), str(subs), "-o", str(out), "-q"])
    assert code == 2 and "no audio stream" in one_line_error(capsys.readouterr().err)
    assert not out.exists()


# --- item 6: control characters are escaped; usage errors are one line ----------------------

def test_control_characters_in_a_path_are_escaped(media, tmp_path, capsys):
    name = tmp_path / "a\x1b[31mred\x1b]0;title\x07\u202e.txt"
    code = main(["align", str(media["clip"]), str(name), "-o", str(tmp_path / "o.srt"), "-q"])
    err = one_line_error(capsys.readouterr().err)
    assert code == 2
    assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err
    assert "a\\x1b[31mred\\x1b]0;title\\x07\\u202e.txt" in err
    proc = subalign("align", str(media["clip"]), str(name), "-o", str(tmp_path / "o.srt"))
    assert proc.returncode == 2 and "\x1b" not in proc.stderr and "\\x1b[31m" in proc.stderr
    assert main(["models", "hf:/no/such\x1b[31mfolder"]) == 0  # stdout escapes them too
    out = capsys.readouterr().out
    assert "\x1b" not in out and "no such folder: /no/such\\x1b[31mfolder" in out
    assert printable("tab\there\nline") == "tab\\x09here\\x0aline"
    assert printable("tab\there\r\n", keep_layout=True) == "tab\there\r\n"


@pytest.mark.parametrize("argv", [
    [], ["align"], ["frobnicate"], ["align", "a", "b", "-o", "x.srt", "--dtype", "bad"],
    ["sync", "a", "b", "-o", "x.srt", "--audio-stream", "\x1b[2J"],
])
def test_usage_errors_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = one_line_error(capsys.readouterr().err)
    assert "--help" in err and "\x1b" not in err
    with pytest.raises(SystemExit) as exit_info:
        main(["align", "--help"])
    assert exit_info.value.code == 0 and "usage:" in capsys.readouterr().out


# --- items 3 and 4: SIGTERM, SIGHUP and Ctrl-C leave no temporary file and no traceback ------

WRITER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from subalign import interrupts
    from subalign.formats import write_text

    folder, tries = Path(sys.argv[1]), int(sys.argv[2])
    text = json.dumps({"words": [{"text": "w" * 20, "start": i / 7, "end": i / 5} for i in range(250_000)]})
    t0 = time.perf_counter()
    write_text(folder / "first.json", text)
    print(json.dumps({"write_seconds": time.perf_counter() - t0}), flush=True)
    for i in range(tries):
        out = folder / f"out{i}.json"
        interrupts.install()
        print(json.dumps({"ready": i}), flush=True)
        try:
            write_text(out, text)
            time.sleep(5)  # the signal comes after the write: it must stop the sleep
            outcome = "no signal"
        except KeyboardInterrupt as exc:
            outcome = f"interrupted by {exc.signum}" if isinstance(exc, interrupts.Interrupted) else "plain"
        left = sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))
        complete = out.exists() and out.read_text() == text
        print(json.dumps({"try": i, "outcome": outcome, "left": left, "exists": out.exists(),
                          "complete": complete, "written": [str(p) for p in interrupts.written()]}),
              flush=True)
""")


def test_signals_during_the_write_leave_no_temporary_file(tmp_path):
    """A real child writes a 10 MB JSON output again and again; each write gets one real signal
    (SIGTERM, SIGHUP or SIGINT) at a random moment around it. Never a temporary file, never a
    partial output; an output exists exactly when the write was recorded as complete."""
    tries = 24
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(tries)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_signals)
    assert proc.stdout is not None
    write_seconds = json.loads(proc.stdout.readline())["write_seconds"]
    rng = random.Random(19)
    sigs = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]
    results = []
    for i in range(tries):
        assert json.loads(proc.stdout.readline()) == {"ready": i}
        time.sleep(rng.uniform(0, 1.3 * write_seconds))
        sig = sigs[i % 3]
        proc.send_signal(sig)
        result = json.loads(proc.stdout.readline())
        results.append(result)
        assert result["outcome"] == f"interrupted by {int(sig)}", result
        assert result["left"] == [], result
        assert result["exists"] == result["complete"] == bool(result["written"]), result
    proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.read()
    assert any(not r["exists"] for r in results)  # some signals did cut a write short
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_stop_signal_around_the_end_of_a_real_run(sig, media, tmp_path):
    """`subalign align` as a process, signalled at a random moment just before, during or after
    its output appears (the write, the rename, the interpreter's shutdown): one line at most, no
    traceback, no temporary file, and an output only when complete. SIGTERM exits 143, SIGHUP
    129, Ctrl-C 130; a signal after the run is over ends the process with the run's own status."""
    text = tmp_path / "t.txt"
    text.write_text(CLIP_TEXT)
    status = {signal.SIGTERM: 143, signal.SIGHUP: 129, signal.SIGINT: 130}[sig]
    rng = random.Random(int(sig))
    seen = set()
    for attempt in range(3):
        folder = tmp_path / f"run{attempt}"
        folder.mkdir()
        out = folder / "out.json"
        proc = subprocess.Popen([sys.executable, "-m", "subalign", "align", str(media["clip"]), str(text),
                                 "-o", str(out)], env=ENV, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_default_signals)
        while proc.poll() is None and not any(folder.iterdir()):
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, 0.03))
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err and "Exception ignored" not in err, err
        assert err.count("\n") <= 1, err
        assert [p.name for p in folder.iterdir() if p.name != "out.json"] == []
        if out.exists():
            assert json.loads(out.read_text())["words"]  # complete
        if proc.returncode == status:
            assert err.startswith("subalign: ")
            assert ("had been written in full" in err) == out.exists(), err
        else:  # the run was over: its status (0), or killed at the very end of the shutdown
            assert proc.returncode in (0, -int(sig)) and err == "" and out.exists(), (proc.returncode, err)
        seen.add(proc.returncode)
    assert seen  # (which of the cases each attempt hits depends on timing)


def test_stop_signal_mid_run_exits_with_its_status(tmp_path):
    """SIGTERM while the model runs: exit 143, one line, nothing written (as Ctrl-C does)."""
    media = tmp_path / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=400", "-ar", "16000", "-ac", "1", str(media))
    text = tmp_path / "t.txt"
    text.write_text("hello world\n")
    out = tmp_path / "out.srt"
    proc = subprocess.Popen([sys.executable, "-m", "subalign", "align", str(media), str(text), "-o",
                             str(out), "--long"], env=ENV, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_signals)
    time.sleep(8)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == ["subalign: stopped by SIGTERM; no output written"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt", "tone.wav"]


def test_ignored_signals_stay_ignored(media, tmp_path):
    """`nohup subalign …` (SIGHUP ignored) must survive a hang-up: the CLI leaves an ignored
    signal ignored."""
    text = tmp_path / "t.txt"
    text.write_text(CLIP_TEXT)
    out = tmp_path / "out.srt"

    def nohup() -> None:
        _default_signals()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = subprocess.Popen([sys.executable, "-m", "subalign", "align", str(media["clip"]), str(text),
                             "-o", str(out)], env=ENV, stderr=subprocess.PIPE, text=True,
                            preexec_fn=nohup)
    time.sleep(3)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and err == "" and out.exists(), err


def test_interrupts_module_defers_and_restores():
    previous = interrupts.install()
    try:
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        with pytest.raises(interrupts.Interrupted) as caught:
            with interrupts.deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # held back: the block runs to its end
                done = True
        assert done and caught.value.status == 143 and caught.value.name == "SIGTERM"
    finally:
        interrupts.restore(previous)
    assert signal.getsignal(signal.SIGTERM) is previous[signal.SIGTERM]


# --- item 8: the progress bar on a terminal -------------------------------------------------

def test_progress_bar_on_a_terminal_reaches_the_end_without_warnings(tmp_path):
    """An align run on a real file, its stderr a terminal: the one bar moves up to 100 % and no
    warning (tqdm's "clamping frac") is printed."""
    out = tmp_path / "o.srt"
    status, seen = run_on_terminal([sys.executable, "-m", "subalign", "align", str(SAMPLE),
                                    str(SAMPLE_TEXT), "-o", str(out)], rows=30, cols=100, env=ENV)
    screen = seen.decode("utf-8", "replace")
    assert status == 0, screen
    assert "Warning" not in screen and "clamping" not in screen, screen
    shown = [int(p) for p in re.findall(r"aligning:\s*(\d+)%\|", screen)]
    assert shown and shown == sorted(shown) and shown[-1] == 100, screen
    assert screen.rstrip().endswith("cues)") and out.exists()
