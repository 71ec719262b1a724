"""``python -m transcriber.library``: see :mod:`transcriber.library.cli`."""

import sys

from .cli import main

sys.exit(main())
