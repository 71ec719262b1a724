"""Point every temporary-file location at a folder the app owns.

On Windows, NeMo and Gradio write temporary files (manifests, uploads, converted audio) into the user's TEMP folder,
which is often on a small or synced drive, is cleaned by other tools while a job runs, or holds a path with characters
that break NeMo's manifest handling. So on Windows the redirect is always on; elsewhere it is on when asked for (a flag
or the ``TRANSCRIBER_TEMP_DIR`` environment variable).

Call :func:`redirect_temp` before importing NeMo or Gradio: both read these settings when they first need a temporary
folder, and some libraries cache the answer. This module is the only place in the package that asks about ``os.name``.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

from .folders import make_folder

logger = logging.getLogger(__name__)

APP_NAME = "transcriber"
TEMP_DIR_ENV = "TRANSCRIBER_TEMP_DIR"
TEMP_ENV_VARS = ("TEMP", "TMP", "TMPDIR")
GRADIO_TEMP_ENV = "GRADIO_TEMP_DIR"
LIBRARIES_THAT_CACHE_TEMP = ("nemo", "gradio")


def is_windows(os_name: str | None = None) -> bool:
    """Whether we run on Windows (``os_name`` overrides the real answer, for tests)."""
    return (os_name or os.name) == "nt"


def user_cache_dir(os_name: str | None = None) -> Path:
    """The per-user cache folder of the app: %LOCALAPPDATA%, ~/Library/Caches or $XDG_CACHE_HOME."""
    home = Path.home()
    if is_windows(os_name):
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
    return base / APP_NAME


def default_temp_dir(os_name: str | None = None) -> Path:
    """The folder used when no other is named: ``<user cache dir>/tmp``."""
    return user_cache_dir(os_name) / "tmp"


def redirect_temp(
    temp_dir: str | os.PathLike[str] | None = None,
    *,
    enable: bool = False,
    os_name: str | None = None,
) -> Path | None:
    """Send TEMP, TMP, TMPDIR, ``tempfile.tempdir`` and GRADIO_TEMP_DIR to one folder the app owns.

    The redirect happens when running on Windows, when ``temp_dir`` is given, when ``TRANSCRIBER_TEMP_DIR`` is set,
    or when ``enable`` is true. Calling it again with the same folder changes nothing.

    Args:
        temp_dir: The folder to use; default ``TRANSCRIBER_TEMP_DIR`` or :func:`default_temp_dir`.
        enable: Redirect even when not on Windows and no folder is named.
        os_name: Pretend to run on this ``os.name`` (tests simulate Windows with ``"nt"``).

    Returns:
        The folder now in use, or ``None`` when no redirect was wanted.

    Raises:
        FolderError: The folder cannot be made (a file is in the way, no permission).
    """
    env_dir = os.environ.get(TEMP_DIR_ENV)
    if not (is_windows(os_name) or temp_dir or env_dir or enable):
        return None
    target = Path(temp_dir or env_dir or default_temp_dir(os_name)).expanduser().resolve()
    make_folder(target, "temporary files")

    if all(os.environ.get(name) == str(target) for name in TEMP_ENV_VARS) and tempfile.tempdir == str(target):
        return target
    late = [name for name in LIBRARIES_THAT_CACHE_TEMP if name in sys.modules]
    if late:
        logger.warning("Temporary folder redirected after %s was imported; it may keep the old one", ", ".join(late))
    for name in TEMP_ENV_VARS:
        os.environ[name] = str(target)
    os.environ[GRADIO_TEMP_ENV] = str(target / "gradio")
    tempfile.tempdir = str(target)
    logger.info("Temporary files go to %s", target)
    return target
