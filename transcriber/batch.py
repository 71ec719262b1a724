"""Transcribe folders of recordings into an output folder, resumably.

Each input's outputs are written as soon as its group of files is done, each through a temporary name and a rename,
and then, last, its done marker (``.transcriber-done/<stem>.json``: what was written, when, where and the transcript
itself). An input with a marker and all its outputs is skipped, so a batch interrupted by a crash or Ctrl-C resumes
where it stopped, and a file whose outputs were being written when the process died is done again, never half-kept.
The Ray backend (:mod:`.ray_batch`) runs the same plan, writers and markers on a cluster.
Output names are derived from the input names (see :func:`~transcriber.outputs.safe_stem`). The output folder keeps
an index of which input got which name, so an input keeps its name from run to run, whatever else is in the run, and
two inputs never share one: the second ``talk.wav`` becomes ``talk-2``. Each done marker also records its input's
size and SHA-256, so recordings that moved (another folder, another drive letter, another mount on a cluster node)
are still found done: an input new to the index takes over the name of a finished input of the same file name and
the same bytes whose path is gone (:class:`MovedInputs`).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .engine import Engine
from .errors import OutputWriteError
from .folders import make_folder
from .formats import FORMATS
from .library.records import transcript_from_json, transcript_to_json, utc_now
from .models import file_sha256
from .outputs import ALL_FORMATS, atomic_write_text, output_paths, remove_partial_writes, safe_stem, write_transcript
from .types import FileResult, TranscribeOptions

logger = logging.getLogger(__name__)

MEDIA_SUFFIXES = frozenset(
    ".wav .wave .flac .ogg .oga .opus .mp3 .m4a .m4b .aac .wma .aif .aiff .amr .mp4 .m4v .mov .mkv .webm .avi".split()
)
"""What a folder walk picks up; files named on the command line are tried whatever their suffix."""
SUMMARY_NAME = "summary.csv"
SUMMARY_HEADERS = ("file", "status", "duration", "seconds", "error", "outputs")
STATUS_DONE = "done"
STATUS_SKIPPED = "skipped (outputs exist)"
STATUS_FAILED = "failed"
INDEX_NAME = ".transcriber-index"
"""In the output folder: which input got which output name (JSON; no .json suffix, so it is not taken for an output)."""
LOCK_NAME = ".transcriber-lock"
"""In the output folder: locked while a run reads and writes the index (:func:`index_lock`)."""
NO_LOCKS_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOLCK", "EOPNOTSUPP", "ENOTSUP", "ENOSYS", "EINVAL") if hasattr(errno, name)
)
"""What locking the index says on a file system that has no locks (some network shares)."""
DONE_DIR = ".transcriber-done"
"""In the output folder: one marker per finished input, written after its outputs."""


@dataclass(frozen=True)
class BatchItem:
    """One input of a folder batch and the stem its outputs get."""

    path: Path
    stem: str


@dataclass(frozen=True)
class BatchRow:
    """One line of the batch summary."""

    file: str
    status: str
    duration: float | None = None
    seconds: float = 0.0
    error: str = ""
    outputs: tuple[Path, ...] = ()


def collect_inputs(
    paths: Iterable[str | Path], *, on_empty_folder: Callable[[Path], None] | None = None
) -> list[Path]:
    """Files named directly, plus the media files found by walking folders (sorted, for a stable order), each once.

    Args:
        on_empty_folder: Called with each folder in which the walk found no media file.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
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


def plan(inputs: Sequence[Path], out_dir: Path) -> list[BatchItem]:
    """Give every input its output stem: the one it got in an earlier run into ``out_dir``, else a new one that no
    other input has and whose outputs would overwrite no file already there (``--out`` may be the recordings' own
    folder, with subtitles of the user's beside them) nor the summary; record the choice in the folder's index.

    Runs started together into one folder (a cluster's array jobs, two terminals) take turns here
    (:func:`index_lock`): each reads the index as the one before left it, so no two inputs get one name (and
    overwrite each other's outputs) and no entry is lost."""
    with index_lock(out_dir):
        return _plan(inputs, out_dir)


def _plan(inputs: Sequence[Path], out_dir: Path) -> list[BatchItem]:
    index_path = out_dir / INDEX_NAME
    index: dict[str, str] = json.loads(index_path.read_text(encoding="utf-8")) if index_path.is_file() else {}
    taken = {stem.lower() for stem in index.values()} | {Path(SUMMARY_NAME).stem}
    moved = MovedInputs(index, out_dir)
    items = []
    for path in inputs:
        key = str(path.absolute())
        if key not in index:
            stem = moved.take(path)
            if stem is None:
                base = stem = safe_stem(path.name)
                number = 2
                while stem.lower() in taken or any(p.exists() for p in output_paths(out_dir, stem, ALL_FORMATS)):
                    stem = f"{base}-{number}"
                    number += 1
            index[key] = stem
            taken.add(stem.lower())
        items.append(BatchItem(path, index[key]))
    try:
        atomic_write_text(index_path, json.dumps(index, ensure_ascii=False, indent=1) + "\n")
    except OSError as exc:
        raise OutputWriteError.writing("the batch index", out_dir, exc) from exc
    return items


@contextlib.contextmanager
def index_lock(out_dir: Path) -> Iterator[None]:
    """Hold the output folder's lock (:data:`LOCK_NAME`, an operating-system lock on a file that stays there): a
    second holder waits until the first lets go, and a process that dies lets go with it."""
    try:
        file = (out_dir / LOCK_NAME).open("a+b")
    except OSError as exc:
        raise OutputWriteError.writing("the batch index", out_dir, exc) from exc
    with file:
        file.seek(0)  # Windows locks bytes from the position: the first, in every holder
        locked = True
        try:
            _lock(file.fileno())
        except OSError as exc:  # a file system without locks (some network shares): plan as before there were any
            if exc.errno not in NO_LOCKS_ERRNOS:
                raise OutputWriteError.writing("the batch index", out_dir, exc) from exc
            logger.info("%s cannot be locked (%s); runs started together into it may give two files one name",
                        out_dir, exc.strerror or exc)
            locked = False
        try:
            yield
        finally:
            if locked:
                _unlock(file.fileno())


if os.name == "nt":
    import msvcrt

    def _lock(descriptor: int) -> None:
        while True:  # LK_LOCK itself gives up after ten tries a second apart
            try:
                msvcrt.locking(descriptor, msvcrt.LK_LOCK, 1)
                return
            except OSError:
                continue

    def _unlock(descriptor: int) -> None:
        msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_EX)

    def _unlock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


class MovedInputs:
    """The finished inputs of an output folder's index whose paths are gone, to be found again where they moved.

    An input new to the index is taken for one of them if it has the same file name and its size and SHA-256 are
    those its done marker records; of several, the one whose path ends in the most of the same folders. The folder's
    old entry then gives way to the new path. Paths are looked at, and markers read, only once an input is new.
    """

    def __init__(self, index: dict[str, str], out_dir: Path) -> None:
        self._index = index
        self._out_dir = out_dir
        self._gone: dict[str, list[str]] | None = None  # file name -> index keys whose paths are gone

    def take(self, path: Path) -> str | None:
        """The stem of the finished input that ``path`` is, moved; None if it is none of them."""
        if self._gone is None:
            self._gone = {}
            for key in self._index:
                if not os.path.lexists(key):
                    self._gone.setdefault(Path(key).name, []).append(key)
        candidates = self._gone.get(path.name, [])
        if not candidates:
            return None
        try:
            size, sha256 = path.stat().st_size, None
            same = []
            for key in candidates:
                marker = self._marker(self._index[key])
                if marker.get("size") == size:
                    sha256 = sha256 or file_sha256(path)
                    if marker.get("sha256") == sha256:
                        same.append(key)
        except OSError:  # an unreadable input is done as new, and fails there in a sentence naming it
            return None
        if not same:
            return None
        key = max(same, key=lambda old: _shared_tail(Path(old).parts, path.absolute().parts))
        candidates.remove(key)
        return self._index.pop(key)

    def _marker(self, stem: str) -> dict[str, object]:
        try:
            return json.loads(done_marker(self._out_dir, stem).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}


def _shared_tail(first: Sequence[str], second: Sequence[str]) -> int:
    """How many trailing path components two paths share."""
    count = 0
    for a, b in zip(reversed(first), reversed(second), strict=False):  # paths of different depths
        if a != b:
            break
        count += 1
    return count


def done_marker(out_dir: Path, stem: str) -> Path:
    """Where the done marker of the input with output stem ``stem`` goes."""
    return out_dir / DONE_DIR / f"{stem}.json"


def transcript_settings(model: str, options: TranscribeOptions) -> dict[str, object]:
    """What a file's transcript depends on besides its audio: the model and the options that change what it says or
    shows. A done marker records them, so a run with other settings does the file again instead of skipping it."""
    return {
        "model": model, "timestamps": options.timestamps or options.speakers, "speakers": options.speakers,
        "num_speakers": options.num_speakers if options.speakers else None,
        "diarizer": options.diarizer if options.speakers else None,
        "language": options.language, "translate_to": options.translate_to,
    }


def is_complete(item: BatchItem, out_dir: Path, formats: Sequence[str], settings: dict[str, object]) -> bool:
    """Whether ``item`` is done: its marker and every output in ``formats`` exist, the marker was written with these
    ``settings`` (:func:`transcript_settings`; a marker from before they were recorded counts as done), and the input
    is the file it was (:func:`_changed_since`)."""
    marker = done_marker(out_dir, item.stem)
    if not (marker.is_file() and all(path.is_file() for path in output_paths(out_dir, item.stem, formats))):
        return False
    recorded = read_marker(item, out_dir)
    return recorded.get("settings", settings) == settings and not _changed_since(item, out_dir, recorded)


def _changed_since(item: BatchItem, out_dir: Path, marker: dict[str, object]) -> bool:
    """Whether the input's bytes are not those its done marker records: another size (a file still being copied in
    when it was done, a recording made longer), or, when it was modified since, another SHA-256 (re-exported over
    the old one). A file only touched or copied keeps its marker, which then records its new time, so it is not read
    again. A marker from before sizes were recorded, or an input that cannot be looked at, counts as unchanged."""
    if "size" not in marker:
        return False
    try:
        status = item.path.stat()
        if status.st_size != marker["size"]:
            return True
        if status.st_mtime_ns == marker.get("mtime_ns"):
            return False
        if file_sha256(item.path) != marker.get("sha256"):
            return True
    except OSError:
        return False
    with contextlib.suppress(OSError):
        atomic_write_text(done_marker(out_dir, item.stem),
                          json.dumps({**marker, "mtime_ns": status.st_mtime_ns}, ensure_ascii=False) + "\n")
    return False


def read_marker(item: BatchItem, out_dir: Path) -> dict[str, object]:
    """The done marker of ``item``: ``file`` (its path then), ``size``, ``mtime_ns`` and ``sha256`` (of its bytes),
    ``model``, ``formats``, ``duration``, ``seconds``, ``finished``, ``host``, ``pid``, ``worker`` (on Ray: its node,
    device and threads) and the ``transcript`` (as the library stores it)."""
    return json.loads(done_marker(out_dir, item.stem).read_text(encoding="utf-8"))


def marker_result(item: BatchItem, out_dir: Path) -> FileResult:
    """The finished file's result as its done marker records it."""
    marker = read_marker(item, out_dir)
    return FileResult(str(item.path), transcript=transcript_from_json(marker["transcript"]), seconds=marker["seconds"])


def run_planned(
    inputs: Sequence[Path],
    out_dir: Path,
    formats: Sequence[str],
    settings: dict[str, object],
    execute: Callable[[list[BatchItem], Callable[[BatchRow], bool]], None],
    on_file: Callable[[BatchRow], None] | None = None,
) -> list[BatchRow]:
    """What every backend of the folder batch shares: plan the names, skip inputs already done, collect one row per
    input and write ``summary.csv`` (also when the run is interrupted); returns the rows in input order.

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
    todo = []
    for item in items:
        if is_complete(item, out_dir, formats, settings):
            record(BatchRow(str(item.path), STATUS_SKIPPED, outputs=tuple(output_paths(out_dir, item.stem, formats))))
        else:
            todo.append(item)
    remove_stale_writes(todo, out_dir)  # left by a run killed outright

    def write_summary() -> list[BatchRow]:
        ordered = [rows[item.path] for item in items if item.path in rows]
        try:
            atomic_write_text(out_dir / SUMMARY_NAME, summary_csv(ordered))
        except OSError as exc:
            raise OutputWriteError.writing("the batch summary", out_dir, exc) from exc
        return ordered

    try:
        if todo:
            execute(todo, record)
            remove_stale_writes(todo, out_dir)  # left by a worker killed mid-write, whose files another worker redid
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
    on_result: Callable[[FileResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[BatchRow]:
    """Transcribe ``inputs`` into ``out_dir``, skipping inputs already done; returns one row per input.

    Files go to the engine a batch at a time and their outputs are written before the next batch starts. The summary
    (``summary.csv``) is written at the end, and also when the run is interrupted.

    Args:
        on_file: Called with each input's row as soon as it is known (for a progress bar).
        on_result: Called with each transcribed file's result once its outputs are written (to save it elsewhere).
    """

    settings = transcript_settings(model, options)

    def execute(todo: list[BatchItem], record: Callable[[BatchRow], bool]) -> None:
        for start in range(0, len(todo), options.batch_size):
            group = todo[start : start + options.batch_size]
            results = engine.transcribe_files([str(item.path) for item in group], model=model, options=options,
                                              cancel=cancel)
            for item, result in zip(group, results, strict=True):
                record(finish_item(item, result, out_dir, formats, settings))
                if on_result is not None and result.ok:
                    on_result(result)

    return run_planned(inputs, out_dir, formats, settings, execute, on_file)


def finish_item(
    item: BatchItem, result: FileResult, out_dir: Path, formats: Sequence[str], settings: dict[str, object], *,
    worker: dict[str, object] | None = None,
) -> BatchRow:
    """Write a transcribed file's outputs and then its done marker; a failed file gets its error row only.

    Args:
        settings: What the transcript was made with (:func:`transcript_settings`), recorded in the marker.
        worker: Which worker of a cluster did the work and how, recorded in the marker.
    """
    if result.transcript is None:
        return BatchRow(str(item.path), STATUS_FAILED, seconds=result.seconds, error=str(result.error))
    try:  # so that a change to the input is seen (_changed_since), and the input found done after it moved
        status = item.path.stat()
        fingerprint = {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "sha256": file_sha256(item.path)}
    except OSError:  # gone or changed since it was read: it will be done again if it moves
        fingerprint = {}
    marker = done_marker(out_dir, item.stem)
    try:
        paths = write_transcript(result.transcript, out_dir, item.stem, source_name=item.path.name, formats=formats)
        marker.parent.mkdir(exist_ok=True)
        atomic_write_text(marker, json.dumps({
            "file": str(item.path), **fingerprint,
            "model": result.transcript.model, "settings": settings, "formats": list(formats),
            "duration": result.transcript.duration, "seconds": result.seconds, "finished": utc_now(),
            "host": socket.gethostname(), "pid": os.getpid(), "worker": worker or {},
            "transcript": transcript_to_json(result.transcript),
        }, ensure_ascii=False) + "\n")
    except OSError as exc:  # a full or read-only disk: no half set of outputs is left to look finished
        for path in (*output_paths(out_dir, item.stem, formats), marker):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise OutputWriteError.writing(f"the outputs of {item.path.name}", out_dir, exc) from exc
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
