"""Where a subtitle may break, and how characters are counted.

Counting: a line's length is the number of characters a reader sees: the code points of its NFC
form, spaces and punctuation included, less combining marks (Mn, Me) and invisible format
characters (Cf: zero-width joiners, direction marks). So "é" counts once however it is encoded, a
Devanagari consonant with its vowel sign counts as the two letters it shows, and a wide (CJK)
character counts once.

Breaks: the place between two words is classified, best first: after a sentence end, at a pause,
after clause punctuation, before a conjunction or preposition, anywhere else, at a place to avoid
(after a preposition, auxiliary or number), and where a break must not fall (``NEVER``):

* between an article, other determiner or possessive and its noun ("the | house", "my | car",
  "Rachel's | talk");
* between an adjective and its noun ("dark | suit", "lawful | wedded");
* between a first and last name, a title and a name, or an initial and a name: two capitalised
  words in a row ("Winston | Smith", "Mr. | Meldrew", "J. | Smith");
* between a subject pronoun and its verb ("she | had", "they | will").

There is no part-of-speech tagger: the classes come from short English word lists and suffixes
(adjectives: about 200 common ones plus -ous, -ful, -less, -ical, -ible/-able endings), and the
noun or verb after a determiner, adjective or pronoun is "any word that is not a function word".
Limits, honestly: other languages get only the punctuation and capital-letter rules; "you" and
"it" count as subjects only at the start of a sentence or clause or after a conjunction; an
adjective not in the list and without those endings is missed; a capitalised word at the start of
a sentence followed by a name ("Yesterday Paris ...") is taken for a name.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from ..text.words import CLOSERS, OPENERS, is_sentence_end

__all__ = [
    "SENTENCE", "PAUSE", "CLAUSE", "BEFORE_STARTER", "PLAIN", "AVOID", "NEVER",
    "Break", "classify", "display", "width",
]

# Break kinds, from the best place to cut to the worst.
SENTENCE, PAUSE, CLAUSE, BEFORE_STARTER, PLAIN, AVOID, NEVER = range(7)

_OPENERS = OPENERS
_CLAUSE_END = re.compile(rf"[,;:—–،、，；：][{re.escape(CLOSERS)}]*$")
_C = re.escape(CLOSERS)
_TRAILING_PUNCT = re.compile(rf"[^\w{_C}][{_C}]*$|[{_C}]$")
_NUMBER = re.compile(r"^[$€£¥₹#+-]?\d[\d.,:]*(?:%|st|nd|rd|th|s|k|m|bn)?$", re.IGNORECASE)

# Titles that belong to the name after them (lower-case, without the final dot).
TITLES = frozenset("mr mrs ms dr prof sr jr st mt rev gen col capt lt sgt hon".split())
_TITLE_WORDS = frozenset("sir lady lord miss mister madam madame saint king queen prince princess "
                         "president doctor professor uncle aunt captain".split())

_ARTICLES = frozenset("a an the".split())
_DETERMINERS = _ARTICLES | frozenset(
    "this these those my your his her its our their thy every each either neither another "
    "such whose".split()
)
_PREPOSITIONS = frozenset(
    """about above across after against along amid among around as at before behind below
    beneath beside besides between beyond by despite down during except for from in inside into
    like near of off on onto out outside over past per since through throughout till to toward
    towards under underneath unlike until up upon via with within without""".split()
)
_CONJUNCTIONS = frozenset(
    """and but or nor so yet because although though while whereas if unless when whenever where
    wherever whether which who whom whose that than once""".split()
)
_SUBJECTS = frozenset("i he she we they".split())
_AMBIGUOUS_SUBJECTS = frozenset("you it".split())
_PRONOUNS = _SUBJECTS | _AMBIGUOUS_SUBJECTS | frozenset(
    "me him us them myself yourself himself herself itself ourselves themselves one".split()
)
_AUXILIARIES = frozenset(
    """am is are was were be been being have has had do does did will would shall should can
    could may might must ought not never""".split()
)
_OTHER_FUNCTION = frozenset(
    """there here then now also too very just only even still already always often all both
    some any no not yes oh well ah um uh what how why""".split()
)
FUNCTION_WORDS = (_DETERMINERS | _PREPOSITIONS | _CONJUNCTIONS | _PRONOUNS | _AUXILIARIES
                  | _OTHER_FUNCTION)
# A line or cue may well start with one of these.
STARTERS = (_CONJUNCTIONS | _PREPOSITIONS) - frozenset("once".split())

_ADJECTIVES = frozenset(
    """able bad basic beautiful big bitter black blue bold brief bright broad broken brown busy
    calm cheap clean clear cold common cool crazy cruel dark dead dear deep different difficult
    dirty dry dull early easy empty entire equal evil exact fair false familiar famous fast fat
    few final fine firm first flat foreign former free fresh full funny general gentle giant glad
    golden good grand gray great green grey gross guilty happy hard heavy high holy honest hot huge
    human humble important innocent large last late lazy least legal light little local lone
    lonely long loose lost loud lovely low lucky mad main major male female many mere middle mild
    minor modern moral narrow nasty native neat new next nice noble normal odd old open orange
    ordinary other own pale perfect pink plain poor popular pretty previous private proper proud
    public pure purple quick quiet rare raw real recent red rich rough round royal rude sad safe
    same savage scared secret serious several severe sharp short shy sick silent silly simple
    single slim slow small smart smooth soft solid sour special square steep sticky stiff strange
    strict strong stupid sudden sunny sweet tall tender terrible thick thin tight tiny tired total
    tough true typical ugly unique upper urban usual vast violent visible vital warm weak wealthy
    weird western wet white whole wide wild wise wooden worse worst wrong yellow young""".split()
)
_ADJECTIVE_SUFFIXES = ("ous", "ful", "less", "ical", "ible", "able")
_NOT_ADJECTIVES = frozenset("unless bless table cable fable stable vegetable bible".split())


class Break(NamedTuple):
    """How good a place between two words is for a break, and why a NEVER break is one."""

    kind: int
    reason: str = ""


def display(text: str) -> str:
    """A word as shown on a line: its text with inner whitespace runs made single spaces."""
    return " ".join(text.split())


def width(text: str) -> int:
    """Characters a reader sees in ``text`` (see the module docstring for the rule)."""
    return sum(
        1 for ch in unicodedata.normalize("NFC", text)
        if unicodedata.category(ch) not in ("Mn", "Me", "Cf")
    )


def _bare(text: str) -> str:
    """Lower-case word without surrounding punctuation, to look it up in the word lists."""
    return text.lower().strip(_OPENERS + CLOSERS + ".,;:!?…—–-")


def _has_trailing_punctuation(text: str) -> bool:
    """Whether the word ends in punctuation (a comma, a dash, a closing quote...)."""
    return bool(_TRAILING_PUNCT.search(text))


def _capitalised(text: str) -> bool:
    """Whether a word starts with an upper-case letter (after any opening quote)."""
    core = text.lstrip(_OPENERS)
    return bool(core) and core[0].isupper()


def _is_adjective(bare: str) -> bool:
    """Whether a bare lower-case word looks like an adjective (list or suffix; see the module)."""
    if bare in _ADJECTIVES:
        return True
    if bare in _NOT_ADJECTIVES or bare in FUNCTION_WORDS or len(bare) < 6:
        return False
    return bare.endswith(_ADJECTIVE_SUFFIXES)


def _is_content(text: str) -> bool:
    """Whether a word can be the noun or verb a NEVER rule protects: a word, not a function word."""
    bare = _bare(text)
    return bool(bare) and any(ch.isalpha() for ch in bare) and bare not in FUNCTION_WORDS


def _never_reason(before: str, after: str, previous: str | None) -> str:
    """Why a break between ``before`` and ``after`` must not fall there, or "" when it may."""
    if after[:1] in "—–-" or (_has_trailing_punctuation(before) and not _is_title(before)
                               and not _is_possessive(before)):
        return ""
    bare = _bare(before)
    if bare in _DETERMINERS and _is_content(after):
        return "article + noun" if bare in _ARTICLES else "determiner + noun"
    if _is_possessive(before) and _is_content(after):
        return "possessive + noun"
    if _is_title(before) and _capitalised(after):
        return "title + name"
    if (_capitalised(before) and _capitalised(after) and bare not in FUNCTION_WORDS
            and _bare(after) not in FUNCTION_WORDS and any(ch.isalpha() for ch in bare)):
        return "first + last name"
    if bare in _SUBJECTS or (bare in _AMBIGUOUS_SUBJECTS and _clause_start(previous, before)):
        after_bare = _bare(after)
        if after_bare in _AUXILIARIES or (_is_content(after) and after_bare not in STARTERS):
            return "subject pronoun + verb"
    if _is_adjective(bare) and _is_content(after) and not _bare(after).endswith("ly"):
        return "adjective + noun"
    return ""


def _is_possessive(text: str) -> bool:
    """Whether a word is a possessive ("Rachel's", "the boys'"), not a contraction ("it's")."""
    core = text.replace("’", "'").rstrip("\"”»)]}」』›")  # keep the apostrophe of "boys'"
    if core.endswith("'s"):
        stem = core[:-2]
    elif core.endswith("s'"):
        stem = core[:-1]
    else:
        return False
    return any(ch.isalpha() for ch in stem) and _bare(stem) not in FUNCTION_WORDS | {"let"}


def _is_title(text: str) -> bool:
    """Whether a word is a title or initial that belongs to the name after it ("Dr.", "J.")."""
    core = text.lstrip(_OPENERS)
    stem = core[:-1] if core.endswith(".") else core
    lower = stem.lower()
    return (core.endswith(".") and (lower in TITLES or (len(stem) == 1 and stem.isalpha()))) or (
        not core.endswith(".") and lower in _TITLE_WORDS and _capitalised(core))


def _clause_start(previous: str | None, word: str) -> bool:
    """Whether ``word``, which follows ``previous``, starts a sentence or clause."""
    return (previous is None or is_sentence_end(previous, word) or bool(_CLAUSE_END.search(previous))
            or _bare(previous) in _CONJUNCTIONS)


def classify(before: str, after: str, previous: str | None = None, gap: float = 0.0,
             pause: float = float("inf")) -> Break:
    """The kind of break between the words ``before`` and ``after`` (display texts).

    ``previous`` is the word before ``before`` (None at the start), ``gap`` the silence between
    the two words in seconds and ``pause`` the silence that makes a good place to cut.
    """
    if is_sentence_end(before, after):
        return Break(SENTENCE)
    reason = _never_reason(before, after, previous)
    if reason:
        return Break(NEVER, reason)
    if gap >= pause:
        return Break(PAUSE)
    if _CLAUSE_END.search(before) or after[:1] in "—–":
        return Break(CLAUSE)
    if _bare(after) in STARTERS:
        return Break(BEFORE_STARTER)
    bare = _bare(before)
    if (bare in _PREPOSITIONS or bare in _AUXILIARIES
            or (_NUMBER.match(bare) and _is_content(after))):
        return Break(AVOID)
    return Break(PLAIN)
