"""Time ``transcriber.audio.load_audio`` against ``librosa.load(path, sr=16000, mono=True)``.

Writes a minute of 44.1 kHz stereo audio (tones over noise, so FLAC and MP3 have real work to do) as WAV, FLAC and
MP3 into a temporary folder, loads each file with both, and prints the best of several runs, the speed ratio, and the
time of the bare decoder load_audio uses (libsndfile for WAV and FLAC, FFmpeg for MP3) as the floor for any loader
built on it. Both sides resample with soxr "HQ". Run from the repository root:

    .venv/bin/python bench/bench_audio.py [--seconds 60] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.audio_fixtures import write_samples  # noqa: E402
from transcriber.audio import BLOCK_FRAMES, load_audio  # noqa: E402
from transcriber.types import SAMPLE_RATE  # noqa: E402

SOURCE_RATE = 44_100
NOISE_LEVEL = 0.05
FORMATS = (".wav", ".flac", ".mp3")


def make_signal(seconds: float, sample_rate: int = SOURCE_RATE, seed: int = 0) -> np.ndarray:
    """Return float32 (frames, 2) stereo: a different tone in each channel over white noise."""
    rng = np.random.default_rng(seed)
    times = np.arange(round(seconds * sample_rate)) / sample_rate
    left = 0.3 * np.sin(2 * np.pi * 440 * times)
    right = 0.3 * np.sin(2 * np.pi * 660 * times)
    noise = NOISE_LEVEL * rng.standard_normal((len(times), 2))
    return (np.stack([left, right], axis=1) + noise).astype(np.float32)


def best_times(loaders: Sequence[Callable[[], object]], repeats: int) -> list[float]:
    """Return each loader's fastest of ``repeats`` runs, in seconds.

    The loaders take turns, so a burst of load from another process slows them alike; the best run is the one least
    disturbed.
    """
    best = [float("inf")] * len(loaders)
    for _ in range(repeats):
        for index, load in enumerate(loaders):
            start = time.perf_counter()
            load()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def decode_only(path: Path) -> None:
    """Run only the decoder load_audio uses for ``path`` and discard the samples: the floor for a loader built on it."""
    if path.suffix in (".wav", ".flac"):
        with sf.SoundFile(path) as sound_file:
            for _ in sound_file.blocks(BLOCK_FRAMES, dtype="float32"):
                pass
    else:
        with av.open(str(path)) as container:
            for _ in container.decode(audio=0):
                pass


@dataclass(frozen=True)
class DecodeTiming:
    """Best seconds per loader for one format, and how alike the two loaders' outputs are."""

    format: str
    ours_s: float
    librosa_s: float
    decode_only_s: float
    correlation: float

    @property
    def speedup(self) -> float:
        """How many times faster than librosa load_audio is."""
        return self.librosa_s / self.ours_s


def measure(*, seconds: float = 60.0, repeats: int = 7) -> list[DecodeTiming]:
    """Time both loaders (and the bare decoder) on a WAV, a FLAC and an MP3 of ``seconds``."""
    import librosa  # imported here so that `--help` stays fast

    signal = make_signal(seconds)
    timings = []
    with tempfile.TemporaryDirectory() as folder:
        for suffix in FORMATS:
            path = write_samples(Path(folder) / f"bench{suffix}", signal, SOURCE_RATE)
            ours = load_audio(path).samples
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # librosa warns about its audioread fallback
                theirs, _ = librosa.load(path, sr=SAMPLE_RATE, mono=True)
            # Same length, same signal: the comparison is only fair if both did the same work.
            assert abs(len(ours) - len(theirs)) <= SAMPLE_RATE // 100, (len(ours), len(theirs))
            overlap = min(len(ours), len(theirs))
            correlation = float(np.corrcoef(ours[:overlap], theirs[:overlap])[0, 1])
            ours_s, theirs_s, floor_s = best_times(
                [
                    lambda: load_audio(path),
                    lambda: librosa.load(path, sr=SAMPLE_RATE, mono=True),
                    lambda: decode_only(path),
                ],
                repeats,
            )
            timings.append(DecodeTiming(suffix[1:], ours_s, theirs_s, floor_s, correlation))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each test file")
    parser.add_argument("--repeats", type=int, default=7, help="runs per file and loader; the best is reported")
    args = parser.parse_args()

    print(f"{args.seconds:.0f} s of {SOURCE_RATE} Hz stereo -> {SAMPLE_RATE} Hz mono, best of {args.repeats}")
    print(f"{'format':<8}{'ours (s)':>10}{'librosa (s)':>13}{'ratio':>8}{'decode only (s)':>17}")
    for t in measure(seconds=args.seconds, repeats=args.repeats):
        print(
            f"{t.format:<8}{t.ours_s:>10.4f}{t.librosa_s:>13.4f}{t.speedup:>7.2f}x{t.decode_only_s:>17.4f}"
            f"   (r={t.correlation:.4f})"
        )
    print(f"({os.getloadavg()[0]:.2f} load average, 1 min)")


if __name__ == "__main__":
    main()
