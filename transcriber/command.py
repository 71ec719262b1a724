"""Running a command line as a program: what its ``__main__`` modules share."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 1
EXIT_INTERRUPTED = 130
"""Ctrl-C, as shells report a program that SIGINT ended."""
STOP_WAIT_S = 2.0
"""How long an exiting program waits for running model calls to stop at their next batch."""
STOP_SIGNALS = ("SIGTERM", "SIGHUP", "SIGBREAK")
"""Signals by which a system asks a program to end, taken as Ctrl-C (those this system has)."""


class StopRequested(KeyboardInterrupt):
    """One of :data:`STOP_SIGNALS` arrived: the program stops as on Ctrl-C, and exits with 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_on_signals() -> None:
    """Take :data:`STOP_SIGNALS` (``kill``, a service manager's stop, a cluster scheduler's time limit, a closed
    terminal or logout; Ctrl-Break on Windows) as Ctrl-C, so a program stops as cleanly: jobs cancelled at their
    next batch, a batch's summary written, the library closed, temporary folders removed. Their default ends the
    process on the spot. A signal set to be ignored (``nohup``) stays ignored. Only from the main thread, as Python
    allows."""
    if threading.current_thread() is not threading.main_thread():
        return
    for name in STOP_SIGNALS:
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) == signal.SIG_DFL:
            signal.signal(number, _request_stop)


_last_stop_signal: int | None = None
"""The last of :data:`STOP_SIGNALS` that arrived: a library may catch the :class:`StopRequested` raised in its call
and raise a plain ``KeyboardInterrupt`` of its own instead (Ray's ``get`` does), which says Ctrl-C."""


def _request_stop(signum: int, _frame: object) -> None:
    global _last_stop_signal
    _last_stop_signal = signum
    raise StopRequested(signum)


def interrupted_status(exc: KeyboardInterrupt) -> int:
    """The exit status of a program that ``exc`` stopped: 130 for Ctrl-C, 128 + the number of another signal (also
    where a library turned its :class:`StopRequested` into a plain ``KeyboardInterrupt`` on the way)."""
    if isinstance(exc, StopRequested):
        return 128 + exc.signum
    return EXIT_INTERRUPTED if _last_stop_signal is None else 128 + _last_stop_signal


def run_command(main: Callable[[], int]) -> NoReturn:
    """Exit with ``main()``'s status. Output piped into a reader that stops early (``| head``) ends the command
    quietly: Python would print a BrokenPipeError traceback, twice over as it flushes stdout again at exit. Ctrl-C
    ends it with a word, not a traceback, and so do the signals of :func:`stop_on_signals`."""
    stop_on_signals()
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader is gone: send what is still buffered nowhere, so the flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = EXIT_BROKEN_PIPE
    except KeyboardInterrupt as exc:
        print("Interrupted.", file=sys.stderr)
        status = interrupted_status(exc)
    exit_now(status)


def shown_path(file: str | os.PathLike[str]) -> str:
    """A file as a command's lines name it: its path from the current folder when it lies below it
    (``monday/memo.wav``), else its whole path. The name alone does not say which file is meant: an archive holds a
    ``memo.wav`` in every day's folder."""
    path = Path(file).absolute()
    here = Path.cwd()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def file_line(file: str | os.PathLike[str], message: str) -> str:
    """``message`` about ``file`` (an error, which begins with the file's name, or news of it) as a line that names
    the file by :func:`shown_path`: ``monday/memo.wav: not a readable audio file ...``."""
    name = Path(file).name
    said = message[len(name) + 2:] if message.startswith(f"{name}: ") else message
    return f"{shown_path(file)}: {said}"


def exit_now(status: int) -> NoReturn:
    """Exit with ``status``. A model call still running in its worker thread (Ctrl-C came in the middle of a batch, or
    a time limit abandoned it) is asked to stop at its next batch; if it has not within :data:`STOP_WAIT_S`, the
    interpreter's own exit would tear its thread down inside PyTorch's C++ code, which aborts the process ("terminate
    called without an active exception", status 134), so the exit skips that. Outputs are written whole or not at all
    and the library commits each save, so nothing is left half done."""
    from .watchdog import stop_model_calls

    if not stop_model_calls(wait=STOP_WAIT_S):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)
    sys.exit(status)
