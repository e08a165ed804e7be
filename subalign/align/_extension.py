"""Build, load and call the compiled forced-align op ``subalign::forced_align`` (``subalign/_extensions/``).

The C++ (and, where CUDA works, CUDA) sources are compiled on first use with
``torch.utils.cpp_extension`` against the torch already installed, into a cache folder keyed
on the sources, the torch version and the build flavour, under a file lock so that parallel
processes build once; the build says so in one line on stderr.  Nothing here raises on import:
when the compiler is missing or the build fails, ``load_op()`` returns None, remembers why, says
so once on stderr, and ``backend()`` reports the reference.
``SUBALIGN_NO_EXTENSION=1`` forces the reference.  The wrapper validates with the reference's
``check_inputs`` and gives exactly the answers of ``subalign.align.viterbi.forced_align`` (the
fallback and test oracle); only its ``mode`` (full back-pointers or checkpoint/recompute) and
``memory_budget`` options change anything: its memory use.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import platform
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from subalign.errors import AlignmentError

from .checks import MODES, AlignmentInputs, entry_point

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "backend",
    "build_info",
    "forced_align_ext",
    "load_op",
]

#: Back-pointer bytes that ``mode="auto"`` may spend on one call before it checkpoints.
DEFAULT_MEMORY_BUDGET = 1 << 30

_MODES = {name: code for code, name in enumerate(MODES)}  # the op's codes: 0 auto, 1 full, 2 checkpoint
_CPP_SOURCES = ("forced_align_op.cpp", "forced_align_cpu.cpp")
_CUDA_SOURCES = ("forced_align_cuda.cu",)
_HEADERS = ("forced_align.h", "trellis.h", "forced_align_kernels.cuh")
_LIB_NAME = "subalign_forced_align"

_lock = threading.Lock()
_state: dict[str, object] = {"tried": False, "op": None, "reason": "not loaded yet", "cuda": False}


def source_dir() -> Path | None:
    """The folder holding the extension's sources: $SUBALIGN_EXTENSION_DIR, else the package's
    own ``subalign/_extensions`` (package data: a checkout, an editable install and an installed
    wheel all have it)."""
    candidates = [os.environ.get("SUBALIGN_EXTENSION_DIR"), Path(__file__).resolve().parents[1] / "_extensions"]
    for cand in candidates:
        if cand and (Path(cand) / _CPP_SOURCES[0]).is_file():
            return Path(cand)
    return None


def _cuda_buildable() -> bool:
    """Compile the CUDA kernel only where it can run: a CUDA torch, a GPU and nvcc."""
    from torch.utils import cpp_extension

    return bool(
        torch.version.cuda and torch.cuda.is_available() and cpp_extension.CUDA_HOME is not None
    )


def _cache_root() -> Path:
    root = os.environ.get("SUBALIGN_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "subalign"


def _build_key(src: Path, with_cuda: bool) -> str:
    """Hash of everything the binary depends on: sources, flags, torch, Python and platform."""
    digest = hashlib.sha256()
    for name in (*_CPP_SOURCES, *_CUDA_SOURCES, *_HEADERS):
        path = src / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"-")
    flags = [torch.__version__, str(torch.version.cuda), sys.version, platform.machine()]
    flags += [repr(_cflags()), "cuda" if with_cuda else "cpu"]
    digest.update("\0".join(flags).encode())
    return digest.hexdigest()[:16]


def _cflags() -> list[str]:
    # Portable code generation: the AVX2/AVX-512 loops are chosen at run time, so one cached
    # library serves every x86-64 CPU (no -march=native).
    return ["-O3", "-fopenmp", "-fno-math-errno"]


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(src: Path, with_cuda: bool) -> Path:
    """Compile (or find) the library and return its path; raises on failure."""
    from torch.utils import cpp_extension

    key = _build_key(src, with_cuda)
    build_dir = _cache_root() / f"ext-{key}"
    library = build_dir / f"{_LIB_NAME}.so"
    done = build_dir / "BUILD_OK"
    if done.is_file() and library.is_file():
        return library
    with _file_lock(_cache_root() / f"ext-{key}.lock"):
        if done.is_file() and library.is_file():  # another process built it meanwhile
            return library
        build_dir.mkdir(parents=True, exist_ok=True)
        print(f"subalign: compiling the forced-align extension{' with its CUDA kernel' if with_cuda else ''} "
              f"for torch {torch.__version__} (once; a minute or two) into {build_dir}",
              file=sys.stderr, flush=True)
        sources = [str(src / n) for n in _CPP_SOURCES]
        if with_cuda:
            sources += [str(src / n) for n in _CUDA_SOURCES]
        cpp_extension.load(
            name=_LIB_NAME,
            sources=sources,
            extra_cflags=_cflags(),
            extra_cuda_cflags=["-O3"],
            extra_ldflags=["-fopenmp"],
            extra_include_paths=[str(src)],
            build_directory=str(build_dir),
            with_cuda=with_cuda,
            is_python_module=False,
            verbose=os.environ.get("SUBALIGN_EXTENSION_VERBOSE") == "1",
        )
        done.write_text(key + "\n")
    return library


def load_op() -> Callable[..., tuple[torch.Tensor, torch.Tensor]] | None:
    """The compiled op, building it on first use; None (see ``backend()``) when unavailable."""
    if _state["tried"]:
        return _state["op"]  # type: ignore[return-value]
    with _lock:
        if _state["tried"]:
            return _state["op"]  # type: ignore[return-value]
        _state["op"], _state["reason"], _state["cuda"] = _try_load()
        _state["tried"] = True
        if _state["op"] is None and not str(_state["reason"]).startswith("disabled by"):
            # said once per process (JSON outputs name the backend too): alignment still works,
            # many times slower, and the user can act on the reason
            print(f"subalign: warning: the forced-align extension is not available "
                  f"({_state['reason']}); using the much slower reference aligner",
                  file=sys.stderr, flush=True)
    return _state["op"]  # type: ignore[return-value]


def _try_load() -> tuple[Callable | None, str, bool]:
    if os.environ.get("SUBALIGN_NO_EXTENSION", "") not in ("", "0"):
        return None, "disabled by SUBALIGN_NO_EXTENSION", False
    existing = getattr(getattr(torch.ops, "subalign", None), "forced_align", None)
    if existing is not None and _registered():
        return existing, "", _has_cuda_kernel()
    src = source_dir()
    if src is None:
        return None, "extension sources not found (set SUBALIGN_EXTENSION_DIR)", False
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        return None, "no C++ compiler found (install g++ or set CXX)", False
    note = ""
    for with_cuda in (True, False) if _cuda_buildable() else (False,):
        try:
            library = _build(src, with_cuda)
            torch.ops.load_library(str(library))
            return torch.ops.subalign.forced_align, note, _has_cuda_kernel()
        except Exception as exc:  # a failed build must never break the package
            detail = _first_error(str(exc)) or type(exc).__name__
            note = f"CUDA kernel build failed ({detail}); CPU kernel only" if with_cuda else ""
            reason = f"extension build failed: {detail}"
    return None, reason, False


def _first_error(text: str) -> str:
    """The compiler's first error line from a failed build's message, else its last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in lines:
        if "error" in line.lower() and not line.startswith("Error building extension"):
            return line[:300]
    return lines[-1][:300] if lines else ""


def _registered() -> bool:
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key("subalign::forced_align", "CPU")
    except (AttributeError, RuntimeError):
        return False


def _has_cuda_kernel() -> bool:
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key("subalign::forced_align", "CUDA")
    except (AttributeError, RuntimeError):
        return False


def backend() -> str:
    """The active backend: "extension-cuda", "extension-cpu" or "reference (<why>)"."""
    if load_op() is None:
        return f"reference ({_state['reason']})"
    if _state["cuda"] and torch.cuda.is_available():
        return "extension-cuda"
    return "extension-cpu"


def build_info() -> dict[str, object]:
    """What was built and where, for diagnostics (``subalign`` CLI, bug reports)."""
    name = backend()
    src = source_dir()
    with_cuda = bool(_state["cuda"])
    return {
        "backend": name,
        "sources": str(src) if src else None,
        "cache": str(_cache_root() / f"ext-{_build_key(src, with_cuda)}") if src else None,
        "cuda_kernel": with_cuda,
        "note": _state["reason"] if _state["op"] is not None else "",
    }


def _memory_budget(value: int | None) -> int:
    """The byte budget of mode "auto": the argument (checked already), else the environment's."""
    if value is not None:
        return int(value)
    text = os.environ.get("SUBALIGN_FA_MEMORY_BUDGET", "").strip().upper()
    if not text:
        return DEFAULT_MEMORY_BUDGET
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    try:
        return int(float(text.rstrip("KMGB") if scale > 1 else text) * scale)
    except ValueError as exc:
        raise AlignmentError(
            f"SUBALIGN_FA_MEMORY_BUDGET must be a byte count like 512M or 2G, got {text!r}"
        ) from exc


@entry_point
def forced_align_ext(inputs: AlignmentInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched CTC forced alignment with the compiled op; the reference's contract and answers.

    Takes the arguments of ``subalign.forced_align``, checked by the reference's
    ``check_inputs``.  Only ``mode`` and ``memory_budget`` change anything, and only memory:
    "full" keeps 1.5 bits of back-pointer per trellis state inside the reachable band,
    "checkpoint" keeps alpha every ~sqrt(T) frames and recomputes while backtracking (O(L sqrt T)
    memory, about twice the time, CPU only), "auto" takes "full" unless that exceeds
    ``memory_budget`` bytes ($SUBALIGN_FA_MEMORY_BUDGET, default 1 GiB).  ``star`` is a wildcard
    class in [0, C] whose frames score 0 without a log_probs column (C itself needs no column).
    Returns paths (B, T) in the targets' dtype and scores (B, T) in log_probs' dtype, on
    log_probs' device.  Raises AlignmentError before allocating anything when the input is
    invalid, and when an item has no finite-score alignment; RuntimeError when the extension is
    not available.
    """
    op = load_op()
    if op is None:
        raise RuntimeError(f"the forced-align extension is not available: {_state['reason']}")
    lp = inputs.log_probs
    if not (lp.is_cpu or (lp.is_cuda and _state["cuda"])):
        lp = lp.cpu()  # no kernel for this device: align on the CPU, return to the device
    try:
        return op(
            lp,
            inputs.targets,
            torch.from_numpy(inputs.input_lengths),
            torch.from_numpy(inputs.target_lengths),
            inputs.blank,
            inputs.star,
            _MODES[inputs.mode],
            _memory_budget(inputs.memory_budget),
        )
    except (RuntimeError, ValueError) as exc:
        raise AlignmentError(_op_message(exc)) from None


def _op_message(exc: BaseException) -> str:
    """The op's own message without C++ context lines; a plain hint for out-of-memory."""
    text = str(exc).strip()
    if "bad_alloc" in text or "out of memory" in text.lower():
        return (
            "not enough memory for the trellis; pass mode='checkpoint' or lower "
            "memory_budget / SUBALIGN_FA_MEMORY_BUDGET, or split the input"
        )
    return text.splitlines()[0] if text else type(exc).__name__


if __name__ == "__main__":  # `python -m subalign.align._extension`: build now, say what is active
    import json

    print(json.dumps(build_info(), indent=2))
