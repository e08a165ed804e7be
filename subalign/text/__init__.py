"""The text stage: read transcripts and subtitle files, split text into words with spoken forms,
and see past markup.

* `read` — one reader for every text input, and the two decoders (transcripts, subtitles);
* `fit` — a cheap check that a text can be spoken in the audio's time, before any G2P;
* `words` — `Word`, `split_words` and the one rule for where a sentence ends;
* `spoken` — spoken forms of numbers, symbols, abbreviations and acronyms;
* `markup` — the one tag / sound-description stripper and escaper.
"""

from .fit import check_text_fits
from .markup import escape, split_markup, spoken_text, strip_tags, unescape
from .read import decode_subtitles, decode_transcript, read_bytes, read_text
from .spoken import spoken_form
from .words import Word, is_sentence_end, split_words

__all__ = [
    "Word",
    "check_text_fits",
    "decode_subtitles",
    "decode_transcript",
    "escape",
    "is_sentence_end",
    "read_bytes",
    "read_text",
    "split_markup",
    "split_words",
    "spoken_form",
    "spoken_text",
    "strip_tags",
    "unescape",
]
