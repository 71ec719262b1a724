"""The browser app: ``python transcribe_ui.py`` serves a local page that transcribes uploaded or recorded audio and
keeps every transcript in a library.

The page lives in the :mod:`transcriber_ui` package; this file is its entry point, and ``build_demo`` is importable
from here as it always was. ``python transcribe_ui.py --help`` lists the options.
"""

from transcriber.command import run_command
from transcriber_ui.app import DEFAULT_MAX_FILE_SIZE, build_demo, build_parser, main, serve

__all__ = ["DEFAULT_MAX_FILE_SIZE", "build_demo", "build_parser", "main", "serve"]

if __name__ == "__main__":
    # Ctrl-C while serving stops the app (status 0; jobs still running are cancelled first); while it starts, it ends
    # it with a word (status 130), not a traceback.
    run_command(lambda: main() or 0)
