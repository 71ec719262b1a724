"""The browser app as a package: one module per tab, what they share in one place.

* :mod:`.app`: :func:`build_demo` (the page, not launched), :func:`serve`, the command line.
* :mod:`.transcribe_tab`: the model settings and the "One file" and "Several files" tabs.
* :mod:`.library_tab`: the "Library" tab and its API.
* :mod:`.widgets`: the handlers' shared context, table rows, errors as one sentence, saving to the library.
* :mod:`.jobs`: per-request download folders, cancel flags, engine options and progress (no Gradio).
* :mod:`.model_choice`: what the model dropdown offers and which typed-in models are accepted (no Gradio).
* :mod:`.auth`: logins and hashed passwords (no Gradio).

Importing it does not import Gradio; :func:`build_demo` does.
"""

from .app import build_demo, build_parser, main, serve

__all__ = ["build_demo", "build_parser", "main", "serve"]
