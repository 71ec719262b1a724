"""The library: every transcript kept in one SQLite database, its audio in a media folder beside it.

Decisions:

* **Standard library only** (``sqlite3``): the schema is the SQL files in ``schema/``, applied in order, and
  ``PRAGMA user_version`` says how many have been applied, so a database made by an older version is migrated when it
  is opened. A database from a newer version is refused, never altered.
* **Stored exactly**: a transcript's words, segments and speakers are kept as JSON in its row (Python writes floats
  so that they read back equal), so a loaded transcript equals the saved one. Search reads a second, derived copy: one
  row per segment in an FTS5 index, and one per transcript (its name, speakers and text) to rank whole transcripts.
* **Crash-safe**: WAL journal, one transaction per save or delete, so a process killed at any point leaves every
  earlier transcript intact. Each write is copied into the database file once committed (a passive checkpoint), so
  ``library.sqlite`` alone, copied or backed up while the app runs or after it was killed, holds every transcript.
  Audio is copied under a temporary name and renamed to its SHA-256 before the row that names it is committed; a
  file no row names (a save killed in between) is removed on a later open.
* **Ownership**: every row has an owner (the logged-in user, ``""`` without logins) and every read, write and media
  lookup is filtered by it, so one user's ids mean nothing to another.
* One connection per thread (Gradio runs handlers in threads); writers take the write lock up front
  (``BEGIN IMMEDIATE``) and wait for each other up to :data:`~.database.BUSY_TIMEOUT_S`.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from ..errors import LibraryError, LibraryUnreadableError, StaleVersionError, TranscriptNotFoundError
from ..folders import is_folder
from ..formats import result_to_dict
from ..outputs import one_line, utf8_safe
from ..types import FileResult, Transcript
from . import database
from . import query as search_query
from .media import store_media, sweep_orphans
from .records import hit_time, passages, transcript_from_json, transcript_to_json, turn_starts, utc_now

logger = logging.getLogger(__name__)

LIBRARY_NAME = "library.sqlite"
"""The library's file name where only a folder is known."""
MEDIA_SUFFIX = ".media"
"""The media folder of ``library.sqlite`` is ``library.media`` beside it."""
DEFAULT_LIST_LIMIT = 500
DEFAULT_HIT_LIMIT = 50
MAX_NAME_CHARS = 200
"""The longest name a transcript may be given (a file's own name is kept whole)."""
NAME_WEIGHT = 5.0
"""How much more a search term found in a transcript's name or its speakers' counts than one in its text (bm25 column
weights): a name says what, or who, the whole recording is about."""
SPEAKER_SEPARATOR = "\n"
"""Between the speakers of ``transcripts.speakers`` (schema 5): a name may hold ", ", never a line break."""


@dataclass(frozen=True)
class Entry:
    """A transcript's row in the library, without its words."""

    id: int
    name: str
    source_name: str
    created: str
    duration: float
    model: str
    speakers: tuple[str, ...]
    edited: bool
    has_audio: bool
    version: int = 1

    def json_object(self, transcript: Transcript) -> dict[str, object]:
        """The transcript as JSON data: the CLI's ``--json`` object plus the model and this entry's id, name,
        created and edited."""
        data = result_to_dict(FileResult(file=self.source_name, transcript=transcript))
        data.update(model=transcript.model, id=self.id, name=self.name, created=self.created, edited=self.edited)
        return data


@dataclass(frozen=True)
class Hit:
    """A transcript that matches a search: its entry, the best passage with the matches in ``**bold**``, and when
    the first matching word of that passage is spoken (``None`` for a transcript without timings)."""

    entry: Entry
    snippet: str
    time: float | None


SQLITE_MAX_INTEGER = 2**63 - 1


def row_id(transcript_id: int) -> int:
    """``transcript_id`` as the row id it is stored under; one that SQLite cannot hold (a mistyped 25-digit id) has
    no transcript, rather than an ``OverflowError``."""
    number = int(transcript_id)
    if not -SQLITE_MAX_INTEGER - 1 <= number <= SQLITE_MAX_INTEGER:
        raise not_found(number)
    return number


def not_found(transcript_id: int) -> TranscriptNotFoundError:
    """The error for an id the asking owner has no transcript under (the same words whether it never existed, was
    deleted or is another user's)."""
    return TranscriptNotFoundError(f"There is no transcript {transcript_id} in the library.")


class Library:
    """A library of transcripts in the SQLite database at ``path``.

    Args:
        path: The database file; created, with its folder, when missing.
        keep_audio: Copy each transcript's audio into the media folder (else text only).

    Raises:
        LibraryError: The database cannot be created or opened (``path`` is a folder, say), is from a newer version,
            or is not a library.
        LibraryUnreadableError: The file is not an SQLite database, or is damaged (see :func:`open_library`).
    """

    def __init__(self, path: str | os.PathLike[str], *, keep_audio: bool = True) -> None:
        self.path = Path(path).expanduser().resolve()
        self.media_dir = self.path.with_name(self.path.stem + MEDIA_SUFFIX)
        self.keep_audio = keep_audio
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if is_folder(self.path):
            raise LibraryError(
                f"{self.path} is a folder; a library is a file: name one, such as {self.path / LIBRARY_NAME}."
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"Cannot create the library folder {self.path.parent}: {exc.strerror or exc}.") from exc
        try:
            self._migrate()
            try:  # only beside a library: a file that is none gets no folder
                self.media_dir.mkdir(exist_ok=True)
            except OSError as exc:
                reason = exc.strerror or exc
                raise LibraryError(f"Cannot create the library's audio folder {self.media_dir}: {reason}.") from exc
            named = {sha + suffix for sha, suffix in self._connection().execute("SELECT sha256, suffix FROM media")}
            sweep_orphans(self.media_dir, named)
        except sqlite3.OperationalError as exc:
            self.close()
            raise LibraryError(f"Cannot open the library {self.path}: {exc}.") from exc
        except sqlite3.DatabaseError as exc:
            self.close()
            raise LibraryUnreadableError(f"The library {self.path} cannot be read: {exc}.") from exc
        except BaseException:
            self.close()
            raise

    # --- connections and schema ---------------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = database.connect(self.path)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back when it raises. What keeps SQLite from
        writing (a full disk, a read-only file, a lock held too long: ``OperationalError``) becomes
        :class:`~transcriber.errors.LibraryWriteError`, a sentence that says why (:func:`.database.write_error`)."""
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise database.write_error(self.path, exc) from exc
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException as exc:
            with suppress(sqlite3.Error):  # SQLite may have rolled back already (a full disk at COMMIT)
                connection.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):  # a damaged file (DatabaseError) is not a write's failure
                raise database.write_error(self.path, exc) from exc
            raise
        database.checkpoint(connection)

    def _migrate(self) -> None:
        files = database.schema_files()
        with self._write() as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > len(files):
                raise LibraryError(
                    f"The library {self.path} was made by a newer version of this app (schema {version}; this one "
                    f"knows {len(files)}); update the app or choose another library."
                )
            if version == 0 and connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise LibraryError(f"{self.path} is an SQLite database but not a transcript library.")
            for number, script in enumerate(files[version:], start=version + 1):
                for statement in database.split_statements(script.read_text(encoding="utf-8")):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {number}")
                logger.info("Library %s: applied schema %d (%s)", self.path, number, script.name)

    def schema(self) -> int:
        """The schema version of the database."""
        return self._connection().execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        """Close every connection (the library cannot be used afterwards)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    # --- saving ---------------------------------------------------------------------------------------------------------

    def save(
        self, transcript: Transcript, *, name: str, audio: str | os.PathLike[str] | None = None, owner: str = ""
    ) -> int:
        """Store ``transcript`` (and a copy of its audio, unless the library keeps text only); returns its id.

        Args:
            transcript: What to store.
            name: Its name in the listing, usually the source file's name.
            audio: The audio file it was made from.
            owner: The user it belongs to.
        """
        source_name = utf8_safe(name)  # SQLite holds UTF-8 only; the outputs write such a name the same way
        name = one_line(source_name) or source_name
        media = store_media(self.media_dir, Path(audio)) if audio is not None and self.keep_audio else None
        with self._write() as connection:
            if media is not None:
                connection.execute("INSERT OR IGNORE INTO media (sha256, suffix, size) VALUES (?, ?, ?)", media)
            cursor = connection.execute(
                "INSERT INTO transcripts (name, source_name, created, duration, model, body, speakers, media, owner)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, source_name, utc_now(), transcript.duration, transcript.model, transcript_to_json(transcript),
                 SPEAKER_SEPARATOR.join(transcript.speakers), media[0] if media else None, owner),
            )
            transcript_id = cursor.lastrowid
            self._index(connection, transcript_id, transcript)
        return transcript_id

    @staticmethod
    def _index(connection: sqlite3.Connection, transcript_id: int, transcript: Transcript) -> None:
        """Make ``transcript`` what search finds under ``transcript_id``: its passages, and its text and theirs
        folded into the search index with its name and its speakers' (see :mod:`transcriber.library.query`)."""
        connection.execute("DELETE FROM passages WHERE transcript_id = ?", (transcript_id,))
        connection.executemany(
            "INSERT INTO passages (transcript_id, start, text, words) VALUES (?, ?, ?, ?)",
            [(transcript_id, *row) for row in passages(transcript)],
        )
        connection.execute(f"INSERT INTO passages_fts (rowid, text) SELECT id, {database.FOLD_FUNCTION}(text)"
                           " FROM passages WHERE transcript_id = ?", (transcript_id,))
        connection.execute("DELETE FROM transcripts_fts WHERE rowid = ?", (transcript_id,))
        fold = database.FOLD_FUNCTION
        connection.execute(f"INSERT INTO transcripts_fts (rowid, name, speakers, text) SELECT id, {fold}(name),"
                           f" {fold}(speakers), ? FROM transcripts WHERE id = ?",
                           (search_query.index_text(transcript.text), transcript_id))

    # --- reading --------------------------------------------------------------------------------------------------------

    ENTRY_COLUMNS = ("t.id, t.name, t.source_name, t.created, t.duration, t.model, t.speakers, t.edited, t.media,"
                     " t.version")

    @staticmethod
    def _entry(row: tuple) -> Entry:
        transcript_id, name, source_name, created, duration, model, speakers, edited, media, version = row
        return Entry(transcript_id, name, source_name, created, duration, model,
                     tuple(speakers.split(SPEAKER_SEPARATOR)) if speakers else (), bool(edited), media is not None,
                     version)

    def entries(self, *, owner: str = "", limit: int | None = DEFAULT_LIST_LIMIT) -> list[Entry]:
        """The owner's transcripts, newest first: the first ``limit`` (``None``: all)."""
        rows = self._connection().execute(
            f"SELECT {self.ENTRY_COLUMNS} FROM transcripts t WHERE t.owner = ? ORDER BY t.created DESC, t.id DESC"
            " LIMIT ?",
            (owner, -1 if limit is None else limit),  # SQLite: a negative LIMIT is none
        )
        return [self._entry(row) for row in rows]

    def get(self, transcript_id: int, *, owner: str = "") -> tuple[Entry, Transcript]:
        """One of the owner's transcripts with its entry.

        Raises:
            TranscriptNotFoundError: The owner has no transcript with this id.
        """
        row = self._connection().execute(
            f"SELECT {self.ENTRY_COLUMNS}, t.body FROM transcripts t WHERE t.id = ? AND t.owner = ?",
            (row_id(transcript_id), owner),
        ).fetchone()
        if row is None:
            raise not_found(transcript_id)
        return self._entry(row[:-1]), transcript_from_json(row[-1])

    def media_path(self, transcript_id: int, *, owner: str = "") -> Path | None:
        """The stored audio of one of the owner's transcripts; ``None`` when it was saved without audio.

        Raises:
            TranscriptNotFoundError: The owner has no transcript with this id.
        """
        row = self._connection().execute(
            "SELECT m.sha256, m.suffix FROM transcripts t LEFT JOIN media m ON m.sha256 = t.media"
            " WHERE t.id = ? AND t.owner = ?",
            (row_id(transcript_id), owner),
        ).fetchone()
        if row is None:
            raise not_found(transcript_id)
        if row[0] is None:
            return None
        path = self.media_dir / (row[0] + row[1])
        return path if path.is_file() else None

    def search(self, text: str, *, owner: str = "", limit: int | None = None) -> list[Hit]:
        """The owner's transcripts whose name, speakers' names and text hold every term of ``text`` between them, best
        first (bm25, a term in a name weighing :data:`NAME_WEIGHT` times one in the text), one hit each: at most
        ``limit`` (default :data:`DEFAULT_HIT_LIMIT`).

        ``text`` is words, ``"phrases"`` and ``prefixes*`` (see :mod:`transcriber.library.query`); with no word in
        it, the transcripts are listed newest first, without a snippet (at most ``limit``, default
        :data:`DEFAULT_LIST_LIMIT`). Each hit's snippet and time come from its first passage that holds every term
        (else any term; none when only names hold them).
        """
        terms = search_query.parse(text)
        if not terms:
            listed = self.entries(owner=owner, limit=DEFAULT_LIST_LIMIT if limit is None else limit)
            return [Hit(entry, "", None) for entry in listed]
        limit = DEFAULT_HIT_LIMIT if limit is None else limit
        connection = self._connection()
        rows = connection.execute(
            f"SELECT {self.ENTRY_COLUMNS} FROM transcripts_fts JOIN transcripts t ON t.id = transcripts_fts.rowid"
            " WHERE transcripts_fts MATCH ? AND t.owner = ?"
            f" ORDER BY bm25(transcripts_fts, {NAME_WEIGHT}, {NAME_WEIGHT}, 1.0) LIMIT ?",
            (search_query.fts_query(terms), owner, limit),
        ).fetchall()
        return [self._hit(connection, self._entry(row), terms) for row in rows]

    def ids(self, text: str = "", *, owner: str = "") -> list[int]:
        """The ids of every one of the owner's transcripts that a search for ``text`` finds (all of them when ``text``
        holds no word), oldest first, with no limit: what an export of a search or of the whole library writes."""
        terms = search_query.parse(text)
        if terms:
            rows = self._connection().execute(
                "SELECT t.id FROM transcripts_fts JOIN transcripts t ON t.id = transcripts_fts.rowid"
                " WHERE transcripts_fts MATCH ? AND t.owner = ? ORDER BY t.created, t.id",
                (search_query.fts_query(terms), owner),
            )
        else:
            rows = self._connection().execute(
                "SELECT id FROM transcripts WHERE owner = ? ORDER BY created, id", (owner,)
            )
        return [transcript_id for (transcript_id,) in rows]

    def _hit(self, connection: sqlite3.Connection, entry: Entry, terms: list[search_query.Term]) -> Hit:
        """Where in ``entry`` the terms occur first: a snippet of that passage and the time of its matching word."""
        first, last = connection.execute(
            "SELECT min(id), max(id) FROM passages WHERE transcript_id = ?", (entry.id,)
        ).fetchone()
        for match in (search_query.fts_query(terms), search_query.fts_any(terms)):
            row = connection.execute(
                "SELECT p.start, p.words, p.text FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid"
                " WHERE passages_fts MATCH ? AND passages_fts.rowid BETWEEN ? AND ? ORDER BY passages_fts.rowid"
                " LIMIT 1",
                (match, first, last),
            ).fetchone()
            if row is not None:
                start, words, text = row
                return Hit(entry, search_query.snippet(terms, text), hit_time(terms, start, json.loads(words)))
        named = search_query.names_matching(terms, entry.speakers)
        if named:  # found by a speaker's name: where that speaker first talks
            (body,) = connection.execute("SELECT body FROM transcripts WHERE id = ?", (entry.id,)).fetchone()
            starts = turn_starts(transcript_from_json(body), named)
            return Hit(entry, "", starts[0] if starts else None)
        return Hit(entry, "", None)

    def size_bytes(self) -> int:
        """Bytes the library takes on disk: the database, its journal and the media folder."""
        files = [self.path, self.path.with_name(self.path.name + "-wal"), *self.media_dir.iterdir()]
        return sum(path.stat().st_size for path in files if path.is_file())

    def count(self, *, owner: str = "") -> int:
        """How many transcripts the owner has."""
        return self._connection().execute("SELECT count(*) FROM transcripts WHERE owner = ?", (owner,)).fetchone()[0]

    # --- changing -------------------------------------------------------------------------------------------------------

    def update(self, transcript_id: int, transcript: Transcript, *, base_version: int, owner: str = "") -> int:
        """Store a corrected ``transcript`` as the next version of one of the owner's transcripts; returns its number.

        The model's output (version 1) and every version since stay stored (:meth:`version`); search and exports see
        the newest. The transcript is marked edited unless it equals the model's output.

        Raises:
            StaleVersionError: The transcript is no longer at ``base_version`` (another tab saved meanwhile).
            TranscriptNotFoundError: The owner has no transcript with this id.
        """
        body = transcript_to_json(transcript)
        with self._write() as connection:
            row = connection.execute(
                "SELECT version, body FROM transcripts WHERE id = ? AND owner = ?", (row_id(transcript_id), owner)
            ).fetchone()
            if row is None:
                raise not_found(transcript_id)
            current, current_body = row
            if current != base_version:
                raise StaleVersionError(
                    f"This transcript was changed elsewhere (it is at version {current}, this page had version "
                    f"{base_version}); your last change was not saved. The current version is shown now."
                )
            if current == 1:  # the first correction: keep the model's output as version 1
                connection.execute("INSERT OR IGNORE INTO versions (transcript_id, number, created, body)"
                                   " VALUES (?, 1, ?, ?)", (transcript_id, utc_now(), current_body))
            original = connection.execute(
                "SELECT body FROM versions WHERE transcript_id = ? AND number = 1", (transcript_id,)
            ).fetchone()[0]
            number = current + 1
            connection.execute("INSERT INTO versions (transcript_id, number, created, body) VALUES (?, ?, ?, ?)",
                               (transcript_id, number, utc_now(), body))
            connection.execute(
                "UPDATE transcripts SET body = ?, version = ?, edited = ?, speakers = ? WHERE id = ?",
                (body, number, int(transcript_from_json(original) != transcript),
                 SPEAKER_SEPARATOR.join(transcript.speakers), transcript_id),
            )
            self._index(connection, transcript_id, transcript)
        return number

    def version(self, transcript_id: int, number: int, *, owner: str = "") -> Transcript:
        """Version ``number`` of one of the owner's transcripts (1: the model's output).

        Raises:
            TranscriptNotFoundError: The owner has no transcript with this id, or it has no such version.
        """
        entry, current = self.get(transcript_id, owner=owner)
        if number == entry.version:
            return current
        row = self._connection().execute(
            "SELECT body FROM versions WHERE transcript_id = ? AND number = ?", (entry.id, int(number))
        ).fetchone()
        if row is None:
            raise TranscriptNotFoundError(f"Transcript {transcript_id} has no version {number}.")
        return transcript_from_json(row[0])

    def rename(self, transcript_id: int, name: str, *, owner: str = "") -> str:
        """Give one of the owner's transcripts a new name; returns it as stored (on one line: line breaks, tabs and
        runs of spaces are one space).

        Raises:
            LibraryError: ``name`` is empty or longer than :data:`MAX_NAME_CHARS`.
            TranscriptNotFoundError: The owner has no transcript with this id.
        """
        name = one_line(utf8_safe(name))
        if not name:
            raise LibraryError("A transcript's name cannot be empty.")
        if len(name) > MAX_NAME_CHARS:
            raise LibraryError(f"A transcript's name can have at most {MAX_NAME_CHARS} characters; this one has "
                               f"{len(name)}.")
        number = row_id(transcript_id)
        with self._write() as connection:
            cursor = connection.execute(
                "UPDATE transcripts SET name = ? WHERE id = ? AND owner = ?", (name, number, owner)
            )
            if cursor.rowcount == 0:
                raise not_found(transcript_id)
            connection.execute(f"UPDATE transcripts_fts SET name = {database.FOLD_FUNCTION}(?) WHERE rowid = ?",
                               (name, number))
        return name

    def delete(self, transcript_id: int, *, owner: str = "") -> None:
        """Delete one of the owner's transcripts, and its audio unless another transcript uses the same file.

        Raises:
            TranscriptNotFoundError: The owner has no transcript with this id.
        """
        number = row_id(transcript_id)
        with self._write() as connection:
            row = connection.execute(
                "SELECT media FROM transcripts WHERE id = ? AND owner = ?", (number, owner)
            ).fetchone()
            if row is None:
                raise not_found(transcript_id)
            connection.execute("DELETE FROM transcripts WHERE id = ?", (number,))
            unused = row[0] is not None and connection.execute(
                "SELECT count(*) FROM transcripts WHERE media = ?", (row[0],)
            ).fetchone()[0] == 0
            if unused:
                suffix = connection.execute("SELECT suffix FROM media WHERE sha256 = ?", (row[0],)).fetchone()[0]
                connection.execute("DELETE FROM media WHERE sha256 = ?", (row[0],))
        if unused:  # after the commit: a crash in between leaves an orphan file, which the next open removes
            (self.media_dir / (row[0] + suffix)).unlink(missing_ok=True)
