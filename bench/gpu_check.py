"""The device check: speed and memory of the engine on an NVIDIA GPU, at fp32 and bf16.

    python bench/gpu_check.py                       # on a machine with CUDA: parakeet-size model, the full check
    python bench/gpu_check.py --model tiny --batches 1 2 --clip-s 5 --long-min 1    # a quick run (any machine)

For each precision and batch size, ``batch`` clips of ``--clip-s`` seconds (speech-like noise) go through the
engine and through a bare ``model.transcribe()`` of the same arrays; printed: RTFx of both, the engine/bare time
ratio and the peak GPU memory. Then a ``--long-min`` recording through the engine (its windows). The model is
``bench/parakeet_like.py`` (parakeet-tdt-0.6b's size and compute, random weights, built offline) or the tiny test
model. On a machine without CUDA it runs on the CPU and says so; only fp32 is measured there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import SAMPLE_RATE, cached_tiny_model, gpu_peak_mb, reset_gpu_peak, speechlike  # noqa: E402

REPEATS = 2


def model_path(kind: str) -> str:
    if kind == "tiny":
        return cached_tiny_model("tdt")
    from parakeet_like import parakeet_like_path

    return str(parakeet_like_path())


def timed(work, device: str) -> float:
    """Best of :data:`REPEATS` runs, in seconds, the GPU synchronised around each."""
    import torch

    best = float("inf")
    for _ in range(REPEATS):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        work()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("parakeet", "tiny"), default="parakeet")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--clip-s", type=float, default=60.0)
    parser.add_argument("--long-min", type=float, default=20.0)
    args = parser.parse_args()

    import torch

    from transcriber.engine import Engine
    from transcriber.gpu import autocast, effective_precision
    from transcriber.types import AudioData, TranscribeOptions

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        print("No CUDA GPU here: measuring on the CPU, fp32 only.")
        args.precisions = ["fp32"]
    else:
        print(f"GPU: {torch.cuda.get_device_name()} ({torch.cuda.mem_get_info()[1] / 1024**3:.0f} GiB), "
              f"torch {torch.__version__}")
    model = model_path(args.model)
    clip = speechlike(args.clip_s, seed=1)
    rows = []
    for precision in args.precisions:
        engine = Engine(device=device, precision=precision)
        loaded = engine.load(model)
        for batch in args.batches:
            audios = [AudioData(clip, SAMPLE_RATE, f"clip{n}.wav") for n in range(batch)]
            options = TranscribeOptions(batch_size=batch, timestamps=True)
            reset_gpu_peak(device)
            engine_s = timed(lambda: engine.transcribe_files(audios, model=model, options=options), device)
            peak = gpu_peak_mb(device)

            def bare() -> None:
                with autocast(device, precision):
                    loaded.model.transcribe([clip] * batch, batch_size=batch, timestamps=True, verbose=False)

            bare_s = timed(bare, device)
            audio_s = batch * args.clip_s
            rows.append((effective_precision(device, precision), batch, audio_s / engine_s, audio_s / bare_s,
                         engine_s / bare_s, peak))
        long_audio = AudioData(speechlike(args.long_min * 60, seed=2), SAMPLE_RATE, "long.wav")
        reset_gpu_peak(device)
        long_s = timed(lambda: engine.transcribe_files([long_audio], model=model,
                                                       options=TranscribeOptions(timestamps=True)), device)
        rows.append((effective_precision(device, precision), f"{args.long_min:g} min file", long_audio.duration / long_s,
                     float("nan"), float("nan"), gpu_peak_mb(device)))
        engine.cache.evict(model, loaded.device)  # the next precision starts from a freshly loaded model
        if device == "cuda":
            torch.cuda.empty_cache()

    print(f"model {args.model} on {device}; clips of {args.clip_s:g} s, timestamps on; best of {REPEATS}")
    print(f"{'precision':<10}{'batch':>14}{'engine RTFx':>13}{'bare RTFx':>11}{'engine/bare':>13}{'peak MiB':>10}")
    for precision, batch, engine_rtfx, bare_rtfx, ratio, peak in rows:
        print(f"{precision:<10}{str(batch):>14}{engine_rtfx:>13.1f}{bare_rtfx:>11.1f}{ratio:>13.2f}{peak:>10.0f}")
    ratios = [row[4] for row in rows if row[4] == row[4]]
    print(f"engine/bare median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
