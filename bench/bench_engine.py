"""Engine overhead: ``Engine.transcribe_files`` on 8 files vs a bare ``model.transcribe`` of the decoded arrays.

    python bench/bench_engine.py [--model PATH.nemo] [--seconds 10] [--repeats 5] [--timestamps]

The engine's time includes decoding the files; the bare call gets arrays decoded beforehand and runs in a worker
thread, as the engine's does (on a busy machine NeMo in the main thread is many times slower; see
``_common.in_worker_thread``). The two take turns (after one warm-up call each), so a burst of load from other work
slows both alike; medians are reported. Goal: ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _common import in_worker_thread, interleaved_medians, load_average, tiny_model, use_passive_openmp, write_clips

from transcriber.audio import load_audio
from transcriber.engine import Engine
from transcriber.types import TranscribeOptions

FILES = 8
BATCH_SIZE = 4
RATIO_GOAL = 1.05


@dataclass(frozen=True)
class EngineOverhead:
    """Median seconds of the bare call and of the engine on the same files."""

    bare_s: float
    ours_s: float

    @property
    def ratio(self) -> float:
        return self.ours_s / self.bare_s


def measure(
    *, model: str | None = None, seconds: float = 10.0, repeats: int = 5, timestamps: bool = False
) -> EngineOverhead:
    """Time both on :data:`FILES` clips of ``seconds`` (``model``: a .nemo path; default a tiny RNNT built offline)."""
    with tempfile.TemporaryDirectory() as tmp:
        model = model or tiny_model(Path(tmp))
        paths = write_clips(Path(tmp) / "clips", FILES, seconds)
        engine = Engine(device="cpu")
        nemo_model = engine.load(model).model
        arrays = [load_audio(path).samples for path in paths]
        options = TranscribeOptions(timestamps=timestamps, batch_size=BATCH_SIZE)

        def bare() -> object:
            # From a worker thread, as the engine calls it: see _common.in_worker_thread.
            return in_worker_thread(
                lambda: nemo_model.transcribe(
                    arrays, batch_size=BATCH_SIZE, num_workers=0, return_hypotheses=True,
                    timestamps=timestamps, verbose=False,
                )
            )

        def ours() -> object:
            results = engine.transcribe_files(paths, model=model, options=options)
            assert all(result.ok for result in results)
            return results

        bare_s, ours_s = interleaved_medians([bare, ours], repeats)
    return EngineOverhead(bare_s, ours_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help=".nemo file (default: a tiny RNNT model built offline)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each clip")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timestamps", action="store_true")
    args = parser.parse_args()
    use_passive_openmp()  # before torch is imported

    result = measure(model=args.model, seconds=args.seconds, repeats=args.repeats, timestamps=args.timestamps)
    print(f"{'what':<34}{'seconds':>10}")
    print(f"{'bare model.transcribe (arrays)':<34}{result.bare_s:>10.3f}")
    print(f"{'Engine.transcribe_files (paths)':<34}{result.ours_s:>10.3f}")
    print(f"{f'ratio (goal <= {RATIO_GOAL})':<34}{result.ratio:>10.3f}")
    print(
        f"({FILES} files x {args.seconds:g} s, batch size {BATCH_SIZE}, timestamps {args.timestamps}; "
        f"{load_average()})"
    )


if __name__ == "__main__":
    main()
