"""Running a command line as a program: what its ``__main__`` modules share."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn

EXIT_BROKEN_PIPE = 1


def run_command(main: Callable[[], int]) -> NoReturn:
    """Exit with ``main()``'s status. Output piped into a reader that stops early (``| head``) ends the command
    quietly: Python would print a BrokenPipeError traceback, twice over as it flushes stdout again at exit."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader is gone: send what is still buffered nowhere, so the flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_BROKEN_PIPE)
    sys.exit(status)
