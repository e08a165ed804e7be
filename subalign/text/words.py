"""Splitting text into words, and the one rule for where a sentence ends.

Every `Word` keeps its original text exactly as written (case, punctuation, digits, symbols),
because that is what the subtitles show, plus its spoken form (`spoken.py`) for the aligner and
where it sits (end of a sentence, line or paragraph) so cues can break in the right places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import TranscriptError
from .spoken import Lang, mostly_capitals, speak, starts_capital, starts_number

__all__ = ["CLOSERS", "OPENERS", "Word", "is_sentence_end", "split_words"]

#: Closing quotes and brackets that may follow a sentence's final punctuation.
CLOSERS = "\"'”’»)]}›」』"
#: Opening quotes and brackets that may precede a word.
OPENERS = "\"'“‘«([{„‚‹「『¿¡"

_TOKEN = re.compile(r"\S+")
_SENTENCE_END = re.compile(rf"[.!?…‼⁇⁈⁉‽。！？][{re.escape(CLOSERS)}]*\Z")
# Words ending in "." that stand before a name, a number or a noun, and so end a sentence only
# where the text (or its paragraph) ends: titles, months, "e.g.", "Fig.", "vs." (lower case,
# without the final dot).
_BEFORE_SOMETHING = frozenset(
    """mr mrs ms dr prof mt gen capt sgt lt col gov sen rep rev hon st jan feb mar apr aug sep
    sept oct nov dec vs v e.g i.e cf approx fig figs vol vols eq pp""".split()
)
# Abbreviations that often end a sentence too: they do when the next word starts with a capital
# letter (or nothing follows). Dotted letter runs ("p.m.", "U.S.") count as these.
_SOFT = frozenset("etc jr sr inc ltd co corp ave blvd rd dept univ ph.d o.k esq".split())


@dataclass(frozen=True)
class Word:
    """One transcript word: its original text and offsets in the source, its spoken form, and
    where it sits (end of a sentence, line or paragraph) so cues can break in the right places."""

    text: str
    spoken: str
    start: int
    end: int
    sentence_end: bool = False
    line_end: bool = False
    paragraph_end: bool = False


def is_sentence_end(text: str, next_text: str | None = None, *, final: bool | None = None,
                    english: bool = True) -> bool:
    """Whether a word, as written, closes a sentence.

    `next_text` is the word after it (None: nothing follows) and `final` whether the text or its
    paragraph ends after it (default: nothing follows). A final "." ends a sentence except after
    an English abbreviation: a title, month or "e.g." ("Dr.", "Jan.", "Fig.") never ends one
    before more text; a single letter ("J.") is an initial unless it is final; "No." is
    "number" before a digit; "etc.", "Inc.", "p.m." and other dotted letter runs end one when
    the next word starts with a capital. Other languages: any final . ! ? … ends a sentence.
    """
    if not _SENTENCE_END.search(text):
        return False
    core = text.rstrip(CLOSERS)
    if not core.endswith(".") or core.endswith("..") or not english:
        return True
    final = next_text is None if final is None else final
    token = core.split()[-1].lstrip(OPENERS)
    stem = token[:-1].lower()
    if stem in _BEFORE_SOMETHING:
        return final
    if stem == "no" and next_text is not None and starts_number(next_text):
        return False
    if len(stem) == 1 and stem.isalpha():  # an initial, as in "John F. Kennedy"
        return final
    if stem in _SOFT or re.fullmatch(r"(?:[A-Za-z]\.){2,}", token):
        return final or starts_capital(next_text or "")
    return True


def split_words(text: str, language: str = "en", *, name: str = "the transcript") -> list[Word]:
    """Split text at whitespace into Words with exact source offsets and spoken forms.

    A token with nothing to say (a dash, an ellipsis) is glued to its neighbour, so every Word
    can be aligned while the output still shows the punctuation where the author put it.
    """
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    raw = [text[s:e] for s, e in spans]
    lang = Lang(language)
    spell = not mostly_capitals(text)

    spoken: list[str] = []
    carry = ""
    for i, tok in enumerate(raw):
        prev = raw[i - 1] if i > 0 else None
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        words, new_carry = speak(tok, lang, prev, nxt, spell)
        if carry:
            words = f"{words} {carry}".strip() if words else ""
            if not words:  # nothing to attach to here; keep carrying forward
                new_carry = f"{carry} {new_carry}".strip()
        carry = new_carry
        spoken.append(words)
    if carry and spoken:
        # A carried unit with no following word lands back on the last speakable token.
        for j in range(len(spoken) - 1, -1, -1):
            if spoken[j]:
                spoken[j] = f"{spoken[j]} {carry}"
                break

    # Group token indices: each group has exactly one speakable token.
    groups: list[list[int]] = []
    pending: list[int] = []  # silent tokens waiting for the next speakable one
    for i, sp in enumerate(spoken):
        if sp:
            groups.append(pending + [i])
            pending = []
            continue
        gap_before = text[spans[i - 1][1] : spans[i][0]] if i > 0 else ""
        gap_after = text[spans[i][1] : spans[i + 1][0]] if i + 1 < len(spans) else ""
        if groups and not pending and ("\n" not in gap_before or "\n" in gap_after):
            groups[-1].append(i)
        else:
            pending.append(i)
    if pending:
        if not groups:
            raise TranscriptError(f"{name} has no words to align")
        groups[-1].extend(pending)
    if not groups:
        raise TranscriptError(f"{name} has no words to align")

    words: list[Word] = []
    for g, group in enumerate(groups):
        start, end = spans[group[0]][0], spans[group[-1]][1]
        said = next(spoken[i] for i in group if spoken[i])
        gap = text[end : spans[groups[g + 1][0]][0]] if g + 1 < len(groups) else None
        last = gap is None
        paragraph_end = last or bool(re.search(r"\n[^\S\n]*\n", gap or ""))
        line_end = last or "\n" in (gap or "")
        next_text = raw[groups[g + 1][0]] if not last else None
        words.append(
            Word(
                text=text[start:end],
                spoken=said,
                start=start,
                end=end,
                sentence_end=is_sentence_end(text[start:end], next_text, final=paragraph_end,
                                             english=lang.english),
                line_end=line_end,
                paragraph_end=paragraph_end,
            )
        )
    return words
