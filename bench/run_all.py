"""Every benchmark figure the issue asks for, in one table.

    python bench/run_all.py [--quick] [--only engine audio batch ui long parakeet] [--long-minutes 5 20 60]

Parts (each also runs on its own with ``--only``):

engine    Engine.transcribe_files on 8 WAV files of 10 s vs a bare model.transcribe of the decoded arrays (tiny RNNT;
          time ratio, goal <= 1.05; see bench_engine.py).
audio     load_audio vs librosa.load on 60 s of 44.1 kHz stereo WAV, FLAC and MP3 (how many times faster; see
          bench_audio.py).
batch     one Engine call on 8 files with batch size 8 vs 8 single-file calls (time ratio; tiny RNNT).
ui        a cold start in a fresh process: import, build_demo, serve(block=False) until an HTTP GET of the page
          returns 200; then the first and the second gradio_client /transcribe request of a 10 s clip (tiny RNNT:
          the first request loads NeMo and the model).
long      the long-audio memory and speed curve of bench_long_audio.py (tiny RNNT; each length in a fresh process).
parakeet  the parakeet-size random-weight model (parakeet_like.py) on one 60 s clip: bare model.transcribe and the
          engine taking turns in one fresh process (medians).

``--quick`` skips long and parakeet (minutes each on two cores) and repeats less. Other work on the machine changes
every figure: the table gives the 1-minute load average when each figure was taken.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import soundfile as sf

from _common import (
    ROOT,
    SAMPLE_RATE,
    cached_tiny_model,
    interleaved_medians,
    speechlike,
    use_passive_openmp,
    write_clips,
)

PARTS = ("engine", "audio", "batch", "ui", "long", "parakeet")
SLOW_PARTS = ("long", "parakeet")
BATCH_FILES = 8
BATCH_SECONDS = 10.0
UI_CLIP_S = 10.0
FIRST_REQUEST_AFTER_S = 15.0
"""The first request comes this long after the page is served, as when a user drops a file."""
PAGE_POLL_S = 0.05
PAGE_TIMEOUT_S = 120.0
RESULT_PREFIX = "RESULT "
SERVED_LINE = "SERVED"


@dataclass(frozen=True)
class Figure:
    """One row of the table."""

    name: str
    value: str
    goal: str = ""
    load: float = 0.0


def _load() -> float:
    return os.getloadavg()[0]


def part_engine(repeats: int) -> list[Figure]:
    import bench_engine

    result = bench_engine.measure(model=cached_tiny_model(), repeats=repeats)
    detail = f"{result.ratio:.3f} ({result.ours_s:.2f} s / {result.bare_s:.2f} s)"
    return [Figure("engine overhead vs bare transcribe", detail, f"<= {bench_engine.RATIO_GOAL}", _load())]


def part_audio(repeats: int) -> list[Figure]:
    import bench_audio

    return [
        Figure(f"decode vs librosa, {t.format}", f"{t.speedup:.2f}x faster ({t.ours_s:.3f} s / {t.librosa_s:.3f} s)",
               "> 1x", _load())
        for t in bench_audio.measure(repeats=repeats)
    ]


def part_batch(repeats: int) -> list[Figure]:
    from transcriber.engine import Engine
    from transcriber.types import TranscribeOptions

    model = cached_tiny_model()
    engine = Engine(device="cpu")
    engine.load(model)
    batched = TranscribeOptions(batch_size=BATCH_FILES)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_clips(Path(tmp), BATCH_FILES, BATCH_SECONDS)

        def together() -> None:
            assert all(result.ok for result in engine.transcribe_files(paths, model=model, options=batched))

        def one_by_one() -> None:
            for path in paths:
                assert all(result.ok for result in engine.transcribe_files([path], model=model, options=batched))

        batch_s, singles_s = interleaved_medians([together, one_by_one], repeats)
    detail = f"{batch_s / singles_s:.3f} ({batch_s:.2f} s / {singles_s:.2f} s)"
    return [Figure(f"batch of {BATCH_FILES} vs {BATCH_FILES} single calls (time)", detail, "< 1", _load())]


def ui_child(model: str, clip: str) -> None:
    """In a fresh process: serve the page (which loads its model in the background, as ``transcribe_ui.py`` does),
    GET it until 200, wait :data:`FIRST_REQUEST_AFTER_S` as a user would, then two /transcribe requests; print the
    times."""
    import urllib.error
    import urllib.request

    from transcribe_ui import build_demo, serve
    from transcriber.engine import Engine

    demo = build_demo(engine=Engine(device="cpu"), default_model=model, preload=True)
    url = serve(demo, block=False, quiet=True)
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(url, timeout=PAGE_TIMEOUT_S) as response:
                if response.status == 200:
                    break
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
        time.sleep(PAGE_POLL_S)  # the server thread is still starting
    print(SERVED_LINE, flush=True)
    time.sleep(FIRST_REQUEST_AFTER_S)  # a user picking a file

    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    times = []
    for _ in range(2):
        started = time.perf_counter()
        text, *_ = client.predict(handle_file(clip), model=model, timestamps=True, api_name="/transcribe")
        times.append(time.perf_counter() - started)
        assert text
    demo.close()
    print(RESULT_PREFIX + json.dumps({"first_s": times[0], "second_s": times[1]}), flush=True)


def part_ui(_repeats: int) -> list[Figure]:
    model = cached_tiny_model()
    with tempfile.TemporaryDirectory() as tmp:
        clip = str(Path(tmp) / "clip.wav")
        sf.write(clip, speechlike(UI_CLIP_S, seed=3), SAMPLE_RATE)
        command = [sys.executable, str(Path(__file__).resolve()), "--ui-child", model, clip]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        assert process.stdout is not None
        served_s, load_at_launch, result = None, 0.0, None
        for line in process.stdout:
            if line.strip() == SERVED_LINE:
                served_s = time.perf_counter() - started
                load_at_launch = _load()
            elif line.startswith(RESULT_PREFIX):
                result = json.loads(line[len(RESULT_PREFIX) :])
        if process.wait() != 0 or served_s is None or result is None:
            raise RuntimeError(f"the UI child failed (exit status {process.returncode})")
    first, second = result["first_s"], result["second_s"]
    return [
        Figure("UI launch to page served (cold process)", f"{served_s:.1f} s", load=load_at_launch),
        Figure(f"first (made {FIRST_REQUEST_AFTER_S:g} s after launch) vs second request, {UI_CLIP_S:g} s clip",
               f"{first:.2f} s vs {second:.2f} s ({first / second:.2f}x)", "<= 1.5x", _load()),
    ]


def part_long(_repeats: int, minutes: list[float]) -> list[Figure]:
    import bench_long_audio as long_audio

    rows = long_audio.run_lengths(cached_tiny_model(), minutes)
    figures = [
        Figure(
            f"long audio {m.seconds / 60:g} min (tiny)",
            f"RTFx {m.rtfx:.1f} ({m.ratio:.2f}x bare 60 s; CPU {m.cpu_ratio:.2f}x), peak {m.peak_mb:.0f} MB,"
            f" {m.wall_s:.0f} s",
            f">= {long_audio.RTFX_GOAL}x bare",
            m.load_after[0],
        )
        for m in rows
    ]
    by_minutes = {round(m.seconds / 60): m for m in rows}
    if 5 in by_minutes and 60 in by_minutes:
        growth = by_minutes[60].peak_mb / by_minutes[5].peak_mb
        goal = f"<= {long_audio.MEMORY_GOAL}x"
        figures.append(Figure("peak RSS 60 min / 5 min (tiny)", f"{growth:.3f}x", goal, _load()))
    return figures


def part_parakeet(repeats: int) -> list[Figure]:
    import statistics

    import bench_long_audio as long_audio
    from parakeet_like import parakeet_like_path

    # The engine and the bare call take turns in one process, so neither gains from going second (warm allocator).
    rounds = max(2, repeats // 2)
    job = {"kind": "interleaved", "model": str(parakeet_like_path()), "seconds": long_audio.REFERENCE_S,
           "rounds": rounds, "variants": [asdict(long_audio.Variant())]}
    result = long_audio.run_child_json(job)
    runs = result["runs"]
    bare_wall, bare_cpu = (statistics.median(x) for x in zip(*runs.pop("bare 60 s")))
    wall, cpu = (statistics.median(x) for x in zip(*runs.popitem()[1]))
    seconds, load = long_audio.REFERENCE_S, result["load_after"][0]
    return [
        Figure("parakeet-size, 60 s, bare transcribe", f"RTFx {seconds / bare_wall:.2f} ({bare_wall:.1f} s)", "", load),
        Figure(
            "parakeet-size, 60 s, engine",
            f"RTFx {seconds / wall:.2f} ({wall:.1f} s), process peak {result['_maxrss_mb']:.0f} MB",
            f">= 0.95x bare: {bare_wall / wall:.2f}x (CPU {bare_cpu / cpu:.2f}x)",
            load,
        ),
    ]


def print_table(figures: list[Figure]) -> None:
    width = max(len(f.name) for f in figures) + 2
    value_width = max(len(f.value) for f in figures) + 2
    print(f"\n{'figure':<{width}}{'value':<{value_width}}{'goal':<22}load (1 min)")
    for f in figures:
        print(f"{f.name:<{width}}{f.value:<{value_width}}{f.goal:<22}{f.load:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ui-child", nargs=2, metavar=("MODEL", "CLIP"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help=f"skip {' and '.join(SLOW_PARTS)}, repeat less")
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run only these parts")
    parser.add_argument("--long-minutes", type=float, nargs="+", default=[5.0, 20.0, 60.0])
    args = parser.parse_args()
    use_passive_openmp()  # before torch is imported
    if args.ui_child:
        ui_child(*args.ui_child)
        return

    parts = args.only or [part for part in PARTS if not (args.quick and part in SLOW_PARTS)]
    repeats = 3 if args.quick else 5
    runners: dict[str, Callable[[int], list[Figure]]] = {
        "engine": part_engine,
        "audio": part_audio,
        "batch": part_batch,
        "ui": part_ui,
        "long": lambda r: part_long(r, args.long_minutes),
        "parakeet": part_parakeet,
    }
    figures: list[Figure] = []
    for part in parts:
        print(f"--- {part} (load average {_load():.2f})", flush=True)
        figures += runners[part](repeats)
    print_table(figures)
    print(f"({os.cpu_count()} CPUs, torch CPU; figures are medians or best runs, see bench/README.md)")


if __name__ == "__main__":
    main()
