"""The library's audio files: copied in under the SHA-256 of their bytes, so a file saved twice is kept once, and
files no transcript names (left by a save that was killed part-way) removed later."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

logger = logging.getLogger(__name__)

HASH_CHUNK_BYTES = 1 << 20
PART_SUFFIX = ".part"
SUFFIX_MAX = 16
ORPHAN_AGE_S = 3600.0
"""Media files no transcript names are removed when the library is opened, once they are this old (younger ones may
belong to a save that is still under way in another process)."""


def store_media(media_dir: Path, source: Path) -> tuple[str, str, int]:
    """Copy ``source`` into ``media_dir`` as ``<sha256><suffix>`` (once, however often it is saved): written under a
    temporary name and renamed, so a crash never leaves half a file under the final name. Returns (sha256, suffix,
    size)."""
    suffix = source.suffix.lower()[:SUFFIX_MAX]
    handle, part = tempfile.mkstemp(dir=media_dir, suffix=PART_SUFFIX)
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as target, source.open("rb") as file:
            while chunk := file.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
                target.write(chunk)
        sha256 = digest.hexdigest()
        final = media_dir / (sha256 + suffix)
        if final.is_file():
            os.unlink(part)
        else:
            os.replace(part, final)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    return sha256, suffix, final.stat().st_size


def sweep_orphans(media_dir: Path, named: set[str]) -> None:
    """Remove the files of ``media_dir`` not in ``named`` that are older than :data:`ORPHAN_AGE_S`."""
    cutoff = time.time() - ORPHAN_AGE_S
    for path in media_dir.iterdir():
        try:
            if path.name not in named and path.stat().st_mtime < cutoff:
                path.unlink()
                logger.info("Removed %s from the library's media, which no transcript uses", path.name)
        except OSError as exc:
            logger.warning("Could not remove the unused media file %s: %s", path, exc)
