"""Folders the app is told to write into (outputs, exports, temporary files): made when missing, tried with a file,
and when they cannot be written, one sentence that names the folder and why, before any work is done; and the new
files written into them under a temporary name (:func:`new_file`); and whether a path the user gave is a file or a
folder, asked so that a name too long to look up is neither rather than an error (:func:`is_file`,
:func:`is_folder`)."""

from __future__ import annotations

import os
import secrets
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
        in_the_way = next((p for p in (folder, *folder.parents) if is_file(p)), None)
        reason = f"{in_the_way} is a file, not a folder" if in_the_way is not None else exc.strerror or str(exc)
        raise FolderError(f"Cannot write {purpose} into {folder}: {reason}.") from exc
    try:  # a folder that exists may still refuse files (permissions, a read-only disk)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise FolderError(f"Cannot write {purpose} into {folder}: {exc.strerror or exc}.") from exc
    return folder


NEW_FILE_MODE = 0o666
"""What a new file may be opened to; the process's umask takes away the rest (``0o644`` under the usual ``022``)."""
NEW_FILE_TRIES = 100


def new_file(folder: str | os.PathLike[str], prefix: str, suffix: str) -> tuple[int, str]:
    """Create a file of a name no other has, ``prefix`` + 8 random letters and digits + ``suffix``, in ``folder``
    and open it for writing; returns its descriptor and path, as :func:`tempfile.mkstemp` does.

    Unlike mkstemp's file, which only its owner may read, it gets the permissions of any file the user makes (the
    umask's): transcripts, summaries and models are written under such a name and then renamed into place, and on a
    shared archive or model folder the others who should read them can.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)
    for _ in range(NEW_FILE_TRIES):
        path = os.path.join(folder, f"{prefix}{secrets.token_hex(4)}{suffix}")
        try:
            return os.open(path, flags, NEW_FILE_MODE), path
        except FileExistsError:
            continue
    raise FileExistsError(f"No free name for a new file in {folder}")


def is_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file; a name the system cannot even look up (longer than a file name may be, where
    Python's own ``is_file`` raises) is not."""
    try:
        return Path(path).is_file()
    except OSError:
        return False


def is_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder; a name the system cannot even look up is not (as :func:`is_file`)."""
    try:
        return Path(path).is_dir()
    except OSError:
        return False
