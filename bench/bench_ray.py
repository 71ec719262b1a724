"""The folder batch on Ray against the local batch, on the same files, through the command line.

    python bench/bench_ray.py [--files 40] [--seconds 30] [--model demo|parakeet] [--workers 2] [--no-cluster]

Makes ``--files`` clips of speech (voices of the demo pool's test split saying the demo model's words, about
``--seconds`` each; cached under ``.cache/bench``), then runs, each as its own ``python -m transcriber DIR --out OUT
--timestamps`` process with a fresh output folder:

1. ``--backend local`` (one process, PyTorch on all cores);
2. ``--backend ray --workers N`` on a local Ray instance started by the run (N workers of one CPU each);
3. unless ``--no-cluster``: a two-node cluster on this machine (``ray.cluster_utils.Cluster``, one CPU per node),
   joined with ``--ray-address``.

Prints wall time, Ray's overhead against local (goal <= 15%), the driver's peak RSS (polled every 0.1 s), and checks
that every run wrote the same outputs. Also times a bare local ``ray.init()`` to ``ray.shutdown()``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import soundfile as sf

from _common import CACHE_DIR, ROOT

sys.path.insert(0, str(ROOT))

from demo_model.make_data import SAMPLE_RATE, VOCABULARY, silence, trim  # noqa: E402
from demo_model.voices import split_voices  # noqa: E402

DEMO_MODEL = ROOT / "transcriber" / "assets" / "demo-en-commands.nemo"
POLL_S = 0.1
GOAL_OVERHEAD = 0.15
SEED = 20261202
OUTPUT_SUFFIXES = (".txt", ".srt", ".vtt", ".json", ".csv")


def corpus(files: int, seconds: float) -> Path:
    """``files`` clips of about ``seconds`` of speech with pauses, made once and cached."""
    folder = CACHE_DIR / f"ray-corpus-{files}x{seconds:g}s"
    if folder.is_dir() and len(list(folder.glob("*.wav"))) == files:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    voices = [v for v in split_voices()["test"] if v.synthesizer == "espeak-ng"]
    for index in range(files):
        voice = voices[index % len(voices)]
        parts, length = [silence(0.3)], 0.3
        while length < seconds:
            words = " ".join(str(w) for w in rng.choice(VOCABULARY, size=int(rng.integers(2, 6))))
            speech = trim(voice.speak(words, pitch=0.5))
            parts += [speech, silence(0.5)]
            length += len(speech) / SAMPLE_RATE + 0.5
        sf.write(folder / f"clip{index:03d}.wav", np.concatenate(parts), SAMPLE_RATE)
    return folder


def model_path(name: str) -> str:
    if name == "demo":
        return str(DEMO_MODEL)
    from parakeet_like import parakeet_like_path  # 2.3 GB, built (once) only when asked for

    return str(parakeet_like_path())


def run_cli(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds and the driver's peak RSS (MB) of one command-line run; its stderr."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen([sys.executable, "-m", "transcriber", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=errors)
        watched = psutil.Process(process.pid)
        peak = 0
        while process.poll() is None:
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(POLL_S)
        seconds = time.perf_counter() - started
        errors.seek(0)
        stderr = errors.read()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({process.returncode}):\n{stderr}")
    return seconds, peak / 1e6, stderr


def outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in OUTPUT_SUFFIXES and p.name != "summary.csv"}


def ray_startup_s() -> float:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    try:
        started = time.perf_counter()
        ray.init(address="local", include_dashboard=False, object_store_memory=256 * 1024**2, _temp_dir=temp,
                 logging_level="ERROR", log_to_driver=False)
        up = time.perf_counter() - started
        ray.shutdown()
        return up
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--model", choices=("demo", "parakeet"), default="demo")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-cluster", action="store_true")
    args = parser.parse_args()
    folder = corpus(args.files, args.seconds)
    model = model_path(args.model)
    audio_s = sum(sf.info(p).duration for p in folder.glob("*.wav"))
    print(f"{args.files} files, {audio_s / 60:.1f} min of speech, model {args.model}, {os.cpu_count()} CPUs")
    common = [str(folder), "--model", model, "--timestamps"]
    runs: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as scratch:
        local_out = Path(scratch) / "local"
        seconds, peak, _ = run_cli([*common, "--out", str(local_out)])
        runs["local"] = seconds, peak
        ray_out = Path(scratch) / "ray"
        seconds, peak, _ = run_cli([*common, "--out", str(ray_out), "--backend", "ray", "--workers", str(args.workers)])
        runs[f"ray, local instance, {args.workers} workers"] = seconds, peak
        same = outputs(ray_out) == outputs(local_out)
        if not args.no_cluster:
            from ray.cluster_utils import Cluster

            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
            try:
                cluster.add_node(num_cpus=1)
                cluster_out = Path(scratch) / "cluster"
                seconds, peak, _ = run_cli([*common, "--out", str(cluster_out), "--backend", "ray",
                                            "--ray-address", cluster.address, "--workers", "2"])
                runs["ray, two-node cluster (1 CPU each), 2 workers"] = seconds, peak
                same = same and outputs(cluster_out) == outputs(local_out)
            finally:
                cluster.shutdown()
    local_s = runs["local"][0]
    print(f"{'run':<48} {'wall s':>8} {'vs local':>9} {'RTFx':>7} {'driver peak MB':>15}")
    for name, (seconds, peak) in runs.items():
        print(f"{name:<48} {seconds:8.1f} {seconds / local_s - 1:+9.1%} {audio_s / seconds:7.1f} {peak:15.0f}")
    print(f"outputs identical across runs: {same}")
    print(f"bare local ray.init() start-up: {ray_startup_s():.2f} s")
    print(f"goal: Ray's overhead <= {GOAL_OVERHEAD:.0%}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
