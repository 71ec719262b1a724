"""The transcript library: SQLite storage of transcripts and their audio, with full-text search.

Nothing here imports Gradio, NeMo or torch; the page and the command line both use :class:`Library`.
"""

from .store import (
    LIBRARY_ENV,
    Entry,
    Hit,
    Library,
    default_library_path,
    open_library,
    schema_version,
    transcript_from_json,
    transcript_to_json,
)

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
