"""Running a command line as a program: what its ``__main__`` modules share."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn

EXIT_BROKEN_PIPE = 1
EXIT_INTERRUPTED = 130
"""Ctrl-C, as shells report a program that SIGINT ended."""
STOP_WAIT_S = 2.0
"""How long an exiting program waits for running model calls to stop at their next batch."""


def run_command(main: Callable[[], int]) -> NoReturn:
    """Exit with ``main()``'s status. Output piped into a reader that stops early (``| head``) ends the command
    quietly: Python would print a BrokenPipeError traceback, twice over as it flushes stdout again at exit. Ctrl-C
    ends it with a word, not a traceback."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader is gone: send what is still buffered nowhere, so the flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        status = EXIT_INTERRUPTED
    exit_now(status)


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
