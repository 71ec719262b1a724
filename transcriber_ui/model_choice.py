"""The model dropdown: what it offers, and which typed-in models a page request may use.

A model typed into the page is refused unless it is one the app lists (registry, installed, the built-in demo, or
the one named at start) or a path ending in ``.nemo``. The check looks only at the text, so typing ``/etc/passwd``
or ``../../secret.txt`` never makes the server open that file.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from transcriber import models
from transcriber.errors import ModelLoadError, TranscriberError
from transcriber.models import DEFAULT_MODEL, DEMO_MODEL, INSTALL_HINT, KNOWN_MODELS, NEMO_SUFFIX, model_file_name

logger = logging.getLogger(__name__)

BROWSE_CHOICE = "<browse for a .nemo file>"
"""The dropdown value of its "Browse" entry: not a model name, and no path ends like it."""
BROWSE_LABEL = "Browse for a .nemo file…"
MODEL_STORAGE_KEY = "transcriber-model"
"""Where the browser keeps the last chosen model (localStorage), so a reload selects it again."""
DEMO_NOTICE = (
    "**This is the small built-in demo model.** It knows only English digits (zero to nine) and a few command words "
    "(yes, no, stop, go, left, right, up, down, on, off, start, open, close, play, pause, next, back, hello, please, "
    "help); other speech comes out as those words or nothing. For real speech install a model once, on a machine "
    f"with internet access:\n\n    {INSTALL_HINT.format(name=DEFAULT_MODEL)}\n\n"
    "then restart the app, or reload this page and pick the model from the list."
)



class ModelRefusedError(TranscriberError):
    """A model typed into the page is neither one the app offers nor the path of a ``.nemo`` file."""



def model_choices(selected: str | None = None) -> list[tuple[str, str]]:
    """The model dropdown's (label, value) pairs, looked up afresh on every call.

    Installed models come first (known ones in registry order, then other names in the manifest, then loose ``.nemo``
    files in the model folder, then the built-in demo model), then the known models that are not installed, labelled
    with the command that installs them, then the "Browse for a .nemo file…" entry.

    Args:
        selected: A model to offer even if it is none of these (a ``.nemo`` path, say); it is then listed first.
    """
    listed = offered_models()
    if selected and selected != BROWSE_CHOICE and selected not in {value for _, value in listed}:
        listed.insert(0, (selected, selected))
    return [*listed, (BROWSE_LABEL, BROWSE_CHOICE)]


def offered_models() -> list[tuple[str, str]]:
    """The (label, value) pairs of the models the dropdown lists, installed ones first; see :func:`model_choices`."""
    try:
        manifest = models.read_manifest()
        installed = [info for info in KNOWN_MODELS if models.is_installed(info.name)]
    except ModelLoadError as exc:  # a damaged manifest must not keep the page from opening; using a model says why
        logger.warning("%s", exc)
        manifest, installed = {}, []
    known_names = {info.name for info in KNOWN_MODELS}
    choices = [(f"{info.name} — {info.description}", info.name) for info in installed]
    choices += [
        (name, name) for name in sorted(manifest) if name not in known_names and models.model_kind(name) == models.ASR
    ]
    taken_files = {entry.path.name for entry in manifest.values()} | {model_file_name(name) for name in known_names}
    loose = sorted(path for path in models.model_dir().glob(f"*{NEMO_SUFFIX}") if path.name not in taken_files)
    choices += [(f"{path.name} — in the model folder", str(path)) for path in loose]
    if models.DEMO_MODEL_PATH.is_file():
        choices.append((f"{DEMO_MODEL} — built-in demo: English digits and command words only", DEMO_MODEL))
    installed_names = {info.name for info in installed}
    choices += [
        (f"{info.name} — not installed: {INSTALL_HINT.format(name=info.name)}", info.name)
        for info in KNOWN_MODELS
        if info.name not in installed_names
    ]
    return choices


def is_nemo_path(name: str) -> bool:
    """Whether ``name`` names a ``.nemo`` file (by its text alone; nothing is opened)."""
    return name.lower().endswith(NEMO_SUFFIX)


def check_model_choice(name: str | None, trusted: Collection[str] = ()) -> str:
    """The model a page request may use, from the dropdown's value; raises when it may use none.

    Accepted: the known models, the installed ones (the manifest), the built-in demo model, any name in ``trusted``
    (the model named when the app was started), and any path ending in ``.nemo``. Everything else is refused by its
    text alone, so no file named here is opened unless it is a ``.nemo`` file.

    Raises:
        ModelRefusedError: No model is chosen, "Browse" is chosen without a file, or ``name`` is not accepted.
        ModelLoadError: The manifest of installed models is damaged.
    """
    name = (name or "").strip()
    if not name:
        raise ModelRefusedError("Choose a model first.")
    if name == BROWSE_CHOICE:
        raise ModelRefusedError("Choose a .nemo file first, or pick a model from the list.")
    if is_nemo_path(name) or name == DEMO_MODEL or name in trusted or models.known_model(name) is not None:
        return name
    if name in models.read_manifest():
        return name
    raise ModelRefusedError(
        f"{name!r} is not a model this app offers: pick one from the list, or give the path of a .nemo file."
    )

