"""The library's audio files: copied in under the SHA-256 of their bytes, so a file saved twice is kept once, and
files no transcript names (left by a save that was killed part-way) removed later."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..folders import new_file
from ..models import file_sha256

logger = logging.getLogger(__name__)

HASH_CHUNK_BYTES = 1 << 20
PART_SUFFIX = ".part"
SUFFIX_MAX = 16
VIDEO_SUFFIXES = frozenset(".mp4 .m4v .mov .mkv .webm .avi".split())
"""Files whose sound the library keeps instead of the whole file (:func:`store_sound_of`) when they hold video."""
SOUND_SUFFIX = ".flac"
SOUND_BLOCK_FRAMES = 1 << 18
"""Samples decoded and written at a time when a video's sound is kept (16 s at 16 kHz)."""
ORPHAN_AGE_S = 3600.0
"""Media files no transcript names are removed when the library is opened, once they are this old (younger ones may
belong to a save that is still under way in another process)."""


def store_media(media_dir: Path, source: Path) -> tuple[str, str, int]:
    """Copy ``source`` into ``media_dir`` as ``<sha256><suffix>`` (once, however often it is saved): written under a
    temporary name and renamed, so a crash never leaves half a file under the final name. A video keeps its sound
    only (:func:`store_sound_of`). Returns (sha256, suffix, size)."""
    if source.suffix.lower() in VIDEO_SUFFIXES and has_pictures(source):
        return store_sound_of(media_dir, source)
    suffix = source.suffix.lower()[:SUFFIX_MAX]
    digest = hashlib.sha256()
    with part_file(media_dir) as part:
        with open(part, "wb") as target, source.open("rb") as file:
            while chunk := file.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
                target.write(chunk)
        sha256 = digest.hexdigest()
        final = media_dir / (sha256 + suffix)
        if final.is_file():
            os.unlink(part)
        else:
            os.replace(part, final)
    return sha256, suffix, final.stat().st_size


@contextmanager
def part_file(media_dir: Path) -> Iterator[str]:
    """A temporary file in ``media_dir`` for a media file being written, which the block renames into place; removed
    if the block fails."""
    handle, part = new_file(media_dir, "tmp", PART_SUFFIX)
    os.close(handle)
    try:
        yield part
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise


def has_pictures(path: Path) -> bool:
    """Whether ``path`` holds a video stream (not only a cover picture): a WebM or MP4 file may be sound alone, and is
    then kept as it is."""
    import av

    try:
        with av.open(str(path)) as container:
            cover = av.stream.Disposition.attached_pic
            return any(not stream.disposition & cover for stream in container.streams.video)
    except av.FFmpegError:
        return False


def store_sound_of(media_dir: Path, video: Path) -> tuple[str, str, int]:
    """Keep the sound of ``video`` as ``<sha256 of the video>.flac``: 16 kHz mono, what was transcribed, lossless, and
    played by every browser; an hour of talk takes some 55 MB where the video may take gigabytes. Decoded and written a
    block at a time, under a temporary name. Returns (sha256, suffix, size)."""
    import soundfile as sf

    from ..audio import AudioReader  # PyAV: only a library that keeps a video's sound needs it

    sha256 = file_sha256(video)
    final = media_dir / (sha256 + SOUND_SUFFIX)
    if not final.is_file():
        with part_file(media_dir) as part:
            with AudioReader(video) as reader, sf.SoundFile(part, "w", samplerate=reader.sample_rate, channels=1,
                                                            format="FLAC", subtype="PCM_16") as target:
                while len(block := reader.read(SOUND_BLOCK_FRAMES)):
                    target.write(block)
            os.replace(part, final)
    return sha256, SOUND_SUFFIX, final.stat().st_size


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
