"""Where the library lives, and opening it for an app that must start whatever state the file is in."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime
from pathlib import Path

from ..errors import LibraryError, LibraryUnreadableError
from ..models import user_data_dir
from .store import LIBRARY_NAME, Library

logger = logging.getLogger(__name__)

LIBRARY_ENV = "TRANSCRIBER_LIBRARY"
LIBRARY_SUFFIXES = frozenset({".sqlite", ".sqlite3", ".db"})
SQLITE_HEADER = b"SQLite format 3\x00"


def default_library_path() -> Path:
    """Where the library lives: ``TRANSCRIBER_LIBRARY`` or ``<user data dir>/library.sqlite`` (beside the models)."""
    return Path(os.environ.get(LIBRARY_ENV) or user_data_dir() / LIBRARY_NAME).expanduser()


def open_library(path: str | os.PathLike[str] | None = None, *, keep_audio: bool = True) -> tuple[Library | None, str]:
    """Open the library for an app that must start whatever state it is in.

    A damaged library (an SQLite file that cannot be read, or a ``*.sqlite`` / ``*.db`` file that is not SQLite) is
    moved aside as ``<name>.corrupt-<time>`` and a fresh library is started. Any other file (a recording, a document:
    a mistyped path) is left as it is, and gives ``None``, as does a library that cannot be opened at all (a folder,
    a folder that cannot be written).

    Returns:
        The library (or ``None``) and a sentence for the user about what happened (empty when all is well).
    """
    path = Path(path) if path is not None else default_library_path()
    try:
        return Library(path, keep_audio=keep_audio), ""
    except LibraryUnreadableError as exc:
        if not may_be_a_library(path):
            notice = f"{path} is not a transcript library ({exc.__cause__}), so it was left as it is."
            logger.warning("%s", notice)
            return None, f"{notice} Transcripts will not be saved: name a new file or an existing library."
        return _start_afresh(path, exc, keep_audio=keep_audio)
    except LibraryError as exc:
        logger.warning("%s", exc)
        return None, f"{exc} Transcripts will not be saved."


def may_be_a_library(path: Path) -> bool:
    """Whether ``path`` is, or was, a library: an SQLite file, or a file named like one (``*.sqlite``, ``*.db``)
    whose header may be what was damaged."""
    if path.suffix.lower() in LIBRARY_SUFFIXES:
        return True
    with path.open("rb") as file:
        return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def _start_afresh(path: Path, unreadable: LibraryUnreadableError, *, keep_audio: bool) -> tuple[Library | None, str]:
    """Move the unreadable library at ``path`` (and its WAL files) aside and open a new one there."""
    aside = path.with_name(f"{path.name}.corrupt-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            shutil.move(companion, aside.with_name(aside.name + suffix))
    notice = f"{unreadable} It was moved aside as {aside.name} and a new one started."
    logger.warning("%s", notice)
    try:
        return Library(path, keep_audio=keep_audio), notice
    except LibraryError as again:
        return None, f"{notice} The new library cannot be opened either ({again}); transcripts will not be saved."
