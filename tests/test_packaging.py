"""The package as a user installs it: a wheel built from the project, installed into a fresh
virtualenv outside the clone, must align the bundled sample with the compiled extension (issue 19).

The wheel carries the extension's C++/CUDA sources (subalign/_extensions, package data), so the
installed package compiles its op on first use like a checkout does, saying so in one line; it
holds no tests or benchmarks. The virtualenv sees this interpreter's packages (torch and the rest)
through a path file, so nothing is downloaded; subalign itself comes only from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "sonnet001.mp3"
SAMPLE_TEXT = REPO / "samples" / "sonnet001.txt"
NOT_SOURCES = (".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
               ".ruff_cache", ".hypothesis", "out", "*.so")


def run(*cmd: str | Path, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=1200, **kwargs)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_wheel_installed_outside_the_clone_builds_and_uses_the_extension(tmp_path):
    # build from a copy of the project's files, so the clone gets no build/ or egg-info folder
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src)
    (wheel,) = dist.glob("subalign-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for source in ("forced_align_op.cpp", "forced_align_cpu.cpp", "forced_align_cuda.cu",
                   "forced_align.h", "trellis.h", "forced_align_kernels.cuh"):
        assert f"subalign/_extensions/{source}" in names
    assert all(n.startswith(("subalign/", "subalign-")) for n in names), names  # no tests, bench
    assert "subalign/models/data/hama_lexicon.txt.gz" in names and "subalign/models/data/NOTICE" in names
    assert wheel.stat().st_size < 2 << 20  # the code, and the embedded model's lexicon (0.84 MB)

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", venv)
    python = venv / "bin" / "python"
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                   .stdout.strip())
    # this interpreter's packages (torch, numpy, hama...) after the venv's own; a plain path line
    # does not run the .pth files in it, so an editable subalign there stays out of the way
    (purelib / "test-interpreter.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    run(python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "SUBALIGN_EXTENSION_DIR", "SUBALIGN_NO_EXTENSION")}
    env["SUBALIGN_CACHE"] = str(tmp_path / "cache")  # a first use: the op is compiled now
    out = elsewhere / "sonnet.json"
    first = run(venv / "bin" / "subalign", "align", SAMPLE, SAMPLE_TEXT, "-o", out, cwd=elsewhere, env=env)
    lines = first.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("subalign: compiling the forced-align extension"), lines
    assert json.loads(out.read_text())["meta"]["backend"].startswith("extension")

    check = run(python, "-c", "import subalign; print(subalign.__file__); print(subalign.forced_align_backend())",
                cwd=elsewhere, env=env)
    where, backend = check.stdout.split()
    assert Path(where).is_relative_to(venv) and backend.startswith("extension"), check.stdout
    assert check.stderr == ""  # built once: no second compile line
    lexicon = run(python, "-c", "from subalign.models.hama import _lexicon; print(len(_lexicon()))",
                  cwd=elsewhere, env=env)
    assert int(lexicon.stdout) > 100_000  # installed with the wheel, and for this hama
