"""The watchdog: every model call runs in a worker thread that the caller watches, so no job can hang.

A job that passes its time bound, or that the user cancels, returns control at once with an error; a forward
pre-hook on the model (:class:`Guard`) stops the worker at its next batch. What to do with a model whose worker never
comes back (drop it from the cache) is the caller's decision.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import TranscriptionCancelledError, TranscriptionTimeoutError
from .types import TranscribeOptions

TIMEOUT_BASE_S = 120.0
"""Fixed part of a job's time bound: first-call warm-up and allocations."""
TIMEOUT_PER_AUDIO_S = 2.0
"""Seconds allowed per second of audio; a 0.6B model on two CPU cores runs about five times faster than real time."""
CANCEL_GRACE_S = 1.0
"""How long a cancelled or timed-out worker gets to stop at its next batch before it is abandoned."""
POLL_S = 0.1
"""How often a waiting caller looks at the cancel flag."""
WORKER_THREAD_NAME = "transcriber-worker"
"""The name of every model call's worker thread."""
_RUNNING: dict[threading.Event, Guard | None] = {}
"""The model calls whose worker threads are still running: their "done" events and guards."""
_RUNNING_LOCK = threading.Lock()

T = TypeVar("T")


class Aborted(Exception):
    """Raised inside NeMo's forward pass to stop a job that was cancelled or ran out of time."""


@dataclass
class Guard:
    """What the encoder hook consults: stop now?"""

    abort: threading.Event = field(default_factory=threading.Event)
    on_batch: Callable[[int], None] | None = None
    batch_size: int = 1
    batches: int = 0

    def hook(self, _module: Any, _args: Any) -> None:
        if self.abort.is_set():
            raise Aborted
        if self.on_batch is not None:
            self.on_batch(self.batches * self.batch_size)
        self.batches += 1


def run_watched(
    work: Callable[[], T],
    *,
    timeout: float,
    cancel: threading.Event | None,
    what: str,
    guard: Guard | None = None,
    on_exit: Callable[[], None] | None = None,
) -> T:
    """Run ``work`` in a worker thread and wait for it, but never past ``timeout`` or a cancel.

    ``on_exit`` runs in the worker when ``work`` returns or raises, even after the caller stopped waiting.

    Raises:
        TranscriptionTimeoutError: ``work`` ran past ``timeout`` seconds.
        TranscriptionCancelledError: ``cancel`` was set.
    """
    outcome: dict[str, Any] = {}
    # The worker's own "done", not Thread.is_alive(): a join() that Ctrl-C interrupts marks a thread that is still
    # running as stopped (CPython releases its state lock on the way out), so is_alive() would say it had ended.
    done = _running(guard)

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the waiting thread, which re-raises it
            outcome["error"] = exc
        finally:
            try:
                if on_exit is not None:
                    on_exit()
            finally:
                _ended(done)

    # The worker runs in a copy of the caller's context, as asyncio.to_thread does: progress callbacks that find
    # their request through context variables (Gradio's gr.Progress) then work from the worker thread too.
    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(target,), name=WORKER_THREAD_NAME, daemon=True)
    deadline = time.monotonic() + timeout
    worker.start()
    while not done.is_set():
        try:
            done.wait(POLL_S)
        except KeyboardInterrupt:  # Ctrl-C: the model stops at its next batch too, not only the caller
            _stop(done, guard)
            raise
        if cancel is not None and cancel.is_set() and not done.is_set():
            _stop(done, guard)
            raise TranscriptionCancelledError(f"{what}: cancelled.")
        if time.monotonic() > deadline and not done.is_set():
            _stop(done, guard)
            raise TranscriptionTimeoutError(
                f"{what}: did not finish within {seconds_text(timeout)} s and was stopped "
                f"(raise the time limit if your computer is slow)."
            )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _stop(done: threading.Event, guard: Guard | None) -> None:
    if guard is not None:
        guard.abort.set()
    done.wait(CANCEL_GRACE_S)


@contextlib.contextmanager
def model_work() -> Iterator[None]:
    """Count what the calling thread does meanwhile as a running model call, for a program about to exit
    (:func:`stop_model_calls`, :func:`model_call_running`): a background thread that imports PyTorch before its model
    call starts (the app's preload choosing the device) would otherwise be torn down by the interpreter's exit inside
    its C++ code, which aborts the process ("terminate called without an active exception", status 134)."""
    done = _running(None)
    try:
        yield
    finally:
        _ended(done)


def _running(guard: Guard | None) -> threading.Event:
    """Note a model call as running (in :data:`_RUNNING`); returns the event that :func:`_ended` sets."""
    done = threading.Event()
    with _RUNNING_LOCK:
        _RUNNING[done] = guard
    return done


def _ended(done: threading.Event) -> None:
    with _RUNNING_LOCK:
        _RUNNING.pop(done, None)
    done.set()


def stop_model_calls(wait: float) -> bool:
    """Ask every running model call to stop at its next batch, and wait up to ``wait`` seconds for them to end (the
    program is about to exit). Returns whether none runs any more."""
    with _RUNNING_LOCK:
        calls = list(_RUNNING.items())
    for _, guard in calls:
        if guard is not None:
            guard.abort.set()
    deadline = time.monotonic() + wait
    for done, _ in calls:
        done.wait(max(0.0, deadline - time.monotonic()))
    return not model_call_running()


def model_call_running() -> bool:
    """Whether a model call is still running in its worker thread, whether or not its caller still waits for it
    (cancelled, out of time, interrupted)."""
    with _RUNNING_LOCK:
        return bool(_RUNNING)


def seconds_text(seconds: float) -> str:
    """Seconds as a person reads them: whole from 10 on, else to two digits (``--timeout 0.5``: "0.5", not "0")."""
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.2g}"


def time_bound(audio_seconds: float, options: TranscribeOptions) -> float:
    """Seconds a transcription of ``audio_seconds`` of audio may take before it is stopped."""
    if options.timeout is not None:
        return options.timeout
    return TIMEOUT_BASE_S + TIMEOUT_PER_AUDIO_S * audio_seconds
