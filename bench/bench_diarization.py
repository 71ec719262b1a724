"""Diarization time against recognition time on the same audio, and peak memory by length, each length in a fresh
process.

    python bench/bench_diarization.py [--minutes 5 20 60] [--device cuda]

The diarizer is a random-weight Sortformer of the released models' size and compute (``sortformer_like``: NVIDIA's
``streaming_sortformer_diarizer_4spk-v2.yaml``: FastConformer of 17 layers at d_model 512, dw_striding x8 with 256
channels, 128 mels; an 18-layer Transformer of 192; built offline, cached in ``.cache/bench/``), run in offline mode
through the engine's windows (90 s, 15 s overlap), against the parakeet-size recognizer (``parakeet_like.py``). Each
child process transcribes a WAV of speech-like noise read from disk with word timings, once without and once with
speakers (speakers imply timings, so both runs compute them); the diarization time is the difference, and the time
inside the diarizer's calls is printed beside it. Peak memory is each run's own; the resident memory is also sampled
every half second through the run with speakers, and its highest value in the run's first and last quarter shows
whether memory grows with the length of the recording. Goals: diarization / recognition <= 0.25, peak memory with
speakers at 60 min / 5 min <= 1.2.

First, the work itself: floating-point operations (PyTorch's ``FlopCounterMode``) per second of audio, each model in
its own windows with their overlaps (the recognizer's encoder in 30 s windows that overlap by 2 s; the whole diarizer
in 90 s windows that overlap by 15 s). Their ratio is what the time ratio would be if both ran at the same speed
per operation.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import soundfile as sf

from _common import (
    CACHE_DIR, SAMPLE_RATE, gpu_peak_mb, peak_rss_mb, reset_gpu_peak, reset_peak_rss, rss_mb, speechlike,
    use_passive_openmp,
)

ROOT = Path(__file__).resolve().parents[1]
RATIO_GOAL = 0.25
MEMORY_GOAL = 1.2
RSS_SAMPLE_S = 0.5
FLOP_SAMPLE_S = 90.0
"""Audio the operations are counted on: the first window of each model."""


def sortformer_like_path(cache_dir: Path = CACHE_DIR) -> Path:
    """Build (once) and return a random-weight Sortformer of the released size."""
    path = cache_dir / "sortformer-like-4spk.nemo"
    if path.is_file():
        return path
    from nemo.collections.asr.models import SortformerEncLabelModel
    from omegaconf import OmegaConf

    from demo_model.train_diarizer import model_config

    cfg = model_config()
    cfg.update(session_len_sec=90.0, model_defaults={"fc_d_model": 512, "tf_d_model": 192})
    cfg["preprocessor"].update(features=128)
    cfg["sortformer_modules"].update(fc_d_model=512, tf_d_model=192)
    cfg["encoder"].update(feat_in=128, d_model=512, n_layers=17, n_heads=8, subsampling_conv_channels=256)
    cfg["transformer_encoder"].update(hidden_size=192, inner_size=768, num_layers=18, num_attention_heads=8)
    model = SortformerEncLabelModel(cfg=OmegaConf.create(cfg))
    cache_dir.mkdir(parents=True, exist_ok=True)
    model.save_to(str(path))
    return path


def gflops_per_audio_second(asr: str, diarizer: str) -> dict:
    """Operations per second of audio of the recognizer's encoder and of the whole diarizer, each in the engine's
    windows (their overlaps included), counted by PyTorch on :data:`FLOP_SAMPLE_S` of audio."""
    use_passive_openmp()
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from transcriber import windows
    from transcriber.diarization import OVERLAP_S, load_diarizer, window_seconds
    from transcriber.models import hears_its_training_length, resolve_model
    from transcriber.nemo_models import load_nemo_model

    samples = torch.from_numpy(speechlike(FLOP_SAMPLE_S, seed=2))[None]
    diarizer_model = load_diarizer(resolve_model(diarizer), "cpu")
    window = window_seconds(diarizer_model)
    diarizer_samples = samples[:, : round(window * SAMPLE_RATE)]
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        diarizer_model.forward(audio_signal=diarizer_samples,
                               audio_signal_length=torch.tensor([diarizer_samples.shape[1]]))
    diarizer_gflops = counter.get_total_flops() / 1e9 / (window - OVERLAP_S)
    del diarizer_model
    asr_source = resolve_model(asr)
    asr_model = load_nemo_model(asr_source, "cpu")
    _, window_s, overlap_s = windows.limits_for(
        asr_model, within_training=hears_its_training_length(asr_source)).resolved()
    asr_samples = samples[:, : round(window_s * SAMPLE_RATE)]
    with torch.inference_mode():
        features, feature_length = asr_model.preprocessor(input_signal=asr_samples,
                                                          length=torch.tensor([asr_samples.shape[1]]))
        with FlopCounterMode(display=False) as counter:
            asr_model.encoder(audio_signal=features, length=feature_length)
    asr_gflops = counter.get_total_flops() / 1e9 / (window_s - overlap_s)
    return {"asr_gflops": asr_gflops, "diarizer_gflops": diarizer_gflops}


def child(minutes: float, asr: str, diarizer: str, device: str = "cpu") -> dict:
    """In a fresh process: recognition with word timings (which speakers need), then the same with speakers.

    The diarization time is the difference of the two runs, and also the time inside the diarizer's calls alone; the
    peak memory of each run is its own (VmHWM reset before it). On CUDA a 30 s file with speakers goes through
    first (kernel selection and caches are not counted), and each run's peak GPU memory is recorded too.
    """
    use_passive_openmp()
    from transcriber import engine as engine_module
    from transcriber.engine import Engine
    from transcriber.types import TranscribeOptions

    in_calls = [0.0]
    diarize_window = engine_module.diarize_window

    def timed(*args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        try:
            return diarize_window(*args, **kwargs)
        finally:
            in_calls[0] += time.perf_counter() - started

    engine_module.diarize_window = timed
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.wav"
        sf.write(path, speechlike(minutes * 60, seed=1), SAMPLE_RATE, subtype="PCM_16")
        engine = Engine(device=device)
        engine.load(asr)
        engine.load_diarizer(diarizer)
        plain_options = TranscribeOptions(batch_size=4, timestamps=True)
        if device == "cuda":
            warm = Path(folder) / "warm.wav"
            sf.write(warm, speechlike(30.0, seed=2), SAMPLE_RATE, subtype="PCM_16")
            engine.transcribe_files([str(warm)], model=asr,
                                    options=replace(plain_options, speakers=True, diarizer=diarizer))
        reset_peak_rss()
        reset_gpu_peak(device)
        started = time.perf_counter()
        (plain,) = engine.transcribe_files([str(path)], model=asr, options=plain_options)
        asr_s = time.perf_counter() - started
        plain_peak = peak_rss_mb()
        plain_gpu_peak = gpu_peak_mb(device)
        reset_peak_rss()
        reset_gpu_peak(device)
        samples: list[float] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(RSS_SAMPLE_S):
                samples.append(rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        (spoken,) = engine.transcribe_files(
            [str(path)], model=asr, options=replace(plain_options, speakers=True, diarizer=diarizer)
        )
        both_s = time.perf_counter() - started
        gpu_peak = gpu_peak_mb(device)
        done.set()
        sampler.join()
    if not (plain.ok and spoken.ok):
        raise RuntimeError(plain.error or spoken.error)
    return {"minutes": minutes, "asr_s": asr_s, "diarization_s": both_s - asr_s, "in_calls_s": in_calls[0],
            "plain_peak_mb": plain_peak, "peak_rss_mb": peak_rss_mb(),
            "plain_gpu_peak_mb": plain_gpu_peak, "gpu_peak_mb": gpu_peak,
            "first_quarter_mb": max(samples[: max(1, len(samples) // 4)]),
            "last_quarter_mb": max(samples[-max(1, len(samples) // 4) :])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[5.0, 20.0, 60.0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: both models on the GPU (the recognizer in bf16, as the engine runs it there)")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--asr", help=argparse.SUPPRESS)
    parser.add_argument("--diarizer", help=argparse.SUPPRESS)
    parser.add_argument("--flops", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.asr, args.diarizer, args.device)))
        return
    if args.flops:
        print(json.dumps(gflops_per_audio_second(args.asr, args.diarizer)))
        return
    from parakeet_like import parakeet_like_path

    asr, diarizer = str(parakeet_like_path()), str(sortformer_like_path())
    if args.device == "cuda":
        print("on the GPU (the operations per second of audio are the CPU run's)", flush=True)
    else:
        report_operations(asr, diarizer)
    rows = []
    for minutes in args.minutes:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(minutes), "--asr", asr, "--diarizer", diarizer,
             "--device", args.device],
            capture_output=True, text=True, check=False, cwd=ROOT,
        )
        if done.returncode != 0:
            sys.exit(f"the {minutes:g}-minute run failed:\n{done.stderr[-4000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        row = rows[-1]
        gpu = (f"; peak GPU memory {row['plain_gpu_peak_mb']:.0f} MB without speakers, {row['gpu_peak_mb']:.0f} MB with"
               if args.device == "cuda" else "")
        print(f"{minutes:5.0f} min: recognition {row['asr_s']:7.1f} s, diarization {row['diarization_s']:7.1f} s "
              f"(in the diarizer's calls {row['in_calls_s']:.1f} s), ratio {row['diarization_s'] / row['asr_s']:.2f} "
              f"(calls alone {row['in_calls_s'] / row['asr_s']:.2f}; goal <= {RATIO_GOAL}), peak RSS "
              f"{row['plain_peak_mb']:.0f} MB without speakers, {row['peak_rss_mb']:.0f} MB with (highest in its first "
              f"quarter {row['first_quarter_mb']:.0f} MB, last quarter {row['last_quarter_mb']:.0f} MB){gpu}",
              flush=True)
    if len(rows) > 1:
        print(f"peak memory {rows[-1]['minutes']:.0f} min / {rows[0]['minutes']:.0f} min: "
              f"{rows[-1]['peak_rss_mb'] / rows[0]['peak_rss_mb']:.2f} (goal <= {MEMORY_GOAL})")


def report_operations(asr: str, diarizer: str) -> None:
    """Print the floating-point operations per second of audio of both models (counted in a fresh process)."""
    counted = subprocess.run([sys.executable, __file__, "--flops", "--asr", asr, "--diarizer", diarizer],
                             capture_output=True, text=True, check=True, cwd=ROOT)
    work = json.loads(counted.stdout.strip().splitlines()[-1])
    print(f"operations per second of audio, in the engine's windows: recognizer (encoder) {work['asr_gflops']:.1f} "
          f"GFLOP, diarizer {work['diarizer_gflops']:.1f} GFLOP: "
          f"ratio {work['diarizer_gflops'] / work['asr_gflops']:.2f} "
          f"(the time ratio at equal speed per operation)", flush=True)


if __name__ == "__main__":
    main()
