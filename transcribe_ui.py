"""The browser app: ``python transcribe_ui.py`` serves a local page that transcribes uploaded or recorded audio and
keeps every transcript in a library.

The page lives in the :mod:`transcriber_ui` package; this file is its entry point, and ``build_demo`` is importable
from here as it always was. ``python transcribe_ui.py --help`` lists the options.
"""

from transcriber.command import exit_now
from transcriber_ui.app import DEFAULT_MAX_FILE_SIZE, build_demo, build_parser, main, serve

__all__ = ["DEFAULT_MAX_FILE_SIZE", "build_demo", "build_parser", "main", "serve"]

if __name__ == "__main__":
    main()
    exit_now(0)  # the server stopped (Ctrl+C): jobs still running end first, without aborting the process
