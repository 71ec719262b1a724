"""Entry point of ``python -m transcriber``, and of the ``transcriber`` command of an installed package."""

from typing import NoReturn

from .cli import main
from .command import run_command


def run() -> NoReturn:
    """Run the command line as a program: its exit status, Ctrl-C and the stop signals, a closed pipe
    (:func:`~transcriber.command.run_command`)."""
    run_command(main)


if __name__ == "__main__":
    run()
