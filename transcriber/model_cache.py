"""The models of this process: each (model, device) loaded once and shared (:class:`ModelCache`), and which device a
run uses (:func:`pick_device`). Which models exist and where their files are is :mod:`.models`; the loader that
imports NeMo is passed in by :mod:`transcriber.engine`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .models import ModelSource, resolve_model, verify
from .watchdog import model_work

logger = logging.getLogger(__name__)

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
            verify(source)
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
    # imported here so that importing this module stays cheap; the first import takes seconds in PyTorch's C++ code,
    # often in a background thread (the app's preload, a page's request): a model call then, for a program's exit
    with model_work():
        import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
