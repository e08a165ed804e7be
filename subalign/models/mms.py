"""torchaudio's MMS_FA (`--model mms[:/path/to/model.pt]`), extra `subalign[mms]`.

The multilingual forced-alignment model of "Scaling Speech Technology to 1,000+ Languages": a
300M-parameter wav2vec2 over 27 romanised letters and `'`, blank `-` at index 0, trained on 1,130
languages. Text in other scripts is romanised with uroman first (as the MMS recipe does). Like
torchaudio's bundle with `with_star=True`, the emissions carry one more column, the star token `*`
(log-probability 0), which a caller may put in the targets to soak up untranscribed speech.

The weights (1.2 GB, CC-BY-NC 4.0) are downloaded into torch's hub cache (where torchaudio keeps
them too) only when this model is used; `mms:/path/to/model.pt` loads a local copy without any
download. Every weights file, downloaded or the user's, is read here as plain weights
(`torch.load(weights_only=True)`) and never handed to torchaudio's bundle loader, which unpickles
without that guard: a file that holds other Python objects is refused, not run. The same
argument also takes a self-describing checkpoint written by `save_checkpoint` (the wav2vec2
factory's parameters, the labels and the weights), for a fine-tuned or smaller torchaudio wav2vec2
with MMS-style labels. The model itself is built by torchaudio's wav2vec2 factory; waveform
normalisation, log-softmax and the star column are applied here per window, so windows can be
batched.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import sys
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelError
from .torch_ctc import TorchCTCModel, VocabTokenizer

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'subalign[mms]' (torchaudio built for your torch, and uroman)"
LICENSE = "CC-BY-NC 4.0 (MMS_FA weights; non-commercial use only)"
STAR = "*"


def import_torchaudio() -> Any:
    """torchaudio, or a ModelError that says why it cannot be used."""
    try:
        import torchaudio
    except Exception as exc:  # ImportError, or OSError when its C++ part does not match torch
        reason = " ".join(str(exc).split())[:200]
        raise ModelError(
            f"the mms model needs torchaudio, which cannot be imported here ({type(exc).__name__}: "
            f"{reason}); {INSTALL_HINT}"
        ) from None
    return torchaudio


#: The keys of a checkpoint written by `save_checkpoint`.
CHECKPOINT_KEYS = ("params", "labels", "state_dict")


def save_checkpoint(
    path: str | Path, params: dict[str, Any], labels: Sequence[str], module: torch.nn.Module
) -> Path:
    """Write a torchaudio wav2vec2 as a file that `--model mms:PATH` loads without MMS_FA's bundle.

    `params` are the keyword arguments of `torchaudio.models.wav2vec2_model` that built `module`;
    `labels` name its outputs, blank first, without the star (it is added when loading).
    """
    path = Path(path)
    torch.save(
        {"params": dict(params), "labels": list(labels), "state_dict": module.state_dict()}, path
    )
    return path


def _load_weights(path: Path) -> Any:
    """The contents of a model file, read as plain weights only: never unpickled unsafely.

    torch.load with ``weights_only=True`` (memory-mapped when the file's format allows, so a
    1.2 GB state dict is not read twice); a file holding any other pickled object is refused,
    since unpickling it could run code from the file. Raises ModelError (one line).
    """
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": we say what matters
            warnings.simplefilter("ignore")
            try:
                return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as exc:
                if "mmap" not in str(exc):
                    raise
                return torch.load(path, map_location="cpu", weights_only=True)  # older format
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found is not None:
            raise ModelError(
                f"{path} holds pickled Python objects besides weights (such as {found.group(1)}); "
                "subalign reads model files as plain weights only, because unpickling anything "
                "else could run code from the file: save the model's state_dict, or use "
                "subalign.models.mms.save_checkpoint"
            ) from None
        reason = "it is not a torch weights file"
    except EOFError:
        reason = "the file is empty or cut short"
    except (RuntimeError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
    raise ModelError(
        f"cannot load {path} ({reason}): it is neither MMS_FA's model.pt nor a checkpoint "
        "written by subalign.models.mms.save_checkpoint"
    )


def _is_checkpoint(data: Any) -> bool:
    """Whether loaded weights are a `save_checkpoint` file (else: MMS_FA's state dict)."""
    return isinstance(data, dict) and all(k in data for k in CHECKPOINT_KEYS)


def _hub_checkpoint(url: str) -> Path:
    """Where torch.hub keeps a file downloaded from `url` (its last path component)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url.split("?")[0])


def _download(url: str) -> Path:
    """MMS_FA's weights in torch's hub cache, downloaded first when they are not there."""
    where = _hub_checkpoint(url)
    if where.is_file():
        return where
    log.warning("downloading the MMS_FA weights (1.2 GB, %s) to %s", LICENSE, where)
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(where), progress=sys.stderr.isatty())
    except (OSError, RuntimeError, ValueError) as exc:  # URLError is an OSError
        reason = " ".join(str(exc).split())[:160]
        raise ModelError(
            f"cannot download the MMS_FA weights ({reason}); on a machine with network fetch "
            f"{url} and copy it to {where}, or pass --model mms:/path/to/model.pt"
        ) from None
    return where


class Romanizer:
    """uroman for words outside the Latin script (cached); Latin words pass through."""

    def __init__(self, language: str | None = None) -> None:
        self._uroman: Any = None
        self._lcode = language if language and len(language) == 3 else None
        self._cache: dict[str, str] = {}

    def __call__(self, word: str) -> str:
        if all(_latin(ch) for ch in word):
            return word
        cached = self._cache.get(word)
        if cached is None:
            if self._uroman is None:
                try:
                    import uroman
                except ImportError:
                    raise ModelError(
                        f"romanising {word!r} for the mms model needs uroman; {INSTALL_HINT}"
                    ) from None
                self._uroman = uroman.Uroman()
            cached = str(self._uroman.romanize_string(word, lcode=self._lcode))
            self._cache[word] = cached
        return cached


def _latin(ch: str) -> bool:
    if not ch.isalpha():
        return True
    base = unicodedata.normalize("NFD", ch)[0]
    return "a" <= base.lower() <= "z"


class MMSModel(TorchCTCModel):
    """torchaudio MMS_FA: 1,130 languages via uroman, star token, CPU or CUDA."""

    name = "mms"
    sample_rate = 16_000
    frame_seconds = 0.02
    languages = "1,130 (any script, romanised with uroman)"
    license = LICENSE

    @classmethod
    def describe(cls, arg: str | None = None) -> dict:
        """Listing data: whether torchaudio imports and whether the weights are on this machine."""
        info = {
            "summary": "torchaudio MMS_FA multilingual forced-alignment model (300M wav2vec2)",
            "languages": cls.languages, "sample_rate": cls.sample_rate,
            "frame_seconds": cls.frame_seconds, "license": cls.license,
            "usage": "--model mms  or  --model mms:/path/to/model.pt",
        }
        try:
            bundle = import_torchaudio().pipelines.MMS_FA
        except ModelError as exc:
            info["weights"] = str(exc)
            return info
        if arg:
            path = Path(arg).expanduser()
            info["weights"] = f"local file {path}" if path.is_file() else f"missing: {path}"
        else:
            path = _hub_checkpoint(bundle._path)
            info["weights"] = (
                f"present ({path})" if path.is_file()
                else "not downloaded (1.2 GB, fetched by torchaudio on first use)"
            )
        return info

    def __init__(
        self,
        weights: str | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int | None = None,
        window_seconds: float = 30.0,
        context_seconds: float = 3.0,
        module: torch.nn.Module | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        """Load MMS_FA (from `weights`, a local model.pt, or torch's hub cache / a download).

        `module` and `labels` replace the pretrained network and its labels (blank first, no star)
        with any torchaudio Wav2Vec2Model, e.g. a small randomly initialised one in tests.
        """
        self._setup_device(device, dtype)
        if module is None:
            data = path = None
            if weights:  # a user's file is read (safely) and judged before anything else
                path = Path(weights).expanduser()
                if not path.is_file():
                    raise ModelError(f"MMS weights file {path} does not exist")
                data = _load_weights(path)
            torchaudio = import_torchaudio()
            bundle = torchaudio.pipelines.MMS_FA
            if data is None:
                path = _download(bundle._path)
                data = _load_weights(path)
            assert path is not None
            if _is_checkpoint(data):
                module, labels = self._from_checkpoint(torchaudio, data, path)
            else:
                module = self._pretrained(torchaudio, bundle, data, path)
                labels = bundle.get_labels(star=None)
            self.name = "mms" if not weights else f"mms:{weights}"
        else:
            if labels is None:
                raise ModelError("a custom mms module needs its labels")
            self.name = "mms:custom"
        self.vocabulary: list[str] = [*labels, STAR]
        self.blank: int = 0
        self.star: int = len(self.vocabulary) - 1
        self.word_boundary: int | None = None  # MMS_FA has no word-delimiter token
        self._tokenizer = VocabTokenizer(self.vocabulary, blank=self.blank, exclude=(STAR,))
        self._romanize = Romanizer()
        convs = getattr(getattr(module, "feature_extractor", None), "conv_layers", None)
        if convs:
            kernels = [int(layer.conv.kernel_size[0]) for layer in convs]
            strides = [int(layer.conv.stride[0]) for layer in convs]
        else:  # wav2vec2's standard front end
            kernels, strides = [10, 3, 3, 3, 3, 2, 2], [5, 2, 2, 2, 2, 2, 2]
        self._setup_frames(kernels, strides, window_seconds, context_seconds, batch_size)
        self._net = module.to(device=self.device, dtype=self.dtype).eval()

    @staticmethod
    def _from_checkpoint(
        torchaudio: Any, checkpoint: dict[str, Any], path: Path
    ) -> tuple[torch.nn.Module, list[str]]:
        """Build the wav2vec2 a `save_checkpoint` file describes and load its weights."""
        labels = [str(label) for label in checkpoint["labels"]]
        try:
            module = torchaudio.models.wav2vec2_model(**checkpoint["params"])
            module.load_state_dict(checkpoint["state_dict"])
        except (TypeError, ValueError, RuntimeError, KeyError) as exc:
            raise ModelError(
                f"{path} is not a usable torchaudio wav2vec2 checkpoint "
                f"({' '.join(str(exc).split())[:160]})"
            ) from None
        outputs = getattr(getattr(module, "aux", None), "out_features", None)
        if outputs != len(labels) or not labels:
            raise ModelError(
                f"{path}: the model has {outputs} outputs but the checkpoint names "
                f"{len(labels)} labels"
            )
        return module, labels

    @staticmethod
    def _pretrained(torchaudio: Any, bundle: Any, state: Any, path: Path) -> torch.nn.Module:
        """MMS_FA's network (the bundle's wav2vec2 parameters) with the weights of `state`, a
        state dict already read by `_load_weights`: what the bundle's own loader does, without
        its unpickling of the file."""
        params = dict(bundle._params)
        try:
            state = dict(state)
            axes = tuple(getattr(bundle, "_remove_aux_axis", ()) or ())
            outputs = params.get("aux_num_out")
            for key in ("aux.weight", "aux.bias"):  # fairseq's unused dictionary rows
                rows = state.get(key)
                if axes and rows is not None and outputs and rows.shape[0] == outputs + len(axes):
                    state[key] = torch.stack([r for i, r in enumerate(rows) if i not in axes])
            module = torchaudio.models.wav2vec2_model(**params)
            module.load_state_dict(state)
        except (TypeError, ValueError, RuntimeError, KeyError, AttributeError) as exc:
            reason = " ".join(str(exc).split())[:160]
            raise ModelError(
                f"cannot load {path} ({reason}): it is neither MMS_FA's model.pt nor a "
                "checkpoint written by subalign.models.mms.save_checkpoint"
            ) from None
        return module


    def tokenize(self, words: Sequence[str], language: str | None = None) -> list[list[int]]:
        """Letter ids for each word after uroman romanisation (non-Latin scripts only)."""
        if language and len(language) == 3 and self._romanize._lcode != language:
            self._romanize = Romanizer(language)
        return self._tokenizer([self._romanize(w) for w in words])

    @torch.inference_mode()
    def _run(self, batch: torch.Tensor) -> torch.Tensor:
        logits, _ = self._net(batch.to(device=self.device, dtype=self.dtype))
        logp = torch.log_softmax(logits.float(), dim=-1)
        star = torch.zeros((*logp.shape[:2], 1), dtype=logp.dtype, device=logp.device)
        return torch.cat([logp, star], dim=-1)
