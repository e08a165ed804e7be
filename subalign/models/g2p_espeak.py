"""Pronunciations for languages hama's own G2P does not read, from espeak-ng (extra `subalign[espeak]`).

espeak-ng's library spells a word in IPA with one separator between phonemes
(`espeak_TextToPhonemes`). It is called through ctypes: the library and its voice data come from
the `espeakng-loader` wheel (pip only, nothing to build), or from a system `libespeak-ng`
(Debian: `apt-get install libespeak-ng1`). espeak-ng is GPL-3.0; it is loaded at run time only
when a user asks for a language that needs it.

`to_inventory` maps espeak's phonemes onto the recogniser's vocabulary. hama's recogniser hears
best the phones its own G2P writes for English and Korean, so a phone outside that core set is
replaced by its nearest core phone(s) on phonetic grounds (place, manner, height, rounding):
French /ʁ/ → ɹ, nasal vowels → oral vowel + n, /y/ → i, German /x ç/ → h, Spanish /β ɣ/ → b g,
/ɲ/ → n j, and so on. Stress and length marks are dropped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import unicodedata
from collections.abc import Mapping
from functools import cache

from ..errors import ModelError

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'subalign[espeak]' (espeakng-loader, which ships libespeak-ng and its data)"
_SEPARATOR = "_"
_IPA = 0x02  # espeakPHONEMES_IPA
_CHARS_UTF8 = 1  # espeakCHARS_UTF8
_AUDIO_SYNCHRONOUS = 0x02  # AUDIO_OUTPUT_SYNCHRONOUS: no audio device is opened
_lock = threading.Lock()

#: The phones hama's G2P writes for English and Korean text: what its recogniser knows best.
CORE = frozenset(
    "a aɪ aʊ b d d͡ʒ e eɪ f g h i j jo jʌ ja ju k k͈ l m n o oʊ p p͈ s s͈ t t͈ t͡ɕ t͡ɕʰ t͡ɕ͈ t͡ʃ u v "
    "w we wi z æ ð ŋ ɑ ɔ ɔɪ ə ɛ ɝ ɚ ɪ ɯ ɯi ɹ ɾ ʃ ʊ ʌ ʒ θ".split()
)

#: Nearest core phone(s) for espeak phones outside CORE (after stress/length marks are removed).
NEAREST: Mapping[str, tuple[str, ...]] = {
    # rhotics and laterals
    "ʁ": ("ɹ",), "ʀ": ("ɹ",), "r": ("ɾ",), "ɽ": ("ɾ",), "ɻ": ("ɹ",), "ɫ": ("l",), "ɬ": ("l",),
    "ʎ": ("l", "j"), "ɭ": ("l",),
    # fricatives
    "x": ("h",), "χ": ("h",), "ç": ("h",), "ɣ": ("g",), "ʁ̞": ("ɹ",), "β": ("b",), "ɸ": ("f",),
    "ʝ": ("j",), "ɦ": ("h",), "ħ": ("h",), "ʂ": ("ʃ",), "ʐ": ("ʒ",), "ɕ": ("ʃ",), "ʑ": ("ʒ",),
    # affricates spelled without a tie bar, and those hama lacks
    "tʃ": ("t͡ʃ",), "dʒ": ("d͡ʒ",), "ts": ("t", "s"), "t͡s": ("t", "s"), "dz": ("d", "z"),
    "d͡z": ("d", "z"), "pf": ("p", "f"), "tɕ": ("t͡ʃ",), "dʑ": ("d͡ʒ",), "ʈʂ": ("t͡ʃ",),
    # nasals and approximants
    "ɲ": ("n", "j"), "ɱ": ("m",), "ɴ": ("ŋ",), "ɥ": ("w",), "ʋ": ("v",), "ɰ": ("w",),
    # stops
    "ɡ": ("g",), "c": ("k",), "ɟ": ("g",), "q": ("k",), "ʈ": ("t",), "ɖ": ("d",), "ʔ": (),
    # front rounded and central vowels
    "y": ("i",), "ʏ": ("ɪ",), "ø": ("e",), "œ": ("ɛ",), "ɵ": ("ə",), "ɐ": ("ʌ",), "ɜ": ("ə",),
    "ɘ": ("ə",), "ɨ": ("ɪ",), "ʉ": ("u",), "ɤ": ("ʌ",), "ɒ": ("ɔ",), "ɞ": ("ə",), "ᵻ": ("ɪ",),
    "ɶ": ("ɛ",),
    # diphthongs hama writes differently
    "ɔø": ("ɔɪ",), "ɔʏ": ("ɔɪ",), "ai": ("aɪ",), "au": ("aʊ",), "ei": ("eɪ",), "oi": ("ɔɪ",),
    "eu": ("e", "u"), "ou": ("oʊ",), "əʊ": ("oʊ",), "eə": ("ɛ", "ə"), "ɪə": ("ɪ", "ə"),
    "ʊə": ("ʊ", "ə"), "aɪə": ("aɪ", "ə"), "aʊə": ("aʊ", "ə"),
}  # fmt: skip

_DROP = set("ˈˌː ˑ-'‿|%=")
_NASAL = "\u0303"


def to_inventory(phoneme: str, vocabulary: Mapping[str, int]) -> list[str]:
    """The recogniser phone(s) for one espeak IPA phoneme, best first-choice: core as is, else the
    nearest-phone table, else the phoneme without diacritics, else its letters one by one."""
    ph = "".join(ch for ch in unicodedata.normalize("NFD", phoneme) if ch not in _DROP)
    if not ph:
        return []
    if _NASAL in ph:  # nasal vowel: the oral vowel, then a nasal consonant
        return to_inventory(ph.replace(_NASAL, ""), vocabulary) + ["n"]
    ph = unicodedata.normalize("NFC", ph)
    if ph in CORE:
        return [ph]
    if ph in NEAREST:
        return [p for p in NEAREST[ph] if p in vocabulary]
    bare = "".join(ch for ch in unicodedata.normalize("NFD", ph) if not unicodedata.combining(ch)
                   and ch not in "ʰʲʷˠˤ")
    if bare != ph and bare:
        return to_inventory(bare, vocabulary)
    if ph in vocabulary:
        return [ph]
    if len(ph) > 1:
        return [p for ch in ph for p in to_inventory(ch, vocabulary)]
    log.debug("espeak phoneme %r has no counterpart in the recogniser's vocabulary; dropped", phoneme)
    return []


def _library_paths() -> list[tuple[str, str | None]]:
    """Candidate (library, data folder parent) pairs: the espeakng-loader wheel, then the system."""
    out: list[tuple[str, str | None]] = []
    try:
        import espeakng_loader

        out.append((espeakng_loader.get_library_path(), os.path.dirname(espeakng_loader.get_data_path())))
    except ImportError:
        pass
    for name in ("espeak-ng", "espeak-ng.so.1"):
        found = ctypes.util.find_library(name)
        if found:
            out.append((found, None))
    out.append(("libespeak-ng.so.1", None))
    return out


@cache
def _library() -> ctypes.CDLL:
    """Load and initialise libespeak-ng once per process."""
    errors = []
    for path, data in _library_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            errors.append(str(exc))
            continue
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        rate = lib.espeak_Initialize(_AUDIO_SYNCHRONOUS, 0, data.encode() if data else None, 0)
        if rate <= 0:
            errors.append(f"{path}: espeak_Initialize failed ({rate}); its voice data was not found")
            continue
        return lib
    raise ModelError(
        "languages other than English and Korean need espeak-ng, which is not available"
        f"{' (' + '; '.join(errors[:1]) + ')' if errors else ''}; {INSTALL_HINT}"
    )


def available() -> bool:
    """Whether espeak-ng can be loaded here."""
    try:
        _library()
    except ModelError:
        return False
    return True


def _voice_names(language: str) -> list[str]:
    code = language.strip().replace("_", "-").lower()
    base = code.split("-")[0]
    return [code] if code == base else [code, base]


class EspeakG2P:
    """IPA phonemes for single words in one language (cached; one espeak call per new word)."""

    def __init__(self, language: str) -> None:
        self.language = language
        lib = _library()
        for voice in _voice_names(language):
            with _lock:
                if lib.espeak_SetVoiceByName(voice.encode()) == 0:
                    self.voice = voice
                    break
        else:
            raise ModelError(
                f"espeak-ng has no voice for language {language!r}; use an ISO 639 code it knows, "
                "e.g. fr, de, es, it, pt, nl, pl, ru, sv, tr"
            )
        self._cache: dict[str, list[str]] = {}

    def phonemes(self, word: str) -> list[str]:
        """The IPA phonemes espeak-ng reads for `word` (stress marks kept, as espeak writes them)."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        lib = _library()
        out: list[str] = []
        data = ctypes.create_string_buffer(word.encode("utf-8"))
        pointer = ctypes.c_char_p(ctypes.addressof(data))
        mode = _IPA | (ord(_SEPARATOR) << 8)
        with _lock:
            lib.espeak_SetVoiceByName(self.voice.encode())
            while pointer.value:
                result = lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, mode)
                if not result:
                    break
                for chunk in result.decode("utf-8", errors="replace").split():
                    out.extend(p for p in chunk.split(_SEPARATOR) if p)
        self._cache[word] = out
        return out
