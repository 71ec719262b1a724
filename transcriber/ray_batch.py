"""The folder batch on a Ray cluster: today's plan, engine, writers and done markers, run by a pool of Ray actors.

The driver plans the batch exactly as :func:`~transcriber.batch.run_batch` does (names, skip-if-done), and hands Ray
Data a dataset of paths and output stems. ``map_batches`` runs :class:`TranscribeWorker` as an actor pool: each
actor loads the model once, transcribes its files from the shared folder with an :class:`~transcriber.engine.Engine`
and writes each file's outputs and then its done marker into the shared output folder. Only paths and small status
rows travel through Ray, never audio.

Ray runs a batch at least once: an actor that dies is restarted and its batch is run again. The outputs are written
atomically with the marker last, and the actor checks the marker again before it transcribes, so a file finished
before the death is reported from its marker instead of done twice, and a file caught half-written is simply
written again. The driver keeps the first row per file.

Ray is an optional dependency (``requirements-ray.txt``), imported only here.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .audio import header_duration
from .batch import (
    STATUS_DONE, STATUS_FAILED, BatchRow, Destination, finish_item, keep_done, run_planned, transcript_settings,
)
from .batch_state import BatchItem, is_complete, read_marker
from .engine import CALL_MAX_AUDIO_S, MODEL_LOAD_TIMEOUT_S, Engine
from .errors import OutputWriteError, TranscriberError
from .formats import FORMATS, counted
from .models import MODEL_DIR_ENV
from .outputs import output_paths
from .types import FileResult, TranscribeOptions
from .watchdog import time_bound

logger = logging.getLogger(__name__)

LOCAL = "local"
"""``--ray-address local``: start a Ray instance on this machine for the run."""
DEFAULT_CPUS_PER_WORKER = 1.0
OBJECT_STORE_BYTES = 256 * 1024**2
"""Object store of a local instance: only paths and status rows pass through it."""
LONGEST_UNKNOWN_S = 3 * 3600.0
"""How long a file whose header states no length is taken to be, for the stall bound."""
CONNECT_TIMEOUT_S = 10.0
"""How long a cluster's address may take to answer before the run is refused."""
INSTALL_RAY = "the Ray backend needs Ray: pip install -r requirements-ray.txt"
RAY_DATA_THREADS = ("StreamingExecutor-", "ray-data-metadata-prefetch")
"""The names Ray Data gives the threads of a running dataset that call into Ray: its scheduling loop (which waits
in ``ray.wait``) and its metadata fetcher."""
RAY_DATA_STOP_S = 30.0
"""How long a run's end waits for those threads before it stops Ray all the same."""
SOCKET_PATH_MAX = 107
"""The longest path of a Unix socket on Linux, in bytes (108 with its terminating zero)."""
SESSION_SOCKET_CHARS = 70
"""What a local Ray adds to its temporary folder for its longest socket:
``/ray/session_2026-12-08_01-45-45_997940_1234567/sockets/plasma_store``."""
SHORT_RAY_DIR = "/tmp/ray"
"""Ray's own folder where no TMPDIR is set (and on macOS always)."""


class RayBatchError(TranscriberError):
    """The Ray run cannot start or stalled; the message says why."""


@dataclass(frozen=True)
class RaySettings:
    """Where and how wide a Ray batch runs.

    Args:
        address: ``"local"`` starts Ray on this machine; ``"auto"`` or ``"HOST:PORT"`` joins a running cluster.
        workers: Actors in the pool; ``None``: as many as the cluster's CPUs (or GPUs, with ``gpus_per_worker``) hold.
        cpus_per_worker: CPUs each actor reserves; also its PyTorch thread count.
        gpus_per_worker: GPUs each actor reserves (fractions share a GPU); the actor runs on CUDA when it has one.
        startup_timeout: Seconds the pool's actors may take to start and load the model before the run fails.
        temp_dir: Ray's session folder for a local instance (default: Ray's own).
        verbose: Pass Ray's and the workers' logs through to the terminal.
    """

    address: str = LOCAL
    workers: int | None = None
    cpus_per_worker: float = DEFAULT_CPUS_PER_WORKER
    gpus_per_worker: float = 0.0
    startup_timeout: float = MODEL_LOAD_TIMEOUT_S + 120.0
    temp_dir: str | None = None
    verbose: bool = False


@dataclass(frozen=True)
class EngineSettings:
    """What a worker builds its engine from (the device comes from the GPUs Ray gives it)."""

    int8: bool = False
    precision: str | None = None


class TranscribeWorker:
    """One actor of the pool: an engine with the model loaded, transcribing batches of (path, stem) rows."""

    def __init__(
        self, *, model: str, options: TranscribeOptions, formats: Sequence[str], out_dir: str,
        engine: EngineSettings, cpus: float,
    ) -> None:
        import ray
        import torch

        torch.set_num_threads(max(1, math.floor(cpus)))  # Ray starts a worker with one thread
        self.device = "cuda" if ray.get_gpu_ids() else "cpu"  # Ray sets CUDA_VISIBLE_DEVICES to the ones it gave
        self.description = {"node": ray.get_runtime_context().get_node_id(), "device": self.device,
                            "threads": torch.get_num_threads()}
        self.model = model
        self.options = options
        self.formats = list(formats)
        self.settings = transcript_settings(model, options)
        self.out_dir = Path(out_dir)
        self.engine = Engine(device=self.device, int8=engine.int8, precision=engine.precision)
        self.load_error = ""
        try:
            self.engine.load(model)
        except TranscriberError as exc:  # every file fails with this sentence; the run itself goes on
            self.load_error = str(exc)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        items = [BatchItem(Path(path), str(stem)) for path, stem in zip(batch["path"], batch["stem"], strict=True)]
        rows: dict[int, BatchRow] = {}
        todo = []
        for index, item in enumerate(items):
            if is_complete(item, self.out_dir, self.formats, self.settings):  # done by an earlier attempt of this batch
                marker = read_marker(item, self.out_dir)
                rows[index] = BatchRow(str(item.path), STATUS_DONE, marker["duration"], marker["seconds"])
            else:
                todo.append(index)
        for index, row in zip(todo, self._transcribe([items[i] for i in todo]), strict=True):
            rows[index] = row
        ordered = [rows[index] for index in range(len(items))]
        return {
            "file": [row.file for row in ordered],
            "stem": [item.stem for item in items],
            "status": [row.status for row in ordered],
            "duration": [math.nan if row.duration is None else row.duration for row in ordered],
            "seconds": [row.seconds for row in ordered],
            "error": [row.error for row in ordered],
        }

    def _transcribe(self, items: list[BatchItem]) -> list[BatchRow]:
        if not items:
            return []
        if self.load_error:
            return [BatchRow(str(item.path), STATUS_FAILED, error=self.load_error) for item in items]
        try:
            results = self.engine.transcribe_files(
                [str(item.path) for item in items], model=self.model, options=self.options
            )
        except TranscriberError as exc:
            results = [FileResult(str(item.path), error=str(exc)) for item in items]
        except Exception as exc:  # noqa: BLE001 - an exception out of a Ray Data UDF would end the whole run
            logger.exception("Transcribing %d files failed", len(items))
            results = [FileResult(str(item.path), error=f"{type(exc).__name__}: {exc}") for item in items]
        rows = []
        for item, result in zip(items, results, strict=True):
            try:
                rows.append(finish_item(item, result, self.out_dir, self.formats, self.settings,
                                        worker=self.description))
            except OutputWriteError as exc:  # this worker's disk; others may still write theirs
                rows.append(BatchRow(str(item.path), STATUS_FAILED, error=str(exc)))
        return rows


def stall_timeout(items: Sequence[BatchItem], options: TranscribeOptions, batch_size: int) -> float:
    """Seconds the run may go without a finished batch before Ray ends it: a worker's model load plus the longest
    batch the engine's own time bounds allow (each ``transcribe()`` call of up to :data:`CALL_MAX_AUDIO_S`)."""
    longest = max((header_duration(item.path) or LONGEST_UNKNOWN_S for item in items), default=0.0)
    calls = max(1, math.ceil(longest / CALL_MAX_AUDIO_S))
    return MODEL_LOAD_TIMEOUT_S + batch_size * calls * time_bound(min(longest, CALL_MAX_AUDIO_S), options)


def run_batch_ray(
    inputs: Sequence[Path],
    out_dir: Path,
    *,
    model: str,
    formats: Sequence[str] = FORMATS,
    options: TranscribeOptions = TranscribeOptions(),
    engine: EngineSettings = EngineSettings(),
    ray_settings: RaySettings = RaySettings(),
    on_file: Callable[[BatchRow], None] | None = None,
    destination: Destination | None = None,
) -> list[BatchRow]:
    """:func:`~transcriber.batch.run_batch` on Ray: the same plan, outputs, markers and ``summary.csv``.

    Rows come back as workers finish; ``on_file`` is called with each, and each transcribed file is handed to
    ``destination`` (a library) on the driver, as its done marker records it.

    Raises:
        RayBatchError: Ray is not installed, the cluster cannot hold the workers, they did not start in time, or the
            run stalled.
    """

    def execute(todo: list[BatchItem], record: Callable[[BatchRow], bool]) -> None:
        by_path = {str(item.path): item for item in todo}
        # Closed here, whatever stops the loop (Ctrl-C, an error saving to the library): the dataset and Ray are
        # stopped before the exception goes on, not left to the collection of the generator.
        with contextlib.closing(_run_on_ray(todo, out_dir, model, formats, options, engine, ray_settings)) as rows:
            for worker_row in rows:
                row = _batch_row(worker_row, out_dir, formats)
                if record(row) and destination is not None and row.status == STATUS_DONE:
                    keep_done(by_path[row.file], out_dir, destination)

    return run_planned(inputs, out_dir, formats, transcript_settings(model, options), execute, on_file, destination)


def _batch_row(row: dict[str, Any], out_dir: Path, formats: Sequence[str]) -> BatchRow:
    duration = float(row["duration"])
    done = row["status"] == STATUS_DONE
    return BatchRow(
        str(row["file"]), str(row["status"]), None if math.isnan(duration) else duration, float(row["seconds"]),
        str(row["error"]), tuple(output_paths(out_dir, str(row["stem"]), formats)) if done else (),
    )


def _run_on_ray(
    todo: list[BatchItem], out_dir: Path, model: str, formats: Sequence[str], options: TranscribeOptions,
    engine: EngineSettings, settings: RaySettings,
) -> Iterator[dict[str, Any]]:
    """Rows of the workers, as they finish; Ray is started (or joined) for the run and left after it."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not settings.verbose:  # the C++ core worker's log lines (e.g. about constructor arguments) likewise
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    try:
        import ray
        import ray.data
        from ray.data.exceptions import ExecutionTimeoutError
    except ImportError as exc:
        raise RayBatchError(INSTALL_RAY) from exc
    started = not ray.is_initialized()
    if started:
        _init(ray, settings)
    try:
        workers = _pool_size(ray.cluster_resources(), settings)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the command line shows its own bar
        context.print_on_execution_start = settings.verbose
        context.wait_for_min_actors_s = math.ceil(settings.startup_timeout)
        context.execution_no_progress_timeout_s = stall_timeout(todo, options, options.batch_size)
        dataset = ray.data.from_items([{"path": str(item.path), "stem": item.stem} for item in todo])
        results = dataset.map_batches(
            TranscribeWorker,
            fn_constructor_kwargs={
                "model": model, "options": options, "formats": list(formats), "out_dir": str(out_dir),
                "engine": engine, "cpus": settings.cpus_per_worker,
            },
            batch_size=options.batch_size,
            batch_format="numpy",
            num_cpus=settings.cpus_per_worker,
            num_gpus=settings.gpus_per_worker or None,
            compute=ray.data.ActorPoolStrategy(size=workers),
        )
        try:
            yield from results.iter_rows()
        except ray.exceptions.GetTimeoutError as exc:
            raise RayBatchError(
                f"the {workers} Ray workers did not start within {settings.startup_timeout:.0f} s: the cluster has "
                f"no room for them now ({settings.cpus_per_worker:g} CPUs, {settings.gpus_per_worker:g} GPUs each)"
            ) from exc
        except ExecutionTimeoutError as exc:
            raise RayBatchError(f"the Ray run stalled: no file finished for "
                                f"{context.execution_no_progress_timeout_s:.0f} s") from exc
    finally:
        if started:
            try:
                _wait_for_ray_data(RAY_DATA_STOP_S)
            finally:
                ray.shutdown()


def _wait_for_ray_data(timeout: float) -> None:
    """Wait until the threads of a dataset that stopped (:data:`RAY_DATA_THREADS`) have ended, ``timeout`` at most.

    A stopped dataset waits only 2 s for its scheduling loop; on a busy machine that loop may still sit in
    ``ray.wait`` then, and stopping Ray under a thread waiting there can end the whole process on the spot, with
    status 1 and not a word: an interrupted run then said neither "Interrupted" nor how to resume."""
    deadline = time.monotonic() + timeout
    threads = [thread for thread in threading.enumerate() if thread.name.startswith(RAY_DATA_THREADS)]
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = [thread.name for thread in threads if thread.is_alive()]
    if late:
        logger.warning("Ray Data's threads %s still ran %.0f s after the run stopped; Ray is stopped anyway.",
                       ", ".join(late), timeout)


def _init(ray: Any, settings: RaySettings) -> None:
    # Without --verbose, Ray's start-up chatter stays out of the terminal (its warnings concern Ray's own defaults:
    # token authentication, disabled progress bars); the run's own errors come back as rows and RayBatchError.
    level = logging.INFO if settings.verbose else logging.ERROR
    quiet = {"logging_level": level, "log_to_driver": settings.verbose}
    # ray.init takes SIGTERM for itself (sys.exit(15), after its core's stack dump on stderr); the command's own
    # handler (transcriber.command.stop_on_signals) goes back afterwards, so a run stops on it as on Ctrl-C.
    main_thread = threading.current_thread() is threading.main_thread()
    on_sigterm = signal.getsignal(signal.SIGTERM) if main_thread else None
    try:
        with _stderr_kept_back(not settings.verbose):
            if settings.address == LOCAL:
                # Ray's processes here inherit the environment, so its pre-started workers can serve the pool (a
                # runtime_env would make every worker a fresh one, while the pre-started ones idle on the same cores).
                with _environment(_worker_env()):
                    ray.init(address=LOCAL, object_store_memory=OBJECT_STORE_BYTES, include_dashboard=False,
                             _temp_dir=settings.temp_dir or _short_ray_dir(), **quiet)
            else:
                _check_reachable(settings.address)
                ray.init(address=settings.address, runtime_env={"env_vars": _worker_env()}, **quiet)
    except ConnectionError as exc:
        raise RayBatchError(f"cannot join the Ray cluster at {settings.address}: {exc}") from exc
    except OSError as exc:  # e.g. its socket paths too long under RAY_TMPDIR, or a folder it may not write to
        raise RayBatchError(f"cannot start Ray on this machine: {exc} (RAY_TMPDIR names the folder Ray uses; a "
                            "short one that you may write to, such as /tmp/ray, works)") from exc
    finally:
        if on_sigterm is not None:
            signal.signal(signal.SIGTERM, on_sigterm)
    logging.getLogger("ray.data").setLevel(level)


def _short_ray_dir() -> str | None:
    """Where a local Ray keeps its session: Ray's own choice (``None``), unless that is its folder under a TMPDIR too
    long for its socket paths (a cluster scheduler's job folder, ``--temp-dir``): Ray then stops with a traceback
    ("AF_UNIX path length cannot exceed 107 bytes"), so :data:`SHORT_RAY_DIR` is taken. A RAY_TMPDIR given is kept.
    Only Linux: Ray takes /tmp on macOS and has no socket files on Windows."""
    if not sys.platform.startswith("linux") or "RAY_TMPDIR" in os.environ:
        return None
    base = os.environ.get("TMPDIR") or "/tmp"
    if len(os.fsencode(base)) + SESSION_SOCKET_CHARS <= SOCKET_PATH_MAX:
        return None
    logger.info("TMPDIR (%s) is too long a folder for Ray's sockets; Ray uses %s.", base, SHORT_RAY_DIR)
    return SHORT_RAY_DIR


def _check_reachable(address: str) -> None:
    """Refuse a cluster address nothing answers at: Ray itself would retry it for ever.

    Raises:
        RayBatchError: No connection within :data:`CONNECT_TIMEOUT_S`.
    """
    from ray._private.services import canonicalize_bootstrap_address  # "auto" -> the last cluster's host:port

    try:
        resolved = canonicalize_bootstrap_address(address)
    except (ValueError, ConnectionError) as exc:
        raise RayBatchError(f"cannot join the Ray cluster at {address}: {exc}") from exc
    if resolved is None:
        return
    host, _, port = resolved.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as exc:
        raise RayBatchError(
            f"cannot reach the Ray cluster at {address} ({exc}): start it with `ray start --head`, or check the address"
        ) from exc


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` meanwhile (for the processes started meanwhile), the old values after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _stderr_kept_back(hold: bool) -> Iterator[None]:
    """Ray's C++ core writes a line about its log level straight to file descriptor 2 when it starts; with ``hold``,
    what is written there meanwhile is kept and shown only if the start fails."""
    if not hold:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _worker_env() -> dict[str, str]:
    """The environment workers need: they import this package from where the driver has it (on a cluster: the same
    path on every machine, e.g. shared storage), whatever folder Ray starts them in, and look for models where the
    driver does."""
    root = str(Path(__file__).resolve().parents[1])
    paths = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
    if os.environ.get(MODEL_DIR_ENV):
        env[MODEL_DIR_ENV] = os.environ[MODEL_DIR_ENV]
    return env


def _pool_size(resources: dict[str, float], settings: RaySettings) -> int:
    """The number of workers: as asked, or as many as the cluster holds; a pool the cluster can never hold is refused
    here rather than waited for."""
    cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    fits = math.floor(cpus / settings.cpus_per_worker) if settings.cpus_per_worker else math.inf
    if settings.gpus_per_worker:
        fits = min(fits, math.floor(gpus / settings.gpus_per_worker))
    workers = settings.workers or (fits if fits != math.inf else 1)
    if workers < 1 or workers > fits:
        asked = settings.workers or 1
        raise RayBatchError(
            f"the Ray cluster has {counted(cpus, 'CPU')} and {counted(gpus, 'GPU')}; {counted(asked, 'worker')} of "
            f"{counted(settings.cpus_per_worker, 'CPU')} and {counted(settings.gpus_per_worker, 'GPU')}"
            f"{' each do' if asked != 1 else ' does'} not fit"
        )
    return workers
