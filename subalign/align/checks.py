"""The one validation of a forced-alignment call, shared by the NumPy reference and the extension.

`check_inputs` checks everything before any trellis is allocated and returns the call in
canonical form (`AlignmentInputs`); `AlignmentInputs.results` gives a backend's answer back in
torchaudio's dtypes.  `entry_point` turns a backend (a function of AlignmentInputs) into a
forced_align function that takes exactly check_inputs' arguments, so the argument list, its
defaults and its checks exist once.  Every message is an AlignmentError (a ValueError and a RuntimeError) that
names the offending item and, for the mistakes torchaudio also rejects, contains the phrase its
users match on ("targets length is too long for CTC", "blank must be within [0, num classes)",
...).  The compiled op repeats these checks in C++ for callers of the raw op.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec

import numpy as np
import torch

from subalign.errors import AlignmentError

__all__ = ["MODES", "AlignmentInputs", "Backend", "check_inputs", "entry_point"]

#: The memory modes of the compiled op, by name; the reference accepts them and ignores them.
MODES = ("auto", "full", "checkpoint")

_FLOAT_TYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INDEX_TYPES = (torch.int32, torch.int64)
_LENGTH_TYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
# What a lengths argument counts: (the word for its mismatch, its axis, the padded tensor).
_LENGTH_ROLES = {
    "input_lengths": ("input", "frame count", "log_probs"),
    "target_lengths": ("target", "token count", "targets"),
}


@dataclass(frozen=True)
class AlignmentInputs:
    """A validated forced-alignment call; lengths as int64 NumPy arrays.

    ``targets`` is (B, L) int64 on the CPU with the padding beyond each item's length set to 0;
    ``star`` is -1 when there is none.  ``log_probs`` is the caller's tensor, detached, on its
    own device.
    """

    log_probs: torch.Tensor  # (B, T, C), original dtype and device
    targets: torch.Tensor  # (B, L) int64 on the CPU, padding replaced by 0
    input_lengths: np.ndarray  # (B,) int64
    target_lengths: np.ndarray  # (B,) int64
    blank: int
    device: torch.device  # where the results go back to
    star: int = -1
    mode: str = "auto"
    memory_budget: int | None = None
    targets_dtype: torch.dtype = torch.int64

    def results(self, paths: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A backend's (int64 paths, scores) as the caller gets them: on log_probs' device,
        paths in the targets' dtype and scores in log_probs' dtype (torchaudio's contract).
        The backends keep scores in at least log_probs' precision (float32 for the half types)
        and every score is a value of log_probs or 0, so the conversion is exact."""
        return (
            paths.to(device=self.device, dtype=self.targets_dtype),
            scores.to(device=self.device, dtype=self.log_probs.dtype),
        )


def _length_tensor(
    value: torch.Tensor | Sequence[int] | None, name: str, batch: int, limit: int
) -> np.ndarray:
    """A lengths argument as a (B,) int64 array, checking its shape, dtype and range."""
    if value is None:
        return np.full(batch, limit, dtype=np.int64)
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise AlignmentError(
                f"{name} must be a 1-D integer tensor, got {type(value).__name__}"
            ) from exc
    if value.dtype not in _LENGTH_TYPES:
        raise AlignmentError(f"{name} must have an integer dtype, got {value.dtype}")
    if value.dim() == 0 and batch == 1:
        value = value.reshape(1)
    if value.dim() != 1:
        raise AlignmentError(
            f"{name} must be 1-D, one length per item (shape ({batch},)), got shape "
            f"{tuple(value.shape)}"
        )
    if value.shape[0] != batch:
        raise AlignmentError(f"{name} must have shape ({batch},), got {tuple(value.shape)}")
    lengths = value.detach().cpu().to(torch.int64).numpy()
    bad = np.flatnonzero((lengths < 0) | (lengths > limit))
    if bad.size:
        b = int(bad[0])
        what, axis, tensor = _LENGTH_ROLES[name]
        raise AlignmentError(
            f"{name}[{b}] = {int(lengths[b])} is outside [0, {limit}], the {axis} of the padded "
            f"{tensor} ({what} length mismatch)"
        )
    return lengths


def _class_id(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise AlignmentError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def _check_options(
    classes: int, blank: object, star: object, mode: object, memory_budget: object
) -> tuple[int, int]:
    """The blank and star ids (star -1 for none), after checking them, mode and memory_budget."""
    blank = _class_id(blank, "blank")
    if not 0 <= blank < classes:
        raise AlignmentError(
            f"blank = {blank} is outside [0, {classes}): blank must be within [0, num classes), "
            f"and log_probs has {classes} classes"
        )
    star_id = -1 if star is None else _class_id(star, "star")
    if star is not None and (not 0 <= star_id <= classes or star_id == blank):
        raise AlignmentError(
            f"star = {star_id} must be a class in [0, {classes}] other than blank ({blank})"
        )
    if mode not in MODES:
        raise AlignmentError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    if memory_budget is not None and (
        isinstance(memory_budget, bool)
        or not isinstance(memory_budget, int | np.integer)
        or memory_budget < 0
    ):
        raise AlignmentError(f"memory_budget must be a byte count >= 0, got {memory_budget!r}")
    return blank, star_id


def _check_targets(
    tg: np.ndarray, tg_len: np.ndarray, in_len: np.ndarray, classes: int, blank: int, star: int
) -> np.ndarray:
    """Target ids in range and never blank (the star id allowed), and T_b >= L_b + R_b.

    Returns the targets with the padding beyond each item's length set to 0.
    """
    batch, max_tokens = tg.shape
    valid = np.arange(max_tokens)[None, :] < tg_len[:, None]
    bad = valid & ((tg < 0) | (tg >= classes) | (tg == blank))
    if star >= 0:
        bad &= tg != star  # the wildcard needs no column of log_probs
    if bad.any():
        b, k = (int(i) for i in np.argwhere(bad)[0])
        value = int(tg[b, k])
        if value == blank:
            why = f"is the blank id: a targets Tensor shouldn't contain blank index {blank}"
        else:
            why = (
                f"is outside [0, {classes}): targets values must be less than the CTC dimension "
                f"({classes} classes) and not negative"
            )
        raise AlignmentError(f"item {b}: target {k} = {value} {why}")
    clean = np.where(valid, tg, 0)

    # Every token needs a frame, and each repeat needs a blank frame between.
    repeats = (valid[:, 1:] & (clean[:, 1:] == clean[:, :-1])).sum(axis=1)
    need = tg_len + repeats
    short = np.flatnonzero(in_len < need)
    if short.size:
        b = int(short[0])
        raise AlignmentError(
            f"item {b}: {int(tg_len[b])} tokens (+{int(repeats[b])} repeats) need at least "
            f"{int(need[b])} frames, got {int(in_len[b])}; the targets length is too long for "
            "CTC over that many frames"
        )
    return clean


def _check_values(log_probs: torch.Tensor, in_len: np.ndarray) -> None:
    """No NaN or +inf inside an item's frames (-inf is allowed); reduced on log_probs' device."""
    if log_probs.numel() == 0 or bool(log_probs.max() < float("inf")):  # max() is NaN if any
        return
    frames = log_probs.shape[1]
    bad_frames = (~(log_probs < float("inf")).all(dim=2)).cpu().numpy()
    bad_frames &= np.arange(frames)[None, :] < in_len[:, None]
    if bad_frames.any():
        b, t = (int(i) for i in np.argwhere(bad_frames)[0])
        raise AlignmentError(
            f"item {b}: log_probs at frame {t} contain NaN or +inf; log-probabilities must be "
            "finite or -inf"
        )


def check_inputs(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor | Sequence[int] | None = None,
    target_lengths: torch.Tensor | Sequence[int] | None = None,
    blank: int = 0,
    *,
    star: int | None = None,
    mode: str = "auto",
    memory_budget: int | None = None,
) -> AlignmentInputs:
    """Validate a forced-alignment call and return it in canonical form.

    Checked, in this order, before anything proportional to the trellis is allocated: types and
    ndim, dtypes, batch sizes, T and C, blank, star, mode and memory_budget, the lengths, the
    target ids inside each item's length, feasibility (T_b >= L_b + R_b, R_b repeats) and NaN or
    +inf log-probs inside each item's frames.  Raises AlignmentError naming the first bad item.
    """
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
            "log_probs must be float64, float32 or float16 (or bfloat16, which subalign also "
            f"takes), got {log_probs.dtype}"
        )
    if targets.dtype not in _INDEX_TYPES:
        raise AlignmentError(f"targets must be int32 or int64 type, got {targets.dtype}")
    batch, frames, classes = log_probs.shape
    if targets.shape[0] != batch:
        raise AlignmentError(
            f"batch size mismatch: log_probs has {batch} items, targets has {targets.shape[0]}"
        )
    if classes == 0:
        raise AlignmentError("log_probs has no classes (C = 0)")
    if frames == 0:
        raise AlignmentError("log_probs has no frames (T = 0): there is nothing to align")
    blank, star_id = _check_options(classes, blank, star, mode, memory_budget)
    in_len = _length_tensor(input_lengths, "input_lengths", batch, frames)
    tg_len = _length_tensor(target_lengths, "target_lengths", batch, targets.shape[1])
    tg = targets.detach().to("cpu", torch.int64).numpy()
    clean = _check_targets(tg, tg_len, in_len, classes, blank, star_id)
    lp = log_probs.detach()
    _check_values(lp, in_len)
    return AlignmentInputs(
        log_probs=lp,
        targets=torch.from_numpy(np.ascontiguousarray(clean)),
        input_lengths=in_len,
        target_lengths=tg_len,
        blank=blank,
        device=log_probs.device,
        star=star_id,
        mode=str(mode),
        memory_budget=None if memory_budget is None else int(memory_budget),
        targets_dtype=targets.dtype,
    )


#: What a backend returns for checked inputs: int64 paths and scores in at least log_probs'
#: precision, both (B, T), on any device (``AlignmentInputs.results`` converts them).
Backend = Callable[[AlignmentInputs], tuple[torch.Tensor, torch.Tensor]]
_P = ParamSpec("_P")


def _entry_points(
    template: Callable[_P, AlignmentInputs],
) -> Callable[[Backend], Callable[_P, tuple[torch.Tensor, torch.Tensor]]]:
    """A decorator that gives backends the parameters of `template` (check_inputs)."""
    signature = inspect.signature(template).replace(
        return_annotation="tuple[torch.Tensor, torch.Tensor]"
    )

    def entry(backend: Backend) -> Callable[_P, tuple[torch.Tensor, torch.Tensor]]:
        def align(*args: _P.args, **kwargs: _P.kwargs) -> tuple[torch.Tensor, torch.Tensor]:
            inputs = template(*args, **kwargs)
            return inputs.results(*backend(inputs))

        for name in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(align, name, getattr(backend, name))
        align.__signature__ = signature  # type: ignore[attr-defined]  # for help() and IDEs
        align.backend = backend  # type: ignore[attr-defined]  # the unchecked backend itself
        return align

    return entry


#: ``@entry_point`` on ``def name(inputs: AlignmentInputs) -> (paths, scores)`` makes ``name``
#: a forced_align function: it takes check_inputs' arguments (its signature says so), checks
#: them, runs the body on the checked inputs and returns the answer in torchaudio's dtypes
#: (paths as the targets, scores as log_probs, on log_probs' device).  The body reaches the
#: caller's values as ``inputs``; ``name.backend`` is the body itself, unchecked.
entry_point = _entry_points(check_inputs)
