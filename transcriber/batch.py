"""Transcribe folders of recordings into an output folder, resumably.

Each input's outputs are written as soon as its group of files is done, each through a temporary name and a rename,
and then, last, its done marker (what was written, when, where, the transcript itself and what the input's bytes
were). An input with a marker and all its outputs is skipped, so a batch interrupted by a crash or Ctrl-C resumes
where it stopped, and a file whose outputs were being written when the process died is done again, never half-kept.
The Ray backend (:mod:`.ray_batch`) runs the same plan, writers and markers on a cluster. What the output folder
remembers between runs (which input got which name, which are done, which moved) is :mod:`.batch_state`; output
names are derived from the input names (see :func:`~transcriber.outputs.safe_stem`).
"""
from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .batch_state import (
    SUMMARY_NAME, BatchItem, Copy, UnreadableMarkerError, done_before, done_marker, find_copies, fingerprint,
    marker_result, plan, read_marker, write_marker,
)
from .engine import Engine, ProgressCallback
from .errors import OutputWriteError
from .folders import is_folder, make_folder
from .formats import FORMATS
from .library.records import transcript_to_json, utc_now
from .outputs import ALL_FORMATS, atomic_write_text, output_paths, remove_partial_writes, write_transcript
from .types import FileResult, TranscribeOptions

logger = logging.getLogger(__name__)

MEDIA_SUFFIXES = frozenset(
    ".wav .wave .flac .ogg .oga .opus .mp3 .m4a .m4b .aac .wma .aif .aiff .amr .mp4 .m4v .mov .mkv .webm .avi".split()
)
"""What a folder walk picks up; files named on the command line are tried whatever their suffix."""
SUMMARY_HEADERS = ("file", "status", "duration", "seconds", "error", "outputs")
STATUS_DONE = "done"
STATUS_SKIPPED = "skipped (outputs exist)"
STATUS_COMPLETED = "skipped (missing outputs written from its done marker)"
"""Done by an earlier run, whose done marker holds the transcript: only the outputs it lacked (formats added since,
one deleted) were written."""
STATUS_COPIED = "skipped (the same audio as another file done)"
"""Not transcribed: its bytes are those of another input done before or in this run (the file renamed since it was
done, a copy of it); its outputs and done marker were written from that input's transcript
(:func:`~.batch_state.find_copies`)."""
STATUS_FAILED = "failed"
KEPT_KEY = "kept"
"""A done marker's list of the places its file is kept besides the outputs (:class:`Destination`)."""


@dataclass(frozen=True)
class BatchRow:
    """One line of the batch summary."""

    file: str
    status: str
    duration: float | None = None
    seconds: float = 0.0
    error: str = ""
    outputs: tuple[Path, ...] = ()
    same_as: str = ""
    """For a copy (:data:`STATUS_COPIED`): the input whose transcript it got, as that input's marker names it."""


@dataclass(frozen=True)
class Destination:
    """Somewhere a batch also keeps each transcribed file: a library.

    ``place`` is how a done marker names it (``{"library": "/abs/library.sqlite", "user": ""}``); ``keep(result)``
    keeps a file's result and returns what its marker then records (``place`` and, say, the transcript's ``id``), or
    ``None`` when it could not (having said why). A file is kept once its outputs and marker are written, and a file
    skipped as done whose marker does not name the place (a library given only to a later run, a save that failed
    or was cut off by Ctrl-C) is kept from its marker, not transcribed again; none is kept twice.
    """

    place: dict[str, object]
    keep: Callable[[FileResult], dict[str, object] | None]


def collect_inputs(
    paths: Iterable[str | Path], *, on_empty_folder: Callable[[Path], None] | None = None
) -> list[Path]:
    """Files named directly, plus the media files found by walking folders (sorted, for a stable order), each once.

    Args:
        on_empty_folder: Called with each folder in which the walk found no media file.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if is_folder(path):  # a name too long to look up is a file, which then fails in a sentence
            walked = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
            if not walked and on_empty_folder is not None:
                on_empty_folder(path)
            found += walked
        else:
            found.append(path)
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path.absolute(), None)
    return list(unique)


def transcript_settings(model: str, options: TranscribeOptions) -> dict[str, object]:
    """What a file's transcript depends on besides its audio: the model and the options that change what it says or
    shows. A done marker records them, so a run with other settings does the file again instead of skipping it."""
    return {
        "model": model, "timestamps": options.timestamps or options.speakers, "speakers": options.speakers,
        "num_speakers": options.num_speakers if options.speakers else None,
        "diarizer": options.diarizer if options.speakers else None,
        "language": options.language, "translate_to": options.translate_to,
    }


def run_planned(
    inputs: Sequence[Path],
    out_dir: Path,
    formats: Sequence[str],
    settings: dict[str, object],
    execute: Callable[[list[BatchItem], Callable[[BatchRow], bool]], None],
    on_file: Callable[[BatchRow], None] | None = None,
    destination: Destination | None = None,
) -> list[BatchRow]:
    """What every backend of the folder batch shares: plan the names, skip inputs already done (handing those that
    ``destination`` does not have yet to it), collect one row per input and write ``summary.csv`` (also when the run
    is interrupted); returns the rows in input order.

    Args:
        settings: The run's :func:`transcript_settings`: an input done with others is done again.
        execute: Does the inputs not yet done, ``execute(todo, record)``; ``record(row)`` returns False (and drops the
            row) for an input that already has one, as a batch that Ray ran twice gives.
        on_file: Called with each input's row as soon as it is known (for a progress bar).
    """
    make_folder(out_dir, "the outputs")
    rows: dict[Path, BatchRow] = {}

    def record(row: BatchRow) -> bool:
        path = Path(row.file)
        if path in rows:
            return False
        rows[path] = row
        if on_file is not None:
            on_file(row)
        return True

    items = plan(inputs, out_dir)
    todo: list[BatchItem] = []
    done: dict[str, dict[str, object]] = {}

    def write_summary() -> list[BatchRow]:
        ordered = [rows[item.path] for item in items if item.path in rows]
        try:
            atomic_write_text(out_dir / SUMMARY_NAME, summary_csv(ordered))
        except OSError as exc:
            raise OutputWriteError.writing("the batch summary", out_dir, exc) from exc
        return ordered

    try:
        for item in items:  # an archive's missing outputs or library saves may take a while: within the try too
            marker = done_before(item, out_dir, settings)
            if marker is None:
                todo.append(item)
                continue
            missing = lost_outputs(item, out_dir, formats, marker)
            try:
                if missing:
                    marker = write_missing(item, out_dir, missing, marker)
                if destination is not None:
                    keep_done(item, out_dir, destination, marker=marker)
            except UnreadableMarkerError as exc:
                logger.warning("%s; %s is transcribed again.", exc, item.path.name)
                todo.append(item)
                continue
            done[item.stem] = marker
            status = STATUS_COMPLETED if missing else STATUS_SKIPPED
            duration = marker.get("duration")
            record(BatchRow(str(item.path), status, float(duration) if isinstance(duration, (int, float)) else None,
                            outputs=tuple(output_paths(out_dir, item.stem, formats))))
        remove_stale_writes(todo, out_dir)  # left by a run killed outright
        todo, copies = find_copies(todo, out_dir, settings, done)
        for copy in copies:
            if copy.marker is not None:
                try:
                    record(write_copy(copy, copy.marker, out_dir, formats, settings, destination))
                except UnreadableMarkerError as exc:
                    logger.warning("%s; %s, the same audio, is transcribed.", exc, copy.item.path.name)
                    todo.append(copy.item)
        if todo:
            execute(todo, record)
            remove_stale_writes(todo, out_dir)  # left by a worker killed mid-write, whose files another worker redid
        for copy in copies:
            if copy.original is not None:
                record(_copy_of_original(copy, copy.original, out_dir, formats, settings, destination))
    except BaseException:
        try:  # also when stopped: the summary says what was done; the stop's own reason is what the user must see
            write_summary()
        except OutputWriteError as exc:
            logger.warning("%s", exc)
        raise
    return write_summary()


def remove_stale_writes(items: Sequence[BatchItem], out_dir: Path) -> None:
    """Remove the half-written temporary files of these inputs' outputs and done markers: a writer killed outright
    leaves them, and nothing else ever would. Called only while no worker writes into ``out_dir``."""
    removed = remove_partial_writes(path for item in items
                                    for path in (*output_paths(out_dir, item.stem, ALL_FORMATS),
                                                 done_marker(out_dir, item.stem)))
    if removed:
        logger.info("removed %d half-written file(s) in %s", removed, out_dir)


def run_batch(
    engine: Engine,
    inputs: Sequence[Path],
    out_dir: Path,
    *,
    model: str,
    formats: Sequence[str] = FORMATS,
    options: TranscribeOptions = TranscribeOptions(),
    on_file: Callable[[BatchRow], None] | None = None,
    destination: Destination | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> list[BatchRow]:
    """Transcribe ``inputs`` into ``out_dir``, skipping inputs already done; returns one row per input.

    Files go to the engine a batch at a time and their outputs are written before the next batch starts. The summary
    (``summary.csv``) is written at the end, and also when the run is interrupted.

    Args:
        on_file: Called with each input's row as soon as it is known (for a progress bar).
        destination: Where each file done is also kept once its outputs are written (a library), and each file done
            before that it does not have yet (:class:`Destination`).
        progress: The engine's reports within each group of files (a long file's parts, a model loading).
    """

    settings = transcript_settings(model, options)

    def execute(todo: list[BatchItem], record: Callable[[BatchRow], bool]) -> None:
        for start in range(0, len(todo), options.batch_size):
            group = todo[start : start + options.batch_size]
            results = engine.transcribe_files([str(item.path) for item in group], model=model, options=options,
                                              cancel=cancel, progress=progress)
            for item, result in zip(group, results, strict=True):
                record(finish_item(item, result, out_dir, formats, settings))
                if destination is not None and result.ok:
                    keep_done(item, out_dir, destination, result)

    return run_planned(inputs, out_dir, formats, settings, execute, on_file, destination)


def write_copy(
    copy: Copy, marker: dict[str, object], out_dir: Path, formats: Sequence[str], settings: dict[str, object],
    destination: Destination | None = None,
) -> BatchRow:
    """Write the outputs and done marker of ``copy`` from the done ``marker`` of another input of the same bytes,
    as transcribing it would have (keeping it in ``destination`` too), and return its row."""
    item = copy.item
    result = FileResult(str(item.path), transcript=marker_result(item, out_dir, marker).transcript)
    row = finish_item(item, result, out_dir, formats, settings, same_as=str(marker.get("file", "")),
                      sha256=copy.sha256)
    logger.info("%s is the same audio as %s: its outputs were written from that transcript", item.path, row.same_as)
    if destination is not None:
        keep_done(item, out_dir, destination, result)
    return row


def _copy_of_original(
    copy: Copy, original: BatchItem, out_dir: Path, formats: Sequence[str], settings: dict[str, object],
    destination: Destination | None,
) -> BatchRow:
    """The row of ``copy``, of ``original``, an input transcribed in this run: written from it, or failed with
    it."""
    marker = done_before(original, out_dir, settings)
    if marker is None:
        return BatchRow(str(copy.item.path), STATUS_FAILED,
                        error=f"not transcribed: the same audio as {original.path.name}, which failed")
    return write_copy(copy, marker, out_dir, formats, settings, destination)


EMPTY_WITHOUT_TEXT = ("txt", "srt")
"""The output formats that a transcript without text (a file without speech) gives as an empty file."""


def lost_outputs(item: BatchItem, out_dir: Path, formats: Sequence[str], marker: dict[str, object]) -> list[str]:
    """The formats in which a file done before (its done ``marker``) lacks an output: a format added since, an output
    deleted, or one left empty where its transcript gives it text (a power cut can leave a file renamed into place
    without the bytes that were still on their way to the disk)."""
    lost = []
    for fmt, path in zip(formats, output_paths(out_dir, item.stem, formats), strict=True):
        if not path.is_file():
            lost.append(fmt)
        elif path.stat().st_size == 0 and (fmt not in EMPTY_WITHOUT_TEXT or _has_text(item, out_dir, marker)):
            lost.append(fmt)
    return lost


def _has_text(item: BatchItem, out_dir: Path, marker: dict[str, object]) -> bool:
    """Whether the transcript in a done marker has text; one that cannot be read counts as having it (writing its
    outputs again then finds it unreadable, and the file is transcribed again)."""
    try:
        return marker_result(item, out_dir, marker).transcript.text != ""
    except UnreadableMarkerError:
        return True


def write_missing(
    item: BatchItem, out_dir: Path, missing: Sequence[str], marker: dict[str, object]
) -> dict[str, object]:
    """Write the outputs in the formats ``missing`` that a file done before lacks (formats added since, one deleted)
    from the transcript its done ``marker`` holds, as the run that made it would have; returns the marker as it is
    now (recording those formats too)."""
    transcript = marker_result(item, out_dir, marker).transcript
    updated = {**marker, "formats": list(dict.fromkeys([*marker.get("formats", []), *missing]))}
    try:
        write_transcript(transcript, out_dir, item.stem, source_name=item.path.name, formats=missing)
        write_marker(item, out_dir, updated)
    except OSError as exc:  # a full or read-only disk, as for a file transcribed now
        for path in output_paths(out_dir, item.stem, missing):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise OutputWriteError.writing(f"the outputs of {item.path.name}", out_dir, exc) from exc
    logger.info("wrote %s of %s from its done marker", ", ".join(missing), item.path.name)
    return updated


def keep_done(
    item: BatchItem, out_dir: Path, destination: Destination, result: FileResult | None = None,
    marker: dict[str, object] | None = None,
) -> bool:
    """Hand a file done (``result``, else as its done marker records it) to ``destination`` unless its marker
    (``marker``, where already read) says the destination has it, and record in the marker that it has; returns
    whether it was handed over now. A marker written before markers recorded this says nothing either way: its file
    is not handed over (a library given to that run has it, and resuming must not save a whole archive twice)."""
    marker = read_marker(item, out_dir) if marker is None else marker
    if KEPT_KEY not in marker:
        return False
    kept = list(marker[KEPT_KEY])
    if any(_same_place(record, destination.place) for record in kept):
        return False
    record = destination.keep(result if result is not None else marker_result(item, out_dir, marker))
    if record is None:
        return False
    try:
        write_marker(item, out_dir, {**marker, KEPT_KEY: [*kept, record]})
    except OSError as exc:  # kept all the same; a later run may keep it again
        logger.warning("Cannot record in the done marker of %s that it was kept: %s", item.path.name, exc)
    return True


def _same_place(record: object, place: dict[str, object]) -> bool:
    return isinstance(record, dict) and all(record.get(key) == value for key, value in place.items())


def finish_item(
    item: BatchItem, result: FileResult, out_dir: Path, formats: Sequence[str], settings: dict[str, object], *,
    worker: dict[str, object] | None = None, same_as: str | None = None, sha256: str | None = None,
) -> BatchRow:
    """Write a transcribed file's outputs and then its done marker; a failed file gets its error row only.

    Args:
        settings: What the transcript was made with (:func:`transcript_settings`), recorded in the marker.
        worker: Which worker of a cluster did the work and how, recorded in the marker.
        same_as: For a copy, the input whose transcript ``result`` is (:func:`write_copy`), recorded in the marker.
        sha256: Of the input's bytes, where already read (a copy's); else they are read for the marker.
    """
    if result.transcript is None:
        return BatchRow(str(item.path), STATUS_FAILED, seconds=result.seconds, error=str(result.error))
    recorded = fingerprint(item.path, sha256)
    marker = done_marker(out_dir, item.stem)
    try:
        paths = write_transcript(result.transcript, out_dir, item.stem, source_name=item.path.name, formats=formats)
        marker.parent.mkdir(exist_ok=True)
        write_marker(item, out_dir, {
            "file": str(item.path), **recorded,
            "model": result.transcript.model, "settings": settings, "formats": list(formats),
            "duration": result.transcript.duration, "seconds": result.seconds, "finished": utc_now(),
            "host": socket.gethostname(), "pid": os.getpid(), "worker": worker or {},
            "transcript": transcript_to_json(result.transcript), KEPT_KEY: [],
            **({} if same_as is None else {"same_as": same_as}),
        })
    except OSError as exc:  # a full or read-only disk: no half set of outputs is left to look finished
        for path in (*output_paths(out_dir, item.stem, formats), marker):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise OutputWriteError.writing(f"the outputs of {item.path.name}", out_dir, exc) from exc
    if same_as is not None:
        return BatchRow(str(item.path), STATUS_COPIED, result.transcript.duration, outputs=tuple(paths),
                        same_as=same_as)
    return BatchRow(str(item.path), STATUS_DONE, result.transcript.duration, result.seconds, outputs=tuple(paths))


def summary_csv(rows: Sequence[BatchRow]) -> str:
    """The batch summary as CSV: file, status, duration, seconds taken, error, output files."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUMMARY_HEADERS)
    for row in rows:
        duration = "" if row.duration is None else f"{row.duration:.3f}"
        writer.writerow([row.file, row.status, duration, f"{row.seconds:.3f}", row.error, " ".join(p.name for p in row.outputs)])
    return buffer.getvalue()
