"""The plugin registry: model specs, listing, and a third-party package found through entry points.

The plugin package is built and installed with pip (offline, `--no-build-isolation`) into a
folder that a `subalign` subprocess sees on its path, so discovery goes through the installed
distribution's entry_points.txt exactly as after `pip install subalign-demo-plugin`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from subalign.errors import ModelError
from subalign.models import describe_model, list_models, load_model, parse_model_spec

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "sonnet001.mp3"
TEXT = REPO / "samples" / "sonnet001.txt"

PLUGIN_MODEL = '''
"""A third-party model: hama's recogniser in short windows, registered under another name."""
from subalign.models.hama import HamaModel


class ShortWindowHama(HamaModel):
    """hama with 10 s windows (a demo plugin)."""

    languages = ("en",)
    license = "Apache-2.0 (demo)"

    def __init__(self, arg=None, *, device="auto"):
        super().__init__(device=device, window_seconds=10.0, context_seconds=2.0)
        self.name = "shorthama" if arg is None else f"shorthama:{arg}"
'''

PLUGIN_WRITER = '''
"""A third-party output format: one word per line, tab-separated start, end and text."""


class WordsTsvWriter:
    extension = ".words"

    def render(self, words, cues, meta):
        lines = [f"{w.start:.3f}\\t{w.end:.3f}\\t{w.text}" for w in words]
        return "\\n".join(lines) + "\\n"
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "subalign-demo-plugin"
version = "0.0.1"

[project.entry-points."subalign.models"]
shorthama = "subalign_demo.model:ShortWindowHama"

[project.entry-points."subalign.writers"]
words = "subalign_demo.writer:WordsTsvWriter"

[tool.setuptools]
packages = ["subalign_demo"]
'''


def test_parse_model_spec():
    assert parse_model_spec("hama") == ("hama", None)
    assert parse_model_spec("HF:facebook/wav2vec2-base-960h") == ("hf", "facebook/wav2vec2-base-960h")
    assert parse_model_spec("hf:/models/a:b") == ("hf", "/models/a:b")  # only the first colon splits
    assert parse_model_spec("mms:") == ("mms", None)
    for bad in ("", ":x"):
        with pytest.raises(ModelError):
            parse_model_spec(bad)


def test_builtins_are_listed_without_loading_weights():
    infos = {i.name: i for i in list_models()}
    assert {"hama", "hf", "mms"} <= set(infos)
    assert infos["hama"].sample_rate == 16000 and infos["hama"].frame_seconds == pytest.approx(0.02)
    assert "embedded" in infos["hama"].weights
    assert "CC-BY-NC 4.0" in infos["mms"].license
    assert infos["mms"].weights  # present, missing, or why torchaudio cannot be used
    assert "first use" in infos["hf"].weights or "transformers" in infos["hf"].weights


def test_unknown_model_and_bad_arguments_are_model_errors():
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        load_model("nope")
    with pytest.raises(ModelError, match="takes no argument"):
        load_model("hama:extra")
    with pytest.raises(ModelError, match="CPU only"):
        load_model("hama", "cuda")
    assert describe_model("nope").error


def test_cli_models_lists_builtins(capsys):
    from subalign.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("hama", "hf", "mms"):
        assert f"\n{name}" in "\n" + out
    assert "CC-BY-NC 4.0" in out and "16000 Hz, frames of 20 ms" in out
    assert main(["models", "nope"]) == 2


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """Build and install the demo plugin package into a fresh folder (no network, no index)."""
    try:
        from importlib.metadata import version

        major, minor = (int(x) for x in version("setuptools").split(".")[:2])
    except Exception:
        major, minor = 0, 0
    if (major, minor) < (70, 1) and importlib.util.find_spec("wheel") is None:
        pytest.skip("building the demo plugin offline needs setuptools>=70.1 or wheel (in .[test])")
    root = tmp_path_factory.mktemp("plugin")
    src = root / "src"
    (src / "subalign_demo").mkdir(parents=True)
    (src / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (src / "subalign_demo" / "__init__.py").write_text("")
    (src / "subalign_demo" / "model.py").write_text(PLUGIN_MODEL)
    (src / "subalign_demo" / "writer.py").write_text(PLUGIN_WRITER)
    site = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(site), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert list(site.glob("subalign_demo_plugin-*.dist-info/entry_points.txt"))
    return site


def run_cli(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    return subprocess.run([sys.executable, "-m", "subalign", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_installed_plugin_is_listed(plugin_site):
    proc = run_cli(plugin_site, "models")
    assert proc.returncode == 0, proc.stderr
    assert "shorthama  [subalign-demo-plugin 0.0.1]" in proc.stdout
    assert "Apache-2.0 (demo)" in proc.stdout


def test_installed_plugin_model_and_writer_are_used(plugin_site, tmp_path):
    out = tmp_path / "sonnet.words"
    proc = run_cli(plugin_site, "align", str(SAMPLE), str(TEXT), "-o", str(out),
                   "--model", "shorthama", "-q")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert len(rows) > 50 and rows[0][2] == "1" and rows[1][2] == "From"
    starts = [float(r[0]) for r in rows]
    assert starts == sorted(starts) and starts[-1] > 40  # spans the 53 s reading
    # the same job with JSON output records the plugin model in meta
    js = tmp_path / "sonnet.json"
    proc = run_cli(plugin_site, "align", str(SAMPLE), str(TEXT), "-o", str(js), "--model",
                   "shorthama:demo", "-q")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(js.read_text())["meta"]["model"] == "shorthama:demo"


def test_plugin_writer_is_not_there_without_the_package(tmp_path, capsys):
    from subalign.cli import main

    code = main(["align", str(SAMPLE), str(TEXT), "-o", str(tmp_path / "x.words"), "-q"])
    assert code == 2 and "not a known output format" in capsys.readouterr().err
