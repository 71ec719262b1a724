"""The SQLite plumbing of the library: its connections, its schema files and their migration order, and what
SQLite's refusals to write mean in words.

Every connection is in WAL mode with foreign keys on and carries :data:`FOLD_FUNCTION`, the app's folding of text for
search (``query.index_text``), which the schema-6 and schema-8 migrations and the search index's inserts call.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import suppress
from pathlib import Path

from ..errors import LibraryWriteError
from . import query as search_query

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another's write lock before it gives up."""
FOLD_FUNCTION = "search_fold"
"""The SQL name of :func:`~transcriber.library.query.index_text`, which fills the search index (schemas 6 and 8)."""
SPACELESS_FUNCTION = "search_spaceless"
"""SQL: whether a text holds a character searched one by one (:data:`~transcriber.library.query.SPACELESS_CHARS`);
schema 8 indexes those texts again (a ``GLOB`` of the same characters took 9 s, not 1, on a million passages)."""


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection to the library at ``path``: autocommit (transactions are explicit), usable from the thread
    that keeps it, WAL, foreign keys, :data:`FOLD_FUNCTION` and :data:`SPACELESS_FUNCTION`."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA synchronous = NORMAL")  # WAL: durable against crashes, not power cuts
    connection.create_function(FOLD_FUNCTION, 1, _fold_sql, deterministic=True)
    connection.create_function(SPACELESS_FUNCTION, 1, _spaceless_sql, deterministic=True)
    return connection


def checkpoint(connection: sqlite3.Connection) -> None:
    """Copy what the WAL holds into the database file, as far as no reader holds it back (a passive checkpoint), so
    that the file alone is the library: a user copies or backs up ``library.sqlite``, not its ``-wal`` beside it,
    and SQLite itself checkpoints only every 1,000 pages or when the last connection closes cleanly. A checkpoint
    that cannot be done now (a full disk) loses nothing: the WAL still holds the write, and the next one retries."""
    with suppress(sqlite3.Error):
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _fold_sql(text: object) -> object:
    """:data:`FOLD_FUNCTION`: a text as the index holds it, anything else (NULL) as it is."""
    return search_query.index_text(text) if isinstance(text, str) else text


def _spaceless_sql(text: object) -> bool:
    """:data:`SPACELESS_FUNCTION`."""
    return isinstance(text, str) and search_query.SPACELESS.search(text) is not None


def write_error(path: Path, exc: sqlite3.Error) -> LibraryWriteError:
    """``exc``, raised while writing to the library at ``path``, as a sentence that names it and the reason."""
    message = str(exc)
    if "full" in message:
        reason = "its disk is full"
    elif "locked" in message or "busy" in message:
        reason = f"another program kept it busy for {BUSY_TIMEOUT_S:.0f} s"
    elif "readonly" in message or "read-only" in message:
        reason = "it is read-only"
    else:
        reason = message
    return LibraryWriteError(f"The library {path} could not be written: {reason}. Nothing was changed.")


def schema_files() -> list[Path]:
    """The migrations in the order they are applied: ``schema/0001_*.sql``, ``0002_*.sql``, ..."""
    return sorted(SCHEMA_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def schema_version() -> int:
    """The schema version this code writes: the number of migrations."""
    return len(schema_files())


def split_statements(script: str) -> list[str]:
    """The statements of an SQL script, split with SQLite's own notion of a complete statement (triggers hold ``;``
    inside ``BEGIN ... END``)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        if not current and line.lstrip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
