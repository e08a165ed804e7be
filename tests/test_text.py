"""Tests for the text stage: reading transcripts, splitting words, and their spoken forms.

The spoken forms are checked against the real embedded G2P (hama), since reading "1999" or
"Dr." as phonemes the acoustic model never hears is the failure this stage exists to prevent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subalign.errors import TranscriptError
from subalign.text import Word, read_text, split_words, spoken_form

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# spoken_form


SPOKEN = [
    # cardinals, signs, grouping, digit strings
    ("42", "forty too"),
    ("0", "zero"),
    ("1,000,000", "wun million"),
    ("1,999", "wun thousand nine hundred ninety nine"),
    ("-5", "minus five"),
    ("−5", "minus five"),
    ("+4", "plus four"),
    ("105", "wun hundred five"),
    ("007", "zero zero seven"),
    ("555-1234", "five five five wun too three four"),
    # years and decades
    ("1999", "nineteen ninety nine"),
    ("2005", "too thousand five"),
    ("2020", "twenty twenty"),
    ("1905", "nineteen oh five"),
    ("1066", "ten sixty six"),
    ("2000", "too thousand"),
    ("2100", "too thousand wun hundred"),
    ("1990s", "nineteen nineties"),
    ("'90s", "nineties"),
    ("80s", "eighties"),
    # decimals, percent, currency
    ("3.5", "three point five"),
    ("0.25", "zero point too five"),
    (".5", "point five"),
    ("3.5%", "three point five percent"),
    ("50%", "fifty percent"),
    ("$5", "five dollars"),
    ("$1", "wun dollar"),
    ("$3.50", "three dollars fifty cents"),
    ("$0.50", "fifty cents"),
    ("€20", "twenty yuros"),
    ("20€", "twenty yuros"),
    ("£1m", "wun million pounds"),
    ("$2.5bn", "too point five billion dollars"),
    ("$10K", "ten thousand dollars"),
    # ordinals, times, ranges, fractions, dates
    ("21st", "twenty first"),
    ("3rd", "third"),
    ("101st", "wun hundred first"),
    ("10:30", "ten thirty"),
    ("10:05", "ten oh five"),
    ("10:00", "ten o'clock"),
    ("10:30pm", "ten thirty pee em"),
    ("5pm", "five pee em"),
    ("1990-1995", "nineteen ninety to nineteen ninety five"),
    ("5–10", "five to ten"),
    ("1/2", "wun half"),
    ("½", "wun half"),
    ("3/4", "three quarters"),
    ("2/3", "too thirds"),
    ("24/7", "twenty four seven"),
    ("2020-01-15", "january fifteenth twenty twenty"),
    # units
    ("10km", "ten kilometers"),
    ("1km", "wun kilometer"),
    ("25°C", "twenty five degrees celsius"),
    ("5GB", "five gigabytes"),
    # abbreviations
    ("Dr.", "doctor"),
    ("Mr.", "mister"),
    ("Mrs.", "missus"),
    ("Ms.", "miz"),
    ("Prof.", "professor"),
    ("Jr.", "junior"),
    ("vs.", "versus"),
    ("etc.", "etsetera"),
    ("e.g.", "for example"),
    ("i.e.", "that is"),
    ("No.", "no"),
    ("U.S.", "you ess"),
    ("a.m.", "ay em"),
    ("OK", "okay"),
    # symbols
    ("&", "and"),
    ("+", "plus"),
    ("=", "equals"),
    ("@", "at"),
    ("%", "percent"),
    ("#", "number"),
    ("#1", "number wun"),
    ("R&D", "arr and dee"),
    ("AT&T", "ay tee and tee"),
    ("C++", "see plus plus"),
    ("john@example.com", "john at example dot com"),
    # alphanumerics and acronyms
    ("MP3", "em pee three"),
    ("COVID-19", "covid nineteen"),
    ("4K", "four kay"),
    ("B2B", "bee too bee"),
    ("Y2K", "why too kay"),
    ("4x4", "four by four"),
    ("FBI", "ef bee eye"),
    ("USA", "you ess ay"),
    ("HTML", "aitch tee em el"),
    ("NASA", "nasa"),
    ("NATO", "nato"),
    ("UNESCO", "unesco"),
    ("CEOs", "see ee ohs"),
    ("FBI's", "ef bee eye's"),
    ("NO", "no"),
    # words, apostrophes, quotes, brackets, letters
    ("well-known", "well known"),
    ("don't", "don't"),
    ("don’t", "don't"),
    ("'n'", "en"),
    ("rock'n'roll", "rock'n'roll"),
    ("“Hello,”", "hello"),
    ("(brackets)", "brackets"),
    ("year.", "year"),
    ("Hello!", "hello"),
    ("I", "eye"),
    ("I'm", "eye'm"),
    ("A", "a"),
    ("x", "ex"),
    ("iPhone", "iphone"),
    # accents and non-Latin letters are kept
    ("café", "café"),
    ("Straße", "straße"),
    ("서울에서", "서울에서"),
    ("안녕하세요.", "안녕하세요"),
    ("日本語", "日本語"),
    # pure punctuation says nothing
    ("—", ""),
    ("--", ""),
    ("…", ""),
    ("...", ""),
    ("-", ""),
    ("*", ""),
]


@pytest.mark.parametrize(("token", "expected"), SPOKEN)
def test_spoken_form(token: str, expected: str) -> None:
    assert spoken_form(token) == expected


@pytest.mark.parametrize("token", [t for t, _ in SPOKEN])
def test_spoken_form_alphabet(token: str) -> None:
    """Spoken forms hold only lower-case letters, inner apostrophes and single spaces."""
    said = spoken_form(token)
    assert said == said.strip() and "  " not in said
    for word in said.split():
        assert word == word.lower() and not word.startswith("'") and not word.endswith("'")
        assert all(unicodedata.category(ch)[0] in "LM" or ch == "'" for ch in word), word


@pytest.mark.parametrize(
    ("token", "language", "expected"),
    [
        ("1999", "ko", "천구백구십구"),
        ("3.5", "ko", "삼 점 오"),
        ("1999년", "ko", "천구백구십구 년"),
        ("1999", "de", "neunzehnhundertneunundneunzig"),
        ("3.5", "fr", "trois virgule cinq"),
        ("42", "xx", "forty two"),  # num2words English; the English respellings are not used
        ("42", "en-GB", "forty too"),
    ],
)
def test_spoken_form_language(token: str, language: str, expected: str) -> None:
    assert spoken_form(token, language) == expected


def test_huge_numbers_read_digit_by_digit() -> None:
    said = spoken_form("9" * 40)
    assert said.split() == ["nine"] * 40
    assert spoken_form("1" * 5000 + "/3")  # no int-size crash


# --------------------------------------------------------------------------------------------
# The spoken forms against the real G2P

# Phonemes hama's G2P uses for English words. Its garbage readings (for "1999", "Dr.", "&",
# "year.") use tones (¹²³⁴⁵), combining marks, spaces inside a word, CJK and Spanish sounds.
ENGLISH_PHONEMES = set(
    "aɪ aʊ b d d͡ʒ eɪ ɛ f g ɡ h i j k l m n ŋ oʊ ɔ ɔɪ p ɹ s ʃ t t͡ʃ θ ð u ʊ v w z ʒ ɑ æ ə ɝ ɚ ʌ ɪ "
    "‿ ɪə eə".split()
)
TRICKY = [
    "1999", "2005", "42", "1,000,000", "-5", "3.5", "3.5%", "$5", "$3.50", "€20", "£1m", "21st",
    "3rd", "10:30", "10:05", "1990-1995", "5–10", "1/2", "3/4", "Dr.", "Mr.", "Mrs.", "Ms.",
    "Prof.", "St.", "Jr.", "vs.", "etc.", "e.g.", "i.e.", "&", "+", "=", "@", "%", "#", "MP3",
    "COVID-19", "4K", "B2B", "FBI", "NASA", "USA", "HTML", "well-known", "year.", "one", "two",
    "yes", "I", "I'm", "1990s", "10km", "5pm", "a.m.", "www.example.com", "x", "M", "R",
]  # fmt: skip


@pytest.fixture(scope="module")
def g2p():
    hama = pytest.importorskip("hama")
    model = hama.G2PModel()
    return lambda word: [a.phoneme for a in model.predict(word).alignments]


@pytest.fixture(scope="module")
def asr_vocabulary() -> set[str]:
    hama = pytest.importorskip("hama")
    return set(hama.ASRModel().decoder_tokens)


def test_raw_tokens_confuse_the_g2p(g2p) -> None:
    """The reason for this stage: raw tokens come out as non-English phonemes."""
    for raw in ["1999", "Dr.", "&", "year."]:
        assert not set(g2p(raw)) <= ENGLISH_PHONEMES, raw


@pytest.mark.parametrize("token", TRICKY)
def test_spoken_form_sounds_english_to_g2p(token: str, g2p, asr_vocabulary: set[str]) -> None:
    said = spoken_form(token)
    assert said
    for word in said.split():
        phonemes = g2p(word)
        assert phonemes, word
        assert set(phonemes) <= asr_vocabulary, (word, phonemes)
        foreign = [p for p in phonemes if p not in ENGLISH_PHONEMES]
        assert not foreign, f"{token!r} -> {word!r} -> {phonemes}"


def test_korean_spoken_form_uses_korean_phonemes(g2p, asr_vocabulary: set[str]) -> None:
    for word in spoken_form("1999년", "ko").split():
        phonemes = g2p(word)
        assert phonemes and set(phonemes) <= asr_vocabulary
        assert not set(phonemes) & set("¹²³⁴⁵")


# --------------------------------------------------------------------------------------------
# split_words


SAMPLE = """Dr. Smith arrived at 10:00 am — on time.  He paid $5 million for it… "Really?" she asked.
- Yes! It was 1999, etc. The end.

St. Louis is on Main St. Then No. 5 was next. No. That's all ...
"""


def _rebuild(source: str, words: list[Word]) -> str:
    out, pos = [], 0
    for w in words:
        gap = source[pos : w.start]
        assert not gap.strip(), f"non-space text lost between words: {gap!r}"
        out.append(gap + w.text)
        pos = w.end
    out.append(source[pos:])
    return "".join(out)


def test_original_text_is_preserved_exactly() -> None:
    words = split_words(SAMPLE)
    assert _rebuild(SAMPLE, words) == SAMPLE
    for w in words:
        assert SAMPLE[w.start : w.end] == w.text
        assert w.spoken
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_offsets_and_fields() -> None:
    words = split_words("Hello,  world!\nNew line.\n\nNew paragraph")
    assert [(w.text, w.start, w.end) for w in words] == [
        ("Hello,", 0, 6),
        ("world!", 8, 14),
        ("New", 15, 18),
        ("line.", 19, 24),
        ("New", 26, 29),
        ("paragraph", 30, 39),
    ]
    assert [w.spoken for w in words] == ["hello", "world", "new", "line", "new", "paragraph"]
    assert [w.line_end for w in words] == [False, True, False, True, False, True]
    assert [w.paragraph_end for w in words] == [False, False, False, True, False, True]
    assert [w.sentence_end for w in words] == [False, True, False, True, False, False]


def test_word_is_frozen() -> None:
    w = split_words("hi")[0]
    with pytest.raises(AttributeError):
        w.text = "ho"  # type: ignore[misc]


def test_sentence_ends_and_abbreviations() -> None:
    words = {w.text: w for w in split_words(SAMPLE)}
    ends = {w.text for w in split_words(SAMPLE) if w.sentence_end}
    assert {"time.", "it…", '"Really?"', "asked.", "- Yes!", "etc.", "end.", "next."} <= ends
    assert "No." in ends  # the word "no", not "number"
    assert not words["Dr."].sentence_end
    assert not words["1999,"].sentence_end
    assert "all ..." in ends


@pytest.mark.parametrize(
    ("text", "word", "ends"),
    [
        ("Ask Dr. Who.", "Dr.", False),
        ("Mr. and Mrs. Smith", "Mrs.", False),
        ("Apples, pears, etc. are fruit.", "etc.", False),
        ("Apples, pears, etc. Then more.", "etc.", True),
        ("John F. Kennedy spoke.", "F.", False),
        ("It is room No. 5 now.", "No.", False),
        ("He said no. Then left.", "no.", True),
        ('He said "stop." Then', '"stop."', True),
        ("Wait (really?) yes", "(really?)", True),
        ("at 5 p.m. We met", "p.m.", True),
        ("Was it real...", "real...", True),
        ("St. Louis", "St.", False),
        ("He left—", "left—", False),
    ],
)
def test_sentence_end_cases(text: str, word: str, ends: bool) -> None:
    found = [w for w in split_words(text) if w.text == word]
    assert found, [w.text for w in split_words(text)]
    assert found[0].sentence_end is ends


def test_context_readings() -> None:
    def spoken(text: str) -> list[str]:
        return [w.spoken for w in split_words(text)]

    assert spoken("No. 5") == ["number", "five"]
    assert spoken("St. Louis") == ["saint", "louis"]
    assert spoken("Main St.") == ["main", "street"]
    assert spoken("$5 million") == ["five", "million dollars"]
    assert spoken("10:00 am") == ["ten", "ay em"]
    assert spoken("I am here") == ["eye", "am", "here"]


def test_punctuation_tokens_are_glued() -> None:
    text = "Wait — what? -- yes … * ok"
    words = split_words(text)
    assert [w.text for w in words] == ["Wait —", "what? --", "yes … *", "ok"]
    assert [w.spoken for w in words] == ["wait", "what", "yess", "okay"]
    for w in words:
        assert text[w.start : w.end] == w.text


def test_leading_punctuation_glues_to_next_word() -> None:
    text = "— Hello there\n- Hi\nword\n—\nend"
    words = split_words(text)
    assert [w.text for w in words] == ["— Hello", "there", "- Hi", "word\n—", "end"]
    assert _rebuild(text, words) == text
    assert words[1].line_end and words[3].line_end


def test_symbols_are_words_of_their_own() -> None:
    words = split_words("salt & pepper + 50 % more")
    assert [w.spoken for w in words] == [
        "salt",
        "and",
        "pepper",
        "plus",
        "fifty",
        "percent",
        "more",
    ]


def test_shouting_transcript_is_not_spelled() -> None:
    words = split_words("WHY DID THE FBI CALL ME AT HOME TODAY")
    assert [w.spoken for w in words][:4] == ["why", "did", "the", "fbi"]
    assert split_words("Then the FBI called.")[2].spoken == "ef bee eye"


@pytest.mark.parametrize("text", ["", "   \n\t  ", "— … -- * !!!", "\n\n.\n"])
def test_nothing_to_align(text: str) -> None:
    with pytest.raises(TranscriptError, match="has no words to align"):
        split_words(text)


def test_nothing_to_align_names_the_source() -> None:
    with pytest.raises(TranscriptError, match="talk.txt has no words"):
        split_words("…", name="talk.txt")


# A mix of random Unicode and the characters the normaliser cares about most.
_FRAGMENTS = st.sampled_from(
    [" ", "\n", "\n\n", "1999", "3.5%", "$", "€20", "Dr.", "-", "—", "…", "'", "’", "&", "#",
     "FBI", "a.m.", "10:30", "1/2", "²", "½", "٣", "é", "\u0301", "서울", "\x00", "\u200b", "9" * 30]
)  # fmt: skip
_TEXT = st.lists(st.one_of(st.text(max_size=8), _FRAGMENTS), max_size=25).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT, st.sampled_from(["en", "ko", "de"]))
def test_split_words_property(text: str, language: str) -> None:
    try:
        words = split_words(text, language)
    except TranscriptError:
        return
    assert words
    for w in words:
        assert text[w.start : w.end] == w.text
        assert w.spoken and w.spoken == w.spoken.strip() and "  " not in w.spoken
        assert w.spoken == w.spoken.lower()
        assert not any("0" <= ch <= "9" for ch in w.spoken)
    assert _rebuild(text, words) == text


# --------------------------------------------------------------------------------------------
# read_text


def _write(tmp_path: Path, data: bytes, name: str = "t.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


TEXT = "Café 1999 — naïve Straße 서울\nline two\n"


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
        b"\xff\xfe" + TEXT.encode("utf-16-le"),
        b"\xfe\xff" + TEXT.encode("utf-16-be"),
        b"\xff\xfe\x00\x00" + TEXT.encode("utf-32-le"),
        b"\x00\x00\xfe\xff" + TEXT.encode("utf-32-be"),
        TEXT.encode("utf-16"),  # Python's codec writes a BOM
        TEXT.encode("utf-32"),
    ],
    ids=["utf8", "utf8-bom", "utf16le", "utf16be", "utf32le", "utf32be", "utf16", "utf32"],
)
def test_read_text_encodings(tmp_path: Path, data: bytes) -> None:
    assert read_text(_write(tmp_path, data)) == TEXT
    assert read_text(str(_write(tmp_path, data))) == TEXT


def test_read_text_normalises_newlines_and_nfc(tmp_path: Path) -> None:
    raw = "a\r\nb\rc\u2028d\ne\u0301\n"
    assert read_text(_write(tmp_path, raw.encode())) == "a\nb\nc\nd\né\n"


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        ("Café".encode("cp1252"), 3),
        ("ok\n“quoted”".encode("cp1252"), 3),
        ("naïve".encode("latin-1"), 2),
        (b"\xff\xfe", None),  # a UTF-16 BOM alone decodes to empty text, no error
    ],
)
def test_read_text_rejects_non_utf8(tmp_path: Path, data: bytes, offset: int | None) -> None:
    path = _write(tmp_path, data, "legacy.txt")
    if offset is None:
        assert read_text(path) == ""
        return
    with pytest.raises(TranscriptError) as info:
        read_text(path)
    message = str(info.value)
    assert "legacy.txt" in message and f"byte offset {offset}" in message
    assert "UTF-8" in message and "\n" not in message


def test_read_text_reports_bad_utf16(tmp_path: Path) -> None:
    path = _write(tmp_path, b"\xff\xfe" + "ab".encode("utf-16-le") + b"\x00\xd8")  # lone surrogate
    with pytest.raises(TranscriptError, match="not valid UTF-16-LE.*byte offset 6"):
        read_text(path)


def test_read_text_rejects_binary(tmp_path: Path) -> None:
    path = _write(tmp_path, b"hello\x00world", "blob.bin")
    with pytest.raises(
        TranscriptError, match=r"blob.bin looks binary \(NUL byte at byte offset 5\)"
    ):
        read_text(path)
    path = _write(tmp_path, b"\xff\xfe" + "a\x00b".encode("utf-16-le"), "nul16.txt")
    with pytest.raises(TranscriptError, match="binary"):
        read_text(path)


def test_read_text_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(TranscriptError, match="not found"):
        read_text(tmp_path / "nope.txt")
    with pytest.raises(TranscriptError, match="is a directory"):
        read_text(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads everything")
def test_read_text_unreadable(tmp_path: Path) -> None:
    path = _write(tmp_path, b"secret")
    path.chmod(0)
    try:
        with pytest.raises(TranscriptError, match="permission denied"):
            read_text(path)
    finally:
        path.chmod(0o600)


def _run_stdin(data: bytes) -> subprocess.CompletedProcess[bytes]:
    code = (
        "import sys; from subalign.text import read_text; from subalign.errors import SubalignError\n"
        "try:\n    sys.stdout.buffer.write(read_text('-').encode('utf-8'))\n"
        "except SubalignError as e:\n    print(e, file=sys.stderr); sys.exit(2)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], input=data, cwd=REPO, capture_output=True, timeout=60
    )


def test_read_text_from_stdin() -> None:
    done = _run_stdin(b"\xef\xbb\xbf" + "Dr. Café\r\n1999".encode())
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode("utf-8") == "Dr. Café\n1999"
    done = _run_stdin(b"\xff\xfe" + "서울".encode("utf-16-le"))
    assert done.stdout.decode("utf-8") == "서울"


def test_read_text_from_stdin_rejects_cp1252() -> None:
    done = _run_stdin("Café".encode("cp1252"))
    assert done.returncode == 2
    assert b"<stdin>" in done.stderr and b"byte offset 3" in done.stderr
