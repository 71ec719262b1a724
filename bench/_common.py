"""Helpers shared by the benchmark scripts: test models, test audio, timing."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # tiny_models lives with the tests that use it most
sys.path.insert(0, str(ROOT))

from tiny_models import build_tiny_model  # noqa: E402

SAMPLE_RATE = 16_000


def speechlike(seconds: float, seed: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Deterministic noise shaped like speech loudness (bursts and pauses), float32."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    envelope = np.repeat(rng.random(n // 1600 + 1) > 0.3, 1600)[:n]
    return (0.1 * rng.standard_normal(n) * envelope).astype(np.float32)


def write_clips(folder: Path, count: int, seconds: float) -> list[str]:
    """``count`` 16 kHz WAV files of ``seconds`` each."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"clip{index}.wav"
        sf.write(path, speechlike(seconds, index), SAMPLE_RATE)
        paths.append(str(path))
    return paths


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def tiny_model(folder: Path, kind: str = "rnnt") -> str:
    """A tiny NeMo model built offline (see tests/tiny_models.py)."""
    return str(build_tiny_model(kind, folder, emit_token=None))
