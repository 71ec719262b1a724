"""Long recordings through the engine: wall time, RTFx and peak memory per length, each length in a fresh process.

    python bench/bench_long_audio.py [--model tiny|parakeet|PATH.nemo] [--minutes 5 20 60 [180]] [--batch-size 4]
                                     [--window 60] [--overlap 4] [--even] [--attention local:128] [--one-pass]
    python bench/bench_long_audio.py --compare [--model parakeet] [--minutes 5]     # engine variants at one length

Each length runs in a child process that loads the model, warms it up on 5 s, writes the recording to a 16 kHz WAV
file, resets its peak-memory mark and times ``Engine.transcribe_files`` on that file with timestamps (decoding
included: the engine decodes a long file while it transcribes it, as it does for users), then times a bare NeMo ``transcribe()`` of one
60 s array (full attention, batch size 1, timestamps: the reference; called from a worker thread as the engine does,
see ``_common.in_worker_thread``). The ratio is ours RTFx / bare RTFx, from wall time and (``cpu ratio``) from the
process's CPU time, which other work on the machine hardly changes: when the load shifts between the two calls, trust
the CPU ratio. Peak RSS is the child's VmHWM during our call only (model and audio included: they are resident
throughout). Separately, the bare call on 60 s and 120 s runs in fresh processes of its own, for its own RTFx and
memory.

The audio is deterministic speech-like noise (``_common.speechlike``). Goals (from the issue): RTFx >= 0.95x the bare
full-attention figure at every length up to 3 h; peak RSS at 60 min <= 1.2x the peak at 5 min; time linear in length.

Variant flags change the engine inside the child only (monkeypatched constants, never the source): ``--window`` and
``--overlap`` set ``WINDOW_S``/``OVERLAP_S``; ``--even`` spreads windows evenly so that all have one length (the
engine's last window is a short remainder, padded up to a full window when it shares a batch); ``--attention
local:N`` switches to ``rel_pos_local_attn`` with N frames each side and automatic subsampling-conv chunking;
``--one-pass`` sends the whole recording in one piece (only sensible with local attention). ``--even`` and
``--one-pass`` need the whole recording at once, so they hand the engine the decoded array instead of the file.

Children run with ``OMP_WAIT_POLICY=PASSIVE`` unless the variable is set (see ``_common.use_passive_openmp``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from _common import (
    OMP_WAIT_POLICY_ENV,
    ROOT,
    cached_tiny_model,
    format_load,
    in_worker_thread,
    load_average,
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
    speechlike,
    use_passive_openmp,
)

DEFAULT_MINUTES = (5.0, 20.0, 60.0)
REFERENCE_S = 60.0
"""Length of the bare full-attention reference call next to every measurement."""
BARE_LENGTHS_S = (60.0, 120.0)
WARMUP_S = 5.0
SEED = 11
RESULT_PREFIX = "RESULT "
RTFX_GOAL = 0.95
MEMORY_GOAL = 1.2
STDERR_TAIL_CHARS = 3000


@dataclass(frozen=True)
class Variant:
    """Engine settings a child applies before it transcribes; the defaults are the engine's own."""

    name: str = "engine as is"
    batch_size: int = 4
    window_s: float | None = None
    overlap_s: float | None = None
    even: bool = False
    attention: int | None = None
    """Local attention with this many frames each side; ``None`` keeps the model's full attention."""
    one_pass: bool = False
    refine: bool = True
    """``TranscribeOptions.refine_timestamps`` (snap word boundaries to the speech)."""
    omp_default: bool = False
    """Run the child with OpenMP's default wait policy instead of the benchmarks' PASSIVE (see ``_common``)."""


COMPARE_VARIANTS = (
    Variant(),
    Variant("batch 1", batch_size=1),
    Variant("batch 2", batch_size=2),
    Variant("even windows", even=True),
    Variant("overlap 2 s", overlap_s=2.0),
    Variant("even, overlap 2 s", even=True, overlap_s=2.0),
    Variant("window 120 s", window_s=120.0),
    Variant("window 30 s", window_s=30.0),
    Variant("window 45 s", window_s=45.0),
    Variant("even, window 30 s, overlap 2 s", even=True, window_s=30.0, overlap_s=2.0),
    Variant("window 30 s, overlap 2 s", window_s=30.0, overlap_s=2.0),
    Variant("window 30 s, overlap 2 s, batch 1", batch_size=1, window_s=30.0, overlap_s=2.0),
    Variant("local attn 128", attention=128),
    Variant("local attn 128, window 300 s", attention=128, window_s=300.0),
    Variant("local attn 128, one pass", attention=128, one_pass=True),
    Variant("no word-boundary refinement", refine=False),
    Variant("OpenMP default wait policy", omp_default=True),
)


@dataclass
class Measurement:
    """What one child process reports."""

    kind: str
    seconds: float
    variant: dict[str, Any] = field(default_factory=dict)
    load_s: float = 0.0
    wall_s: float = 0.0
    rss_before_mb: float = 0.0
    peak_mb: float = 0.0
    process_peak_mb: float = 0.0
    cpu_s: float = 0.0
    """CPU seconds of the whole process (all threads) during our call: unlike wall time, hardly changed by other
    work on the machine, so ``cpu_ratio`` compares the work done even when the load shifts between the two calls."""
    bare_wall_s: float = 0.0
    bare_cpu_s: float = 0.0
    bare_no_timestamps_wall_s: float = 0.0
    windows: list[float] = field(default_factory=list)
    words: int = 0
    load_before: list[float] = field(default_factory=list)
    load_after: list[float] = field(default_factory=list)
    """1, 5 and 15 minute load averages when the child started and ended."""

    @property
    def rtfx(self) -> float:
        return self.seconds / self.wall_s

    @property
    def bare_rtfx(self) -> float:
        return REFERENCE_S / self.bare_wall_s if self.bare_wall_s else float("nan")

    @property
    def ratio(self) -> float:
        return self.rtfx / self.bare_rtfx

    @property
    def cpu_ratio(self) -> float:
        """Like ``ratio``, from CPU seconds: (audio s per CPU s, ours) / (audio s per CPU s, bare 60 s)."""
        if not (self.cpu_s and self.bare_cpu_s):
            return float("nan")
        return (self.seconds / self.cpu_s) / (REFERENCE_S / self.bare_cpu_s)

    def padded_s(self, batch_size: int) -> float:
        """Audio seconds the encoder computes on: each batch is padded to its longest window."""
        return sum(
            max(self.windows[i : i + batch_size]) * len(self.windows[i : i + batch_size])
            for i in range(0, len(self.windows), batch_size)
        )


# --- In the child -----------------------------------------------------------------------------------------------------


def _even_windows(audio: Any) -> list[tuple[float, Any]]:
    """Like the engine's ``split_windows``, but all windows of one length (at most ``WINDOW_S``), evenly spread."""
    from transcriber import windows as engine
    from transcriber.types import AudioData

    if audio.duration <= engine.LONG_AUDIO_S:
        return [(0.0, audio)]
    rate, total = audio.sample_rate, len(audio.samples)
    window, overlap = round(engine.WINDOW_S * rate), round(engine.OVERLAP_S * rate)
    count = math.ceil((total - overlap) / (window - overlap))
    hop = math.ceil((total - overlap) / count)
    return [
        (start / rate, AudioData(audio.samples[start : start + hop + overlap], rate, audio.source))
        for start in range(0, count * hop, hop)
    ]


def _apply_variant(variant: Variant) -> None:
    from transcriber import windows as engine

    if variant.window_s is not None:
        engine.WINDOW_S = variant.window_s
    if variant.overlap_s is not None:
        engine.OVERLAP_S = variant.overlap_s
    if variant.even:
        engine.split_windows = _even_windows
    if variant.one_pass:
        engine.LONG_AUDIO_S = math.inf


def _set_attention(model: Any, context: int | None) -> None:
    if context is None:
        model.change_attention_model("rel_pos", [-1, -1])
    else:
        model.change_attention_model("rel_pos_local_attn", [context, context])
        model.change_subsampling_conv_chunking_factor(1)  # 1 = automatic: chunk the convolutions of long inputs


def _bare(model: Any, audio: Any, *, timestamps: bool = True) -> tuple[float, float]:
    """Wall and CPU seconds of the bare call."""
    cpu = time.process_time()
    wall = in_worker_thread(
        lambda: model.transcribe(
            [audio], batch_size=1, num_workers=0, return_hypotheses=True, timestamps=timestamps, verbose=False
        )
    )
    return wall, time.process_time() - cpu


def _load(model_path: str) -> tuple[Any, Any, float]:
    from transcriber.engine import Engine

    engine = Engine(device="cpu")
    started = time.perf_counter()
    nemo_model = engine.load(model_path).model
    return engine, nemo_model, time.perf_counter() - started


def _recording(seconds: float, variant: Variant, folder: Path) -> tuple[Any, list[float]]:
    """The input for the engine: a 16 kHz WAV file of speech-like noise, read from disk as users' files are (decoded
    while it is transcribed), or the decoded array itself for variants that need the whole recording at once (even
    windows, one pass). Also the window lengths the engine will use."""
    import soundfile as sf

    from transcriber import windows as engine
    from transcriber.types import AudioData

    audio = AudioData(speechlike(seconds, SEED + 2), 16_000, f"speechlike-{seconds:g}s.wav")
    windows = [window.duration for _, window in engine.split_windows(audio)]
    if variant.even or variant.one_pass:
        return audio, windows
    path = folder / audio.source
    sf.write(path, audio.samples, audio.sample_rate, subtype="PCM_16")
    return str(path), windows


def child_engine(
    model_path: str, seconds: float, variant: Variant, bare_no_timestamps: bool, scratch: str
) -> Measurement:
    """The engine on ``seconds`` of audio, then the bare 60 s reference (see the module docstring).

    Ours runs first: memory a bare call leaves in its thread's malloc arena would count towards our peak otherwise.
    """
    import gc

    from transcriber.types import TranscribeOptions

    result = Measurement("engine", seconds, asdict(variant), load_before=list(os.getloadavg()))
    engine, nemo_model, result.load_s = _load(model_path)
    _apply_variant(variant)
    if variant.attention is not None:
        _set_attention(nemo_model, variant.attention)
    _bare(nemo_model, speechlike(WARMUP_S, SEED))
    audio, result.windows = _recording(seconds, variant, Path(scratch))
    gc.collect()
    reset_peak_rss()
    result.rss_before_mb = rss_mb()
    options = TranscribeOptions(timestamps=True, batch_size=variant.batch_size, refine_timestamps=variant.refine)
    started, cpu = time.perf_counter(), time.process_time()
    (file_result,) = engine.transcribe_files([audio], model=model_path, options=options)
    result.wall_s, result.cpu_s = time.perf_counter() - started, time.process_time() - cpu
    result.peak_mb = peak_rss_mb()
    if not file_result.ok:
        raise RuntimeError(file_result.error)
    result.words = len(file_result.transcript.words)
    del audio, file_result
    if variant.attention is not None:
        _set_attention(nemo_model, None)  # the reference is full attention
    reference = speechlike(REFERENCE_S, SEED + 1)
    result.bare_wall_s, result.bare_cpu_s = _bare(nemo_model, reference)
    if bare_no_timestamps:
        result.bare_no_timestamps_wall_s, _ = _bare(nemo_model, reference, timestamps=False)
    result.load_after = list(os.getloadavg())
    return result


@contextlib.contextmanager
def _patched(variant: Variant, model: Any) -> Iterator[None]:
    """The engine (and the model's attention) as ``variant`` has it, put back afterwards."""
    from transcriber import windows as engine

    saved = {name: getattr(engine, name) for name in ("WINDOW_S", "OVERLAP_S", "LONG_AUDIO_S", "split_windows")}
    _apply_variant(variant)
    if variant.attention is not None:
        _set_attention(model, variant.attention)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(engine, name, value)
        if variant.attention is not None:
            _set_attention(model, None)


def child_interleaved(
    model_path: str, seconds: float, variants: list[Variant], rounds: int, scratch: str
) -> dict[str, Any]:
    """Every variant on ``seconds`` of audio and the bare 60 s reference, taking turns for ``rounds`` rounds in one
    process: slow drifts of the machine's speed hit all of them alike. Wall and CPU seconds of every run."""
    from transcriber.types import TranscribeOptions

    engine, nemo_model, _ = _load(model_path)
    _bare(nemo_model, speechlike(WARMUP_S, SEED))
    inputs = {v.name: _recording(seconds, v, Path(scratch))[0] for v in variants}
    # The reference is the recording's own first minute: how many tokens a stretch of noise yields changes the
    # decoding time (60 s of seed SEED + 1 gave the parakeet-size model 120 tokens and 7.3 s, of seed SEED + 2 286
    # tokens and 8.1 s), so different audio on the two sides would measure the audio, not the engine.
    reference = speechlike(seconds, SEED + 2)[: round(REFERENCE_S * 16_000)].copy()
    runs: dict[str, list[tuple[float, float]]] = {v.name: [] for v in variants} | {"bare 60 s": []}
    for _ in range(rounds):
        for variant in variants:
            options = TranscribeOptions(
                timestamps=True, batch_size=variant.batch_size, refine_timestamps=variant.refine
            )
            with _patched(variant, nemo_model):
                started, cpu = time.perf_counter(), time.process_time()
                (file_result,) = engine.transcribe_files([inputs[variant.name]], model=model_path, options=options)
                runs[variant.name].append((time.perf_counter() - started, time.process_time() - cpu))
            if not file_result.ok:
                raise RuntimeError(file_result.error)
        runs["bare 60 s"].append(_bare(nemo_model, reference))
    return {"runs": runs, "load_after": list(os.getloadavg())}


def run_interleaved(model_path: str, seconds: float, variants: tuple[Variant, ...], rounds: int) -> None:
    """Print medians of :func:`child_interleaved`, run in a fresh process."""
    if any(v.omp_default for v in variants):
        raise ValueError("the OpenMP wait policy is fixed per process: compare it without --interleaved")
    job = {"kind": "interleaved", "model": model_path, "seconds": seconds, "rounds": rounds,
           "variants": [asdict(v) for v in variants]}
    print(f"variants at {seconds / 60:g} min, interleaved, median of {rounds} rounds; {load_average()}", flush=True)
    result = run_child_json(job)
    bare_wall, bare_cpu = (statistics.median(x) for x in zip(*result["runs"].pop("bare 60 s")))
    print(f"{'variant':<32}{'wall s':>8}{'RTFx':>7}{'ratio':>7}{'cpu ratio':>10}  wall s of each round")
    print(f"{'bare 60 s (reference)':<32}{bare_wall:>8.1f}{REFERENCE_S / bare_wall:>7.2f}")
    for name, runs in result["runs"].items():
        wall, cpu = (statistics.median(x) for x in zip(*runs))
        ratio = (seconds / wall) / (REFERENCE_S / bare_wall)
        cpu_ratio = (seconds / cpu) / (REFERENCE_S / bare_cpu)
        each = " ".join(f"{w:.1f}" for w, _ in runs)
        print(f"{name:<32}{wall:>8.1f}{seconds / wall:>7.2f}{ratio:>7.3f}{cpu_ratio:>10.3f}  {each}")
    print(f"(load average at the end {format_load(result['load_after'])})")


def child_bare(model_path: str, seconds: float) -> Measurement:
    """The bare NeMo call on ``seconds`` of audio in one piece, full attention."""
    import gc

    result = Measurement("bare", seconds, load_before=list(os.getloadavg()))
    _, nemo_model, result.load_s = _load(model_path)
    _bare(nemo_model, speechlike(WARMUP_S, SEED))
    audio = speechlike(seconds, SEED + 2)
    gc.collect()
    reset_peak_rss()
    result.rss_before_mb = rss_mb()
    result.wall_s, result.cpu_s = _bare(nemo_model, audio)
    result.peak_mb = peak_rss_mb()
    result.windows = [seconds]
    result.load_after = list(os.getloadavg())
    return result


# --- In the parent ----------------------------------------------------------------------------------------------------


def resolve_model(name: str) -> str:
    """``tiny`` (random tiny RNNT), ``parakeet`` (the parakeet-like model) or a ``.nemo`` path."""
    if name == "tiny":
        return cached_tiny_model("rnnt")
    if name == "parakeet":
        from parakeet_like import parakeet_like_path

        return str(parakeet_like_path())
    return name


def run_child_json(job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job`` in a fresh Python process; its result, with the process's peak RSS (``wait4``) as ``_maxrss_mb``."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(job)]
    env = dict(os.environ)
    if job.get("variant", {}).get("omp_default"):
        env.pop(OMP_WAIT_POLICY_ENV, None)
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT, env=env)
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(f"child {job} failed ({process.returncode}):\n{stderr.read()[-STDERR_TAIL_CHARS:]}")
    line = next(line for line in output.splitlines()[::-1] if line.startswith(RESULT_PREFIX))
    return json.loads(line[len(RESULT_PREFIX) :]) | {"_maxrss_mb": usage.ru_maxrss / 1024}  # kB on Linux


def run_child(job: dict[str, Any]) -> Measurement:
    """Run one measurement in a fresh Python process."""
    data = run_child_json(job)
    known = {f.name for f in fields(Measurement)}
    measurement = Measurement(**{key: value for key, value in data.items() if key in known})
    measurement.process_peak_mb = data["_maxrss_mb"]
    return measurement


def measure_engine(
    model_path: str, seconds: float, variant: Variant = Variant(), *, bare_no_timestamps: bool = False
) -> Measurement:
    """The engine on ``seconds`` of audio, with the bare 60 s reference, in a fresh process."""
    job = {"kind": "engine", "model": model_path, "seconds": seconds, "variant": asdict(variant)}
    return run_child({**job, "bare_no_timestamps": bare_no_timestamps})


def measure_bare(model_path: str, seconds: float) -> Measurement:
    """The bare full-attention call on ``seconds`` of audio, in a fresh process."""
    return run_child({"kind": "bare", "model": model_path, "seconds": seconds})


HEADER = (
    f"{'length':>8}{'ours s':>9}{'RTFx':>8}{'peak MB':>9}{'before MB':>10}{'bare60 RTFx':>12}{'ratio':>7}"
    f"{'cpu ratio':>10}{'s/min':>7}{'windows':>8}{'padded':>8}  load (1/5/15 min, end)"
)


def format_row(m: Measurement, label: str | None = None) -> str:
    """One table row; ``padded`` is encoder input seconds (overlap and batch padding included) per audio second."""
    batch = m.variant.get("batch_size", 1)
    label = label or f"{m.seconds / 60:g} min"
    return (
        f"{label:>8}{m.wall_s:>9.1f}{m.rtfx:>8.2f}{m.peak_mb:>9.0f}{m.rss_before_mb:>10.0f}{m.bare_rtfx:>12.2f}"
        f"{m.ratio:>7.3f}{m.cpu_ratio:>10.3f}{m.wall_s / (m.seconds / 60):>7.2f}{len(m.windows):>8}"
        f"{m.padded_s(batch) / m.seconds:>8.3f}"
        f"  {format_load(m.load_after)}"
    )


def print_goals(rows: list[Measurement]) -> None:
    """Say whether each goal of the issue is met by ``rows`` (one per length, same variant)."""
    for name, ratio in (("wall", lambda m: m.ratio), ("CPU", lambda m: m.cpu_ratio)):
        worst = min(rows, key=ratio)
        verdict = "met" if ratio(worst) >= RTFX_GOAL else "NOT met"
        lowest = f"lowest {ratio(worst):.3f} at {worst.seconds / 60:g} min"
        print(f"RTFx >= {RTFX_GOAL}x bare 60 s, by {name} time: {verdict} ({lowest})")
    by_minutes = {round(m.seconds / 60): m for m in rows}
    if 5 in by_minutes and 60 in by_minutes:
        growth = by_minutes[60].peak_mb / by_minutes[5].peak_mb
        verdict = "met" if growth <= MEMORY_GOAL else "NOT met"
        print(f"peak RSS 60 min <= {MEMORY_GOAL}x 5 min: {verdict} ({growth:.3f}x)")
    if len(rows) >= 2:
        per_minute = [m.wall_s / (m.seconds / 60) for m in rows]
        spread = max(per_minute) / min(per_minute)
        print(
            f"linear time: seconds per audio minute {min(per_minute):.2f}..{max(per_minute):.2f} "
            f"({spread:.2f}x spread)"
        )


def run_lengths(model_path: str, minutes: list[float], variant: Variant = Variant()) -> list[Measurement]:
    """Measure each length in its own process, printing rows as they come."""
    print(f"{variant.name}, batch size {variant.batch_size}; {load_average()}")
    print(HEADER, flush=True)
    rows = []
    for length in minutes:
        rows.append(measure_engine(model_path, length * 60, variant))
        print(format_row(rows[-1]), flush=True)
    return rows


def run_bare(model_path: str, lengths_s: tuple[float, ...] = BARE_LENGTHS_S) -> list[Measurement]:
    """The bare reference in fresh processes, printing rows as they come."""
    print(
        f"{'bare':>8}{'wall s':>9}{'RTFx':>8}{'cpu s':>8}{'peak MB':>9}{'before MB':>10}  load (1/5/15 min, end)",
        flush=True,
    )
    rows = []
    for seconds in lengths_s:
        m = measure_bare(model_path, seconds)
        rows.append(m)
        print(
            f"{seconds:>7g}s{m.wall_s:>9.1f}{m.rtfx:>8.2f}{m.cpu_s:>8.1f}{m.peak_mb:>9.0f}{m.rss_before_mb:>10.0f}"
            f"  {format_load(m.load_after)}",
            flush=True,
        )
    return rows


def run_compare(model_path: str, seconds: float, variants: tuple[Variant, ...] = COMPARE_VARIANTS) -> None:
    """Each variant at one length, each in a fresh process next to its own bare reference."""
    print(f"variants at {seconds / 60:g} min; {load_average()}")
    print(f"{'variant':<30}{HEADER}", flush=True)
    for index, variant in enumerate(variants):
        m = measure_engine(model_path, seconds, variant, bare_no_timestamps=index == 0)
        print(f"{variant.name:<30}{format_row(m)}", flush=True)
        if m.bare_no_timestamps_wall_s:
            print(f"{'':<30}(bare 60 s without timestamps: RTFx {REFERENCE_S / m.bare_no_timestamps_wall_s:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="tiny", help="tiny, parakeet, or a .nemo path (default: %(default)s)")
    parser.add_argument(
        "--minutes", type=float, nargs="+",
        help=f"lengths (default: {' '.join(f'{m:g}' for m in DEFAULT_MINUTES)}; add 180 for 3 h)",
    )
    parser.add_argument("--batch-size", type=int, default=4, help="windows per forward pass (default: %(default)s)")
    parser.add_argument("--window", type=float, help="WINDOW_S for this run")
    parser.add_argument("--overlap", type=float, help="OVERLAP_S for this run")
    parser.add_argument("--even", action="store_true", help="windows of equal length, evenly spread")
    parser.add_argument("--attention", help="local:N for rel_pos_local_attn with N frames each side")
    parser.add_argument("--one-pass", action="store_true", help="no windows: the whole recording in one piece")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare 60 s / 120 s fresh-process runs")
    parser.add_argument("--compare", action="store_true", help="engine variants at one length (first of --minutes)")
    parser.add_argument(
        "--interleaved", type=int, metavar="ROUNDS",
        help="with --compare: all variants in one process, taking turns for ROUNDS rounds (medians; no memory figures)",
    )
    parser.add_argument(
        "--variants", nargs="+", choices=[v.name for v in COMPARE_VARIANTS], metavar="NAME",
        help="with --compare: only these variants (quoted names, as printed)",
    )
    args = parser.parse_args()
    if not args.child:
        use_passive_openmp()  # children inherit it (unless their variant asks for the default)

    if args.child:
        job = json.loads(args.child)
        with tempfile.TemporaryDirectory(prefix="bench-long-audio-") as scratch:
            if job["kind"] == "interleaved":
                variants = [Variant(**v) for v in job["variants"]]
                data = child_interleaved(job["model"], job["seconds"], variants, job["rounds"], scratch)
            elif job["kind"] == "engine":
                variant = Variant(**job["variant"])
                data = asdict(
                    child_engine(job["model"], job["seconds"], variant, job["bare_no_timestamps"], scratch)
                )
            else:
                data = asdict(child_bare(job["model"], job["seconds"]))
        print(RESULT_PREFIX + json.dumps(data), flush=True)
        return

    model_path = resolve_model(args.model)
    policy = f"{OMP_WAIT_POLICY_ENV}={os.environ[OMP_WAIT_POLICY_ENV]}"
    print(f"model {args.model} ({model_path}); {os.cpu_count()} CPUs; {policy}")
    if args.compare:
        chosen = tuple(v for v in COMPARE_VARIANTS if not args.variants or v.name in args.variants)
        seconds = (args.minutes or [5.0])[0] * 60
        if args.interleaved:
            run_interleaved(model_path, seconds, chosen, args.interleaved)
        else:
            run_compare(model_path, seconds, chosen)
        return
    attention = int(args.attention.split(":")[1]) if args.attention else None
    variant = Variant(
        name="variant" if any((args.window, args.overlap, args.even, attention, args.one_pass)) else Variant.name,
        batch_size=args.batch_size, window_s=args.window, overlap_s=args.overlap, even=args.even,
        attention=attention, one_pass=args.one_pass,
    )
    rows = run_lengths(model_path, list(args.minutes or DEFAULT_MINUTES), variant)
    print_goals(rows)
    if not args.no_bare:
        run_bare(model_path)


if __name__ == "__main__":
    main()
