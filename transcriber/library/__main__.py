"""``python -m transcriber.library``: see :mod:`transcriber.library.cli`."""

from ..command import run_command
from .cli import main

run_command(main)
