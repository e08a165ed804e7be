"""JSON output: every word with its times and score, the cues as word indices, and run metadata."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

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


class JsonWriter:
    """Words, cues and meta as one UTF-8 JSON object.

    A word that was not found in the audio has ``"found": false`` and null times.
    Times are seconds rounded to milliseconds (cue times never overlap, as in SRT/WebVTT) and
    scores are rounded to four decimals; a cue's ``words`` are indices into ``words``. A
    ``report`` in meta (the rules the cues break) is written as the top-level ``report``, and a
    ``cue_info`` list in meta (one dict per cue: sync's ``method``, ``status``, ``score``) adds its
    fields to each cue.
    """

    extension = ".json"

    def render(
        self, words: Sequence[WordSpan], cues: Sequence[Cue], meta: Mapping[str, Any]
    ) -> str:
        """Render the document; meta values JSON cannot hold (paths, ...) are written as strings."""
        cue_words = _word_indices(words, cues)
        times = cue_times_ms(cues)
        meta = dict(meta)
        report = meta.pop("report", None)
        extra = meta.pop("cue_info", None)  # per-cue fields (sync: method, status, score)
        if extra is not None and len(extra) != len(cues):
            raise ValueError(f"cue_info has {len(extra)} entries for {len(cues)} cues")
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
                    **(extra[k] if extra is not None else {}),
                }
                for k, (cue, (start, end), indices) in enumerate(zip(cues, times, cue_words, strict=True))
            ],
            "meta": meta,
        }
        if report is not None:
            document["report"] = list(report)
        return json.dumps(document, ensure_ascii=False, indent=2, default=str, allow_nan=False) + "\n"
