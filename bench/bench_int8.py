"""int8 dynamic quantisation (``Engine(int8=True)``, ``--int8``) against float32 on the CPU.

    python bench/bench_int8.py [--seconds 60] [--data /tmp/demo-data]

Speed: the parakeet-size stand-in (``parakeet_like.py``) and the demo model, each timed on the same speech-like audio
through the engine, float32 and int8 taking turns (median of ``--repeats`` after a warm-up). Accuracy: with ``--data``
(a folder written by ``python -m demo_model.make_data --out DIR --train 0 --validation 0``), the demo model's WER on
the held-out test split, float32 and int8.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import ROOT, load_average, speechlike, use_passive_openmp

DEMO_MODEL = ROOT / "transcriber" / "assets" / "demo-en-commands.nemo"


def speed(model_path: str, seconds: float, repeats: int) -> tuple[float, float]:
    """Median wall seconds of float32 and int8 on ``seconds`` of audio, taking turns."""
    from transcriber.engine import Engine
    from transcriber.types import AudioData, TranscribeOptions

    audio = AudioData(speechlike(seconds, seed=5), 16_000, "speechlike.wav")
    engines = {"fp32": Engine(device="cpu"), "int8": Engine(device="cpu", int8=True)}
    times: dict[str, list[float]] = {name: [] for name in engines}
    options = TranscribeOptions(timestamps=True, batch_size=1)
    for engine in engines.values():  # load and warm up
        engine.transcribe_files([AudioData(speechlike(5.0, seed=6), 16_000, "warm-up.wav")], model=model_path)
    for _ in range(repeats):
        for name, engine in engines.items():
            started = time.perf_counter()
            (result,) = engine.transcribe_files([audio], model=model_path, options=options)
            times[name].append(time.perf_counter() - started)
            if not result.ok:
                raise RuntimeError(result.error)
    return statistics.median(times["fp32"]), statistics.median(times["int8"])


def demo_wer(data: Path) -> tuple[float, float]:
    """WER of the demo model on the test split, float32 and int8."""
    from demo_model.evaluate import load_manifest, wer
    from transcriber.engine import Engine
    from transcriber.types import TranscribeOptions

    clips = load_manifest(data / "test.json")
    figures = []
    for int8 in (False, True):
        results = Engine(device="cpu", int8=int8).transcribe_files(
            [clip.path for clip in clips], model=str(DEMO_MODEL), options=TranscribeOptions(batch_size=16)
        )
        figures.append(wer([clip.text for clip in clips], [r.transcript.text if r.ok else "" for r in results]))
    return figures[0], figures[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per timed call (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, help="demo data folder, for the WER comparison")
    parser.add_argument("--skip-parakeet", action="store_true")
    args = parser.parse_args()
    use_passive_openmp()
    from parakeet_like import parakeet_like_path

    models = [("demo model (1.3 M parameters)", str(DEMO_MODEL))]
    if not args.skip_parakeet:
        models.append(("parakeet-size (618 M parameters)", str(parakeet_like_path())))
    print(f"{'model':<34}{'fp32 s':>8}{'int8 s':>8}{'fp32 RTFx':>11}{'int8 RTFx':>11}{'speed-up':>10}", flush=True)
    for name, path in models:
        fp32, int8 = speed(path, args.seconds, args.repeats)
        print(
            f"{name:<34}{fp32:>8.2f}{int8:>8.2f}{args.seconds / fp32:>11.1f}{args.seconds / int8:>11.1f}"
            f"{fp32 / int8:>9.2f}x",
            flush=True,
        )
    if args.data:
        fp32_wer, int8_wer = demo_wer(args.data)
        print(f"demo model WER on {args.data / 'test.json'}: fp32 {fp32_wer:.2%}, int8 {int8_wer:.2%}")
    print(f"({args.seconds:g} s of speech-like noise, batch size 1, timestamps; {load_average()})")


if __name__ == "__main__":
    main()
