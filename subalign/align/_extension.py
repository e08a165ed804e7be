"""Build, load and call the compiled forced-align op ``subalign::forced_align`` (``extensions/``).

The C++ (and, where CUDA works, CUDA) sources are compiled on first use with
``torch.utils.cpp_extension`` against the torch already installed, into a cache folder keyed
on the sources, the torch version and the build flavour, under a file lock so that parallel
processes build once.  Nothing here raises on import: when the compiler is missing or the build
fails, ``load_op()`` returns None, remembers why, and ``backend()`` reports the reference.
``SUBALIGN_NO_EXTENSION=1`` forces the reference.  The op has exactly the contract and answers
of ``subalign.align.viterbi.forced_align`` (the fallback and test oracle) and adds options:
``mode`` (full back-pointers or checkpoint/recompute), ``memory_budget`` and a ``star`` class.
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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from subalign.errors import AlignmentError

from .viterbi import _length_tensor

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "backend",
    "build_info",
    "forced_align_ext",
    "load_op",
]

#: Back-pointer bytes that ``mode="auto"`` may spend on one call before it checkpoints.
DEFAULT_MEMORY_BUDGET = 1 << 30

_MODES = {"auto": 0, "full": 1, "checkpoint": 2}
_FLOAT_TYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INDEX_TYPES = (torch.int32, torch.int64)
_CPP_SOURCES = ("forced_align_op.cpp", "forced_align_cpu.cpp")
_CUDA_SOURCES = ("forced_align_cuda.cu",)
_HEADERS = ("forced_align.h", "trellis.h", "forced_align_kernels.cuh")
_LIB_NAME = "subalign_forced_align"

_lock = threading.Lock()
_state: dict[str, object] = {"tried": False, "op": None, "reason": "not loaded yet", "cuda": False}


def source_dir() -> Path | None:
    """The folder holding the extension's sources: $SUBALIGN_EXTENSION_DIR or the checkout's."""
    candidates = [os.environ.get("SUBALIGN_EXTENSION_DIR")]
    here = Path(__file__).resolve()
    candidates += [here.parents[2] / "extensions", here.parents[1] / "_extensions"]
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
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise AlignmentError(f"memory_budget must be a byte count >= 0, got {value!r}")
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


def _lengths(
    value: torch.Tensor | Sequence[int] | None,
    name: str,
    batch: int,
    limit: int,
    axis: str,
) -> np.ndarray:
    """A lengths argument as a (B,) int64 array; the reference's own checks and words."""
    return _length_tensor(value, name, batch, limit, limit, axis)


def _check_targets(
    tg: np.ndarray, tg_len: np.ndarray, in_len: np.ndarray, classes: int, blank: int, star: int
) -> None:
    """Target ids in range and never blank (the star id allowed), and T_b >= L_b + R_b."""
    batch, max_tokens = tg.shape
    valid = np.arange(max_tokens)[None, :] < tg_len[:, None]
    bad = valid & ((tg < 0) | (tg >= classes) | (tg == blank))
    if star >= 0:
        bad &= tg != star
    if bad.any():
        b, k = (int(i) for i in np.argwhere(bad)[0])
        value = int(tg[b, k])
        why = "is the blank id" if value == blank else f"is outside [0, {classes})"
        raise AlignmentError(
            f"item {b}: target {k} = {value} {why}; target ids must be classes of log_probs "
            f"other than blank ({blank})"
        )
    if max_tokens > 1:
        repeats = (valid[:, 1:] & (tg[:, 1:] == tg[:, :-1])).sum(axis=1)
    else:
        repeats = np.zeros(batch, dtype=np.int64)
    short = np.flatnonzero(in_len < tg_len + repeats)
    if short.size:
        b = int(short[0])
        raise AlignmentError(
            f"item {b}: {int(tg_len[b])} tokens (+{int(repeats[b])} repeats) need at least "
            f"{int(tg_len[b] + repeats[b])} frames, got {int(in_len[b])}"
        )


def forced_align_ext(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor | Sequence[int] | None = None,
    target_lengths: torch.Tensor | Sequence[int] | None = None,
    blank: int = 0,
    *,
    mode: str = "auto",
    star: int | None = None,
    memory_budget: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched CTC forced alignment with the compiled op; same contract as the reference.

    Args beyond the reference's: ``mode`` "full" keeps 1.5 bits of back-pointer per trellis
    state inside the reachable band, "checkpoint" keeps alpha every ~sqrt(T) frames and
    recomputes while backtracking (O(L sqrt T) memory, about twice the time), "auto" takes
    "full" unless that exceeds ``memory_budget`` bytes ($SUBALIGN_FA_MEMORY_BUDGET, default
    1 GiB); ``star`` is a wildcard class in [0, C] whose frames score 0 without a log_probs
    column (C itself needs no column).  Returns (paths (B, T) int64, scores (B, T) float32) on
    log_probs' device.  Raises AlignmentError before allocating anything when the input is
    invalid, and when an item has no finite-score alignment.
    """
    op = load_op()
    if op is None:
        raise RuntimeError(f"the forced-align extension is not available: {_state['reason']}")
    if not isinstance(log_probs, torch.Tensor):
        raise AlignmentError(f"log_probs must be a torch.Tensor, got {type(log_probs).__name__}")
    if not isinstance(targets, torch.Tensor):
        raise AlignmentError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    if log_probs.dim() != 3:
        raise AlignmentError(
            f"log_probs must be 3-D (batch, frames, classes), got shape {tuple(log_probs.shape)}"
        )
    if targets.dim() != 2:
        raise AlignmentError(
            f"targets must be 2-D (batch, tokens), got shape {tuple(targets.shape)}"
        )
    if log_probs.dtype not in _FLOAT_TYPES:
        raise AlignmentError(
            f"log_probs must be float16, bfloat16, float32 or float64, got {log_probs.dtype}"
        )
    if targets.dtype not in _INDEX_TYPES:
        raise AlignmentError(f"targets must be int32 or int64, got {targets.dtype}")
    device = log_probs.device
    if device.type not in ("cpu", "cuda"):
        raise AlignmentError(f"log_probs must be on the CPU or a CUDA device, got {device}")
    batch, frames, classes = log_probs.shape
    if targets.shape[0] != batch:
        raise AlignmentError(
            f"batch size mismatch: log_probs has {batch} items, targets has {targets.shape[0]}"
        )
    if classes == 0:
        raise AlignmentError("log_probs has no classes (C = 0)")
    if frames == 0:
        raise AlignmentError("log_probs has no frames (T = 0): there is nothing to align")
    if isinstance(blank, bool) or not isinstance(blank, int | np.integer):
        raise AlignmentError(f"blank must be an int, got {type(blank).__name__}")
    blank = int(blank)
    if not 0 <= blank < classes:
        raise AlignmentError(f"blank = {blank} is outside [0, {classes}) (the number of classes)")
    if star is None:
        star_id = -1
    elif isinstance(star, bool) or not isinstance(star, int | np.integer):
        raise AlignmentError(f"star must be an int or None, got {type(star).__name__}")
    elif not 0 <= int(star) <= classes or int(star) == blank:
        raise AlignmentError(
            f"star = {star} must be a class in [0, {classes}] other than blank ({blank})"
        )
    else:
        star_id = int(star)
    if mode not in _MODES:
        raise AlignmentError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
    budget = _memory_budget(memory_budget)
    in_len = _lengths(input_lengths, "input_lengths", batch, frames, "frame count")
    tg_len = _lengths(target_lengths, "target_lengths", batch, targets.shape[1], "token count")
    tg_cpu = targets.detach().to("cpu", torch.int64).contiguous()
    _check_targets(tg_cpu.numpy(), tg_len, in_len, classes, blank, star_id)

    lp = log_probs.detach()
    if lp.is_cuda and not _state["cuda"]:
        lp = lp.cpu()  # built without the CUDA kernel: align on the CPU, return to the device
    try:
        paths, scores = op(
            lp,
            tg_cpu,
            torch.from_numpy(in_len),
            torch.from_numpy(tg_len),
            blank,
            star_id,
            _MODES[mode],
            budget,
        )
    except (RuntimeError, ValueError) as exc:
        raise AlignmentError(_op_message(exc)) from None
    return paths.to(device), scores.to(device)


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
