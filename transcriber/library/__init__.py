"""The transcript library: SQLite storage of transcripts and their audio, with full-text search.

* :mod:`.store`: :class:`Library` (save, list, get, search, rename, delete) and its migrations.
* :mod:`.database`: connections, the schema files, and SQLite's refusals to write in words.
* :mod:`.records`: a transcript's stored form and the passages search indexes.
* :mod:`.media`: the audio files, stored once by SHA-256.
* :mod:`.query`: what a user types into the search box, as an FTS5 query.
* :mod:`.recovery`: where the library lives; opening it whatever state the file is in.
* :mod:`.cli`: ``python -m transcriber.library``.

Nothing here imports Gradio, NeMo or torch; the page and the command line both use :class:`Library`.
"""

from .database import schema_version
from .records import transcript_from_json, transcript_to_json
from .recovery import LIBRARY_ENV, default_library_path, open_library
from .store import Entry, Hit, Library

__all__ = [
    "LIBRARY_ENV",
    "Entry",
    "Hit",
    "Library",
    "default_library_path",
    "open_library",
    "schema_version",
    "transcript_from_json",
    "transcript_to_json",
]
