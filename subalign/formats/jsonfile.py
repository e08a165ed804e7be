"""JSON output: every word with its times and score, the cues as word indices, and run metadata;
and reading such a result back (`read_result`) to draw it again without aligning."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from subalign.errors import SubalignError
from subalign.formats.base import cue_times_ms, to_ms
from subalign.types import Cue, WordSpan


def _seconds(ms: int) -> float:
    """Whole milliseconds back to seconds, for a JSON number with at most three decimals."""
    return ms / 1000


def _word_indices(words: Sequence[WordSpan], cues: Sequence[Cue]) -> list[list[int]]:
    """Index into ``words`` of each cue word, matched in order so repeated words map correctly."""
    indices: list[list[int]] = []
    position = 0
    for number, cue in enumerate(cues, 1):
        found = []
        for word in cue.words:
            at = position
            while at < len(words) and not (words[at] is word or words[at] == word):
                at += 1
            if at == len(words):
                raise ValueError(f"cue {number} holds the word {word.text!r}, not in the word list")
            found.append(at)
            position = at + 1
        indices.append(found)
    return indices


def json_document(
    words: Sequence[WordSpan], cues: Sequence[Cue], meta: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON document of a result: what `JsonWriter` writes, as a dict (see its docstring).

    Two keys of ``meta`` are lifted out of it: ``report`` (the rules the cues break) becomes the
    top-level ``report``, and ``cue_details`` (one dict per cue, e.g. sync's ``{"status":
    "interpolated"}``) is merged into each cue's object.
    """
    cue_words = _word_indices(words, cues)
    times = cue_times_ms(cues)
    meta = dict(meta)
    report = meta.pop("report", None)
    details = meta.pop("cue_details", None)
    if details is not None and len(details) != len(cues):
        raise ValueError(f"cue_details has {len(details)} entries for {len(cues)} cues")
    document: dict[str, Any] = {
        "words": [
            {
                "text": w.text,
                "start": _seconds(to_ms(w.start)),
                "end": _seconds(max(to_ms(w.end), to_ms(w.start))),
                "score": round(float(w.score), 4),
            }
            if w.found else {"text": w.text, "start": None, "end": None, "score": 0.0, "found": False}
            for w in words
        ],
        "cues": [
            {
                "start": _seconds(start),
                "end": _seconds(end),
                "text": cue.text,
                "lines": list(cue.lines),
                "words": indices,
                **(dict(details[k]) if details is not None else {}),
            }
            for k, (cue, (start, end), indices) in enumerate(zip(cues, times, cue_words, strict=True))
        ],
        "meta": meta,
    }
    if report is not None:
        document["report"] = list(report)
    return document


class JsonWriter:
    """Words, cues and meta as one UTF-8 JSON object.

    A word that was not found in the audio has ``"found": false`` and null times.
    Times are seconds rounded to milliseconds (cue times never overlap, as in SRT/WebVTT) and
    scores are rounded to four decimals; a cue's ``words`` are indices into ``words``. A
    ``report`` in meta (the rules the cues break) is written as the top-level ``report``; a
    ``cue_details`` list in meta adds its fields to each cue (sync: ``status``, ``score``).
    """

    extension = ".json"

    def render(
        self, words: Sequence[WordSpan], cues: Sequence[Cue], meta: Mapping[str, Any]
    ) -> str:
        """Render the document; meta values JSON cannot hold (paths, ...) are written as strings."""
        document = json_document(words, cues, meta)
        return json.dumps(document, ensure_ascii=False, indent=2, default=str, allow_nan=False) + "\n"


# ------------------------------------------------------------------------------------------------
# Reading a result back (`subalign render`)


def result_document(result: Any) -> dict[str, Any]:
    """The JSON document of `result`: an `Alignment` or `SyncResult` (their ``document()``), a
    document already (checked), or the path of a JSON file written by ``-o x.json``."""
    if isinstance(result, Mapping):
        return check_document(result)
    if isinstance(result, str | os.PathLike):
        return read_result(result)
    document = getattr(result, "document", None)
    if not callable(document):
        raise TypeError(f"expected an Alignment, a SyncResult, a JSON document or its path, got "
                        f"{type(result).__name__}")
    return document()


def read_result(path: str | Path) -> dict[str, Any]:
    """A JSON result written by subalign (``-o x.json``), read and checked: a SubalignError
    names the file and what is wrong with it."""
    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise SubalignError(f"the result file '{p}' does not exist") from None
    except IsADirectoryError:
        raise SubalignError(f"'{p}' is a folder; give the JSON file written by 'subalign … -o x.json'") from None
    except OSError as exc:
        raise SubalignError(f"cannot read the result file '{p}': {exc.strerror or exc}") from None
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SubalignError(f"{p} is not a JSON file ({exc}); give the JSON written by "
                            "'subalign align|sync … -o x.json'") from None
    return check_document(document, str(p))


def check_document(document: Any, name: str = "the result") -> dict[str, Any]:
    """``document`` if it has the shape `json_document` gives (words with text and times or
    null, cues with times, lines and word indices), else a SubalignError saying what is wrong."""

    def bad(what: str) -> SubalignError:
        return SubalignError(f"{name}: {what}; give the JSON written by 'subalign align|sync … -o x.json'")

    if not isinstance(document, Mapping):
        raise bad("it is not a JSON object")
    words, cues = document.get("words"), document.get("cues")
    if not isinstance(words, list) or not isinstance(cues, list):
        raise bad("it has no 'words' and 'cues' lists")
    for k, w in enumerate(words, 1):
        if not isinstance(w, Mapping) or not isinstance(w.get("text"), str):
            raise bad(f"word {k} has no text")
        times = (w.get("start"), w.get("end"))
        if w.get("found", True) is False:
            continue
        if not all(_number(t) for t in times) or times[1] < times[0]:
            raise bad(f"word {k} ({w['text']!r}) has no valid start and end")
    for k, c in enumerate(cues, 1):
        if not isinstance(c, Mapping) or not (_number(c.get("start")) and _number(c.get("end"))):
            raise bad(f"cue {k} has no valid start and end")
        if not isinstance(c.get("lines", []), list) or not isinstance(c.get("words", []), list):
            raise bad(f"cue {k} has no list of lines and words")
        if any(not isinstance(i, int) or not 0 <= i < len(words) for i in c.get("words", [])):
            raise bad(f"cue {k} refers to a word that is not in the word list")
    for key, kind in (("meta", Mapping), ("report", list)):
        if key in document and not isinstance(document[key], kind):
            raise bad(f"its '{key}' is not a JSON {'object' if kind is Mapping else 'list'}")
    return dict(document)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x >= 0
