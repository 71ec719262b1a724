"""Entry point of ``python -m transcriber``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
