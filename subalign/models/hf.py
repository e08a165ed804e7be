"""Any Hugging Face CTC model (`--model hf:<model id or local folder>`), extra `subalign[hf]`.

transformers' AutoModelForCTC gives the logits, the model's tokenizer its output vocabulary (blank
= the pad token, as in its CTC loss; the word-delimiter token, usually `|`, goes between words) and
its feature extractor the sample rate and whether input is normalised. The frame hop and the
receptive field come from the config's conv layers. Weights are fetched by transformers only when
the user names the model; a local folder (config.json, weights, vocab.json,
preprocessor_config.json, as written by `save_pretrained`) never touches the network. A model id
that is not in the local cache while the hub cannot be reached is refused at once (one line), and
a weights file that holds pickled Python objects (transformers reads `.bin` weights with
``weights_only=True``) is refused as bad input, never loaded unsafely.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import re
import socket
import urllib.parse
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelError
from .torch_ctc import TorchCTCModel, VocabTokenizer

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'subalign[hf]' (transformers)"


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise ModelError(f"hf models need transformers, which is not installed ({exc}); {INSTALL_HINT}") from None
    return transformers


def _hub_cache() -> Path:
    try:
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)
    except ImportError:
        home = os.environ.get("HF_HOME", os.path.join(os.path.expanduser("~"), ".cache", "huggingface"))
        return Path(os.environ.get("HF_HUB_CACHE", os.path.join(home, "hub")))


def _cached_snapshot(model_id: str) -> Path | None:
    """The newest cached snapshot folder of hub model `model_id` that has a config, or None."""
    folder = _hub_cache() / ("models--" + model_id.replace("/", "--")) / "snapshots"
    if not folder.is_dir():
        return None
    snaps = sorted((p for p in folder.iterdir() if (p / "config.json").is_file()), key=lambda p: p.stat().st_mtime)
    return snaps[-1] if snaps else None


def _has_weights(folder: Path) -> bool:
    return any((folder / n).is_file() for n in ("model.safetensors", "pytorch_model.bin")) or any(
        folder.glob("model-*.safetensors")
    )


def cached_ctc_models() -> list[str]:
    """Hub model ids in the local cache whose config names a *ForCTC architecture."""
    root = _hub_cache()
    found = []
    if root.is_dir():
        for repo in sorted(root.glob("models--*")):
            snap = _cached_snapshot(repo.name[len("models--"):].replace("--", "/"))
            if snap is None or not _has_weights(snap):
                continue
            try:
                archs = json.loads((snap / "config.json").read_text()).get("architectures") or []
            except (OSError, ValueError):
                continue
            if any(str(a).endswith("ForCTC") for a in archs):
                found.append(repo.name[len("models--"):].replace("--", "/"))
    return found


def _not_here(model: str, reason: str) -> ModelError:
    return ModelError(
        f"the weights of {model} are not on this machine and could not be downloaded "
        f"({reason}); on a machine with network run "
        f"`huggingface-cli download {model}` (or `hf download {model}`) to fill the cache "
        f"({_hub_cache()}), or save the model with save_pretrained() and pass "
        "--model hf:/path/to/folder"
    )


def _reason(exc: BaseException) -> str:
    """The first line of an exception's message, without advice to load pickles unsafely."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    return "its weights cannot be read as plain tensors" if "weights_only" in line else line[:200]


def _hub_unreachable(timeout: float = 3.0) -> str:
    """Why the Hugging Face hub cannot be reached (name lookup or connection), or "" when it can
    or when a proxy is set (then the hub client is left to try)."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return ""
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    try:
        from huggingface_hub import constants

        endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    except ImportError:
        pass
    url = urllib.parse.urlsplit(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return f"{host} cannot be reached: {exc.strerror or exc}"
    return ""


@contextlib.contextmanager
def _quiet_hub() -> Iterator[None]:
    """Keep transformers' and huggingface_hub's warnings (retries, deprecations) off stderr
    while a model loads: what goes wrong reaches the user as one ModelError line."""
    loggers = [logging.getLogger(name) for name in ("transformers", "huggingface_hub")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class HFModel(TorchCTCModel):
    """A Hugging Face CTC model (wav2vec2, HuBERT, WavLM, MMS…) with its own vocabulary."""

    name = "hf"
    languages = "those of the chosen model"
    license = "that of the chosen model (see its model card)"

    @classmethod
    def describe(cls, arg: str | None = None) -> dict:
        """Listing data; with `arg`, whether that model's weights are on this machine."""
        info = {
            "summary": "any Hugging Face CTC model (transformers AutoModelForCTC)",
            "languages": cls.languages,
            "license": cls.license,
            "usage": "--model hf:<hub model id or local folder>",
        }
        try:
            import transformers  # noqa: F401
        except ImportError:
            info["weights"] = f"transformers is not installed: {INSTALL_HINT}"
            return info
        if arg is None:
            cached = cached_ctc_models()
            info["weights"] = (
                "downloaded on first use; cached here: " + ", ".join(cached) if cached
                else "downloaded on first use; none cached here"
            )
            return info
        local = Path(arg).expanduser()
        if local.exists():
            info["weights"] = f"local folder {local}" if _has_weights(local) else f"no weights in {local}"
        elif arg.startswith((".", "/", "~")) or arg.count("/") > 1:
            info["weights"] = f"no such folder: {local}"
        else:
            snap = _cached_snapshot(arg)
            info["weights"] = f"cached ({snap})" if snap and _has_weights(snap) else "not downloaded"
        return info

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int | None = None,
        window_seconds: float = 30.0,
        context_seconds: float = 3.0,
    ) -> None:
        if not model:
            raise ModelError(
                "the hf model needs a model id or folder: --model hf:<hub id or local folder>, "
                "e.g. hf:facebook/wav2vec2-base-960h"
            )
        transformers = _import_transformers()
        self._setup_device(device, dtype)
        self.name = f"hf:{model}"
        source, local_only = self._locate(model)
        net, tokenizer, extractor = self._load(transformers, model, source, local_only)
        self._setup(net, tokenizer, extractor, model, batch_size, window_seconds, context_seconds)

    @classmethod
    def from_objects(
        cls, net: Any, tokenizer: Any, extractor: Any = None, *, name: str = "hf:custom",
        device: str = "auto", dtype: str = "auto", batch_size: int | None = None,
        window_seconds: float = 30.0, context_seconds: float = 3.0,
    ) -> HFModel:
        """Wrap an already built transformers CTC model, tokenizer and feature extractor (e.g. a
        randomly initialised one in a benchmark) without saving it to disk."""
        self = cls.__new__(cls)
        self._setup_device(device, dtype)
        self.name = name
        self._setup(net, tokenizer, extractor, name, batch_size, window_seconds, context_seconds)
        return self

    def _setup(self, net: Any, tokenizer: Any, extractor: Any, model: str, batch_size: int | None,
               window_seconds: float, context_seconds: float) -> None:
        config = net.config

        head = getattr(net, "lm_head", None)
        vocab_size = int(getattr(head, "out_features", 0) or config.vocab_size)
        by_id = {i: tok for tok, i in tokenizer.get_vocab().items()}
        self.vocabulary: list[str] = [by_id.get(i, f"<unused{i}>") for i in range(vocab_size)]
        blank = getattr(config, "pad_token_id", None)
        if blank is None:
            blank = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.blank: int = int(blank)
        delimiter = getattr(tokenizer, "word_delimiter_token", None)
        specials = [t for t in (tokenizer.unk_token, tokenizer.bos_token, tokenizer.eos_token) if t]
        self._tokenizer = VocabTokenizer(
            self.vocabulary, blank=self.blank, word_delimiter=delimiter, exclude=specials
        )
        self.word_boundary: int | None = self._tokenizer.word_delimiter

        kernels = getattr(config, "conv_kernel", None)
        strides = getattr(config, "conv_stride", None)
        if not kernels or not strides:
            raise ModelError(f"{model}: its config has no conv_kernel/conv_stride, so its frame rate is unknown")
        self.sample_rate: int = int(getattr(extractor, "sampling_rate", 16000) or 16000)
        self._normalize = bool(getattr(extractor, "do_normalize", True))
        self._setup_frames(kernels, strides, window_seconds, context_seconds, batch_size)
        self._net = net.to(device=self.device, dtype=self.dtype).eval()

    # -- loading ----------------------------------------------------------------------------------
    @staticmethod
    def _locate(model: str) -> tuple[str, bool]:
        """(what to pass to from_pretrained, whether to stay offline)."""
        local = Path(model).expanduser()
        if local.exists():
            if not (local / "config.json").is_file():
                raise ModelError(f"{local} is not a saved model folder (no config.json)")
            return str(local), True
        if model.startswith((".", "/", "~")) or model.count("/") > 1:
            raise ModelError(f"model folder {model} does not exist")
        snap = _cached_snapshot(model)
        if snap is not None and _has_weights(snap):
            return model, True
        if any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
            return model, True
        unreachable = _hub_unreachable()
        if unreachable:  # say so at once, instead of the hub client's minute of retries
            raise _not_here(model, unreachable)
        return model, False

    def _load(self, transformers: Any, model: str, source: str, local_only: bool) -> tuple[Any, Any, Any]:
        try:  # subalign draws its own progress bars
            transformers.utils.logging.disable_progress_bar()
        except AttributeError:
            pass
        try:
            with _quiet_hub():
                net = transformers.AutoModelForCTC.from_pretrained(source, local_files_only=local_only)
                tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=local_only)
                try:
                    extractor = transformers.AutoFeatureExtractor.from_pretrained(
                        source, local_files_only=local_only)
                except (OSError, ValueError) as exc:
                    log.warning("%s has no feature extractor config (%s); assuming 16 kHz, normalised "
                                "input", model, _reason(exc))
                    extractor = None
        except pickle.UnpicklingError as exc:  # torch.load(weights_only=True) refused the weights
            found = re.search(r"GLOBAL ([\w.]+)", str(exc))
            raise ModelError(
                f"cannot load the model {source}: its weights file holds pickled Python objects "
                f"besides weights{f' (such as {found.group(1)})' if found else ''}, and subalign "
                "reads weights only as plain tensors, because unpickling anything else could run "
                "code from the file; use the model's safetensors weights (model.safetensors)"
            ) from None
        except Exception as exc:  # OSError, ValueError, a corrupt safetensors file...
            if Path(source).exists():
                raise ModelError(f"cannot load the model folder {source}: {_reason(exc)}") from None
            raise _not_here(model, _reason(exc)) from None
        return net, tokenizer, extractor

    # -- text -> tokens -----------------------------------------------------------------------------
    def tokenize(self, words: Sequence[str], language: str | None = None) -> list[list[int]]:
        """Vocabulary ids for each word (characters or word pieces, delimiter inside multi-word
        forms); the model's own vocabulary decides, so `language` is not used."""
        return self._tokenizer(words)

    # -- audio -> log-probs -------------------------------------------------------------------------
    @torch.inference_mode()
    def _run(self, batch: torch.Tensor) -> torch.Tensor:
        logits = self._net(batch.to(device=self.device, dtype=self.dtype)).logits
        return torch.log_softmax(logits.float(), dim=-1)
