"""`subalign sync`: what a cue says, interpolation, and re-timing on real speech (TIMIT
utterances joined with pauses, human word timings) with offset, stretched, jittered and damaged
subtitles; the fail-safe and the command line."""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import music_bed, reading_time, timit_utterances, write_wav

from subalign.cli import main
from subalign.formats import parse_subtitles, read_subtitles
from subalign.media import load_audio
from subalign.models import get_model
from subalign.sync import _interpolate, retime
from subalign.text import spoken_text

SR = 16_000
# Cue starts must land within this of the human-labelled start of the cue's first word.
TOLERANCE = 0.15
MEDIAN_TOLERANCE = 0.05


# --------------------------------------------------------------------------------------------
# What a cue says


@pytest.mark.parametrize(
    "text, said",
    [
        ("[MUSIC PLAYING]", ""),
        ("♪ Oh say can you see ♪", ""),
        ("(laughs)", ""),
        ("JOHN: Where were you?", "Where were you?"),
        ("- MAN 2: Over here!\n- DR. SMITH: Wait.", "Over here!\nWait."),
        ("<i>I know</i> [sighs] you do.", "I know you do."),
        ("<v Anna>Tom &amp; Jerry</v>", "Tom & Jerry"),
        ("{\\an8}Up here", "Up here"),
        ("Note: Mixed-case words before a colon stay", "Note: Mixed-case words before a colon stay"),
        ("- Yes.\n- No.", "Yes.\nNo."),
        ("...", ""),
    ],
)
def test_spoken_text_drops_what_is_not_said(text, said):
    assert spoken_text(text) == said


# --------------------------------------------------------------------------------------------
# Interpolation of cues that were not found


def test_interpolation_carries_offset_and_stretch_and_keeps_order():
    orig = [(float(i * 10), float(i * 10 + 2)) for i in range(6)]
    # found cues 0, 1, 4, 5: offset +3 s before, +5 s after (a cut between 1 and 4)
    placed = {0: (3.0, 5.0), 1: (13.0, 15.0), 4: (45.0, 47.0), 5: (55.0, 57.0)}
    out = _interpolate(orig, placed, duration=100.0)
    assert set(out) == {2, 3}
    (s2, e2), (s3, e3) = out[2], out[3]
    assert 15.0 <= s2 <= e2 <= s3 <= e3 <= 45.0
    assert s2 == pytest.approx(20 + 3 + (5 - 3) * (20 - 10) / 30)
    assert e2 - s2 == pytest.approx(2.0)


def test_interpolation_squeezes_between_neighbours_without_room():
    orig = [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0)]
    placed = {0: (10.0, 12.0), 2: (12.0, 14.0)}  # no room left for cue 1
    s, e = _interpolate(orig, placed, duration=20.0)[1]
    assert s == e == 12.0


def test_interpolation_without_any_found_cue_keeps_the_input():
    orig = [(1.0, 2.0), (3.0, 4.0)]
    assert _interpolate(orig, {}, 10.0) == {0: orig[0], 1: orig[1]}


# --------------------------------------------------------------------------------------------
# Real speech


@dataclass
class Speech:
    wav: Path
    waveform: np.ndarray
    emissions: object
    cues: list[tuple[str, float, float]]  # text, true start, true end (first/last word)
    unused: list[str]  # TIMIT prompts that are not in the audio
    short_wav: Path  # the first SHORT cues only, for the command-line tests


SHORT = 5



@pytest.fixture(scope="module")
def speech(timit, tmp_path_factory) -> Speech:
    """About a minute of TIMIT (three speakers' sx utterances) joined with 0.4-2 s pauses of quiet
    noise; one cue per utterance, true times from the human word labels."""
    rng = random.Random(11)
    noise = np.random.default_rng(11)
    parts, cues, used = [], [], set()
    t = 0.0
    for speaker, wav, prompt, first, last in timit_utterances(timit):
        if speaker not in ("dr1-fvmh0", "dr2-marc0", "dr3-falk0") or not wav.stem.startswith("sx"):
            continue
        pause = (noise.standard_normal(int(rng.uniform(0.4, 2.0) * SR)) * 3e-4).astype(np.float32)
        parts += [pause, load_audio(wav, sample_rate=SR)]
        t += len(pause) / SR
        cues.append((prompt, t + first, t + last))
        used.add(prompt)
        t += len(parts[-1]) / SR
    parts.append(np.zeros(SR, dtype=np.float32))
    waveform = np.concatenate(parts)
    folder = tmp_path_factory.mktemp("speech")
    path, short = folder / "joined.wav", folder / "short.wav"
    write_wav(path, waveform)
    write_wav(short, waveform[: int((cues[SHORT - 1][2] + 1.0) * SR)])
    waveform = load_audio(path, sample_rate=SR)
    emissions = get_model("hama").emit(waveform)
    unused = [ln.split(" (")[0] for ln in (timit / "docs" / "prompts.txt").read_text().splitlines()
              if ln and not ln.startswith(";") and ln.split(" (")[0] not in used]
    assert 40 < len(waveform) / SR < 80 and len(cues) >= 10
    return Speech(path, waveform, emissions, cues, unused, short)


def _srt(entries: list[tuple[str, float, float]]) -> str:
    def clock(x: float) -> str:
        ms = max(0, round(x * 1000))
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "\n".join(f"{i}\n{clock(a)} --> {clock(b)}\n{text}\n" for i, (text, a, b) in enumerate(entries, 1))


def _check(result, truth: list[float | None]) -> list[float]:
    """Errors (s) of the re-timed starts of the real cues; all within TOLERANCE."""
    errors = []
    for timing, true_start in zip(result.cues, truth, strict=True):
        if true_start is None:
            continue
        assert timing.status == "aligned"
        errors.append(abs(timing.start - true_start))
    assert max(errors) <= TOLERANCE, errors
    assert statistics.median(errors) <= MEDIAN_TOLERANCE, errors
    starts = [t.start for t in result.cues]
    assert starts == sorted(starts)  # file order kept, no overlaps
    assert all(a.end <= b.start + 1e-9 for a, b in zip(result.cues, result.cues[1:], strict=False))
    return errors


@pytest.mark.parametrize(
    "name, change",
    [
        ("late by 52 s", lambda a, i: a + 52.0),
        ("early by 40 s", lambda a, i: a - 40.0),
        ("23.976 fps shown at 25", lambda a, i: a * 25 / 23.976 + 1.0),
        ("each cue off by up to 1 s", lambda a, i: a + random.Random(i).uniform(-1, 1)),
    ],
)
def test_retime_recovers_the_true_starts(speech, name, change):
    entries = [(text, change(a, i), change(b, i)) for i, (text, a, b) in enumerate(speech.cues)]
    subs = parse_subtitles(_srt(entries), name="in.srt")
    result = retime(subs, speech.waveform, speech.emissions, get_model("hama"))
    _check(result, [a for _, a, _ in speech.cues])
    assert result.found == result.spoken == len(speech.cues) and result.trusted and not result.warnings


def test_small_chunks_give_the_same_answer(speech):
    """Long media are aligned in chunks of bounded size; a budget of a few cues per chunk (many
    chunks, each window placed after the last one) must not change the result."""
    entries = [(text, a * 25 / 23.976 + 45.0, b * 25 / 23.976 + 45.0) for text, a, b in speech.cues]
    subs = parse_subtitles(_srt(entries), name="in.srt")
    whole = retime(subs, speech.waveform, speech.emissions, get_model("hama"))
    calls = []
    from subalign.align.chunks import ChunkAligner
    original = ChunkAligner.align

    def counting(self, cues, lo, hi):
        calls.append((len(cues), hi - lo))
        return original(self, cues, lo, hi)

    ChunkAligner.align = counting
    try:
        chunked = retime(subs, speech.waveform, speech.emissions, get_model("hama"), max_cells=600_000)
    finally:
        ChunkAligner.align = original
    assert sum(1 for n, _ in calls if n > 1) >= 4  # it really ran in several chunks
    assert min(frames for _, frames in calls) < len(speech.emissions) / 2  # windows follow the cues
    _check(chunked, [a for _, a, _ in speech.cues])
    flat = [x for t in chunked.cues for x in (t.start, t.end)]
    assert flat == pytest.approx([x for t in whole.cues for x in (t.start, t.end)], abs=0.03)


def test_text_without_audio_and_audio_without_text_do_not_drag_the_neighbours(speech):
    """A cue whose text is not in the audio, one dropped cue (its speech stays in the audio),
    a sound description and a speaker label; times shifted by 7 s."""
    entries, truth = [], []
    for i, (text, a, b) in enumerate(speech.cues):
        if i == 3:
            continue  # dropped: its speech is still in the audio
        if i == 5:
            entries.append(("WOMAN: " + text, a + 7, b + 7))
        else:
            entries.append((text, a + 7, b + 7))
        truth.append(a)
        if i == 6:  # inserted in the pause after cue 6: text that is not in the audio
            nxt = speech.cues[i + 1][1]
            entries.append((speech.unused[0], b + 7.1, nxt + 6.9))
            truth.append(None)
        if i == 8:
            entries.append(("[DOOR SLAMS]", b + 7.05, b + 7.3))
            truth.append(None)
    subs = parse_subtitles(_srt(entries), name="in.srt")
    result = retime(subs, speech.waveform, speech.emissions, get_model("hama"))
    _check(result, truth)
    fake = truth.index(None)
    assert result.cues[fake].status == "interpolated"
    assert result.cues[fake - 1].end <= result.cues[fake].start <= result.cues[fake + 1].start
    assert result.cues[truth.index(None, fake + 1)].status == "unspoken"
    assert len(result.warnings) == 1 and f"cue {fake + 1} (line {subs.cues[fake].line})" in result.warnings[0]
    assert result.trusted


def test_subtitles_in_another_text_are_placed_by_their_speech(speech):
    """Cues whose words are not what is said (a translation) but whose times follow the speech
    (here 12 s late) are placed on their speech by the cue pattern: trusted, method "speech"."""
    entries = [(speech.unused[k + 1], a + 12.0, b + 12.0) for k, (_, a, b) in enumerate(speech.cues)]
    result = retime(parse_subtitles(_srt(entries), name="in.srt"), speech.waveform, speech.emissions,
                    get_model("hama"))
    assert result.found == 0 and result.trusted and result.pattern_confidence >= 6
    assert {t.method for t in result.cues} == {"speech"}
    errors = [abs(t.start - a) for t, (_, a, _) in zip(result.cues, speech.cues, strict=True)]
    assert statistics.median(errors) <= 0.08 and max(errors) <= 0.5, errors


def test_subtitles_of_another_recording_are_not_trusted(speech):
    """Other words, and times that follow some other recording's speech: neither the words nor
    the pattern fit, so the result is not trusted (the CLI refuses it)."""
    rng = random.Random(5)
    t, entries = 0.5, []
    for k in range(len(speech.cues)):
        length = rng.uniform(0.6, 4.5)
        entries.append((speech.unused[k + 1], t, t + length))
        t += length + rng.uniform(0.2, 3.0)
    result = retime(parse_subtitles(_srt(entries), name="in.srt"), speech.waveform, speech.emissions,
                    get_model("hama"))
    assert result.confidence < 0.5 and result.pattern_confidence < 6 and not result.trusted
    assert "does not fit" in result.why_untrusted()


# --------------------------------------------------------------------------------------------
# Command line


VTT_HEAD = "WEBVTT\n\nSTYLE\n::cue { color: yellow }\n\nNOTE shifted by 30 s\n\n"


def test_cli_sync_keeps_everything_but_the_times(speech, tmp_path, capsys):
    cues = speech.cues[:SHORT]
    blocks = [f"c{i}\n{_vtt_clock(a + 30)} --> {_vtt_clock(b + 30)} line:10% align:start\n<i>{t}</i>"
              for i, (t, a, b) in enumerate(cues)]
    src = tmp_path / "in.vtt"
    src.write_text(VTT_HEAD + "\n\n".join(blocks) + "\n", encoding="utf-8")
    before = src.read_bytes()
    out = tmp_path / "out.vtt"
    assert main(["sync", str(speech.short_wav), str(src), "-o", str(out), "-q"]) == 0
    assert src.read_bytes() == before
    written = read_subtitles(out)
    original = read_subtitles(src)
    assert [(c.text, c.identifier, c.settings) for c in written.cues] == [
        (c.text, c.identifier, c.settings) for c in original.cues]
    assert out.read_text().startswith(VTT_HEAD)
    for cue, (_, a, _) in zip(written.cues, cues, strict=True):
        assert abs(cue.start - a) <= TOLERANCE
    # the same to SRT and JSON
    assert main(["sync", str(speech.short_wav), str(src), "-o", str(tmp_path / "out.srt"), "-q"]) == 0
    srt = read_subtitles(tmp_path / "out.srt")
    assert [c.text for c in srt.cues] == [f"<i>{t}</i>" for t, _, _ in cues]
    assert [(c.start, c.end) for c in srt.cues] == [(c.start, c.end) for c in written.cues]


def _vtt_clock(x: float) -> str:
    ms = round(x * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def test_cli_refuses_an_untrusted_result_unless_forced(speech, tmp_path, capsys):
    src = tmp_path / "other.srt"
    src.write_text(_srt([(speech.unused[k + 1], a, b) for k, (_, a, b) in enumerate(speech.cues[:SHORT])]))
    out = tmp_path / "out.srt"
    assert main(["sync", str(speech.short_wav), str(src), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "were found in the audio" in err and "--force" in err and not out.exists()
    assert err.count("subalign: error:") == 1 and len(err.strip().splitlines()) <= 2
    assert main(["sync", str(speech.short_wav), str(src), "-o", str(out), "-q", "--force"]) == 0
    assert len(read_subtitles(out).cues) == SHORT


@pytest.mark.parametrize(
    "subs_text, output, message",
    [
        ("1\n00:00:01,000 --> 00:00:02;000\nhi\n", "out.srt", "in.srt line 2: cannot read the cue timing"),
        ("1\n00:00:01,000 --> 00:00:02,000\nhi\n", "out.scc", "not a known output format"),
        ("1\n00:00:01,000 --> 00:00:02,000\nhi\n", "in.srt", "refusing to overwrite the input"),
        ("1\n00:00:01,000 --> 00:00:02,000\nhi\n", "nowhere/out.srt", "does not exist"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, subs_text, output, message):
    media = tmp_path / "silence.wav"
    write_wav(media, np.zeros(SR, dtype=np.float32))
    src = tmp_path / "in.srt"
    src.write_text(subs_text)
    assert main(["sync", str(media), str(src), "-o", str(tmp_path / output), "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert src.read_text() == subs_text


# --------------------------------------------------------------------------------------------
# Film-like audio: music, room tone, digital silence; the speech pattern and the words


@dataclass
class Film:
    wav: Path
    waveform: np.ndarray
    cues: list[tuple[str, float, float]]  # text, true start, true end
    joined: int  # the first `joined` cues are recordings joined with digital silence


@pytest.fixture(scope="module")
def film(timit, tmp_path_factory) -> Film:
    """About 80 s: six recordings joined with digital silence (each keeps its own room tone),
    then a music-only stretch, then ten utterances with a music bed 15 dB under the speech and
    room tone in the pauses; one cue per utterance, true times from the human labels."""
    rng = random.Random(3)
    parts, cues, t = [np.zeros(int(0.8 * SR), dtype=np.float32)], [], 0.8
    chosen = [u for u in timit_utterances(timit) if u[0] in ("dr4-maeb0", "dr5-ftlg0", "dr6-mbma1")]
    for k, (_, wav, prompt, first, last) in enumerate(chosen[:16]):
        audio = load_audio(wav, sample_rate=SR)
        if k == 6:
            parts.append(np.zeros(int(8 * SR), dtype=np.float32))  # music only, mixed below
            t += 8.0
        cues.append((prompt, t + first, t + last))
        parts.append(audio)
        t += len(audio) / SR
        gap = rng.uniform(0.4, 1.8)
        parts.append(np.zeros(int(gap * SR), dtype=np.float32))
        t += int(gap * SR) / SR
    waveform = np.concatenate(parts)
    speech_level = np.sqrt(np.mean(np.concatenate([load_audio(u[1], sample_rate=SR) for u in chosen[6:16]]) ** 2))
    bed_from = int((cues[6][1] - 8.5) * SR)
    music = music_bed(len(waveform) / SR - bed_from / SR + 1, seed=4)[: len(waveform) - bed_from]
    bed = music * speech_level * 10 ** (-15 / 20)
    only = slice(0, int(8 * SR))
    bed[only] = music[only] * speech_level  # the music-only stretch, as loud as the dialogue
    room = (np.random.default_rng(5).standard_normal(len(bed)) * 3e-4).astype(np.float32)
    waveform[bed_from:] += bed + room
    path = tmp_path_factory.mktemp("film") / "film.wav"
    write_wav(path, waveform)
    return Film(path, load_audio(path, sample_rate=SR), cues, 6)


@pytest.fixture(scope="module")
def film_emissions(film):
    return get_model("hama").emit(film.waveform)


def _film_subs(film: Film, text=lambda k, t: t, change=lambda a, k: a) -> object:
    return parse_subtitles(_srt([(text(k, t), change(a, k), change(b, k)) for k, (t, a, b) in enumerate(film.cues)]),
                           name="film.srt")


def test_fast_mode_syncs_text_in_any_language_by_its_speech(film):
    """No model, no words: German text, 12 s late and timed for 23.976 fps; the cue pattern
    places every cue on its speech."""
    german = ("Der alte Mann ging langsam über die Brücke und sah auf das Wasser hinunter "
              "während die Sonne hinter den Hügeln unterging").split()
    subs = _film_subs(film, text=lambda k, t: " ".join(german[k % 7 : k % 7 + max(3, len(t.split()) - 2)]),
                      change=lambda a, k: a * 23.976 / 25 + 12.0)
    result = retime(subs, film.waveform, None, None)
    assert result.mode == "fast" and result.trusted and result.found == 0
    assert {t.method for t in result.cues} == {"speech"}
    assert result.rate == pytest.approx(25 / 23.976, rel=2e-3)
    errors = [abs(t.start - a) for t, (_, a, _) in zip(result.cues, film.cues, strict=True)]
    assert statistics.median(errors) <= 0.06 and max(errors) <= 0.3, errors


def test_onsets_hold_for_digital_silence_room_tone_and_music(film, film_emissions):
    """Cue starts land on the speech, not on the room tone that opens each recording (digital
    silence between them) and not in the music bed: no bias either way."""
    subs = _film_subs(film, change=lambda a, k: a + 3.0)
    result = retime(subs, film.waveform, film_emissions, get_model("hama"))
    assert {t.method for t in result.cues} == {"words"}
    signed = [t.start - a for t, (_, a, _) in zip(result.cues, film.cues, strict=True)]
    for part in (signed[: film.joined], signed[film.joined :]):
        assert abs(statistics.median(part)) <= 0.03 and max(abs(x) for x in part) <= 0.15, part


def test_a_cue_whose_opening_words_were_dropped_starts_at_its_speech(film, film_emissions):
    """Condensed subtitles: the first two words of every other cue left out. Such a cue starts
    where its speech starts, not at its first matched word."""
    def condensed(k: int, text: str) -> str:
        return " ".join(text.split()[2:]) if k % 2 else text

    subs = _film_subs(film, text=condensed, change=lambda a, k: a - 2.0)
    result = retime(subs, film.waveform, film_emissions, get_model("hama"))
    cut = [(t, a) for k, (t, (_, a, _)) in enumerate(zip(result.cues, film.cues, strict=True)) if k % 2]
    assert all(t.method == "words" for t, _ in cut)
    errors = [abs(t.start - a) for t, a in cut]
    assert statistics.median(errors) <= 0.06 and max(errors) <= 0.2, errors


def test_cli_fast_mode_writes_each_cues_method(film, tmp_path):
    src = tmp_path / "in.srt"
    src.write_text(_srt([(t, a + 5, b + 5) for t, a, b in film.cues]), encoding="utf-8")
    out = tmp_path / "out.json"
    assert main(["sync", str(film.wav), str(src), "-o", str(out), "-q", "--fast"]) == 0
    import json

    doc = json.loads(out.read_text())
    assert doc["meta"]["mode"] == "fast" and doc["meta"]["methods"]["speech"] == len(film.cues)
    assert all(c["method"] == "speech" and c["status"] == "aligned" for c in doc["cues"])
    assert doc["meta"]["pattern_confidence"] >= 6


def _islands_for(film: Film, monkeypatch) -> None:
    """The film (80 s, 16 cues) takes the path of long media: emissions only around the cues,
    in jobs that the workers run (computing and aligning), a probe of 4 cues first."""
    from subalign import sync
    from subalign.models import workers

    monkeypatch.setattr(sync, "ISLANDS_FROM", 30.0)
    monkeypatch.setattr(sync, "PROBE_CUES", 4)
    monkeypatch.setattr(workers, "MIN_POOL_SECONDS", 5.0)


def test_cues_aligned_in_worker_jobs_match_this_process(film, monkeypatch):
    """Two workers compute and align the stretches around the cues: the same times, words and
    methods as one process, and the cues on their speech."""
    from subalign.models import load_model
    from subalign.models.workers import Emitter

    _islands_for(film, monkeypatch)
    model = load_model("hama", "auto", "auto")
    subs = _film_subs(film, change=lambda a, k: a + 4.0)
    one = retime(subs, film.waveform, None, model, emitter=Emitter(model, "hama", jobs=1))
    two = retime(subs, film.waveform, None, model, emitter=Emitter(model, "hama", jobs=2))
    from subalign.models import workers

    assert workers._pools[("hama", "auto", "auto", 2)]._executor is not None  # the workers ran the jobs
    assert one.timings["emitted_seconds"] < 0.8 * len(film.waveform) / SR  # only around the cues
    assert two.timings["emitted_seconds"] == one.timings["emitted_seconds"]
    assert [t.method for t in two.cues] == [t.method for t in one.cues]
    assert all(t.method == "words" for t in two.cues)
    for a, b in zip(one.cues, two.cues, strict=True):
        assert (a.start, a.end) == pytest.approx((b.start, b.end), abs=1e-6)
        assert [(w.text, round(w.start, 6), round(w.end, 6)) for w in a.words] == \
               [(w.text, round(w.start, 6), round(w.end, 6)) for w in b.words]
    errors = [abs(t.start - a) for t, (_, a, _) in zip(two.cues, film.cues, strict=True)]
    assert statistics.median(errors) <= 0.03 and max(errors) <= 0.15, errors


def test_a_translation_stops_after_the_probe(film, monkeypatch):
    """Subtitles in another language: the probe's cues are not found by their words, so no more
    emissions are computed, and the speech pattern places every cue."""
    from subalign.models import load_model
    from subalign.models.workers import Emitter

    _islands_for(film, monkeypatch)
    model = load_model("hama", "auto", "auto")
    german = ("Der alte Mann ging langsam über die Brücke und sah auf das Wasser hinunter "
              "während die Sonne hinter den Hügeln unterging").split()
    other = _film_subs(film, text=lambda k, t: " ".join(german[k % 7 : k % 7 + max(3, len(t.split()) - 2)]),
                       change=lambda a, k: a + 4.0)
    exact = retime(_film_subs(film, change=lambda a, k: a + 4.0), film.waveform, None, model,
                   emitter=Emitter(model, "hama", jobs=1))
    result = retime(other, film.waveform, None, model, emitter=Emitter(model, "hama", jobs=2))
    assert result.timings["probe_found"] < 0.15 and exact.timings["probe_found"] == 1.0
    assert result.timings["emitted_seconds"] < 0.5 * exact.timings["emitted_seconds"]
    assert result.found == 0 and {t.method for t in result.cues} == {"speech"}
    errors = [abs(t.start - a) for t, (_, a, _) in zip(result.cues, film.cues, strict=True)]
    assert statistics.median(errors) <= 0.06 and max(errors) <= 0.3, errors


def test_island_members_are_the_cues_whose_middle_lies_in_them():
    """The one-pass assignment of cues to stretches equals the plain definition (every stretch,
    every cue), also where a long cue makes stretches overlap or nest."""
    from types import SimpleNamespace

    from subalign.sync import _islands, _members

    rng = random.Random(1)
    for _ in range(500):
        t, spans = 0.0, []
        for _ in range(rng.randint(1, 60)):
            t += rng.uniform(0, 3)
            d = rng.uniform(0.3, 6)
            spans.append((t, t + d))
            t += d * rng.uniform(-0.5, 1)
        fs = 0.02
        predicted = {i: (a, b, True) for i, (a, b) in enumerate(spans)}
        cues = [SimpleNamespace(index=i) for i in range(len(spans))]
        islands = _islands([(a - 0.3, b + 0.3) for a, b in spans], fs, int(max(b for _, b in spans) / fs) + 100,
                           rng.choice([2.0, 4.0, 8.0, 120.0]))
        plain = [[c.index for c in cues if lo * fs <= sum(predicted[c.index][:2]) / 2 < hi * fs] for lo, hi in islands]
        assert [[c.index for c in m] for m in _members(cues, islands, predicted, fs)] == plain


def test_the_main_process_of_a_sync_in_workers_goes_without_torch(film, tmp_path):
    """When the workers compute and align the stretches around the cues, this process only
    tokenizes, detects speech and plans: it never imports torch (a second of a film's sync), and
    the result still names the backend the workers aligned with."""
    import json
    import os
    import subprocess
    import sys

    from subalign.align import forced_align_backend

    srt = tmp_path / "film.srt"
    srt.write_text(_srt([(t, a + 4.0, b + 4.0) for t, a, b in film.cues]), encoding="utf-8")
    code = (
        "import json, sys\n"
        "from subalign import sync\n"
        "from subalign.formats import read_subtitles\n"
        "from subalign.models import workers\n"
        "sync.ISLANDS_FROM, sync.PROBE_CUES, workers.MIN_POOL_SECONDS = 30.0, 4, 5.0\n"
        "r = sync.sync_subtitles(sys.argv[1], read_subtitles(sys.argv[2]), jobs=2)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'backend': r.backend,\n"
        "                  'methods': [c.method for c in r.cues], 'starts': [c.start for c in r.cues]}))\n")
    from subalign import sync

    root = str(Path(sync.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, sys.path)])}
    proc = subprocess.run([sys.executable, "-c", code, str(film.wav), str(srt)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["torch"] is False
    assert out["backend"] == forced_align_backend()
    assert set(out["methods"]) == {"words"}
    errors = [abs(s - a) for s, (_, a, _) in zip(out["starts"], film.cues, strict=True)]
    assert statistics.median(errors) <= 0.03, errors


def test_cues_that_stay_up_for_reading_get_emissions_for_their_speech_only(film, monkeypatch):
    """Subtitles come up with the words and stay up for reading: cues 0.05-0.3 s early and
    0.5-1.2 s long at the end. Each cue's stretch is cut to the speech detected in it, so about
    as much audio gets emissions as for cues that match their speech (without the cut, much
    more), and every cue is still found by its words, on its speech."""
    from subalign import sync
    from subalign.models import load_model
    from subalign.models.workers import Emitter

    _islands_for(film, monkeypatch)
    model = load_model("hama", "auto", "auto")
    padded = reading_time([(a, b) for _, a, b in film.cues], seed=5, gap=0.35)
    subs = parse_subtitles(_srt([(t, s + 4.0, e + 4.0) for (t, _, _), (s, e) in zip(film.cues, padded, strict=True)]),
                           name="film.srt")
    emitter = Emitter(model, "hama", jobs=1)
    exact = retime(_film_subs(film, change=lambda a, k: a + 4.0), film.waveform, None, model, emitter=emitter)
    result = retime(subs, film.waveform, None, model, emitter=emitter)
    assert all(t.method == "words" for t in result.cues)
    errors = [abs(t.start - a) for t, (_, a, _) in zip(result.cues, film.cues, strict=True)]
    assert statistics.median(errors) <= 0.03 and max(errors) <= 0.15, errors
    monkeypatch.setattr(sync, "_trimmed", lambda predicted, activity: predicted)
    whole = retime(subs, film.waveform, None, model, emitter=emitter)
    assert result.timings["emitted_seconds"] <= 1.1 * exact.timings["emitted_seconds"]
    assert whole.timings["emitted_seconds"] >= 1.2 * exact.timings["emitted_seconds"]
