"""Spoken forms: what a speaker says for each written token, so the aligner can hear it.

Every `Word` keeps its original text exactly as written (case, punctuation, digits, symbols),
because that is what the subtitles show. Alignment needs something else: what is actually
said. `spoken_form` turns "1999", "3.5%", "Dr." or "&" into plain lower-case words
("nineteen ninety nine", "three point five percent", "doctor", "and") that a G2P model can
turn into phonemes; fed raw, the embedded hama G2P answers such tokens with non-English
phonemes (tones, Spanish or Chinese sounds).

Reading rules worth knowing (all checked against hama's G2P, see tests/test_text.py):

* A bare 4-digit number from 1100 to 2099 is read as a year ("1999" -> "nineteen ninety
  nine", "2005" -> "two thousand five", "2020" -> "twenty twenty"); with a sign, a thousands
  separator, a decimal part, a currency, a unit or a percent sign it is a cardinal.
  "1500 people" therefore reads "fifteen hundred", which is how it is usually said.
* English numbers leave out "and" ("one hundred five"), the American habit.
* All-capital tokens of two or three letters are spelled with letter names ("FBI" ->
  "ef bee eye") unless they are common words ("NO", "THE"); longer ones are read as a word
  when they look pronounceable ("NASA", "NATO", "COVID") and spelled otherwise ("HTML",
  "NAACP"). hama reads "fbi" almost right but "usa" as a word, and single letters badly
  ("m" -> "məməmə…"), so letters are spelled as their names. In a transcript written mostly
  in capitals (old subtitles) no token is spelled.
* A handful of words that hama's G2P gets badly wrong are respelled for English
  ("one" -> "wun", "euro" -> "yuro"); see `_RESPELL`. The spoken form exists only for
  alignment, so it may look odd to a reader.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from num2words import CONVERTER_CLASSES, num2words

from .markup import strip_tags

__all__ = ["Lang", "mostly_capitals", "speak", "spoken_form", "starts_capital", "starts_number"]

def mostly_capitals(text: str) -> bool:
    """True for text written mostly in capitals, where capitals mean shouting, not acronyms."""
    upper = lower = 0
    for ch in text:
        if ch.isupper():
            upper += 1
        elif ch.islower():
            lower += 1
    return upper >= 12 and upper >= 4 * lower



def starts_capital(token: str) -> bool:
    for ch in token:
        if ch.isalpha():
            return ch.isupper()
    return False


def starts_number(token: str) -> bool:
    core = token.lstrip("\"'“‘«([{#")
    return bool(core) and core[0].isdigit()


# --------------------------------------------------------------------------------------------
# Spoken forms


class Lang:
    """A language code resolved once: the num2words code to use and whether it is English."""

    def __init__(self, language: str) -> None:
        code = (language or "en").strip().replace("-", "_")
        base = code.split("_")[0].lower()
        full = f"{base}_{code.split('_')[1].upper()}" if "_" in code else base
        self.base = base
        self.english = base == "en"
        self.n2w = (
            full if full in CONVERTER_CLASSES else base if base in CONVERTER_CLASSES else "en"
        )


def spoken_form(token: str, language: str = "en") -> str:
    """The words a speaker says for one whitespace-free token, lower-case and space-separated.

    Numbers, currency, units, abbreviations, symbols and acronyms are spelled out; punctuation
    gives nothing, so a token of pure punctuation returns "".
    """
    return speak(token, Lang(language), None, None, True)[0]


_LETTER_NAMES = {
    "a": "ay", "b": "bee", "c": "see", "d": "dee", "e": "ee", "f": "ef", "g": "gee",
    "h": "aitch", "i": "eye", "j": "jay", "k": "kay", "l": "el", "m": "em", "n": "en",
    "o": "oh", "p": "pee", "q": "cue", "r": "arr", "s": "ess", "t": "tee", "u": "you",
    "v": "vee", "w": "double you", "x": "ex", "y": "why", "z": "zee",
}  # fmt: skip

# Words hama's G2P renders with non-English phonemes, and spellings it reads as intended.
_RESPELL = {
    "one": "wun", "once": "wunce", "ones": "wuns", "two": "too", "euro": "yuro",
    "euros": "yuros", "yes": "yess", "do": "doo", "into": "innto", "also": "awlso",
    "able": "aybel", "idea": "ideah", "video": "viddeo", "radio": "raydio",
    "general": "genneral", "colonel": "kernel", "april": "aypril", "fahrenheit": "farenheit",
}  # fmt: skip

# Abbreviations with a fixed reading; matched on the token without quotes and brackets.
_ABBREVIATIONS = {
    "Dr.": "doctor", "Dr": "doctor", "Mr.": "mister", "Mr": "mister", "Mrs.": "missus",
    "Mrs": "missus", "Ms.": "miz", "Ms": "miz", "Prof.": "professor", "Jr.": "junior",
    "Jr": "junior", "Sr.": "senior", "vs.": "versus", "vs": "versus", "Vs.": "versus",
    "v.": "versus", "etc.": "etsetera", "etc": "etsetera", "e.g.": "for example",
    "E.g.": "for example", "i.e.": "that is", "I.e.": "that is", "Mt.": "mount",
    "Ave.": "avenue", "Blvd.": "boulevard", "Rd.": "road", "approx.": "approximately",
    "Inc.": "ink", "Ltd.": "limited", "Co.": "company", "Corp.": "corporation",
    "Gen.": "genneral", "Capt.": "captain", "Sgt.": "sergeant", "Lt.": "lieutenant",
    "Col.": "kernel", "Gov.": "governor", "Sen.": "senator", "Rep.": "representative",
    "Rev.": "reverend", "Dept.": "department", "Univ.": "university", "Jan.": "january",
    "Feb.": "february", "Mar.": "march", "Apr.": "aypril", "Aug.": "august",
    "Sep.": "september", "Sept.": "september", "Oct.": "october", "Nov.": "november",
    "Dec.": "december", "Ph.D.": "pee aitch dee", "PhD": "pee aitch dee",
    "OK": "okay", "Ok": "okay", "ok": "okay", "O.K.": "okay",
}  # fmt: skip
# Two- and three-letter words that stay words when written in capitals.
_SHORT_WORDS = set(
    """a i am an as at be by do go he hi if in is it me my no of oh on or so to up we yo
    ok all and any are bad big boy bye but can cry day did die dog eat end far few for fun
    get god got guy had has her hey him his hot how its job let lie lot man may men mom new
    not now off old one our out own pay put ran red run sad saw say see set she sir sit six
    son ten the too top try two war was way who why win wow yes yet you gif ram rom pin sim
    lan wan mac""".split()
)
# Longer capitalised acronyms read as words or letters against the pronounceability guess.
_ACRONYM_WORDS = {"NOAA", "JPEG", "UCLA", "NASDAQ"}
_ACRONYM_READING = {"JPEG": "jay peg", "NOAA": "noah", "UCLA": "you see el ay"}
_ONSETS = set(
    "bl br ch cl cr dr dw fl fr gl gn gr kn kr ph pl pr ps qu rh sc sh sk sl sm sn sp st sw "
    "th tr tw wh wr".split()
)
_CODAS = set(
    "ch ck ct ds ft gh gs ks ld lf lk lm ln lp ls lt mb mp ms nd ng nk ns nt ps pt rb rc rd "
    "rf rg rk rl rm rn rp rs rt rv sh sk sp ss st th ts ws xt".split()
)
_VOWELS = set("aeiouy")

_CURRENCY = {  # symbol: (singular, plural, subunit singular, subunit plural)
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("yuro", "yuros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "₩": ("won", "won", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    "¢": ("cent", "cents", "", ""),
}
_SCALES = {
    "k": "thousand", "K": "thousand", "m": "million", "M": "million", "mn": "million",
    "mln": "million", "b": "billion", "B": "billion", "bn": "billion", "tn": "trillion",
    "T": "trillion",
}  # fmt: skip
_SCALE_WORDS = {"hundred", "thousand", "million", "billion", "trillion"}

# Units after a number, case-sensitive: (singular, plural).
_UNITS = {
    "km": ("kilometer", "kilometers"), "m": ("meter", "meters"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"), "ft": ("foot", "feet"), "mi": ("mile", "miles"),
    "mph": ("mile per hour", "miles per hour"), "kph": ("kilometer per hour", "kilometers per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"), "l": ("liter", "liters"),
    "L": ("liter", "liters"), "ml": ("milliliter", "milliliters"), "mL": ("milliliter", "milliliters"),
    "h": ("hour", "hours"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"),
    "min": ("minute", "minutes"), "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"), "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"), "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"), "°C": ("degree celsius", "degrees celsius"),
    "°F": ("degree farenheit", "degrees farenheit"), "°": ("degree", "degrees"),
    "k": ("thousand", "thousand"), "M": ("million", "million"), "mn": ("million", "million"),
    "bn": ("billion", "billion"), "tn": ("trillion", "trillion"),
}  # fmt: skip

_SYMBOLS = {
    "&": "and", "+": "plus", "=": "equals", "@": "at", "%": "percent", "#": "number",
    "°": "degrees", "×": "times", "‰": "per mille", "§": "section", "¶": "paragraph",
}  # fmt: skip
_AMPM = {"am", "pm", "a.m.", "p.m.", "a.m", "p.m"}
_FRACTIONS = {2: ("half", "halves"), 4: ("quarter", "quarters")}
_YEAR_LANGS = {"en", "de", "nl"}
_MAX_DIGITS = 15  # longer digit strings (IDs, serial numbers) are read digit by digit

_NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_RE_NUMBER = re.compile(rf"(?P<sign>[-+]?)(?P<num>{_NUM})", re.ASCII)
_RE_CURRENCY = re.compile(
    rf"(?P<sign>[-+]?)(?P<sym>[$€£¥₩₹])(?P<num>{_NUM})(?P<scale>[kKmMbBT]|bn|mn|mln|tn)?", re.ASCII
)
_RE_CURRENCY_AFTER = re.compile(
    rf"(?P<sign>[-+]?)(?P<num>{_NUM})(?P<scale>[kKmMbBT]|bn|mn|mln|tn)?(?P<sym>[$€£¥₩₹¢])", re.ASCII
)
_RE_PERCENT = re.compile(rf"(?P<sign>[-+]?)(?P<num>{_NUM})%", re.ASCII)
_RE_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?((?i:[ap]\.?m\.?))?", re.ASCII)
_RE_ORDINAL = re.compile(r"(\d+)(?i:st|nd|rd|th)", re.ASCII)
_RE_DECADE = re.compile(r"'?(\d{0,2}\d0)'?s", re.ASCII)
_RE_FRACTION = re.compile(r"(\d+)/(\d+)", re.ASCII)
_RE_UNIT = re.compile(
    rf"(?P<sign>[-+]?)(?P<num>{_NUM})(?P<unit>°[CF]|°|[A-Za-z]+(?:/h)?)", re.ASCII
)
_RE_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_RE_PHONE = re.compile(r"(?:\d{3}-)?\d{3}-\d{4}", re.ASCII)
_MONTHS = (
    "january february march aypril may june july august september october november december"
).split()
_RE_URLISH = re.compile(r"@|^www\.|^https?:|\.(?:com|org|net|edu|gov|io|co|uk|de|fr)\b", re.I)

_APOSTROPHES = str.maketrans({c: "'" for c in "’‘ʼ`´′ʹ"})
_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−﹣－⁃"})
_EDGE = '"“”„‟«»‹›()[]{}<>「」『』〈〉《》,;:!?¿¡…*_~|^¨\\'


def speak(
    token: str, lang: Lang, prev: str | None, nxt: str | None, spell: bool
) -> tuple[str, str]:
    """Spoken form of one token in context; also returns words to carry onto the next token
    (the currency of "$5 million", said after the scale word)."""
    core = _prepare(token)
    if not core:
        return "", ""
    nxt_core = _prepare(nxt).rstrip(".").lower() if nxt else ""
    prev_core = _prepare(prev) if prev else ""

    if lang.english:
        said = _english_abbreviation(core, nxt)
        if said is not None:
            return _finish(said, lang), ""
    core = core.rstrip(".")
    if not _RE_DECADE.fullmatch(core):
        core = core.strip("'")
    if not core:
        return "", ""

    # Currency before a scale word ("$5 million"): the unit is said after that word.
    m = _RE_CURRENCY.fullmatch(core)
    if m and not m["scale"] and nxt_core in _SCALE_WORDS:
        amount = _signed(m["sign"], _number(m["num"], lang, year=False), lang)
        return _finish(amount, lang), _finish(_CURRENCY[m["sym"]][1], lang)

    said = _numeric(core, lang, nxt_core)
    if said is None and lang.english and core.lower() in _AMPM and prev_core[-1:].isdigit():
        said = _spell_letters(core)
    if said is None:
        said = _generic(core, lang, spell)
    return _finish(said, lang), ""


def _prepare(token: str) -> str:
    """Normalise a token's characters for reading and strip the punctuation around it."""
    t = strip_tags(token, " ")
    t = t.replace("²", " squared ").replace("³", " cubed ").replace("№", "# ")
    t = "".join(ch for ch in t if ch not in "™®©")
    t = unicodedata.normalize("NFKC", t).translate(_APOSTROPHES).translate(_DASHES)
    t = t.replace("\u2044", "/")  # the fraction slash NFKC makes of "½"
    t = "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in t
    )
    t = t.strip().strip(_EDGE)
    # Opening quotes/apostrophes: drop a leading "'" only when quoting, not in "'90s"/"'em".
    while t.startswith("'") and len(t) > 1 and t[1] in "\"'":
        t = t[1:]
    return t.strip(_EDGE).strip()


def _english_abbreviation(core: str, nxt: str | None) -> str | None:
    """Readings of English abbreviations that depend on the exact spelling and the context."""
    if core in ("No.", "no.", "No", "Nos.") and nxt is not None and starts_number(nxt):
        return "number"
    if core in ("St.", "St"):
        return "saint" if nxt is not None and starts_capital(nxt) else "street"
    return _ABBREVIATIONS.get(core) or _ABBREVIATIONS.get(core.rstrip("."))


def _numeric(core: str, lang: Lang, nxt_core: str) -> str | None:
    """Readings of tokens that are a number in some dress (currency, %, time, unit, range)."""
    if not any("0" <= ch <= "9" for ch in core):
        return None
    m = _RE_NUMBER.fullmatch(core)
    if m:
        return _signed(m["sign"], _number(m["num"], lang, year=not m["sign"]), lang)
    m = _RE_CURRENCY.fullmatch(core) or _RE_CURRENCY_AFTER.fullmatch(core)
    if m:
        return _money(m["sign"], m["num"], m["scale"], m["sym"], lang)
    m = _RE_PERCENT.fullmatch(core)
    if m:
        return _signed(m["sign"], _number(m["num"], lang, year=False), lang) + " percent"
    m = _RE_TIME.fullmatch(core)
    if m and int(m[1]) <= 24 and int(m[2]) <= 59 and (m[3] is None or int(m[3]) <= 59):
        return _time(m, lang, nxt_core)
    m = _RE_ORDINAL.fullmatch(core)
    if m:
        return _n2w(int(m[1]), lang, "ordinal") if len(m[1]) <= _MAX_DIGITS else _digits(m[1], lang)
    m = _RE_DECADE.fullmatch(core)
    if m and lang.english:
        return _decade(m[1], lang)
    m = _RE_FRACTION.fullmatch(core)
    if m and len(m[1]) <= _MAX_DIGITS and len(m[2]) <= _MAX_DIGITS:
        return _fraction(int(m[1]), int(m[2]), lang) or (
            f"{_number(m[1], lang, year=True)} {_number(m[2], lang, year=True)}"
        )
    m = _RE_UNIT.fullmatch(core)
    if m and m["unit"] in _UNITS:
        value = _number(m["num"], lang, year=False)
        one = m["num"] in ("1", "1.0")
        return f"{_signed(m['sign'], value, lang)} {_UNITS[m['unit']][0 if one else 1]}"
    m = _RE_ISO_DATE.fullmatch(core)
    if m and lang.english and 1 <= int(m[2]) <= 12 and 1 <= int(m[3]) <= 31:
        month = _MONTHS[int(m[2]) - 1]
        return f"{month} {_n2w(int(m[3]), lang, 'ordinal')} {_number(m[1], lang, year=True)}"
    if _RE_PHONE.fullmatch(core):
        return " ".join(_digits(part, lang) for part in core.split("-"))
    if core.count("-") == 1 and not core.startswith("-"):
        left, right = core.split("-")
        a, b = _numeric(left, lang, ""), _numeric(right, lang, "")
        if a and b:
            return f"{a} to {b}"
    return None


def _signed(sign: str, words: str, lang: Lang) -> str:
    if sign == "-":
        return ("minus " if lang.english else _n2w_word(-1, lang, "minus ")) + words
    if sign == "+":
        return "plus " + words
    return words


def _n2w_word(value: int, lang: Lang, fallback: str) -> str:
    """The sign word of a language, taken from num2words' reading of -1 ("moins un" -> "moins")."""
    one = _n2w(1, lang, "cardinal")
    neg = _n2w(value, lang, "cardinal")
    return neg[: -len(one)] if neg.endswith(one) and len(neg) > len(one) else fallback


def _number(num: str, lang: Lang, *, year: bool) -> str:
    """Read an unsigned number string: grouped, decimal, leading-zero, year or cardinal."""
    year = year and "," not in num
    num = num.replace(",", "")
    whole, _, frac = num.partition(".")
    if "." in num:
        head = _number(whole, lang, year=False) if whole else ""
        if not lang.english:
            try:
                return _clean_number(
                    num2words(Decimal(f"{whole or 0}.{frac}"), lang=lang.n2w), lang
                )
            except Exception:  # num2words raises assorted types for what it cannot read
                pass
        return f"{head} point {_digits(frac, lang)}".strip()
    if (len(whole) > 1 and whole.startswith("0")) or len(whole) > _MAX_DIGITS:
        return _digits(whole, lang)
    value = int(whole)
    if year and len(whole) == 4 and _is_year(value) and lang.base in _YEAR_LANGS:
        return _n2w(value, lang, "year")
    return _n2w(value, lang, "cardinal")


def _is_year(value: int) -> bool:
    """The 4-digit numbers read as years: 1010-1099 ("ten sixty six") and 1100-2099."""
    return 1010 <= value <= 2099


def _n2w(value: int, lang: Lang, to: str) -> str:
    """num2words in the transcript's language (English when unsupported), cleaned to words."""
    for code in dict.fromkeys((lang.n2w, "en")):
        try:
            return _clean_number(num2words(value, lang=code, to=to), lang)
        except Exception:  # num2words raises assorted types for unsupported or huge values
            continue
    return _digits(str(value), lang)


def _clean_number(words: str, lang: Lang) -> str:
    words = re.sub(r"[-,‐]", " ", words.lower())
    if lang.english:
        words = " ".join(w for w in words.split() if w != "and")
    return " ".join(words.split())


def _digits(digits: str, lang: Lang) -> str:
    """Read a digit string one digit at a time (phone numbers, "007", decimals after "point")."""
    return " ".join(_n2w(int(d), lang, "cardinal") for d in digits if d.isdigit())


def _money(sign: str, num: str, scale: str | None, sym: str, lang: Lang) -> str:
    one, many, sub_one, sub_many = _CURRENCY[sym]
    plain = num.replace(",", "")
    if scale:
        amount = _number(num, lang, year=False)
        return _signed(sign, f"{amount} {_SCALES[scale]} {many}", lang)
    whole, _, frac = plain.partition(".")
    if frac and len(frac) == 2 and sub_many and len(whole) <= _MAX_DIGITS:
        parts = []
        if whole and int(whole):
            parts.append(f"{_number(whole, lang, year=False)} {one if int(whole) == 1 else many}")
        cents = int(frac)
        if cents or not parts:
            parts.append(f"{_n2w(cents, lang, 'cardinal')} {sub_one if cents == 1 else sub_many}")
        return _signed(sign, " ".join(parts), lang)
    amount = _number(num, lang, year=False)
    return _signed(sign, f"{amount} {one if plain in ('1', '1.0') else many}", lang)


def _time(m: re.Match[str], lang: Lang, nxt_core: str) -> str:
    hour, minute = int(m[1]), int(m[2])
    suffix = (m[4] or "").lower()
    said = [_n2w(hour, lang, "cardinal")]
    if minute == 0:
        if not suffix and nxt_core not in _AMPM and m[3] is None and lang.english:
            said.append("o'clock")
    elif minute < 10 and lang.english:
        said.append(f"oh {_n2w(minute, lang, 'cardinal')}")
    else:
        said.append(_n2w(minute, lang, "cardinal"))
    if m[3] is not None:
        said.append(_n2w(int(m[3]), lang, "cardinal"))
    if suffix:
        said.append(_spell_letters(suffix))
    return " ".join(said)


def _decade(digits: str, lang: Lang) -> str:
    """'90s -> nineties, 1990s -> nineteen nineties, 1900s -> nineteen hundreds."""
    value = int(digits)
    if len(digits) == 4:
        words = _number(digits, lang, year=True)
    else:
        words = _n2w(value, lang, "cardinal")
    head, _, last = words.rpartition(" ")
    plural = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {plural}".strip()


def _fraction(num: int, den: int, lang: Lang) -> str | None:
    """Read small fractions the usual way ("1/2" -> "one half"); None for anything else."""
    if not lang.english or not 2 <= den <= 10 or not 1 <= num < den:
        return None
    if den in _FRACTIONS:
        noun = _FRACTIONS[den][0 if num == 1 else 1]
    else:
        noun = _n2w(den, lang, "ordinal") + ("" if num == 1 else "s")
    return f"{_n2w(num, lang, 'cardinal')} {noun}"


def _spell_letters(letters: str) -> str:
    return " ".join(_LETTER_NAMES.get(ch, ch) for ch in letters.lower() if ch.isalpha())


def _generic(core: str, lang: Lang, spell: bool) -> str:
    """Read a mixed token piece by piece: letter runs, numbers, named symbols; drop the rest."""
    urlish = bool(_RE_URLISH.search(core))
    pieces: list[tuple[str, str]] = []  # (kind, text) with kind in "L", "N", "S"
    i, n = 0, len(core)
    while i < n:
        ch = core[i]
        if unicodedata.category(ch)[0] == "L":
            j = i + 1
            while j < n and (
                _is_letter(core[j]) or (core[j] == "'" and j + 1 < n and _is_letter(core[j + 1]))
            ):
                j += 1
            pieces.append(("L", core[i:j]))
            i = j
        elif "0" <= ch <= "9":
            j = i + 1
            while j < n and (
                "0" <= core[j] <= "9"
                or (core[j] in ".," and j + 1 < n and "0" <= core[j + 1] <= "9")
            ):
                j += 1
            pieces.append(("N", core[i:j]))
            i = j
        else:
            pieces.append(("S", ch))
            i += 1

    several = sum(kind != "S" for kind, _ in pieces) > 1
    said: list[str] = []
    for k, (kind, piece) in enumerate(pieces):
        before = pieces[k - 1] if k > 0 else ("", "")
        after = pieces[k + 1] if k + 1 < len(pieces) else ("", "")
        if kind == "N":
            said.append(_number_piece(piece, lang))
        elif kind == "L":
            if before[0] == "N" and lang.english and piece.lower() == "x" and after[0] == "N":
                said.append("by")
            elif before[0] == "N" and piece in _UNITS and lang.english:
                one = before[1] == "1"
                said.append(_UNITS[piece][0 if one else 1])
            elif before[0] == "N" and lang.english and piece.lower() in ("am", "pm"):
                said.append(_spell_letters(piece))
            else:
                near_digit = "N" in (before[0], after[0])
                said.append(_letters(piece, lang, spell, near_digit, several))
        elif piece in _SYMBOLS and lang.english:
            if piece == "#" and after[0] == "L":
                said.append("hashtag")
            else:
                said.append(_SYMBOLS[piece])
        elif piece in _CURRENCY and lang.english:
            said.append(_CURRENCY[piece][1])
        elif piece == "." and urlish and before[0] and after[0]:
            said.append("dot")
    return " ".join(s for s in said if s)


def _number_piece(piece: str, lang: Lang) -> str:
    """A digit run found inside a mixed token; grouping or decimals that fail to parse fall back
    to reading the parts one after another."""
    if re.fullmatch(_NUM, piece, re.ASCII):
        return _number(piece, lang, year=True)
    return " ".join(_number(p, lang, year=True) for p in re.split(r"[.,]", piece) if p)


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM"


def _letters(run: str, lang: Lang, spell: bool, near_digit: bool, several: bool) -> str:
    """Read a run of letters: a word, or letter names for acronyms and lone letters.

    `several` says the run is one part of a token such as "AT&T" or "a.m.", where capitals and
    single letters are letters even when they also spell a word.
    """
    lower = run.lower()
    if not run.isascii() or not lang.english:
        if spell and run.isascii() and run.isupper() and len(run) >= 2:
            return _acronym(run)
        return lower
    if len(run) == 1:
        if lower == "a" and not several:
            return "a"
        if lower == "i" and not several:
            return "eye"
        return _LETTER_NAMES[lower]
    if lower == "www":
        return _spell_letters(run)
    if lower in ("ok", "okay"):
        return "okay"
    if re.fullmatch(r"i'(m|ll|ve|d)", lower):
        return "eye" + lower[1:]
    if spell:
        if run.isupper():
            if several and len(run) <= 3:
                return _spell_letters(run)
            return _acronym(run)
        if re.fullmatch(r"[A-Z]{2,}s", run):  # plural acronym: CEOs, DVDs
            return _acronym(run[:-1]) + "s"
        if re.fullmatch(r"[A-Z]{2,}'s", run):  # possessive: FBI's
            return _acronym(run[:-2]) + "'s"
    if near_digit and len(run) <= 3 and (run.isupper() or not _VOWELS & set(lower)):
        return _spell_letters(run)
    return lower


def _acronym(run: str) -> str:
    """An all-capital run: a word if pronounceable ("NASA"), else letter names ("FBI")."""
    if run in _ACRONYM_READING:
        return _ACRONYM_READING[run]
    lower = run.lower()
    if len(run) <= 3:
        return lower if lower in _SHORT_WORDS else _spell_letters(run)
    if run in _ACRONYM_WORDS or _pronounceable(lower):
        return lower
    return _spell_letters(run)


def _pronounceable(word: str) -> bool:
    """Guess whether letters read as an English word: vowels present, plausible clusters."""
    if not _VOWELS & set(word):
        return False
    if re.search(r"([aeiou])\1", word[:2]) or re.search(r"([aeiou])\1", word[-2:]):
        return False
    if re.search(r"(?:[aeiou][aeiou][aeiou])", word):
        return False
    clusters = re.findall(r"[^aeiouy]+", word)
    if not clusters:
        return True
    first = re.match(r"[^aeiouy]*", word)
    onset = first.group(0) if first else ""
    if len(onset) >= 2 and onset[:2] not in _ONSETS:
        return False
    last = re.search(r"[^aeiouy]*\Z", word)
    coda = last.group(0) if last else ""
    if len(coda) >= 2 and coda[-2:] not in _CODAS:
        return False
    return all(len(c) <= 2 or c in ("str", "spr", "scr", "nst", "nch") for c in clusters)


def _finish(said: str, lang: Lang) -> str:
    """Lower-case letters, inner apostrophes and single spaces only; English respellings applied."""
    out: list[str] = []
    for word in said.lower().split():
        kept = "".join(ch if _is_letter(ch) or ch == "'" else " " for ch in word)
        for part in kept.split():
            part = re.sub(r"'{2,}", "'", part).strip("'")
            if not part:
                continue
            if lang.english:
                part = _RESPELL.get(part, part)
            out.append(part)
    return unicodedata.normalize("NFC", " ".join(out))
