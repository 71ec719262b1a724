"""What one transcription request needs around the engine: a download folder of its own, a cancel flag its
browser session can set, engine options from widget values, and progress reports for Gradio.

* Every request writes its downloads into a folder of its own, named by :func:`tempfile.mkdtemp`, so two users never
  overwrite each other's files. Folders older than :data:`OUTPUT_MAX_AGE_S` are removed when a new request starts;
  by then Gradio has copied the files into its own cache.
* Stop sets a cancel flag that only the requests of the same browser session (Gradio's ``session_hash``) are
  watching; the engine checks it several times a second, so the job ends within a second or two.

Nothing here imports Gradio.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transcriber.errors import TranscriberError
from transcriber.file_job import FILES_DONE_PREFIX
from transcriber.outputs import ALL_FORMATS, numbered, safe_stem, write_transcript
from transcriber.types import FileResult, Progress, TranscribeOptions, Transcript

logger = logging.getLogger(__name__)

OUTPUT_MAX_AGE_S = 3600.0
"""Request folders older than this are deleted when a new request starts."""
ZIP_NAME = "transcripts.zip"
TRANSCRIBE_TASK = "transcribe"
"""The "Task" choice that transcribes; every other choice is a language to translate into."""
AUTO_SPEAKERS = "auto"
SPEAKER_CHOICES = [AUTO_SPEAKERS, "2", "3", "4"]
QUOTE_IN_UPLOAD_NAME = "%22"
"""How a double quote in a file name arrives in an upload (see :func:`display_name`)."""


def display_name(path: str) -> str:
    """An uploaded file's name as its user knows it.

    Browsers send a double quote in a file name as ``%22`` (the HTML standard's multipart encoding) and Gradio stores
    the upload under that name, so ``say "hi".wav`` arrives as ``say %22hi%22.wav``.
    """
    return Path(path).name.replace(QUOTE_IN_UPLOAD_NAME, '"')


class RequestFolder:
    """The download folder of one request: file names derived from the inputs, never reused within it.

    Args:
        root: The folder that holds every request's folder.
    """

    def __init__(self, root: Path) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="request-", dir=root))
        self._stems: set[str] = set()

    def _unique_stem(self, name: str) -> str:
        """A stem no file written here has, in any case (``Clip`` after ``clip``: one file to Windows and macOS)."""
        stem, _ = numbered(safe_stem(name), lambda candidate: candidate.lower() in self._stems)
        self._stems.add(stem.lower())
        return stem

    def write(
        self, source: str, transcript: Transcript, *, formats: Sequence[str] = ALL_FORMATS, title: str | None = None,
        created: str = "",
    ) -> list[Path]:
        """Write ``transcript`` in ``formats`` (default: all of :data:`~transcriber.outputs.ALL_FORMATS`); returns
        the paths. ``title`` and ``created`` go into the DOCX document."""
        name = display_name(source)
        return write_transcript(transcript, self.path, self._unique_stem(title or name), source_name=name,
                                formats=formats, title=title, created=created)


    def write_batch(self, results: Sequence[FileResult]) -> list[Path]:
        """Write every transcribed file's downloads and a zip of them all; returns the zip first."""
        paths = [path for r in results if r.transcript is not None for path in self.write(r.file, r.transcript)]
        return [self.zip(paths), *paths]

    def zip(self, paths: Sequence[Path]) -> Path:
        """A zip (:data:`ZIP_NAME`) of files written here, each under its own name; returns it."""
        archive = self.path / ZIP_NAME
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for path in paths:
                bundle.write(path, arcname=path.name)
        return archive


class OutputFolders:
    """Hands out a fresh :class:`RequestFolder` per request, removes old ones, and removes them all at exit."""

    def __init__(self, max_age_s: float = OUTPUT_MAX_AGE_S) -> None:
        self.max_age_s = max_age_s
        self._root: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()

    def new(self) -> RequestFolder:
        """A new, empty folder for one request (the shared root is created on first use, in the temp folder)."""
        with self._lock:
            if self._root is None:
                self._root = tempfile.TemporaryDirectory(prefix="transcriber-ui-", ignore_cleanup_errors=True)
            root = Path(self._root.name)
        self._prune(root)
        return RequestFolder(root)

    def _prune(self, root: Path) -> None:
        cutoff = time.time() - self.max_age_s
        for folder in root.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder)
            except OSError as exc:  # a file still open elsewhere (Windows); the next request tries again
                logger.warning("Could not remove old download folder %s: %s", folder, exc)


class CancelFlags:
    """The cancel flags of requests, by browser session, so Stop ends only its own session's jobs.

    Stop sets the flags of the jobs that run, which end at once with what they finished (the other files say
    "cancelled"); Gradio's own cancelling would end the request and lose those. A job still waiting in the queue
    holds a *ticket*, taken when its button was pressed: a ticket taken before the session's last Stop starts its job
    already cancelled.
    """

    def __init__(self) -> None:
        self._flags: dict[str, set[threading.Event]] = {}
        self._tickets = 0
        self._stopped: dict[str, int] = {}
        """The last ticket handed out before each session's latest Stop."""
        self._lock = threading.Lock()

    def ticket(self) -> int:
        """A number for a request about to be queued (see :meth:`running`)."""
        with self._lock:
            self._tickets += 1
            return self._tickets

    @contextmanager
    def running(self, session: str, ticket: int | None = None) -> Iterator[threading.Event]:
        """Register a request of ``session`` for as long as the block runs; yields its cancel flag (already set when
        the request's ``ticket`` was taken before a Stop of its session)."""
        flag = threading.Event()
        with self._lock:
            if ticket is not None and ticket <= self._stopped.get(session, 0):
                flag.set()
            self._flags.setdefault(session, set()).add(flag)
        try:
            yield flag
        finally:
            with self._lock:
                flags = self._flags[session]
                flags.discard(flag)
                if not flags:
                    del self._flags[session]

    def cancel(self, session: str) -> int:
        """Set the flags of ``session``'s running requests, and stop those it has waiting; returns how many ran."""
        with self._lock:
            flags = list(self._flags.get(session, ()))
            self._stopped[session] = self._tickets
        for flag in flags:
            flag.set()
        return len(flags)


def speaker_count(choice: str | int | None) -> int | None:
    """The "Speakers" choice as a number, ``None`` for "auto"."""
    if choice in (None, "", AUTO_SPEAKERS):
        return None
    try:
        return int(choice)
    except (TypeError, ValueError):
        raise TranscriberError(f"Speakers must be {AUTO_SPEAKERS} or a number; got {choice!r}.") from None


def options_from(
    batch_size: float, timestamps: bool, speakers: bool = False, num_speakers: str | int | None = None,
    language: str | None = None, task: str | None = TRANSCRIBE_TASK, *, timeout: float | None = None,
) -> TranscribeOptions:
    """Engine options from widget values; NeMo's own progress bar stays on for the terminal log.

    Args:
        timeout: Seconds after which a job is stopped with an error; ``None`` lets the engine derive it from the
            audio's length.
        speakers: Identify speakers (the "Identify speakers" box).
        num_speakers: The "Speakers" choice: "auto" or a number.
        language: The "Spoken language" choice ("" or ``None``: the model's own default).
        task: The "Task" choice: ``"transcribe"`` or the code of the language to translate into.
    """
    return TranscribeOptions(
        timestamps=bool(timestamps), batch_size=max(1, int(batch_size)), verbose=True, timeout=timeout,
        speakers=bool(speakers), num_speakers=speaker_count(num_speakers) if speakers else None,
        language=language or None, translate_to=None if task in (None, "", TRANSCRIBE_TASK) else task,
    )



def progress_reporter(progress: Callable[..., Any]) -> Callable[[Progress], None]:
    """Adapt a ``gr.Progress`` to the engine's progress callback."""

    def report(update: Progress) -> None:
        if update.share is not None and update.total > 1:  # several files: the bar shows how much of their audio
            counted = update.description.startswith(FILES_DONE_PREFIX)
            files = "" if counted else f" · {int(update.done)} of {update.total} files done"
            progress(update.share, desc=update.description + files)
        elif float(update.done).is_integer():
            progress((int(update.done), update.total), desc=update.description, unit="files")
        else:  # part-way through a long file: a fraction, since "2.5/4 files" reads oddly
            progress(update.done / update.total, desc=update.description)

    return report

