"""Result types shared by the stages: frozen dataclasses, times in seconds, scores in [0, 1]."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TokenSpan:
    """One non-blank token of a CTC path: frames [start, end) and its mean probability."""

    token: int
    start: int
    end: int
    score: float

    def __len__(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class WordSpan:
    """One word of the transcript with its original text, times in seconds and a score in [0, 1].

    ``found`` is False for a word that was not heard in the audio (long media whose transcript
    holds text the audio lacks); such a word has no real times: its start and end only keep it in
    order (both are where the word before it ends) and writers leave it out of cues.
    """

    text: str
    start: float
    end: float
    score: float
    found: bool = True


@dataclass(frozen=True)
class Cue:
    """One subtitle cue: its lines and the words it was built from."""

    start: float
    end: float
    lines: tuple[str, ...]
    words: tuple[WordSpan, ...] = field(default=(), compare=False)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)
