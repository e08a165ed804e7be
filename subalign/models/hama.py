"""The embedded acoustic model: hama's multilingual phoneme CTC model and its G2P.

hama (PyPI, Apache-2.0) ships a ~5 MB phoneme recogniser (log-probs over an IPA vocabulary with
`<blank>` and a word-boundary token `<wb>`, one frame per 320 samples = 20 ms at 16 kHz) and a
G2P model that spells text in the same IPA tokens. The recogniser accepts at most 1500 frames
(30 s) per call, so long audio runs in overlapping windows.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ModelError
from .base import EmissionModel, Window, plan_windows, windowed_emissions

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
HOP = 320  # samples per output frame
MAX_FRAMES = 1500  # the recogniser's hard limit per call (30 s); longer input is silently cut
#: Audio (s) per model call, and the audio each call carries on either side of the frames it
#: keeps. The engine's cost per second of audio grows with the call's length (attention: 0.057 s
#: per second in 1 s calls, 0.076 in 10 s, 0.090 in 20 s, 0.111 in 29.5 s, one core), so shorter
#: calls pay for their larger share of context. Measured by bench/context.py (7.7 min of TIMIT
#: speech, 2,078 labelled boundaries, one process): 29.5 s windows with 2 s of context (before):
#: 83.8 % within 25 ms, 94.0 % within 50 ms, emissions 59.2 s; 12 s with 1.5 s: 83.9 %, 94.2 %,
#: 46.3 s (-22 %); 10 s with 1 s: 83.8 %, 93.9 %, 42.9 s; 16 s with 2 s: 83.6 %, 94.2 %, 52.7 s.
WINDOW_SECONDS = 12.0
CONTEXT_SECONDS = 1.5


#: Characters of input the G2P model is built for. hama pads every word to its input length
#: (128 by default) and the padding costs time; spoken words are short, and a longer one gets a
#: model built for 128 (the output is the same: checked on TIMIT's prompts).
G2P_INPUT = 16


#: The recogniser's tokens for ~124,000 English spoken words (the spoken forms of the CMU
#: Pronouncing Dictionary's headwords), computed by tools/build_lexicon.py with this module's own
#: G2P path (`HamaModel.g2p_symbols`). The G2P costs ~3 ms of one core per distinct word; a
#: lookup costs microseconds. Words not in it go through the G2P.
LEXICON = Path(__file__).with_name("data") / "hama_lexicon.txt.gz"
_G2P_ASSETS = ("encoder.hama", "decoder_step.hama", "g2p_vocab.json", "asr_waveform.hama")
#: Between a word's token symbols in the lexicon (no symbol of the vocabulary contains it).
SEPARATOR = "|"


def lexicon_key() -> str:
    """What the lexicon's phonemes depend on: hama's version and its G2P assets (their sizes).
    A lexicon written under another key is not used."""
    from importlib import metadata

    import hama

    assets = Path(hama.__file__).with_name("assets")
    try:
        version = metadata.version("hama")
    except metadata.PackageNotFoundError:
        version = "unknown"
    sizes = " ".join(f"{a}={(assets / a).stat().st_size if (assets / a).exists() else 0}" for a in _G2P_ASSETS)
    return f"hama={version} {sizes}"


@cache
def _lexicon(path: Path = LEXICON) -> dict[str, str]:
    """spoken word -> its token symbols (joined by SEPARATOR), or {} when the file is missing or
    was built for another hama (then every word goes through the G2P, as before)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            text = f.read()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        log.debug("no pronunciation lexicon (%s): every word goes through the G2P", exc)
        return {}
    head, _, body = text.partition("\n")
    if head != f"# {lexicon_key()}":
        log.debug("the pronunciation lexicon was built for %r, not %r: not used", head[2:], lexicon_key())
        return {}
    out: dict[str, str] = {}
    for line in body.splitlines():
        word, tab, phonemes = line.partition("\t")
        if tab:
            out[word] = phonemes
    return out


def _g2p(hama: object, max_input_len: int) -> object:
    """hama's G2P model with its vocabulary's lookup tables built once: hama 1.7 rebuilds both
    tables on every access (twice per character), which made tokenizing ~5x slower."""
    g2p = hama.G2PModel(max_input_len=max_input_len)  # type: ignore[attr-defined]
    vocab = g2p.vocab
    try:
        fast = _CachedVocabulary(encoder=vocab.encoder, decoder=vocab.decoder)
        g2p.vocab = fast
        g2p.tokenizer.vocab = fast
    except (AttributeError, TypeError):  # another hama: keep its own
        pass
    return g2p


class _CachedVocabulary:
    """hama's G2P vocabulary with its lookup tables computed once (same fields and properties)."""

    def __init__(self, encoder: list[str], decoder: list[str]) -> None:
        self.encoder, self.decoder = encoder, decoder
        self.encoder_token_to_id = {t: i for i, t in enumerate(encoder)}
        self.decoder_token_to_id = {t: i for i, t in enumerate(decoder)}
        self.pad_id = self.decoder_token_to_id["<pad>"]
        self.sos_id = self.decoder_token_to_id["<sos>"]
        self.eos_id = self.decoder_token_to_id["<eos>"]


class HamaModel(EmissionModel):
    """hama phoneme CTC emissions + G2P tokenisation (English and Korean; other languages
    through espeak-ng, mapped into hama's phonemes)."""

    name = "hama"
    sample_rate = SAMPLE_RATE
    frame_seconds = HOP / SAMPLE_RATE
    languages = ("en", "ko")
    license = "Apache-2.0 (weights ship inside the hama wheel)"
    device = "cpu"

    @property
    def boundary_weights(self) -> dict:
        """The word-boundary scorers fitted on this model's emissions (`hama_boundaries.py`)."""
        from .hama_boundaries import WEIGHTS

        return WEIGHTS

    @classmethod
    def describe(cls, arg: str | None = None) -> dict:
        """Listing data (no model is loaded)."""
        from . import g2p_espeak

        more = ("+ ~100 more via espeak-ng" if g2p_espeak.available()
                else "(more with subalign[espeak])")
        return {
            "summary": "embedded multilingual phoneme CTC model (~5 MB) and G2P",
            "languages": f"en, ko (own G2P) {more}",
            "sample_rate": SAMPLE_RATE, "frame_seconds": HOP / SAMPLE_RATE,
            "license": cls.license, "weights": "embedded (in the hama wheel)",
            "usage": "--model hama --language CODE",
        }

    def __init__(
        self, arg: str | None = None, *, device: str = "auto",
        window_seconds: float = WINDOW_SECONDS, context_seconds: float = CONTEXT_SECONDS,
    ) -> None:
        if arg:
            raise ModelError(f"the hama model takes no argument (got {arg!r}); use --model hama")
        if (device or "auto").lower() not in ("auto", "cpu"):
            raise ModelError("the embedded hama model runs on the CPU only; use --device cpu or auto")
        try:
            import hama
        except ImportError as exc:  # pragma: no cover - hama is a hard dependency
            raise ModelError(f"the embedded model needs the 'hama' package: {exc}") from exc
        if window_seconds * SAMPLE_RATE / HOP >= MAX_FRAMES:
            raise ModelError(f"hama accepts at most {MAX_FRAMES * HOP / SAMPLE_RATE:.0f} s per call")
        self._asr = hama.ASRModel()
        self._g2p = _g2p(hama, G2P_INPUT)
        self._g2p_long: object | None = None  # for the rare spoken part longer than G2P_INPUT
        self.vocabulary: list[str] = list(self._asr.decoder_tokens)
        self.blank: int = self.vocabulary.index("<blank>")
        self.word_boundary: int = self.vocabulary.index("<wb>")
        self._ids = {tok: i for i, tok in enumerate(self.vocabulary)}
        self._window = int(window_seconds * SAMPLE_RATE)
        self._context = int(context_seconds * SAMPLE_RATE)
        self._cache: dict[str, list[int]] = {}
        #: the pronunciation lexicon consulted before the G2P (None: the G2P for every word, as
        #: with SUBALIGN_NO_LEXICON=1 in the environment)
        self.lexicon_path: Path | None = None if os.environ.get("SUBALIGN_NO_LEXICON") else LEXICON
        self._espeak: dict[str, tuple[object, dict[str, list[int]]]] = {}

    # -- text -> tokens -------------------------------------------------------------------------
    def tokenize(self, words: Sequence[str], language: str | None = None) -> list[list[int]]:
        """Phoneme ids for each spoken form; G2P runs once per distinct sub-word (cached).

        English and Korean (and no language) use hama's own G2P; any other language goes through
        espeak-ng, whose phonemes are mapped onto the recogniser's vocabulary.
        """
        base = self._base(language)
        if base in self.languages:
            return [self._tokenize_word(w) for w in words]
        return [self._tokenize_espeak(w, language or base) for w in words]

    @staticmethod
    def _base(language: str | None) -> str:
        """The language's base code ("en" for "en-US", "pt" for "pt_BR"; "en" for none)."""
        return (language or "en").strip().replace("-", "_").split("_")[0].lower()

    def costly_forms(self, words: Sequence[str], language: str | None = None) -> list[str]:
        """The words with a part neither in the lexicon nor tokenized before (espeak's
        languages: all but those tokenized before)."""
        if self._base(language) not in self.languages:
            return list(words)
        lexicon, cached = self._lexicon, self._cache
        return [w for w in words if any(p not in cached and p not in lexicon for p in w.split())]

    def _tokenize_espeak(self, spoken: str, language: str) -> list[int]:
        from .g2p_espeak import EspeakG2P, to_inventory

        if language not in self._espeak:
            self._espeak[language] = (EspeakG2P(language), {})
        g2p, cache = self._espeak[language]
        ids: list[int] = []
        for part in spoken.split():
            cached = cache.get(part)
            if cached is None:
                cached = [self._ids[p] for ph in g2p.phonemes(part)  # type: ignore[attr-defined]
                          for p in to_inventory(ph, self._ids) if p in self._ids]
                cache[part] = cached
            ids.extend(cached)
        return ids

    def _tokenize_word(self, spoken: str) -> list[int]:
        ids: list[int] = []
        for part in spoken.split():
            cached = self._cache.get(part)
            if cached is None:
                known = self._lexicon.get(part)
                symbols = self.g2p_symbols(part) if known is None else known.split(SEPARATOR) if known else []
                cached = [self._ids[p] for p in symbols if p in self._ids]
                self._cache[part] = cached
            ids.extend(cached)
        return ids

    @property
    def _lexicon(self) -> dict[str, str]:
        return _lexicon(self.lexicon_path) if self.lexicon_path is not None else {}

    def g2p_symbols(self, part: str) -> list[str]:
        """The recogniser's tokens (symbols) for one spoken part by hama's G2P, lexicon aside:
        its phonemes that the recogniser knows, blank and word boundary left out."""
        out = []
        for al in self._g2p_for(part).predict(part).alignments:
            tid = self._ids.get(al.phoneme)
            if tid is None or tid in (self.blank, self.word_boundary):
                log.debug("G2P token %r of %r is not in the recogniser's vocabulary", al.phoneme, part)
                continue
            out.append(al.phoneme)
        return out

    def _g2p_for(self, part: str) -> object:
        """The G2P model for a spoken part: the short-input one unless the part is too long."""
        if (len(part) if part.isascii() else 3 * len(part)) < G2P_INPUT:  # jamo: up to 3 a syllable
            return self._g2p
        if self._g2p_long is None:
            import hama

            self._g2p_long = _g2p(hama, 128)
        return self._g2p_long

    # -- audio -> log-probs ---------------------------------------------------------------------
    def window_plan(self, num_samples: int) -> list[Window]:
        return plan_windows(num_samples, HOP, self._window, self._context)

    def emit_window(self, samples: np.ndarray) -> np.ndarray:
        return self._run(np.ascontiguousarray(np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)))

    def num_frames(self, num_samples: int) -> int:
        """Frames the recogniser emits for `num_samples` samples."""
        return num_samples // HOP + 1

    def emit(self, waveform: np.ndarray, progress: Callable[[float], None] | None = None) -> torch.Tensor:
        """Log-probabilities (T, C) for a float32 mono 16 kHz waveform, T = len // 320 + 1."""
        wav = np.ascontiguousarray(np.clip(np.asarray(waveform, dtype=np.float32), -1.0, 1.0))
        if wav.ndim != 1:
            raise ModelError("the waveform must be mono (one dimension)")
        return windowed_emissions(
            self._run, wav, HOP, self._window, self._context,
            progress=(lambda n: progress(n / SAMPLE_RATE)) if progress else None,
        )

    def _run(self, samples: np.ndarray) -> np.ndarray:
        asr = self._asr
        feeds = {
            asr._waveform_input_name: samples.reshape(1, -1),
            asr._waveform_lengths_input_name: np.array([samples.shape[0]], dtype=np.int64),
        }
        log_probs, out_lengths = asr.session.run(
            [asr._log_probs_output_name, asr._out_lengths_output_name], feeds
        )
        n = int(np.asarray(out_lengths).reshape(-1)[0])
        return np.asarray(log_probs)[0, :n]
