"""torchaudio's MMS_FA (`--model mms[:/path/to/model.pt]`), extra `subalign[mms]`.

The multilingual forced-alignment model of "Scaling Speech Technology to 1,000+ Languages": a
300M-parameter wav2vec2 over 27 romanised letters and `'`, blank `-` at index 0, trained on 1,130
languages. Text in other scripts is romanised with uroman first (as the MMS recipe does). Like
torchaudio's bundle with `with_star=True`, the emissions carry one more column, the star token `*`
(log-probability 0), which a caller may put in the targets to soak up untranscribed speech.

The weights (1.2 GB, CC-BY-NC 4.0) are downloaded by torchaudio into torch's hub cache only when
this model is used; `mms:/path/to/model.pt` loads a local copy without any download. The same
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
import unicodedata
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


def _read_checkpoint(path: Path) -> dict[str, Any] | None:
    """The contents of a `save_checkpoint` file; None for any other file (MMS_FA's model.pt…)."""
    try:  # mapped, so peeking at a 1.2 GB state dict reads only its index
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # legacy (unmappable) format or not torch at all: the bundle loader decides
        return None
    if isinstance(data, dict) and all(k in data for k in CHECKPOINT_KEYS):
        return data
    return None


def _hub_checkpoint(url: str) -> Path:
    """Where torch.hub keeps a file downloaded from `url` (its last path component)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url.split("?")[0])


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
            torchaudio = import_torchaudio()
            bundle = torchaudio.pipelines.MMS_FA
            checkpoint = None
            if weights:
                path = Path(weights).expanduser()
                if not path.is_file():
                    raise ModelError(f"MMS weights file {path} does not exist")
                checkpoint = _read_checkpoint(path)
            if checkpoint is not None:
                module, labels = self._from_checkpoint(torchaudio, checkpoint, path)
            else:
                module = self._pretrained(bundle, weights)
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
    def _pretrained(bundle: Any, weights: str | None) -> torch.nn.Module:
        dl_kwargs: dict[str, Any] = {}
        if weights:
            path = Path(weights).expanduser()
            dl_kwargs = {"model_dir": str(path.parent), "file_name": path.name}
        else:
            cached = _hub_checkpoint(bundle._path)
            if not cached.is_file():
                log.warning("downloading the MMS_FA weights (1.2 GB, %s) to %s", LICENSE, cached)
        try:
            wrapped = bundle.get_model(with_star=False, dl_kwargs=dl_kwargs)
        except (OSError, RuntimeError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as exc:
            # URLError is an OSError; a file that is not MMS_FA's state dict fails as one of the
            # others
            reason = " ".join(str(exc).split())[:160]
            if weights:
                raise ModelError(
                    f"cannot load {weights} ({reason}): it is neither MMS_FA's model.pt nor a "
                    "checkpoint written by subalign.models.mms.save_checkpoint"
                ) from exc
            where = _hub_checkpoint(bundle._path)
            raise ModelError(
                f"cannot load the MMS_FA weights ({reason}); on a machine "
                f"with network run `python -c \"import torchaudio; torchaudio.pipelines.MMS_FA.get_model()\"` "
                f"and copy {where.name} to {where}, or pass --model mms:/path/to/model.pt"
            ) from exc
        return getattr(wrapped, "model", wrapped)  # the bare Wav2Vec2Model: we normalise per window

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
