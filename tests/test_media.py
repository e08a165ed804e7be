"""Media stage: real containers built with the real ffmpeg from real speech, decoded back."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, TIMIT, need, run_on_terminal

from subalign import media
from subalign.errors import MediaError
from subalign.media import MediaInfo, ffmpeg_binary, iter_audio, load_audio, probe

SR = 16000
SPEECH = TIMIT / "dr1-fvmh0" / "sa1.wav"  # 3.42 s, 16 kHz mono, real speech
JFK = CORPUS / "video_jfk_generated"


# --------------------------------------------------------------------------------------------
# helpers


def ff(*args: str | Path) -> None:
    """Run the real ffmpeg quietly; fail the test with its stderr if it fails."""
    cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@functools.cache
def encoders() -> frozenset[str]:
    out = subprocess.run([ffmpeg_binary(), "-hide_banner", "-encoders"], capture_output=True,
                         text=True).stdout
    return frozenset(m.group(1) for m in re.finditer(r"^ [VAS][.A-Z]{5} (\S+)", out, re.M))


def best_correlation(a: np.ndarray, b: np.ndarray, max_lag: int = 1600) -> tuple[float, int]:
    """Peak normalised cross-correlation of a and b over their overlap, and its lag in samples."""
    n = min(len(a), len(b))
    a, b = a[:n].astype(np.float64), b[:n].astype(np.float64)
    size = 2 * n
    c = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    c = np.concatenate([c[-max_lag:], c[: max_lag + 1]])
    i = int(np.argmax(c))
    return float(c[i] / np.sqrt(np.dot(a, a) * np.dot(b, b))), i - max_lag


def dominant_hz(x: np.ndarray, sr: int = SR) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * sr / len(x))


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def cut_in_half(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def child_env() -> dict[str, str]:
    """Environment for a child Python that imports this same subalign package."""
    root = str(Path(media.__file__).parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, sys.path)])}


def child_pids() -> set[int]:
    """Pids of this process's children, zombies (exited but not reaped) included (Linux /proc)."""
    tasks = Path(f"/proc/{os.getpid()}/task")
    if not tasks.is_dir():
        pytest.skip("needs Linux /proc")
    while True:  # a thread that ends mid-scan hands its children on: scan again when one vanished
        try:
            return {int(pid) for task in tasks.iterdir()
                    for pid in (task / "children").read_text().split()}
        except FileNotFoundError:
            continue


# --------------------------------------------------------------------------------------------
# media built once per module


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """The reference: the 16 kHz mono TIMIT wav, read without ffmpeg."""
    import wave

    with wave.open(str(need(SPEECH))) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SR, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real containers holding the TIMIT speech; videos are 25 fps test pictures."""
    need(SPEECH)
    d = tmp_path_factory.mktemp("media")
    out: dict[str, Path] = {}
    video = ["-f", "lavfi", "-i", "testsrc=size=96x64:rate=25:duration=5"]
    cover = d / "cover.png"
    ff("-f", "lavfi", "-i", "testsrc=size=32x32", "-frames:v", "1", cover)

    def make(name: str, *args: str | Path) -> None:
        ff(*args, d / name)
        out[name] = d / name

    def encs(*names: str) -> str | None:
        return next((n for n in names if n in encoders()), None)

    h264, vp, opus, vorbis = encs("libx264", "mpeg4"), encs("libvpx-vp9", "libvpx"), \
        encs("libopus", "opus"), encs("libvorbis", "vorbis")
    make("speech.mp4", *video, "-i", SPEECH, "-map", "0:v", "-map", "1:a", "-c:v", h264,
         "-c:a", "aac", "-shortest")
    make("speech.mkv", *video, "-i", SPEECH, "-map", "0:v", "-map", "1:a", "-c:v", "mpeg4",
         "-c:a", "flac", "-shortest")
    if vp and opus:
        make("speech.webm", *video, "-i", SPEECH, "-map", "0:v", "-map", "1:a", "-c:v", vp,
             "-deadline", "realtime", "-c:a", opus, "-strict", "-2", "-shortest")
    make("speech.mov", "-i", SPEECH, "-c:a", "aac")
    make("speech.m4a", "-i", SPEECH, "-i", cover, "-map", "0", "-map", "1", "-c:a", "aac",
         "-c:v", "png", "-disposition:v", "attached_pic")
    make("speech.wav", "-i", SPEECH, "-c:a", "pcm_s16le")
    if "libmp3lame" in encoders():
        make("speech.mp3", "-i", SPEECH, "-i", cover, "-map", "0", "-map", "1",
             "-c:a", "libmp3lame", "-c:v", "mjpeg", "-disposition:v", "attached_pic")
    make("speech.flac", "-i", SPEECH, "-c:a", "flac")
    if vorbis:
        make("speech.ogg", "-i", SPEECH, "-c:a", vorbis, "-strict", "-2")
    return out


CONTAINERS = ["speech.mp4", "speech.mkv", "speech.webm", "speech.mov", "speech.m4a",
              "speech.wav", "speech.mp3", "speech.flac", "speech.ogg"]


def get(made: dict[str, Path], name: str) -> Path:
    if name not in made:
        pytest.skip(f"this ffmpeg cannot encode {name}")
    return made[name]


# --------------------------------------------------------------------------------------------
# decoding real speech from every container


@pytest.mark.parametrize("name", CONTAINERS)
def test_container_decodes_to_the_original_speech(made, speech, name):
    path = get(made, name)
    before = fingerprint(path)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    # Same length as the source (within 40 ms of codec framing) and the same waveform, in time.
    assert abs(len(audio) - len(speech)) <= 0.04 * SR, (len(audio), len(speech))
    corr, lag = best_correlation(audio, speech)
    assert corr > 0.95, corr
    assert abs(lag) <= 0.005 * SR, f"decoded audio is shifted by {lag} samples"
    assert fingerprint(path) == before  # never modifies the input


@pytest.mark.parametrize("name", CONTAINERS)
def test_probe_reports_container_streams_and_video_rate(made, name):
    path = get(made, name)
    info = probe(path)
    assert isinstance(info, MediaInfo) and info.path == path
    assert info.duration is not None and abs(info.duration - 3.42) < 0.1
    assert len(info.audio_streams) == 1
    st = info.audio_streams[0]
    assert st.index == 0 and st.channels == 1 and st.sample_rate in (16000, 48000)
    has_video = name.endswith((".mp4", ".mkv", ".webm"))  # m4a/mp3 carry cover art only
    assert info.fps == (25.0 if has_video else None)


def test_stderr_parser_route_reads_languages_layouts_and_fractional_rates(tmp_path):
    """The ffmpeg -i parser (the route used without ffprobe), called directly."""
    two = tmp_path / "two.mkv"
    ff("-f", "lavfi", "-i", "testsrc=size=32x32:rate=30000/1001:duration=1",
       "-f", "lavfi", "-i", "sine=f=440:d=1:r=44100",
       "-f", "lavfi", "-i", "sine=f=1000:d=1:r=48000,aformat=channel_layouts=5.1",
       "-map", "0", "-map", "1", "-map", "2", "-c:v", "mpeg4", "-c:a", "flac",
       "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", two)
    info = media._probe_ffmpeg(two)
    assert info.format is not None and "matroska" in info.format
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert [(s.index, s.codec, s.sample_rate, s.channels, s.language) for s in info.audio_streams] \
        == [(0, "flac", 44100, 1, "eng"), (1, "flac", 48000, 6, "fra")]


@pytest.mark.skipif(media._ffprobe_binary() is None, reason="no ffprobe here")
def test_ffprobe_route_agrees_with_stderr_parser(made):
    for path in made.values():
        a, b = media._probe_ffprobe(path, media._ffprobe_binary()), media._probe_ffmpeg(path)
        assert (a.fps is None) == (b.fps is None)
        assert a.audio_streams == b.audio_streams
        assert a.duration == pytest.approx(b.duration, abs=0.02)


def test_jfk_mp4_real_video():
    mp4, wav = need(JFK / "jfk.mp4"), need(JFK / "jfk.16k.wav")
    info = probe(mp4)
    assert info.fps == 30.0 and info.duration == pytest.approx(11.0, abs=0.05)
    assert [s.codec for s in info.audio_streams] == ["aac"]
    audio, ref = load_audio(mp4), load_audio(wav)
    assert len(audio) == pytest.approx(11.0 * SR, abs=0.02 * SR)
    corr, lag = best_correlation(audio, ref)
    assert corr > 0.99 and lag == 0


def test_stereo_44k_is_downmixed_and_resampled(tmp_path):
    # Left 440 Hz, right 1000 Hz: a correct downmix keeps both at equal strength; a correct
    # resampler keeps both frequencies where they were.
    st = tmp_path / "stereo.wav"
    ff("-f", "lavfi", "-i", "sine=f=440:d=2:r=44100",
       "-f", "lavfi", "-i", "sine=f=1000:d=2:r=44100",
       "-filter_complex", "[0][1]join=inputs=2:channel_layout=stereo", "-c:a", "pcm_s16le", st)
    info = probe(st)
    assert (info.audio_streams[0].sample_rate, info.audio_streams[0].channels) == (44100, 2)
    audio = load_audio(st)
    assert abs(len(audio) - 2 * SR) <= 0.005 * SR
    spec = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    hz = np.fft.rfftfreq(len(audio), 1 / SR)
    p440, p1000 = spec[np.argmin(abs(hz - 440))], spec[np.argmin(abs(hz - 1000))]
    assert 0.8 < p440 / p1000 < 1.25
    assert spec[(hz > 1100) | (hz < 350)].max() < 0.05 * p440  # nothing else: no aliasing
    assert len(load_audio(st, sample_rate=8000)) == pytest.approx(2 * 8000, abs=40)


def test_speech_in_stereo_44k_mp4_matches_source(tmp_path, speech):
    src = tmp_path / "st.mp4"
    ff("-i", need(SPEECH), "-ac", "2", "-ar", "44100", "-c:a", "aac", src)
    assert probe(src).audio_streams[0].channels == 2
    corr, lag = best_correlation(load_audio(src), speech)
    assert corr > 0.95 and abs(lag) <= 80


@pytest.fixture(scope="module")
def two_streams(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("two") / "two.mkv"
    ff("-f", "lavfi", "-i", "sine=f=440:d=1.5:r=44100",
       "-f", "lavfi", "-i", "sine=f=1000:d=1.5:r=48000",
       "-map", "0", "-map", "1", "-c:a", "flac", path)
    return path


def test_stream_selects_the_audio_stream(two_streams):
    assert len(probe(two_streams).audio_streams) == 2
    assert dominant_hz(load_audio(two_streams, stream=0)) == pytest.approx(440, abs=3)
    assert dominant_hz(load_audio(two_streams, stream=1)) == pytest.approx(1000, abs=3)


@pytest.mark.parametrize("stream", [2, 3, -1])
def test_stream_out_of_range(two_streams, stream):
    with pytest.raises(MediaError) as e:
        load_audio(two_streams, stream=stream)
    assert str(e.value) == (f"{two_streams} has 2 audio streams (0–1); "
                            f"--audio-stream {stream} does not exist")


# --------------------------------------------------------------------------------------------
# streaming


def test_iter_audio_chunks_concatenate_to_load_audio(made):
    path = get(made, "speech.flac")
    chunks = list(iter_audio(path, chunk_seconds=0.5))
    assert all(len(c) == SR // 2 for c in chunks[:-1]) and 0 < len(chunks[-1]) <= SR // 2
    assert len(chunks) == 7  # 3.42 s
    np.testing.assert_array_equal(np.concatenate(chunks), load_audio(path))


@pytest.mark.parametrize("stop", ["close", "ctrl-c"])
def test_stopping_early_kills_ffmpeg(made, stop):
    path = get(made, "speech.wav")
    before = child_pids()
    gen = iter_audio(path, chunk_seconds=0.1)
    assert len(next(gen)) == SR // 10
    # ffmpeg still has ~200 kB to write into a 64 kB pipe, so it is alive and blocked now
    (pid,) = child_pids() - before
    assert b"ffmpeg" in Path(f"/proc/{pid}/cmdline").read_bytes()
    if stop == "close":
        gen.close()
    else:
        with pytest.raises(KeyboardInterrupt):
            gen.throw(KeyboardInterrupt)
    assert child_pids() - before == set()  # killed and reaped, no zombie left


def test_progress_silent_without_terminal(made, capfd):
    load_audio(get(made, "speech.flac"), progress=True)
    assert capfd.readouterr().err == ""


def test_progress_bar_on_a_terminal(made):
    path = get(made, "speech.flac")
    # a slow consumer (like the acoustic model), so the bar outlives any display delay
    code = ("import sys, time\nfrom subalign.media import iter_audio\n"
            "for _ in iter_audio(sys.argv[1], chunk_seconds=0.5, progress=True):\n"
            "    time.sleep(0.4)\n")
    status, seen = run_on_terminal([sys.executable, "-c", code, str(path)], stdin=None, stdout=None,
                                   cwd=path.parent, env=child_env())
    assert status == 0, seen.decode(errors="replace")
    assert b"decoding speech.flac" in seen and b"%" in seen


# --------------------------------------------------------------------------------------------
# errors: one line, names the file, says what to do


def one_line_error(path: Path, **kw) -> str:
    with pytest.raises(MediaError) as e:
        load_audio(path, **kw)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg, msg
    return msg


def test_missing_file(tmp_path):
    assert "no such file" in one_line_error(tmp_path / "nope.mp4")
    with pytest.raises(MediaError):  # at the call, before any iteration
        iter_audio(tmp_path / "nope.mp4")


def test_directory(tmp_path):
    d = tmp_path / "folder.mp4"
    d.mkdir()
    assert "is a directory" in one_line_error(d)


def test_fifo_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    assert "not a regular file" in one_line_error(fifo)


def test_unreadable_file(tmp_path):
    # chmod 000; as root, drop the capabilities that bypass file permissions
    d = tmp_path / "locked"
    d.mkdir()
    f = d / "locked.wav"
    shutil.copy(need(SPEECH), f)
    f.chmod(0)
    tmp_path.chmod(0o755)
    d.chmod(0o755)
    code = ("import sys\nfrom subalign.errors import MediaError\nfrom subalign.media import probe\n"
            "try:\n    probe(sys.argv[1])\n"
            "except MediaError as e:\n    print(e)\n    sys.exit(3)\n")
    cmd = [sys.executable, "-c", code, str(f)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        caps = "-dac_override,-dac_read_search"
        cmd = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=child_env())
    if os.geteuid() == 0 and proc.returncode not in (0, 3):
        pytest.skip(f"cannot drop root's file capabilities here: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "permission denied" in proc.stdout and str(f) in proc.stdout


def test_random_bytes(tmp_path):
    f = tmp_path / "noise.mp4"
    f.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    assert "not a media file" in one_line_error(f)


@pytest.mark.parametrize(("text", "expected"), [
    ("hello world, this is not a video\n" * 20, "is not a media file ffmpeg can read"),
    # ffmpeg recognises timed lyrics (.lrc) as a subtitle format: a file, but with no sound
    ("[00:00.00] lyrics-like text\n[00:01.00] more\n",
     "has no audio stream (ffmpeg reads it as 'lrc')"),
])
def test_text_file(tmp_path, text, expected):
    f = tmp_path / "notes.mp4"
    f.write_text(text)
    assert expected in one_line_error(f)


def test_video_only(tmp_path):
    f = tmp_path / "silent.mp4"
    ff("-f", "lavfi", "-i", "testsrc=size=32x32:rate=25:duration=1", "-c:v", "mpeg4", f)
    assert probe(f).audio_streams == ()
    assert "has no audio stream" in one_line_error(f)


def test_zero_samples(tmp_path):
    f = tmp_path / "empty.wav"
    ff("-f", "lavfi", "-i", "sine", "-t", "0", f)
    assert "zero samples" in one_line_error(f)


@pytest.fixture(scope="module")
def truncated(made, tmp_path_factory) -> dict[str, Path]:
    """Each file cut in half, the way an interrupted download leaves it."""
    d = tmp_path_factory.mktemp("cut")
    out = {}
    faststart = d / "faststart.mp4"  # moov first: ffmpeg decodes the first half and says "partial"
    ff("-f", "lavfi", "-i", "testsrc=size=96x64:rate=25:duration=5", "-i", need(SPEECH),
       "-map", "0:v", "-map", "1:a", "-c:v", "mpeg4", "-c:a", "aac", "-shortest",
       "-movflags", "+faststart", faststart)
    for src in [faststart, *made.values()]:
        out[src.name] = cut_in_half(src, d / f"half-{src.name}")
    return out


@pytest.mark.parametrize("name", ["faststart.mp4", "speech.mp4", "speech.mp3", "speech.flac",
                                  "speech.wav", "speech.mkv", "speech.webm", "speech.mov"])
def test_truncated_file(truncated, name):
    if name not in truncated:
        pytest.skip(f"this ffmpeg cannot encode {name}")
    f = truncated[name]
    before = fingerprint(f)
    assert "looks truncated or corrupt" in one_line_error(f)
    assert fingerprint(f) == before


def test_wav_cut_on_a_sample_boundary(made, tmp_path):
    # ffmpeg decodes a WAV cut between whole samples without a word of complaint
    data = get(made, "speech.wav").read_bytes()
    start = data.index(b"data") + 8
    f = tmp_path / "cut.wav"
    f.write_bytes(data[: start + (len(data) - start) // 4 * 2])
    assert "WAV header promises" in one_line_error(f)
    # a WAV streamed to a pipe has no sizes in its header: complete, not truncated
    streamed = tmp_path / "streamed.wav"
    with streamed.open("wb") as out:
        subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-i",
                        str(get(made, "speech.wav")), "-f", "wav", "-"], stdout=out, check=True)
    assert len(load_audio(streamed)) == len(load_audio(get(made, "speech.wav")))


def test_flac_cut_between_frames(made, tmp_path):
    # cut exactly at a frame header: ffmpeg decodes without error, only the length tells
    data = get(made, "speech.flac").read_bytes()
    cut = data.index(b"\xff\xf8", len(data) // 2)
    f = tmp_path / "cut.flac"
    f.write_bytes(data[:cut])
    assert re.search(r"decoded \d\.\d\d s of the 3\.4\d s it declares", one_line_error(f))


def test_ffmpeg_binary_override(monkeypatch, tmp_path):
    real = ffmpeg_binary()
    assert os.access(real, os.X_OK)
    monkeypatch.setenv("SUBALIGN_FFMPEG", real)
    assert ffmpeg_binary() == real
    monkeypatch.setenv("SUBALIGN_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(MediaError, match="SUBALIGN_FFMPEG"):
        ffmpeg_binary()
