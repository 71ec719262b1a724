"""What the output folder of a folder batch remembers between runs, so that a run resumes where the last one stopped.

- **The index** (:data:`INDEX_NAME`): which input got which output name, so an input keeps its name from run to run,
  whatever else is in the run, and two inputs never share one (the second ``talk.wav`` becomes ``talk-2``). Runs
  started together into one folder (a cluster's array jobs) read and write it in turns, under an operating-system
  lock (:func:`index_lock`).
- **Done markers** (:data:`DONE_DIR`): one per finished input, written after its outputs, with the transcript and
  the input's size, modification time and SHA-256. An input whose marker and outputs exist is skipped, unless its
  bytes changed since (:func:`is_complete`).
- **Moved inputs**: recordings that moved (another folder, another drive letter, another mount on a cluster node) are
  found done: an input new to the index takes over the name of a finished input of the same file name and the same
  bytes whose path is gone (:class:`MovedInputs`).
- **Copies**: an input not done whose bytes are those of a finished input (renamed since, or a copy of it), or of
  another input of the run, is not transcribed twice: its outputs come from that transcript (:func:`find_copies`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputWriteError
from .library.records import transcript_from_json
from .models import file_sha256
from .outputs import ALL_FORMATS, atomic_write_text, numbered, output_paths, safe_stem
from .tempdir import is_windows
from .types import FileResult

logger = logging.getLogger(__name__)

SUMMARY_NAME = "summary.csv"
"""The batch's summary, in the output folder; no input's outputs take its name."""
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
    index = _read_index(index_path) if index_path.is_file() else {}
    taken = {stem.lower() for stem in index.values()} | {Path(SUMMARY_NAME).stem}
    moved = MovedInputs(index, out_dir)
    tried: dict[str, int] = {}  # a name's last number given in this run: a recorder's thousand REC001.WAV files

    def in_use(stem: str) -> bool:
        """Another input's, or a file's in ``out_dir`` (the user's own subtitles, the summary)."""
        return stem.lower() in taken or any(p.exists() for p in output_paths(out_dir, stem, ALL_FORMATS))

    items = []
    for path in inputs:
        key = str(path.absolute())
        if key not in index:
            stem = moved.take(path)
            if stem is None:
                base = safe_stem(path.name)
                stem, tried[base.lower()] = numbered(base, in_use, first=tried.get(base.lower(), 1))
            index[key] = stem
            taken.add(stem.lower())
        items.append(BatchItem(path, index[key]))
    try:
        atomic_write_text(index_path, json.dumps(index, ensure_ascii=False, indent=1) + "\n")
    except OSError as exc:
        raise OutputWriteError.writing("the batch index", out_dir, exc) from exc
    return items


def _read_index(index_path: Path) -> dict[str, str]:
    """The index, or where it cannot be read (left empty by a power cut, garbled) the one the done markers beside it
    make: each finished input under the name it was given, so none is done again or renamed."""
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if isinstance(index, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in index.items()):
            return index
        reason = "it is not an index"
    except (OSError, ValueError) as exc:
        reason = str(exc)
    index = {}
    for marker in sorted((index_path.parent / DONE_DIR).glob("*.json")):
        try:
            file = json.loads(marker.read_text(encoding="utf-8")).get("file")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(file, str):
            index.setdefault(file, marker.name[: -len(".json")])
    logger.warning("The batch index %s cannot be read (%s); made again from the %d done markers.", index_path, reason,
                   len(index))
    return index


@contextlib.contextmanager
def index_lock(out_dir: Path) -> Iterator[None]:
    """Hold the output folder's lock (:data:`LOCK_NAME`, an operating-system lock on a file that stays there): a
    second holder waits until the first lets go, saying so in the log (the first may be hashing a moved archive),
    and a process that dies lets go with it."""
    try:
        file = (out_dir / LOCK_NAME).open("a+b")
    except OSError as exc:
        raise OutputWriteError.writing("the batch index", out_dir, exc) from exc
    with file:
        file.seek(0)  # Windows locks bytes from the position: the first, in every holder
        locked = True
        try:
            if not _try_lock(file.fileno()):
                logger.warning("%s: another run is naming its files there; waiting until it has", out_dir)
                _wait_for_lock(file.fileno())
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


if is_windows():
    import msvcrt

    _HELD = frozenset({errno.EACCES, errno.EDEADLOCK})
    """What msvcrt.locking says when another holds the byte (LK_LOCK: after ten tries a second apart)."""

    def _try_lock(descriptor: int) -> bool:
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in _HELD:
                return False
            raise
        return True

    def _wait_for_lock(descriptor: int) -> None:
        while True:
            try:
                msvcrt.locking(descriptor, msvcrt.LK_LOCK, 1)
                return
            except OSError as exc:
                if exc.errno not in _HELD:
                    raise

    def _unlock(descriptor: int) -> None:
        msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(descriptor: int) -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _wait_for_lock(descriptor: int) -> None:
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
        # file name -> (size, sha256) -> those keys whose markers record them; read once per name, as a recorder
        # names every day's files alike and one name may stand for thousands of them
        self._recorded: dict[str, dict[tuple[object, object], list[str]]] = {}

    def take(self, path: Path) -> str | None:
        """The stem of the finished input that ``path`` is, moved; None if it is none of them."""
        recorded = self._recorded_as(path.name)
        try:
            size = path.stat().st_size
            if not any(recorded_size == size for recorded_size, _ in recorded):
                return None
            same = recorded.get((size, file_sha256(path)), [])
        except OSError:  # an unreadable input is done as new, and fails there in a sentence naming it
            return None
        if not same:
            return None
        key = max(same, key=lambda old: _shared_tail(Path(old).parts, path.absolute().parts))
        same.remove(key)
        return self._index.pop(key)

    def _recorded_as(self, name: str) -> dict[tuple[object, object], list[str]]:
        if self._gone is None:
            self._gone = {}
            for key in self._index:
                if not os.path.lexists(key):
                    self._gone.setdefault(Path(key).name, []).append(key)
        if name not in self._recorded:
            by_print: dict[tuple[object, object], list[str]] = {}
            for key in self._gone.get(name, []):
                try:
                    marker = read_marker(BatchItem(Path(key), self._index[key]), self._out_dir)
                except (OSError, ValueError):
                    continue
                if "size" in marker:
                    by_print.setdefault((marker["size"], marker.get("sha256")), []).append(key)
            self._recorded[name] = by_print
        return self._recorded[name]


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


def is_complete(item: BatchItem, out_dir: Path, formats: Sequence[str], settings: dict[str, object]) -> bool:
    """Whether ``item`` is done: every output in ``formats`` exists and so does its marker, as :func:`done_before`
    asks."""
    return (all(path.is_file() for path in output_paths(out_dir, item.stem, formats))
            and done_before(item, out_dir, settings) is not None)


def done_before(item: BatchItem, out_dir: Path, settings: dict[str, object]) -> dict[str, object] | None:
    """The done marker of ``item`` (:func:`read_marker`) when it holds what this run would make: it exists, was
    written with these ``settings`` (:func:`transcript_settings`; a marker from before they were recorded counts as
    done), and the input is the file it was (:func:`_changed_since`); else ``None``. Its outputs may be missing. A
    marker that cannot be read (left empty by a power cut, garbled) gives ``None``: its file is done again."""
    if not done_marker(out_dir, item.stem).is_file():
        return None
    try:
        recorded = read_marker(item, out_dir)
    except (OSError, ValueError) as exc:
        logger.warning("The done marker of %s cannot be read (%s); the file is done again.", item.path.name, exc)
        return None
    if not isinstance(recorded, dict) or "transcript" not in recorded:
        logger.warning("The done marker of %s holds no transcript; the file is done again.", item.path.name)
        return None
    if recorded.get("settings", settings) != settings or _changed_since(item, out_dir, recorded):
        return None
    return recorded


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
        write_marker(item, out_dir, {**marker, "mtime_ns": status.st_mtime_ns})
    return False


def read_marker(item: BatchItem, out_dir: Path) -> dict[str, object]:
    """The done marker of ``item``: ``file`` (its path then), ``size``, ``mtime_ns`` and ``sha256`` (of its bytes),
    ``model``, ``formats``, ``duration``, ``seconds``, ``finished``, ``host``, ``pid``, ``worker`` (on Ray: its node,
    device and threads), the ``transcript`` (as the library stores it) and where else it is ``kept`` (a library:
    :class:`~transcriber.batch.Destination`)."""
    return json.loads(done_marker(out_dir, item.stem).read_text(encoding="utf-8"))


def write_marker(item: BatchItem, out_dir: Path, marker: dict[str, object]) -> None:
    """Write the done marker of ``item`` (through a temporary name and a rename), as :func:`read_marker` reads it."""
    atomic_write_text(done_marker(out_dir, item.stem), json.dumps(marker, ensure_ascii=False) + "\n")


class UnreadableMarkerError(ValueError):
    """A done marker that reads, but whose transcript does not (edited by hand, cut short): its file is done again."""


def marker_result(item: BatchItem, out_dir: Path, marker: dict[str, object] | None = None) -> FileResult:
    """The finished file's result as its done marker (``marker``, where already read) records it.

    Raises:
        UnreadableMarkerError: The transcript in the marker cannot be read.
    """
    marker = read_marker(item, out_dir) if marker is None else marker
    try:
        return FileResult(str(item.path), transcript=transcript_from_json(marker["transcript"]),
                          seconds=marker["seconds"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnreadableMarkerError(f"The done marker of {marker.get('file') or item.path.name} holds a transcript "
                                    f"that cannot be read ({type(exc).__name__}: {exc})") from exc


def fingerprint(path: Path, sha256: str | None = None) -> dict[str, object]:
    """What a done marker records of its input's bytes (``size``, ``mtime_ns``, ``sha256``), so that a change to the
    input is seen (:func:`is_complete`) and the input found done after it moved (:class:`MovedInputs`); empty when
    the input cannot be read now (gone since it was transcribed). ``sha256``, where the bytes were read already (a
    copy's, by :func:`find_copies`), is taken instead of reading them again."""
    try:
        status = path.stat()
        return {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "sha256": sha256 or file_sha256(path)}
    except OSError:
        return {}


@dataclass(frozen=True)
class Copy:
    """An input not to transcribe: its bytes are those of another input, whose transcript (made with this run's
    settings) is in a done marker (``marker``) or will be once this run has transcribed it (``original``)."""

    item: BatchItem
    sha256: str
    """Of its bytes, as :func:`find_copies` read them (its done marker records it, so it is not read again)."""
    marker: dict[str, object] | None = None
    original: BatchItem | None = None


_SIZE_KEY = re.compile(rb'"size": (\d+),')
"""A done marker's ``size``, near its start (after ``file``, as :func:`~transcriber.batch.finish_item` writes it)."""


def _recorded_size(marker: Path) -> int | None:
    """The input size a done marker records, read from its first bytes; ``None`` if not found there."""
    with marker.open("rb") as file:
        found = _SIZE_KEY.search(file.read(8192))
    return int(found[1]) if found else None


HEAD_BYTES = 1 << 20
"""How much of an input's start is read to tell it from inputs of its size (:func:`find_copies`)."""


def _head_sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.sha256(file.read(HEAD_BYTES)).hexdigest()


def find_copies(
    todo: Sequence[BatchItem], out_dir: Path, settings: dict[str, object], done: dict[str, dict[str, object]]
) -> tuple[list[BatchItem], list[Copy]]:
    """Split the inputs not done (``todo``) into those to transcribe and their copies: an input whose size and
    SHA-256 are those a done marker records, made with these ``settings`` (a recording renamed since it was done, a
    second copy of one in another folder), or those of an input of ``todo`` before it (two copies, both new).

    The markers looked at are those of this run's inputs done (``done``, by stem, already read) and the folder's
    others (inputs gone, renamed, or not in this run). An input is read whole (hashed) only if its size is one of
    theirs, or its size and first megabyte are another input's of ``todo``."""
    sizes: dict[str, int] = {}
    for item in todo:
        with contextlib.suppress(OSError):  # an input that cannot be looked at is transcribed, and fails by name
            sizes[item.stem] = item.path.stat().st_size
    if not sizes:
        return list(todo), []
    donors: dict[tuple[int, str], dict[str, object]] = {}
    wanted = set(sizes.values())

    def offer(marker: object) -> None:
        if (isinstance(marker, dict) and type(marker.get("size")) is int and marker["size"] in wanted
                and isinstance(marker.get("sha256"), str) and isinstance(marker.get("transcript"), str)
                and marker.get("settings", settings) == settings):
            donors.setdefault((marker["size"], marker["sha256"]), marker)

    for marker in done.values():
        offer(marker)
    in_run = {item.stem for item in todo} | set(done)
    for path in sorted((out_dir / DONE_DIR).glob("*.json")):
        if path.name[: -len(".json")] not in in_run:
            with contextlib.suppress(OSError, ValueError):
                if _recorded_size(path) in (None, *wanted):  # an archive's markers hold long transcripts
                    offer(json.loads(path.read_text(encoding="utf-8")))
    copies: dict[str, Copy] = {}  # by stem
    whole: dict[str, str | None] = {}  # SHA-256 by stem; None where the input cannot be read (it fails by name later)
    start: dict[str, str | None] = {}  # the same of its first HEAD_BYTES

    def sha256(item: BatchItem, *, head: bool = False) -> str | None:
        known = start if head else whole
        if item.stem not in known:
            try:
                known[item.stem] = _head_sha256(item.path) if head else file_sha256(item.path)
            except OSError:
                known[item.stem] = None
        return known[item.stem]

    donor_sizes = {size for size, _ in donors}
    for item in todo:
        if sizes.get(item.stem) in donor_sizes and (digest := sha256(item)) is not None:
            if (marker := donors.get((sizes[item.stem], digest))) is not None:
                copies[item.stem] = Copy(item, digest, marker=marker)
    # Inputs of one size (a recorder's chunks of a long session have one) are told apart by their first bytes, and
    # read whole only if those are the same too.
    rest = [item for item in todo if item.stem in sizes and item.stem not in copies]
    shared = Counter(sizes[item.stem] for item in rest)
    heads = Counter((sizes[item.stem], sha256(item, head=True)) for item in rest if shared[sizes[item.stem]] > 1)
    firsts: dict[tuple[int, str], BatchItem] = {}
    for item in rest:
        size = sizes[item.stem]
        head = start.get(item.stem)
        if head is None or heads[(size, head)] < 2 or (digest := sha256(item)) is None:
            continue
        original = firsts.setdefault((size, digest), item)
        if original is not item:
            copies[item.stem] = Copy(item, digest, original=original)
    originals = [item for item in todo if item.stem not in copies]
    return originals, [copies[item.stem] for item in todo if item.stem in copies]
