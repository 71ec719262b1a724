"""A call of a cached model: its lock held, under the watchdog, with the model dropped when its worker is stuck.

The recognizer and the diarizer share this, so both have the same time bound, cancel and error sentences. The
watchdog (:mod:`.watchdog`) only returns control; deciding that a model whose worker never came back must not be
used again (it is evicted from its cache, so the next job loads a fresh one) happens here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import TranscriberError, TranscriptionCancelledError, TranscriptionFailedError, TranscriptionTimeoutError
from .model_cache import LoadedModel, ModelCache
from .watchdog import Aborted, Guard, run_watched

T = TypeVar("T")


def call_guarded(
    cache: ModelCache[Any],
    name: str,
    loaded: LoadedModel[Any],
    work: Callable[[Any], T],
    *,
    bound: float,
    cancel: threading.Event | None,
    what: str,
    guard: Guard,
    failure: str,
) -> T:
    """``work(model)`` with the model's lock held, under the watchdog, with ``guard`` hooked into its encoder.

    A model whose worker ran past its time (or did not stop after a cancel) is dropped from ``cache``, so the next
    job gets a fresh one.

    Raises:
        TranscriptionTimeoutError, TranscriptionCancelledError: From the watchdog.
        TranscriptionFailedError: NeMo raised; the message says what ``failure`` failed.
    """
    if not loaded.lock.acquire(timeout=bound):
        raise TranscriptionTimeoutError(f"{what}: the model stayed busy with another job for too long.")
    handle = loaded.model.encoder.register_forward_pre_hook(guard.hook)

    def release() -> None:
        handle.remove()
        loaded.lock.release()

    try:
        return run_watched(lambda: work(loaded.model), timeout=bound, cancel=cancel, what=what, guard=guard,
                           on_exit=release)
    except TranscriptionTimeoutError:
        cache.evict(name, loaded.device)
        raise
    except TranscriptionCancelledError:
        if loaded.lock.locked():  # the worker did not stop within the grace period: it may never give it back
            cache.evict(name, loaded.device)
        raise
    except TranscriberError:
        raise
    except Aborted as exc:  # the caller stopped waiting in the same instant the hook fired
        raise TranscriptionCancelledError(f"{what}: cancelled.") from exc
    except Exception as exc:
        raise TranscriptionFailedError(f"{what}: {failure} failed ({type(exc).__name__}: {exc}).") from exc
