"""Entry point of ``python -m transcriber``."""

from .cli import main
from .command import run_command

if __name__ == "__main__":
    run_command(main)
