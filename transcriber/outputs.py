"""Write transcripts to files: names that are safe on every OS, and writes that never leave half a file.

A file is written under a temporary name in its folder and renamed when complete, so a crash or Ctrl-C leaves either
the old file or the new one, and "all outputs exist" can be trusted when a batch resumes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from .docx_format import to_docx
from .folders import new_file
from .formats import FORMATS, render, to_json
from .types import Transcript

DOCX = "docx"
ALL_FORMATS = (*FORMATS, DOCX)
"""Every format a transcript can be written in: the text formats and DOCX."""
PARTIAL_SUFFIX = ".part"
"""How the temporary file of a write in progress ends (``.NAME.<random>.part``, beside ``NAME``)."""

SAFE_STEM_MAX = 120
"""Most characters in an output's stem: a video's own name mostly fits, and on Windows a folder's path and the name
stay within its 260 characters."""
SAFE_STEM_MAX_BYTES = 200
"""Most UTF-8 bytes in an output's stem. File systems take 255 bytes a name, and the name an output is written under
first (``.NAME.<8 random>.part``, then renamed) holds a number (``-2``) and ``.docx`` besides: 80 Japanese
characters (240 bytes) came to 260 and stopped a batch with "File name too long"."""
FALLBACK_STEM = "audio"
WINDOWS_RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))]
)
"""Names Windows will not create a file under, whatever the extension."""
FORBIDDEN_IN_NAMES = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f\ud800-\udfff]+')
"""Characters no output name holds: those Windows forbids (``/`` and ``\\`` separate folders), control characters
(a line break in a file name breaks scripts and lists), and the stand-ins Python reads a byte that is not UTF-8 as
(``caf\\xe9.wav`` from a Latin-1 system), which UTF-8 files such as the batch's index cannot hold."""
NAME_EDGES = " ._"
"""Stripped from both ends of an output name."""
SPREADSHEET_BOM = "\ufeff"
"""What a CSV file starts with: UTF-8's byte-order mark. Excel opens a CSV without one in the computer's legacy code
page, so "Zoë" or "café.wav" would read "ZoÃ«" and "cafÃ©.wav"; LibreOffice, pandas and Python's ``csv`` with
``encoding="utf-8-sig"`` read past it."""


def safe_stem(name: str) -> str:
    """A file-name stem made from ``name`` that every OS takes: the name's own stem as far as it can be, so that
    ``Family Trip (2019).mp4`` gets ``Family Trip (2019).srt``, which a video player loads with it (mpv by the exact
    name, VLC by a name that contains the video's).

    Each run of characters that Windows forbids in a name, control characters and bytes that are not UTF-8
    (:data:`FORBIDDEN_IN_NAMES`) becomes ``_``; no leading or trailing dots or spaces (Windows
    drops trailing ones, a leading dot hides a file), no ``..``, no reserved device names, at most
    :data:`SAFE_STEM_MAX` characters and :data:`SAFE_STEM_MAX_BYTES` bytes.
    """
    stem = FORBIDDEN_IN_NAMES.sub("_", Path(name).stem).strip(NAME_EDGES)[:SAFE_STEM_MAX]
    return fitted_stem(stem, edges=NAME_EDGES, max_bytes=SAFE_STEM_MAX_BYTES, fallback=FALLBACK_STEM)


def fitted_stem(stem: str, *, edges: str, max_bytes: int, fallback: str) -> str:
    """``stem`` (already free of characters no file name holds) as a file name takes it: cut to ``max_bytes`` of
    UTF-8 in whole characters, without ``edges`` at its end, ``fallback`` when nothing is left, and with ``_`` before a
    name Windows reserves (``con`` -> ``_con``). Output names (:func:`safe_stem`) and installed models' file names
    both go through it."""
    stem = stem.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore").rstrip(edges) or fallback
    return f"_{stem}" if stem.split(".")[0].strip().upper() in WINDOWS_RESERVED_NAMES else stem


def numbered(base: str, taken: Callable[[str], bool], *, first: int = 1) -> tuple[str, int]:
    """The first of ``base``, ``base-2``, ``base-3``, ... (from number ``first``) that ``taken`` does not claim, and
    its number: how two inputs of one name get outputs of their own (``talk``, ``talk-2``)."""
    number = first
    name = base if number == 1 else f"{base}-{number}"
    while taken(name):
        number += 1
        name = f"{base}-{number}"
    return name, number


def utf8_safe(text: str) -> str:
    """``text`` as UTF-8 can hold it. A file name with a byte that is not UTF-8 (an archive from a Latin-1 system:
    ``caf\xe9.wav``) reaches Python as a lone surrogate, which UTF-8 cannot hold; it becomes its escape,
    ``caf\udce9.wav``, as Python's own error output shows it, which JSON reads back as the same name."""
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def one_line(text: str) -> str:
    """``text`` as a name on one line: line breaks, tabs and runs of spaces become one space, none at either end."""
    return " ".join(text.split())


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, :func:`utf8_safe`, so an index or a done marker still finds a file whose name is not
    UTF-8; a ``.csv`` file with :data:`SPREADSHEET_BOM` first) to ``path`` through a temporary file in the same folder
    and a rename."""
    bom = SPREADSHEET_BOM if path.suffix.lower() == ".csv" else ""
    atomic_write_bytes(path, (bom + utf8_safe(text)).encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    handle, temporary = new_file(path.parent, f".{path.name}.", PARTIAL_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_partial_writes(paths: Iterable[Path]) -> int:
    """Remove the temporary files that :func:`atomic_write_bytes` leaves beside each of ``paths`` when its writer is
    killed outright (SIGKILL, a lost worker); returns how many. Each folder is listed once, however many of
    ``paths`` it holds. Call it only while nothing is writing these paths."""
    names_by_folder: dict[Path, set[str]] = {}
    for path in paths:
        names_by_folder.setdefault(path.parent, set()).add(path.name)
    removed = 0
    for folder, names in names_by_folder.items():
        if not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            if _partial_write_of(entry.name) in names:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
    return removed


def _partial_write_of(name: str) -> str | None:
    """The file that a temporary file of :func:`atomic_write_bytes` was written for (``.talk.txt.k3j9x_2a.part`` ->
    ``talk.txt``: :func:`~.folders.new_file`'s random part has no dot), or None for any other name."""
    if not (name.startswith(".") and name.endswith(PARTIAL_SUFFIX)):
        return None
    target, dot, _random = name[1 : -len(PARTIAL_SUFFIX)].rpartition(".")
    return target if dot else None


def output_paths(folder: Path, stem: str, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Where the outputs of one input go: ``folder/stem.<format>``."""
    return [folder / f"{stem}.{fmt}" for fmt in formats]


def write_transcript(
    transcript: Transcript,
    folder: Path,
    stem: str,
    *,
    source_name: str,
    formats: Iterable[str] = FORMATS,
    title: str | None = None,
    created: str = "",
) -> list[Path]:
    """Write ``transcript`` in each format; returns the paths in the order of ``formats``.

    Args:
        transcript: What to write.
        folder: An existing folder.
        stem: The file-name stem (see :func:`safe_stem`).
        source_name: The input's file name, recorded in the JSON and DOCX outputs.
        formats: Any of :data:`ALL_FORMATS`.
        title: The DOCX document's title; default: ``source_name``.
        created: When the transcript was made, for the DOCX document.
    """
    formats = list(formats)
    paths = []
    for fmt, path in zip(formats, output_paths(folder, stem, formats)):
        if fmt == DOCX:
            atomic_write_bytes(path, to_docx(transcript, title=title or source_name, source_name=source_name,
                                             created=created))
        else:
            atomic_write_text(path, to_json(transcript, file=source_name) if fmt == "json" else render(transcript, fmt))
        paths.append(path)
    return paths
