"""Engine overhead: ``Engine.transcribe_files`` on 8 files vs a bare ``model.transcribe`` of the decoded arrays.

    python bench/bench_engine.py [--model PATH.nemo] [--seconds 10] [--repeats 5]

The engine's time includes decoding the files; the bare call gets arrays decoded beforehand. Goal: ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import median_time, tiny_model, write_clips

from transcriber.audio import load_audio
from transcriber.engine import Engine
from transcriber.types import TranscribeOptions

FILES = 8
BATCH_SIZE = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help=".nemo file (default: a tiny RNNT model built offline)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each clip")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timestamps", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or tiny_model(Path(tmp))
        paths = write_clips(Path(tmp) / "clips", FILES, args.seconds)
        engine = Engine(device="cpu")
        nemo_model = engine.load(model).model
        arrays = [load_audio(path).samples for path in paths]
        options = TranscribeOptions(timestamps=args.timestamps, batch_size=BATCH_SIZE)

        def bare() -> object:
            return nemo_model.transcribe(
                arrays, batch_size=BATCH_SIZE, num_workers=0, return_hypotheses=True,
                timestamps=args.timestamps, verbose=False,
            )

        def ours() -> object:
            results = engine.transcribe_files(paths, model=model, options=options)
            assert all(result.ok for result in results)
            return results

        bare_s = median_time(bare, args.repeats)
        ours_s = median_time(ours, args.repeats)
    print(f"{'what':<34}{'seconds':>10}")
    print(f"{'bare model.transcribe (arrays)':<34}{bare_s:>10.3f}")
    print(f"{'Engine.transcribe_files (paths)':<34}{ours_s:>10.3f}")
    print(f"{'ratio (goal <= 1.05)':<34}{ours_s / bare_s:>10.3f}")
    print(f"({FILES} files x {args.seconds:g} s, batch size {BATCH_SIZE}, timestamps {args.timestamps})")


if __name__ == "__main__":
    main()
