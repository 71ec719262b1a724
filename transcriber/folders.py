"""Folders the app is told to write into (outputs, exports, temporary files): made when missing, tried with a file,
and when they cannot be written, one sentence that names the folder and why, before any work is done."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import FolderError


def make_folder(path: str | os.PathLike[str], purpose: str) -> Path:
    """Make the folder ``path`` (and its parents) unless it exists, and check that a file can be made in it; returns
    it.

    Args:
        purpose: What goes into it, for the message: "the outputs", "temporary files".

    Raises:
        FolderError: A file is where the folder or one of its parents should be, or the system refuses (no
            permission, a read-only disk).
    """
    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        in_the_way = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{in_the_way} is a file, not a folder" if in_the_way is not None else exc.strerror or str(exc)
        raise FolderError(f"Cannot write {purpose} into {folder}: {reason}.") from exc
    try:  # a folder that exists may still refuse files (permissions, a read-only disk)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise FolderError(f"Cannot write {purpose} into {folder}: {exc.strerror or exc}.") from exc
    return folder
