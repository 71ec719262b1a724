"""Helpers shared by the benchmark scripts: test models, test audio, timing, machine load."""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # tiny_models lives with the tests that use it most
sys.path.insert(0, str(ROOT))

from tiny_models import build_tiny_model  # noqa: E402

SAMPLE_RATE = 16_000
CACHE_DIR = ROOT / ".cache" / "bench"
"""Built models are kept here between runs (gitignored)."""
BURST_SAMPLES = 1600
"""Loudness changes every 0.1 s at 16 kHz."""
CHUNK_SAMPLES = 1 << 22
"""Noise is drawn in chunks so that an hour of audio needs no float64 copy of the whole hour."""
OMP_WAIT_POLICY_ENV = "OMP_WAIT_POLICY"
BENCH_OMP_WAIT_POLICY = "PASSIVE"
"""OpenMP helper threads sleep instead of spinning while they wait; see :func:`use_passive_openmp`."""


def use_passive_openmp() -> None:
    """Make OpenMP threads sleep while they wait (``OMP_WAIT_POLICY=PASSIVE``) unless the variable is already set.

    On this two-core machine shared with other work, the default (spinning) policy made one NeMo call vary from 1.4 s to
    30 s (20 s of audio, tiny RNNT: each small decoder op waits for a helper thread the busy scheduler has parked);
    with PASSIVE the same call took 1.4-1.7 s every time. Figures would otherwise measure the neighbours. Must run
    before torch is imported; children inherit it. ``OMP_WAIT_POLICY=ACTIVE python bench/...`` measures the default.
    """
    if "torch" in sys.modules:
        raise RuntimeError("use_passive_openmp() must run before torch is imported")
    os.environ.setdefault(OMP_WAIT_POLICY_ENV, BENCH_OMP_WAIT_POLICY)


def speechlike(seconds: float, seed: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Deterministic noise shaped like speech loudness (bursts and pauses), float32.

    Drawn chunk by chunk (NumPy's generators give the same stream either way), so the peak memory is the float32
    result plus one chunk: a benchmark of memory use must not measure its own test data.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    loud = rng.random(n // BURST_SAMPLES + 1) > 0.3
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, CHUNK_SAMPLES):
        stop = min(start + CHUNK_SAMPLES, n)
        envelope = np.repeat(loud[start // BURST_SAMPLES : (stop - 1) // BURST_SAMPLES + 1], BURST_SAMPLES)
        offset = start % BURST_SAMPLES
        out[start:stop] = 0.1 * rng.standard_normal(stop - start) * envelope[offset : offset + stop - start]
    return out


def write_clips(folder: Path, count: int, seconds: float) -> list[str]:
    """``count`` 16 kHz WAV files of ``seconds`` each."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"clip{index}.wav"
        sf.write(path, speechlike(seconds, index), SAMPLE_RATE)
        paths.append(str(path))
    return paths


def interleaved_medians(fns: Sequence[Callable[[], object]], repeats: int) -> list[float]:
    """Median wall time of each of ``fns`` over ``repeats`` rounds, after one warm-up call each.

    The functions take turns within each round, so a burst of load from other work on the machine slows them alike.
    """
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, spent in zip(fns, times):
            started = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) for spent in times]


def tiny_model(folder: Path, kind: str = "rnnt") -> str:
    """A tiny NeMo model built offline (see tests/tiny_models.py)."""
    return str(build_tiny_model(kind, folder, emit_token=None))


def cached_tiny_model(kind: str = "rnnt") -> str:
    """:func:`tiny_model` built once into :data:`CACHE_DIR`, so that subprocesses share one file."""
    path = CACHE_DIR / "tiny" / f"tiny-{kind}-random.nemo"
    if not path.is_file():
        build_tiny_model(kind, path.parent, emit_token=None, filename=path.name)
    return str(path)


def format_load(loads: Sequence[float]) -> str:
    """Load averages as ``1.23, 4.56, 7.89``."""
    return ", ".join(f"{value:.2f}" for value in loads)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for printing next to every figure (other work shares the cores)."""
    return "load average " + format_load(os.getloadavg())


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (VmHWM), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not in /proc/self/status (not Linux?)")


def reset_peak_rss() -> None:
    """Lower VmHWM to the current RSS (Linux: ``clear_refs`` value 5), so the next peak is ours alone."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
        clear_refs.write("5")


def reset_gpu_peak(device: str) -> None:
    """Reset CUDA's peak-memory counter after the work queued so far (nothing on the CPU)."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def gpu_peak_mb(device: str) -> float:
    """Peak GPU memory allocated since the last :func:`reset_gpu_peak`, in MB like the RSS figures (NaN on the
    CPU)."""
    if device != "cuda":
        return float("nan")
    import torch

    return torch.cuda.max_memory_allocated() / 1024**2


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not in /proc/self/status (not Linux?)")


def in_worker_thread(work: Callable[[], object]) -> float:
    """Seconds ``work`` takes in a fresh thread: the engine calls NeMo from a worker thread, so the bare references
    do too, and the difference measured is the engine's own work."""
    outcome: dict[str, BaseException] = {}

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the caller
            outcome["error"] = exc

    worker = threading.Thread(target=target)
    started = time.perf_counter()
    worker.start()
    worker.join()
    spent = time.perf_counter() - started
    if "error" in outcome:
        raise outcome["error"]
    return spent
