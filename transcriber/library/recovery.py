"""Where the library lives, and opening it for an app that must start whatever state the file is in."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

from ..errors import LibraryError
from ..models import user_data_dir
from .store import Library

logger = logging.getLogger(__name__)

LIBRARY_ENV = "TRANSCRIBER_LIBRARY"
LIBRARY_NAME = "library.sqlite"


def default_library_path() -> Path:
    """Where the library lives: ``TRANSCRIBER_LIBRARY`` or ``<user data dir>/library.sqlite`` (beside the models)."""
    return Path(os.environ.get(LIBRARY_ENV) or user_data_dir() / LIBRARY_NAME).expanduser()


def open_library(path: str | os.PathLike[str] | None = None, *, keep_audio: bool = True) -> tuple[Library | None, str]:
    """Open the library for an app that must start whatever state it is in.

    A file that is not an SQLite database, or a damaged one, is moved aside as ``<name>.corrupt-<time>`` and a fresh
    library is started; a library that cannot be opened at all (a folder that cannot be written) gives ``None``.

    Returns:
        The library (or ``None``) and a sentence for the user about what happened (empty when all is well).
    """
    path = Path(path) if path is not None else default_library_path()
    try:
        return Library(path, keep_audio=keep_audio), ""
    except LibraryError as exc:
        logger.warning("%s", exc)
        return None, f"{exc} Transcripts will not be saved."
    except sqlite3.DatabaseError as exc:
        aside = path.with_name(f"{path.name}.corrupt-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                shutil.move(companion, aside.with_name(aside.name + suffix))
        notice = f"The library {path} could not be read ({exc}); it was moved aside as {aside.name} and a new one started."
        logger.warning("%s", notice)
        try:
            return Library(path, keep_audio=keep_audio), notice
        except (LibraryError, sqlite3.DatabaseError) as again:
            return None, f"{notice} The new library cannot be opened either ({again}); transcripts will not be saved."
