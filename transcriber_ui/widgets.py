"""What the tabs share: the app's context (engine, library, limits), table rows from results, and turning errors
into one sentence on the page.

Gradio is imported inside functions only: this package is imported before :func:`transcriber_ui.app.main` redirects
the temporary folder, and Gradio picks its upload folder when it is imported.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transcriber.engine import Engine
from transcriber.errors import TranscriberError
from transcriber.formats import NO_SPEECH, reading_text
from transcriber.library import Library
from transcriber.types import FileResult, Transcript, Word

from .jobs import CancelFlags, OutputFolders, display_name
from .media_route import request_user

logger = logging.getLogger(__name__)

WORD_HEADERS = ["word", "start (s)", "end (s)"]
STATUS_HEADERS = ["file", "duration (s)", "status", "seconds"]
STATUS_COLUMN_WIDTHS = ["160px", "100px", "220px", "80px"]
STATUS_DONE = "done"
UNEXPECTED_ERROR = "Something went wrong; the details are in the terminal log."
SAVE_FAILED = "The transcript was not saved to the library ({reason}); the downloads below still work."


@dataclass
class AppContext:
    """Everything the page's handlers share.

    Attributes:
        engine: Runs the transcriptions.
        default_model: The model selected when the page opens.
        trusted_models: Models a request may use besides the listed ones (the one named at start).
        timeout: Seconds before a job is stopped; ``None``: derived from the audio's length.
        diarizer: The diarizer "Identify speakers" uses; ``None``: the best installed one.
        library: Where transcripts are kept; ``None`` when the library could not be opened (nothing is saved).
        library_notice: What the page says about the library at start (moved aside, cannot be written), or "".
        logins: Whether users log in (then each sees only their own transcripts).
    """

    engine: Engine
    default_model: str
    trusted_models: frozenset[str]
    timeout: float | None = None
    diarizer: str | None = None
    library: Library | None = None
    library_notice: str = ""
    logins: bool = False
    cancel_flags: CancelFlags = field(default_factory=CancelFlags)
    outputs: OutputFolders = field(default_factory=OutputFolders)


def owner_of(request: Any) -> str:
    """Whose transcripts a request may see: the logged-in user, or ``""`` without logins."""
    return (request_user(request) or "") if request is not None else ""


def word_rows(words: Sequence[Word]) -> list[list[Any]]:
    """The full word table: word, start and end in seconds, and the speaker when speakers were identified."""
    if any(word.speaker for word in words):
        return [[word.text, round(word.start, 3), round(word.end, 3), word.speaker] for word in words]
    return [[word.text, round(word.start, 3), round(word.end, 3)] for word in words]


def word_headers(transcript: Transcript) -> list[str]:
    """The word table's headers: with a speaker column when speakers were identified."""
    return WORD_HEADERS + (["speaker"] if transcript.has_speakers else [])


def status_rows(results: Sequence[FileResult]) -> list[list[str]]:
    """The batch table: file, duration, status (or the error message), seconds taken."""
    return [
        [
            display_name(result.file),
            f"{result.transcript.duration:.1f}" if result.transcript else "",
            STATUS_DONE if result.ok else error_reason(result),
            f"{result.seconds:.2f}",
        ]
        for result in results
    ]


def error_reason(result: FileResult) -> str:
    """A failed file's error message without its leading "<file name>: ", which the table's first column shows."""
    return str(result.error).removeprefix(f"{Path(result.file).name}: ")


def batch_text(results: Sequence[FileResult]) -> str:
    """Each transcribed file's text under its name, in input order; a file without speech says so."""
    return "\n\n".join(
        f"[{display_name(r.file)}]\n{reading_text(r.transcript) or f'({NO_SPEECH})'}"
        for r in results if r.transcript is not None
    )



@contextmanager
def user_errors() -> Iterator[None]:
    """Show errors as one sentence in the page, never as a traceback."""
    import gradio as gr

    try:
        yield
    except gr.Error:
        raise
    except TranscriberError as exc:
        raise gr.Error(str(exc), print_exception=False) from exc
    except Exception as exc:
        logger.exception("Request failed")
        raise gr.Error(UNEXPECTED_ERROR, print_exception=False) from exc


def save_results(
    context: AppContext, results: Sequence[FileResult], owner: str
) -> list[int | None]:
    """Save every transcribed file of ``results`` to the library; the ids, ``None`` for a file not saved.

    A failed file is not saved. A save that fails shows a warning and leaves the other results and the downloads as
    they are: the work on the page is never lost to the library.
    """
    import gradio as gr

    ids: list[int | None] = []
    for result in results:
        if context.library is None or result.transcript is None:
            ids.append(None)
            continue
        try:
            ids.append(context.library.save(
                result.transcript, name=display_name(result.file), audio=Path(result.file), owner=owner
            ))
        except (TranscriberError, sqlite3.Error, OSError) as exc:
            logger.warning("Could not save %s to the library: %s", result.file, exc, exc_info=True)
            gr.Warning(f"{display_name(result.file)}: " + SAVE_FAILED.format(reason=exc))
            ids.append(None)
    return ids
