"""Can this text be spoken in this much audio? A cheap, conservative answer before any real work.

The exact test (`align.words.check_fits`) needs the text's sounds, which come from the G2P and
the model: minutes for a wrong file of megabytes (a 5 MB transcript for 3 s of audio, a cue of
one 10,000-letter "word"). `check_text_fits` looks only at the characters, in time linear in the
text and stopping early, and refuses only what no speaker could say:

* **rate**: more than `MAX_LETTERS_PER_SECOND` letters and digits per second of audio (at least
  one second). The fastest speech on record is about 600 words a minute, some 45 letters a
  second, so 100 is more than twice any human rate; numbers count one per digit ("1999" is said
  in more letters than it has digits). Words the G2P cannot say and markup are not counted, so
  the estimate only ever undercounts.
* **word length**: a run of more than `MAX_WORD_LETTERS` letters with no space, digit or
  punctuation, in a script written with spaces between words. The longest words people say are
  well under 100 letters (German compounds, the 85-letter Maori place name Taumata...), so 200
  is never reached by a real word. Scripts written without spaces (Chinese, Japanese, Thai, Lao,
  Khmer, Myanmar, Tibetan, Yi, Javanese, Balinese) are not limited: a whole sentence or paragraph
  of them is one "word" to the splitter (`words.split_words`), and their G2P is fast for any
  length; only the rate applies to them.

A text that passes may still be refused by the exact test after the G2P.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import TranscriptError

__all__ = ["MAX_LETTERS_PER_SECOND", "MAX_WORD_LETTERS", "check_text_fits"]

#: Letters and digits one second of audio can hold at most (over twice the fastest speech).
MAX_LETTERS_PER_SECOND = 100.0
#: The longest run of letters one word of a script written with spaces can have.
MAX_WORD_LETTERS = 200

# Scripts written without spaces between words.
_SPACELESS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u0f00-\u0fff"  # Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff\u19e0-\u19ff"  # Khmer
    "\u1b00-\u1b7f"  # Balinese
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b\u303c"  # CJK radicals, marks
    "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # Hiragana, Katakana
    "\u3100-\u312f\u31a0-\u31bf"  # Bopomofo
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # Han
    "\ua000-\ua4cf"  # Yi
    "\ua980-\ua9df"  # Javanese
)
_LETTER = rf"[^\W\d_{_SPACELESS}]"
# Runs of too many word characters (letters of any script, digits), then within one such run a
# run of too many letters of a spaced script; both matched only from a run's first character, so
# the scan stays linear whatever the text.
_CANDIDATE = re.compile(rf"(?<!\w)\w{{{MAX_WORD_LETTERS + 1},}}")
_LONG_WORD = re.compile(rf"(?<!{_LETTER}){_LETTER}{{{MAX_WORD_LETTERS + 1},}}")
_NOT_ALNUM = re.compile(r"[\W_]+")
_SLICE = 1 << 20  # characters counted at a time, so a huge text stops early


def check_text_fits(
    texts: str | Iterable[str], duration: float | None, what: str = "the transcript"
) -> None:
    """Raise a TranscriptError (one line) when `texts` (one text, or pieces such as cues) cannot
    be spoken in `duration` seconds of audio, or holds a word no one can say; None `duration`
    (unknown) checks the words only. See the module's docstring for the two rules."""
    pieces = [texts] if isinstance(texts, str) else list(texts)
    if duration is not None:
        _check_rate(pieces, duration, what)
    for piece in pieces:  # after the rate check, which bounds the text by the audio's length
        for run in _CANDIDATE.finditer(piece):
            long = _LONG_WORD.search(run.group(0))
            if long is not None:
                word = long.group(0)
                raise TranscriptError(
                    f"a word in {what} has {len(word):,} letters with no space or punctuation "
                    f"(\"{word[:24]}…\"); no spoken word is longer than {MAX_WORD_LETTERS} "
                    "letters (scripts written without spaces, such as Chinese or Thai, are not "
                    "limited)"
                )


def _check_rate(pieces: list[str], duration: float, what: str) -> None:
    budget = int(MAX_LETTERS_PER_SECOND * max(duration, 1.0))
    if sum(map(len, pieces)) <= budget:  # fewer characters than the budget: nothing to count
        return
    letters = 0
    for piece in pieces:
        for start in range(0, len(piece), _SLICE):
            letters += len(_NOT_ALNUM.sub("", piece[start : start + _SLICE]))
            if letters > budget:
                raise TranscriptError(
                    f"the text is far too long for the audio: more than {budget:,} letters and "
                    f"digits in {what}, and no one says more than {MAX_LETTERS_PER_SECOND:g} a "
                    f"second (over twice the fastest speech on record) in its {duration:.1f} s; "
                    "is it the right text for this file?"
                )
