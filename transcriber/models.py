"""Which models exist, where they live on disk, and a cache that loads each one once.

A model is named either by a path to a ``.nemo`` file or by a pretrained name such as ``nvidia/parakeet-tdt-0.6b-v2``.
Names are looked up locally first (the app's model folder, then the Hugging Face cache that NeMo's own
``from_pretrained`` fills), so a model fetched once loads with no network call. Only a name found nowhere locally is
handed to ``from_pretrained``, which downloads it.

This module never imports NeMo: the loader that does is passed in by :mod:`transcriber.engine`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from .errors import ModelNotAvailableError
from .tempdir import APP_NAME, is_windows

logger = logging.getLogger(__name__)

MODEL_DIR_ENV = "TRANSCRIBER_MODEL_DIR"
NEMO_SUFFIX = ".nemo"
DEFAULT_MODEL = "nvidia/parakeet-tdt-0.6b-v2"
INSTALL_HINT = "python setup_local_models.py --download {name}"


@dataclass(frozen=True)
class ModelInfo:
    """A pretrained model the app knows how to fetch."""

    name: str
    description: str
    languages: str
    size_mb: int


KNOWN_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("nvidia/parakeet-tdt-0.6b-v2", "FastConformer-TDT, punctuation and capitals", "en", 2400),
    ModelInfo("nvidia/parakeet-tdt-0.6b-v3", "FastConformer-TDT, 25 European languages", "multilingual (25)", 2500),
    ModelInfo("nvidia/parakeet-ctc-0.6b", "FastConformer-CTC, lower case", "en", 2400),
    ModelInfo("nvidia/canary-1b-flash", "Canary encoder-decoder, also translates", "en, de, es, fr", 3600),
    ModelInfo("nvidia/stt_en_fastconformer_ctc_large", "FastConformer-CTC large, 115M parameters", "en", 460),
)


@dataclass(frozen=True)
class ModelSource:
    """Where a model will be loaded from: a local ``.nemo`` file (``path``) or a download by ``name``."""

    name: str
    path: Path | None = None

    @property
    def is_local(self) -> bool:
        """True when the model loads from a file on disk."""
        return self.path is not None


def user_data_dir() -> Path:
    """The per-user data folder of the app."""
    home = Path.home()
    if is_windows():
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / APP_NAME
    return Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / APP_NAME


def model_dir() -> Path:
    """The folder installed models live in: ``TRANSCRIBER_MODEL_DIR`` or ``<user data dir>/models``."""
    return Path(os.environ.get(MODEL_DIR_ENV) or user_data_dir() / "models").expanduser()


def model_file_name(name: str) -> str:
    """The file name an installed model gets: ``nvidia/parakeet-tdt-0.6b-v2`` -> ``nvidia--parakeet-tdt-0.6b-v2.nemo``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "--", name).strip("-.") + NEMO_SUFFIX


def looks_like_path(name: str) -> bool:
    """Whether ``name`` names a file rather than a pretrained model."""
    return name.lower().endswith(NEMO_SUFFIX) or Path(name).expanduser().is_file()


def _hf_cached_file(name: str) -> Path | None:
    """The ``.nemo`` file NeMo's ``from_pretrained`` left in the Hugging Face cache, if any (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # huggingface_hub comes with NeMo; without it there is no cache to look in
        return None
    cached = try_to_load_from_cache(repo_id=name, filename=name.rsplit("/", 1)[-1] + NEMO_SUFFIX)
    return Path(cached) if isinstance(cached, str) else None


def resolve_model(name: str) -> ModelSource:
    """Find where ``name`` loads from, looking only at local files.

    Raises:
        ModelNotAvailableError: ``name`` is a path to a ``.nemo`` file that does not exist.
    """
    if looks_like_path(name):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelNotAvailableError(f"Model file {name} does not exist.")
        return ModelSource(name=str(path), path=path.resolve())
    installed = model_dir() / model_file_name(name)
    if installed.is_file():
        return ModelSource(name=name, path=installed)
    cached = _hf_cached_file(name)
    if cached is not None:
        return ModelSource(name=name, path=cached)
    return ModelSource(name=name)


def not_available_message(name: str, cause: BaseException | None = None) -> str:
    """One sentence saying that ``name`` is not installed and how to install it."""
    reason = f" ({type(cause).__name__}: {cause})" if cause else ""
    return (
        f"Model {name} is not installed and could not be downloaded{reason}. "
        f"On a machine with internet access run: {INSTALL_HINT.format(name=name)}"
    )


M = TypeVar("M")


@dataclass
class LoadedModel(Generic[M]):
    """A model in the cache, with the lock that serialises its use (NeMo models are not thread-safe)."""

    model: M
    source: ModelSource
    device: str
    lock: threading.Lock


class ModelCache(Generic[M]):
    """Loads each (model, device) once and hands out the same instance afterwards.

    Two threads asking for a model that is not loaded yet wait for one load; requests for other models are not
    blocked meanwhile.

    Args:
        loader: Loads a model from a source onto a device (``"cpu"`` or ``"cuda"``).
    """

    def __init__(self, loader: Callable[[ModelSource, str], M]) -> None:
        self._loader = loader
        self._models: dict[tuple[str, str], LoadedModel[M]] = {}
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, name: str, device: str) -> LoadedModel[M]:
        """The loaded model for ``name`` on ``device``, loading it on first use."""
        key = (name, device)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                loaded = self._models.get(key)
            if loaded is not None:
                return loaded
            source = resolve_model(name)
            logger.info("Loading model %s on %s from %s", name, device, source.path or "the model hub")
            loaded = LoadedModel(self._loader(source, device), source, device, threading.Lock())
            with self._lock:
                self._models[key] = loaded
                self.loads += 1
            return loaded

    def is_loaded(self, name: str, device: str) -> bool:
        """Whether ``name`` is already loaded on ``device``."""
        with self._lock:
            return (name, device) in self._models

    def evict(self, name: str, device: str) -> None:
        """Forget a model (after a stuck job, so the next request gets a fresh instance)."""
        with self._lock:
            self._models.pop((name, device), None)

    def clear(self) -> None:
        """Forget every model."""
        with self._lock:
            self._models.clear()


def pick_device(requested: str | None = None) -> str:
    """``requested`` if given, else ``"cuda"`` when a CUDA GPU is usable, else ``"cpu"``."""
    if requested:
        return requested
    import torch  # imported here so that importing this module stays cheap

    return "cuda" if torch.cuda.is_available() else "cpu"


def known_model(name: str) -> ModelInfo | None:
    """The registry entry for ``name``, if it is a known pretrained model."""
    return next((info for info in KNOWN_MODELS if info.name == name), None)


