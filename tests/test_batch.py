"""`subalign batch` and `subalign.run_batch` on real media (TIMIT utterances) with the real model:
folder pairing, manifests, failures among good items, resume, parallel workers, a killed worker,
Ctrl-C / SIGTERM, and the Ray executor on a local Ray instance."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pysrt
import pytest
import webvtt
from conftest import write_wav

from subalign import BatchItem, ItemResult, SubalignError, run_batch
from subalign.cli import main
from subalign.media import load_audio

REPO = Path(__file__).resolve().parents[1]
SR = 16_000
# (speaker, utterance) of the short items; each about 3 s of read speech
ALIGNED = [("dr1-fvmh0", "sa1"), ("dr2-faem0", "sa2")]
SYNCED = [("dr3-madc0", "sa1"), ("dr4-falr0", "sa2")]


def prompt(timit: Path, speaker: str, utt: str) -> str:
    return (timit / speaker / f"{utt}.txt").read_text().split(maxsplit=2)[2].strip()


def clock(x: float, sep: str = ",") -> str:
    ms = max(0, round(x * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def subtitles(timit: Path, speaker: str, utt: str, vtt: bool) -> str:
    """Two cues (the two halves of the sentence) at their true times moved 0.4 s late."""
    rows = [r.split() for r in (timit / speaker / f"{utt}.wrd").read_text().splitlines() if r.strip()]
    words = prompt(timit, speaker, utt).split()
    half = len(words) // 2
    spans = [(int(rows[0][0]) / SR, int(rows[half - 1][1]) / SR), (int(rows[half][0]) / SR, int(rows[-1][1]) / SR)]
    texts = [" ".join(words[:half]), " ".join(words[half:])]
    sep = "." if vtt else ","
    body = "\n".join(f"{i}\n{clock(a + 0.4, sep)} --> {clock(b + 0.4, sep)}\n{t}\n"
                     for i, ((a, b), t) in enumerate(zip(spans, texts, strict=True), 1))
    return ("WEBVTT\n\n" + body) if vtt else body


@pytest.fixture(scope="module")
def library(timit, tmp_path_factory) -> Path:
    """A media folder: two transcripts (one in a sub-folder), an SRT and a VTT to sync."""
    root = tmp_path_factory.mktemp("library")
    (root / "season1").mkdir()
    for (speaker, utt), folder in zip(ALIGNED, (root, root / "season1"), strict=True):
        name = f"{speaker}-{utt}"
        (folder / f"{name}.wav").write_bytes((timit / speaker / f"{utt}.wav").read_bytes())
        (folder / f"{name}.txt").write_text(prompt(timit, speaker, utt) + "\n")
    for (speaker, utt), vtt in zip(SYNCED, (False, True), strict=True):
        name = f"{speaker}-{utt}"
        (root / f"{name}.wav").write_bytes((timit / speaker / f"{utt}.wav").read_bytes())
        (root / f"{name}.{'vtt' if vtt else 'srt'}").write_text(subtitles(timit, speaker, utt, vtt))
    return root


def outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.srt"))}


def leftovers(out: Path) -> list[Path]:
    """Temporary files of unfinished writes."""
    return [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def record(out: Path) -> dict:
    return json.loads((out / "batch.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def folder_run(library, tmp_path_factory):
    """`subalign batch` on the library plus two bad items (a corrupt media file, a media file
    without a partner), one worker; then the same command again; then with --redo."""
    root = tmp_path_factory.mktemp("with-bad")
    for path in library.rglob("*"):
        target = root / path.relative_to(library)
        if path.is_dir():
            target.mkdir()
        else:
            target.write_bytes(path.read_bytes())
    (root / "corrupt.wav").write_bytes(b"RIFF not really a wave file" * 10)
    (root / "corrupt.txt").write_text("nothing here\n")
    (root / "orphan.wav").write_bytes((library / "dr1-fvmh0-sa1.wav").read_bytes())
    out = tmp_path_factory.mktemp("out") / "subs"  # created by the batch
    argv = ["batch", str(root), "-o", str(out), "--jobs", "1", "-q"]
    runs = []
    for extra in ([], [], ["--redo"]):
        before = {p: p.stat().st_mtime_ns for p in out.rglob("*.srt")} if out.exists() else {}
        code = main(argv + extra)
        runs.append({"code": code, "record": record(out), "before": before,
                     "after": {p: p.stat().st_mtime_ns for p in out.rglob("*.srt")}})
    return {"root": root, "out": out, "runs": runs}


def by_media(doc: dict) -> dict[str, dict]:
    return {Path(r["media"]).name: r for r in doc["items"]}


def test_folder_pairs_by_stem_and_fails_only_the_bad_items(folder_run, timit, tmp_path, capsys):
    first = folder_run["runs"][0]
    assert first["code"] == 3
    items = by_media(first["record"])
    assert len(items) == 6 and first["record"]["summary"]["ok"] == 4
    assert first["record"]["summary"]["failed"] == 2
    out = folder_run["out"]
    # align items: every word found and timed; the sub-folder is mirrored in OUT_DIR
    for speaker, utt in ALIGNED:
        r = items[f"{speaker}-{utt}.wav"]
        assert r["status"] == "ok" and r["command"] == "align" and r["error"] is None
        assert r["words"] == len(prompt(timit, speaker, utt).split()) and r["words_not_found"] == 0
        assert r["placement"]["method"] == "whole" and r["seconds"] > 0
        subs = pysrt.open(r["output"])
        assert " ".join(s.text.replace("\n", " ") for s in subs).split() == prompt(timit, speaker, utt).split()
    assert (out / "season1" / "dr2-faem0-sa2.srt").exists()
    # sync items: both cues found, moved back by about the 0.4 s they were late
    for speaker, utt in SYNCED:
        r = items[f"{speaker}-{utt}.wav"]
        assert r["status"] == "ok" and r["command"] == "sync"
        assert r["placement"]["aligned"] == 2 and r["placement"]["not_aligned"] == []
        rows = [x.split() for x in (timit / speaker / f"{utt}.wrd").read_text().splitlines() if x.strip()]
        first_cue = pysrt.open(r["output"])[0]
        assert abs(first_cue.start.ordinal / 1000 - int(rows[0][0]) / SR) < 0.15
    # the corrupt file fails with the very line `subalign align` prints for it
    bad = items["corrupt.wav"]
    assert bad["status"] == "failed" and not Path(bad["output"]).exists()
    capsys.readouterr()
    assert main(["align", bad["media"], bad["source"], "-o", str(tmp_path / "x.srt"), "-q"]) == 2
    assert capsys.readouterr().err.strip() == f"subalign: error: {bad['error']}"
    orphan = items["orphan.wav"]
    assert orphan["status"] == "failed" and "orphan.txt" in orphan["error"]
    assert not leftovers(out)


def test_rerun_skips_what_is_up_to_date_and_redo_forces(folder_run):
    _, second, third = folder_run["runs"]
    assert second["code"] == 3  # the bad items are tried again, and fail again
    statuses = {k: r["status"] for k, r in by_media(second["record"]).items()}
    assert sorted(statuses.values()) == ["failed", "failed", "skipped", "skipped", "skipped", "skipped"]
    assert second["after"] == second["before"]  # nothing rewritten
    skipped = by_media(second["record"])["dr1-fvmh0-sa1.wav"]
    assert skipped["words"] == 11 and skipped["words_not_found"] == 0  # the details of the run that made it
    assert third["code"] == 3
    assert sum(r["status"] == "ok" for r in third["record"]["items"]) == 4
    assert all(third["after"][p] > t for p, t in third["before"].items())
    # an input edited after its output was made is run again
    text = folder_run["root"] / "dr1-fvmh0-sa1.txt"
    os.utime(text, ns=(time.time_ns(), time.time_ns()))
    records = run_batch(folder_run["root"], folder_run["out"], jobs=1)
    assert [r.status for r in records if r.status != "failed"].count("ok") == 1
    assert next(r for r in records if r.media == str(text.with_suffix(".wav"))).status == "ok"


def test_two_workers_write_the_same_files_and_load_the_model_once_each(library, folder_run, tmp_path):
    """A CSV manifest, --jobs 2, in a separate process with --debug so the workers' log lines
    ("loaded model ...", each tagged with the worker's process id) can be counted."""
    manifest = tmp_path / "list.csv"
    rows = ["media,text,subtitles,output"]
    for path in sorted(library.rglob("*.wav")):
        partner = next(p for p in path.parent.glob(f"{path.stem}.*") if p.suffix != ".wav")
        column = "text" if partner.suffix == ".txt" else "subtitles"
        rel = path.relative_to(library).with_suffix(".srt")
        rows.append(f"{path},{partner if column == 'text' else ''},{partner if column == 'subtitles' else ''},{rel}")
    manifest.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "subalign", "batch", str(manifest), "-o", str(out),
                           "--jobs", "2", "--debug", "-q"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    doc = record(out)
    assert doc["summary"]["ok"] == 4
    # the same bytes as one worker wrote (in the folder run)
    first = outputs(folder_run["out"])
    assert outputs(out) == {k: v for k, v in first.items() if not k.startswith(("corrupt", "orphan"))}
    loads = re.findall(r"\[worker (\d+)\] loaded model hama", proc.stderr)
    assert len(loads) == len(set(loads)) == 2, proc.stderr  # once per worker, not once per item
    ran = {r["worker"].rsplit(":", 1)[1] for r in doc["items"]}
    assert ran <= set(loads) and str(os.getpid()) not in ran


def test_jsonl_manifest_languages_outputs_and_a_missing_file(library, tmp_path, capsys):
    manifest = tmp_path / "jobs.jsonl"
    lines = [
        {"media": str(library / "dr3-madc0-sa1.wav"), "subtitles": str(library / "dr3-madc0-sa1.srt"),
         "output": "deep/synced.vtt", "language": "en"},
        {"media": "missing.wav", "text": str(library / "dr1-fvmh0-sa1.txt")},
        {"media": str(library / "dr1-fvmh0-sa1.wav"), "subtitles": "wrong.srt"},  # not what is said
    ]
    (tmp_path / "wrong.srt").write_text("1\n00:00:00,500 --> 00:00:01,500\nThe quick brown fox jumps over\n\n"
                                        "2\n00:00:01,600 --> 00:00:02,800\nthe lazy dog near the river bank\n")
    manifest.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    out = tmp_path / "out"
    seen: list[ItemResult] = []
    records = run_batch(manifest, out, jobs=1, on_item=seen.append)
    assert [r.status for r in records] == ["ok", "failed", "failed"]
    assert sorted(r.index for r in seen) == [0, 1, 2]
    synced = webvtt.read(str(out / "deep" / "synced.vtt"))
    assert len(synced) == 2
    # relative to the manifest's folder, and the single command's message
    assert records[1].media == str(tmp_path / "missing.wav") and records[1].output == str(out / "missing.srt")
    assert main(["align", records[1].media, records[1].source, "-o", str(tmp_path / "x.srt"), "-q"]) == 2
    assert capsys.readouterr().err.strip() == f"subalign: error: {records[1].error}"
    # the sync's fail-safe refuses subtitles that are not in the audio, as `subalign sync` does,
    # and the item keeps the warnings the command prints before its error
    refused = records[2]
    assert "0 of the 2 cues" in refused.error and not Path(refused.output).exists()
    assert main(["sync", refused.media, refused.source, "-o", str(tmp_path / "y.srt"), "-q"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == (
        [f"subalign: warning: {w}" for w in refused.warnings] + [f"subalign: error: {refused.error}"])
    assert refused.warnings


@pytest.mark.parametrize("content, message", [
    ("media,transcript\na.wav,a.txt\n", "unknown: transcript"),
    ("media,text,subtitles\na.wav,a.txt,a.srt\n", "either text (align) or subtitles (sync)"),
    ("media,text\n,a.txt\n", "line 2: no media"),
])
def test_bad_batch_input_exits_2(tmp_path, capsys, content, message):
    manifest = tmp_path / "m.csv"
    manifest.write_text(content)
    assert main(["batch", str(manifest), "-o", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("subalign: error:") and message in err and err.count("\n") == 1
    assert main(["batch", str(tmp_path / "nowhere"), "-o", str(tmp_path / "o"), "-q"]) == 2
    assert "cannot find" in capsys.readouterr().err
    assert main(["batch", str(tmp_path), "-o", str(tmp_path / "o"), "--to", "doc", "-q"]) == 2
    assert "not a known output format" in capsys.readouterr().err


@pytest.fixture(scope="module")
def long_items(timit, tmp_path_factory) -> list[BatchItem]:
    """Three items of about 15 s each (five sentences of one speaker), long enough to be
    interrupted in the middle."""
    root = tmp_path_factory.mktemp("long")
    items = []
    for speaker in ("dr5-ftlg0", "dr5-mbgt0", "dr6-fapb0"):
        texts, parts = [], []
        for txt in sorted((timit / speaker).glob("s[aix]*.txt"))[:5]:
            wav = txt.with_suffix(".wav")
            if wav.read_bytes()[:4] != b"RIFF":
                continue
            texts.append(txt.read_text().split(maxsplit=2)[2].strip())
            parts.append(load_audio(wav, sample_rate=SR))
        write_wav(root / f"{speaker}.wav", np.concatenate(parts))
        (root / f"{speaker}.txt").write_text("\n".join(texts) + "\n")
        items.append(BatchItem(root / f"{speaker}.wav", root / "out" / f"{speaker}.srt",
                               transcript=root / f"{speaker}.txt"))
    return items


def test_a_killed_worker_fails_its_item_only(library, long_items, tmp_path):
    short = [library / f"{speaker}-{utt}.wav" for speaker, utt in SYNCED]
    items = [BatchItem(short[0], tmp_path / "first.srt", subtitles=short[0].with_suffix(".srt")),
             BatchItem(long_items[0].media, tmp_path / "killed.srt", transcript=long_items[0].transcript),
             BatchItem(short[1], tmp_path / "third.srt", subtitles=short[1].with_suffix(".vtt"))]
    killed: list[int] = []

    def kill_the_worker(result: ItemResult) -> None:
        if not killed:  # the worker has just been handed the second item
            killed.append(int(result.worker.rsplit(":", 1)[1]))
            os.kill(killed[0], signal.SIGKILL)

    records = run_batch(items, tmp_path, jobs=1, on_item=kill_the_worker)
    assert [r.status for r in records] == ["ok", "failed", "ok"]
    assert "SIGKILL" in records[1].error and not Path(records[1].output).exists()
    assert int(records[2].worker.rsplit(":", 1)[1]) != killed[0]  # a fresh worker went on
    assert record(tmp_path)["summary"] == {"items": 3, "ok": 2, "skipped": 0, "failed": 1, "pending": 0,
                                           "interrupted": 0}
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_stopping_a_batch_leaves_no_partial_file(long_items, tmp_path, how):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"media": str(i.media), "text": str(i.transcript)}) + "\n"
                                for i in long_items))
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "subalign", "batch", str(manifest), "-o", str(out), "--jobs", "1", "-q"]
    # SIGINT as a terminal delivers it: a test runner started in the background has SIGINT
    # ignored, and the command keeps a signal that was ignored at its start ignored (nohup, `&`)
    proc = subprocess.Popen(argv, cwd=REPO, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # until the first item is done
        doc = record(out) if (out / "batch.json").exists() else None
        if doc and doc["summary"]["ok"]:
            break
        time.sleep(0.05)
    time.sleep(0.5)  # into the second item
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:  # what a terminal does: SIGINT to the whole process group, workers included
        os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (143 if how == "SIGTERM" else 130), err
    assert "interrupted" in err and "Traceback" not in err
    doc = record(out)
    assert doc["interrupted"] is True
    statuses = [r["status"] for r in doc["items"]]
    assert statuses[0] == "ok" and "interrupted" in statuses
    assert not leftovers(out)
    for r in doc["items"]:  # what exists is whole
        if Path(r["output"]).exists():
            assert r["status"] == "ok" and len(pysrt.open(r["output"])) > 3
    workers = {int(r["worker"].rsplit(":", 1)[1]) for r in doc["items"] if r["worker"]}
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_ray_executor_on_a_local_ray_instance(library, folder_run, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'subalign[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        items = [BatchItem(p, tmp_path / p.relative_to(library).with_suffix(".srt"),
                           transcript=p.with_suffix(".txt") if p.with_suffix(".txt").exists() else None,
                           subtitles=next((s for s in (p.with_suffix(".srt"), p.with_suffix(".vtt"))
                                           if s.exists()), None))
                 for p in sorted(library.rglob("*.wav"))]
        items.append(BatchItem(library / "gone.wav", tmp_path / "gone.srt", transcript=items[0].transcript))
        records = run_batch(items, tmp_path, executor="ray", jobs=2)
        assert [r.status for r in records] == ["ok"] * 4 + ["failed"]
        assert "cannot find" in records[-1].error or "gone.wav" in records[-1].error
        expected = {k: v for k, v in outputs(folder_run["out"]).items() if not k.startswith(("corrupt", "orphan"))}
        assert outputs(tmp_path) == expected  # the same bytes as local workers
        assert all(int(r.worker.rsplit(":", 1)[1]) != os.getpid() for r in records[:4])
    finally:
        ray.shutdown()


def test_a_model_that_cannot_load_is_bad_batch_input(library, tmp_path):
    """The first worker's model load fails: the batch stops with that error (exit 2 on the command
    line) instead of failing every item with it."""
    with pytest.raises(SubalignError, match="CPU only"):
        run_batch(library, tmp_path, device="cuda", jobs=1)
    assert {r["status"] for r in record(tmp_path)["items"]} == {"pending"}


def test_outputs_beside_the_media(library, tmp_path):
    """OUT_DIR = IN: the subtitles go beside the media, and a rerun takes the SRT it wrote for
    an output, not for subtitles to sync."""
    for name in ("dr1-fvmh0-sa1.wav", "dr1-fvmh0-sa1.txt"):
        (tmp_path / name).write_bytes((library / name).read_bytes())
    assert [r.status for r in run_batch(tmp_path, tmp_path, jobs=1)] == ["ok"]
    again = run_batch(tmp_path, tmp_path, jobs=1)
    assert [(r.status, r.command) for r in again] == [("skipped", "align")]
    assert again[0].words == 11  # from the record of the run that wrote it
