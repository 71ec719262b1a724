"""The folder batch on Ray (``--backend ray``): a local Ray instance and a two-node cluster started here, the committed
demo model on speech made at test time, the same outputs as the local batch, a worker killed mid-run, resume."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from transcriber.batch import STATUS_DONE, STATUS_FAILED, STATUS_SKIPPED, collect_inputs, run_batch
from transcriber.batch_state import DONE_DIR, plan, read_marker
from transcriber.engine import Engine
from transcriber.library import Library
from transcriber.models import DEMO_MODEL_PATH
from transcriber.types import TranscribeOptions

ray = pytest.importorskip("ray", reason="the Ray backend's tests need requirements-ray.txt")
psutil = pytest.importorskip("psutil")

from demo_model.make_data import SAMPLE_RATE, silence, trim  # noqa: E402
from demo_model.voices import by_id, installed_synthesizers, split_voices  # noqa: E402
from transcriber.ray_batch import RAY_DATA_THREADS, RayBatchError, RaySettings, run_batch_ray  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.xdist_group("ray"),  # one Ray at a time on this machine: dev.py test runs them in one process
    pytest.mark.skipif("espeak-ng" not in installed_synthesizers(), reason="espeak-ng is not installed"),
]

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = str(DEMO_MODEL_PATH)  # by its path, as a user names a model file
PHRASES = ("seven three go", "hello please stop", "open left five", "zero one two", "stop go left", "nine eight",
           "right four six", "yes no start")
OUTPUT_SUFFIXES = (".txt", ".srt", ".vtt", ".json", ".csv")
TIMESTAMPS = TranscribeOptions(timestamps=True, batch_size=2)
RUN_TIMEOUT_S = 300
"""A safety net only: on an idle machine a run here takes 15-30 s."""
WORKER_TITLE = "TranscribeWorker"
"""In the process title Ray gives each actor of the pool."""


def speech_clip(path: Path, text: str, *, repeat: int = 1) -> Path:
    voice = by_id("espeak-ng:en-us+m2")
    assert voice in split_voices()["test"]
    parts = [silence(0.4)]
    for _ in range(repeat):
        parts += [trim(voice.speak(text, pitch=0.5)), silence(0.6)]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.concatenate(parts), SAMPLE_RATE)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Eight spoken clips in two sub-folders, and one broken file."""
    root = tmp_path_factory.mktemp("archive")
    for index, text in enumerate(PHRASES):
        speech_clip(root / f"day{index % 2}" / f"take{index}.wav", text)
    (root / "day1" / "broken.wav").write_bytes(b"RIFF" + bytes(40))
    return root


@pytest.fixture(scope="module")
def local_out(folder, tmp_path_factory) -> Path:
    """What ``--backend local`` writes for :func:`folder`."""
    out = tmp_path_factory.mktemp("local-out")
    run_batch(Engine(device="cpu"), collect_inputs([folder]), out, model=DEMO_MODEL, options=TIMESTAMPS)
    return out


@pytest.fixture
def ray_dir():
    """A short folder for Ray's session (its socket paths must stay under 108 bytes, pytest's are long)."""
    import tempfile
    import shutil

    path = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def read_summary(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8-sig"))))


def outputs(out: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(out.iterdir())
            if p.suffix in OUTPUT_SUFFIXES and p.name != "summary.csv"}


def leftovers(out: Path) -> list[str]:
    return [p.name for p in out.rglob("*") if p.name.endswith(".part")]


def ray_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "transcriber", *args, "--backend", "ray", "--model", DEMO_MODEL, "--timestamps"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def test_ray_backend_writes_what_the_local_backend_writes_and_resumes(folder, local_out, tmp_path, ray_dir):
    out = tmp_path / "ray-out"
    settings = RaySettings(workers=2, temp_dir=ray_dir)
    seen = []
    rows = run_batch_ray(collect_inputs([folder]), out, model=DEMO_MODEL, options=TIMESTAMPS, ray_settings=settings,
                         on_file=seen.append)
    assert not ray.is_initialized()  # the run started its own Ray and stopped it
    assert len(seen) == len(rows) == len(PHRASES) + 1
    assert outputs(out) == outputs(local_out)  # text, words and timings, byte for byte
    assert read_summary(out) == [
        {**row, "seconds": ray_row["seconds"]} for row, ray_row in zip(read_summary(local_out), read_summary(out))
    ]
    broken = next(row for row in rows if row.status == STATUS_FAILED)
    assert broken.file.endswith("broken.wav") and "not a readable audio file" in broken.error
    assert "seven three go" in (out / "take0.txt").read_text()
    assert not leftovers(out)

    # Interrupted after all but one file: the next run transcribes that one only.
    (out / DONE_DIR / "take3.json").unlink()
    again = run_batch_ray(collect_inputs([folder]), out, model=DEMO_MODEL, options=TIMESTAMPS,
                          ray_settings=RaySettings(workers=1, cpus_per_worker=2, temp_dir=ray_dir))
    statuses = {Path(row.file).name: row.status for row in again}
    assert statuses.pop("take3.wav") == STATUS_DONE
    assert statuses.pop("broken.wav") == STATUS_FAILED  # a failed file is tried again
    assert set(statuses.values()) == {STATUS_SKIPPED}
    assert outputs(out) == outputs(local_out)
    item = next(item for item in plan(collect_inputs([folder]), out) if item.stem == "take3")
    worker = read_marker(item, out)["worker"]
    assert (worker["device"], worker["threads"]) == ("cpu", 2)  # a worker of 2 CPUs runs PyTorch on 2 threads


def ray_workers() -> list:
    """The batch's Ray worker processes on this machine."""
    return [p for p in psutil.process_iter(["cmdline"]) if WORKER_TITLE in " ".join(p.info["cmdline"] or ())]


def ray_workers_after(seconds: float) -> list:
    """The batch's Ray worker processes still there after waiting up to ``seconds`` for them to end: they end a moment
    after their run, longer on a busy machine (a worker still loading NeMo notices late)."""
    deadline = time.monotonic() + seconds
    while True:
        workers = ray_workers()
        if not workers or time.monotonic() > deadline:
            return workers
        time.sleep(0.2)


def test_a_worker_killed_mid_run_is_restarted_and_every_file_is_done_once(folder, local_out, tmp_path):
    out = tmp_path / "ray-out"
    run = ray_cli(str(folder), "--out", str(out), "--workers", "2", "--batch-size", "1",
                  "--library", str(tmp_path / "library.sqlite"))
    killed = None
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while killed is None and run.poll() is None and time.monotonic() < deadline:
        done_at_kill = len(list((out / DONE_DIR).glob("*.json")))
        if done_at_kill >= 1:  # some files done, most not
            workers = ray_workers()
            if workers:
                killed = workers[0].pid
                os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    stdout, stderr = run.communicate(timeout=RUN_TIMEOUT_S)
    assert killed is not None, "the run ended before a worker could be killed"
    assert done_at_kill < len(PHRASES)
    assert run.returncode == 1, stderr  # broken.wav
    assert f"{len(PHRASES)} transcribed, 0 already done, 1 failed" in stderr
    summary = read_summary(out)
    assert sorted(row["file"] for row in summary) == sorted(map(str, collect_inputs([folder])))  # each file once
    assert [row["status"] for row in summary].count("done") == len(PHRASES)
    assert len(list((out / DONE_DIR).glob("*.json"))) == len(PHRASES)
    assert outputs(out) == outputs(local_out)
    assert not leftovers(out)
    assert not ray_workers_after(60)  # the restarted worker too
    library = Library(tmp_path / "library.sqlite")  # saved by the driver, once per file
    try:
        assert sorted(entry.name for entry in library.entries()) == sorted(
            str(Path(f"day{i % 2}", f"take{i}.wav")) for i in range(len(PHRASES)))  # named by their path in the folder
    finally:
        library.close()


def test_sigterm_stops_a_ray_run_as_ctrl_c_does(folder, tmp_path):
    """A cluster scheduler's time limit (SIGTERM) ended the driver through Ray's own handler: a native stack dump on
    the terminal ("*** SIGTERM received ...") and status 15. It stops as on Ctrl-C now: the summary of what was
    finished, how to resume, 143, and Ray's processes gone."""
    out = tmp_path / "ray-out"
    run = ray_cli(str(folder), "--out", str(out), "--workers", "1", "--batch-size", "1")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while run.poll() is None and not list((out / DONE_DIR).glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.02)
    run.send_signal(signal.SIGTERM)
    stdout, stderr = run.communicate(timeout=RUN_TIMEOUT_S)
    # Ray prints the death of its own processes ("(raylet) Raylet is terminated ...") to stdout
    assert run.returncode == 143, f"stderr: {stderr[-3000:]}\nstdout: {stdout[-3000:]}"
    assert "SIGTERM received" not in stderr and "Traceback" not in stderr, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == (
        f"Interrupted; finished files are in {out}. Run the same command again to resume.")
    # written on the way out; it lists what the driver had heard of (a file a worker was finishing is done next time)
    assert len(read_summary(out)) < len(PHRASES)
    assert not ray_workers_after(60)


def test_ctrl_c_on_a_busy_machine_stops_the_dataset_before_ray(folder, tmp_path, ray_dir, monkeypatch):
    """A stopped dataset waits only 2 s for its scheduling loop; on a busy machine the loop was still running, in
    and out of ``ray.wait``, when the run stopped Ray under it, which can end the whole process on the spot with
    status 1 and not a word (a SIGTERM'd run in CI said nothing at all, not even "Interrupted"). The run now waits
    for the dataset's threads before it stops Ray, and Ray is stopped before the interrupt reaches the caller."""
    from ray.data._internal.execution.streaming_executor import StreamingExecutor

    step = StreamingExecutor._scheduling_loop_step

    def busy_step(self, topology):  # a loaded machine: each step after the stop takes 3 s to come round
        going_on = step(self, topology)
        if self._shutdown:
            time.sleep(3)
        return going_on

    monkeypatch.setattr(StreamingExecutor, "_scheduling_loop_step", busy_step)
    real_shutdown = ray.shutdown
    running_at_shutdown: list[list[str]] = []

    def shutdown(*args, **kwargs):  # Ray is really stopped; what still ran at that moment is noted
        running_at_shutdown.append([t.name for t in threading.enumerate() if t.name.startswith(RAY_DATA_THREADS)])
        return real_shutdown(*args, **kwargs)

    monkeypatch.setattr(ray, "shutdown", shutdown)

    def on_file(row):  # Ctrl-C as the first file comes back
        if row.status == STATUS_DONE:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    try:
        run_batch_ray(collect_inputs([folder]), out, model=DEMO_MODEL, options=TIMESTAMPS,
                      ray_settings=RaySettings(workers=1, temp_dir=ray_dir), on_file=on_file)
    except KeyboardInterrupt:
        ray_up = ray.is_initialized()
    else:
        pytest.fail("the run went on after Ctrl-C")
    assert not ray_up
    assert running_at_shutdown == [[]]
    assert [row["status"] for row in read_summary(out)] == [STATUS_DONE]
    assert not ray_workers_after(60)


def test_a_two_node_cluster_shares_the_folder(folder, local_out, tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        out = tmp_path / "cluster-out"
        run = ray_cli(str(folder), "--out", str(out), "--ray-address", cluster.address, "--workers", "2")
        _, stderr = run.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        cluster.shutdown()
    assert run.returncode == 1, stderr
    assert outputs(out) == outputs(local_out)
    items = [item for item in plan(collect_inputs([folder]), out) if item.path.name != "broken.wav"]
    nodes = {read_marker(item, out)["worker"]["node"] for item in items}
    assert len(nodes) == 2  # both machines worked on the folder


def test_a_pool_the_cluster_cannot_hold_is_refused_at_once(folder, tmp_path):
    """Also where TMPDIR is a long folder (a cluster scheduler's job folder, --temp-dir): a local Ray put its session
    there and stopped with a traceback, its socket paths over 107 bytes. RAY_TMPDIR, Ray's own setting, is kept, and
    one too long is an error that says what to do."""
    long_tmp = tmp_path / "a-scheduler-job-folder-for-temporary-files"
    long_tmp.mkdir()
    assert len(str(long_tmp)) + 70 > 107  # with the session folder and socket name Ray adds
    run = ray_cli(str(folder), "--out", str(tmp_path / "out"), "--gpus-per-worker", "1",
                  env={**os.environ, "TMPDIR": str(long_tmp)})
    _, stderr = run.communicate(timeout=RUN_TIMEOUT_S)
    assert run.returncode == 1
    assert re.search(r"has [\d.]+ CPUs? and 0 GPUs; 1 worker of 1 CPU and 1 GPU does not fit", stderr)  # "1 workers"
    assert "Traceback" not in stderr

    run = ray_cli(str(folder), "--out", str(tmp_path / "out"), env={**os.environ, "RAY_TMPDIR": str(long_tmp)})
    _, stderr = run.communicate(timeout=RUN_TIMEOUT_S)
    assert run.returncode == 1 and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("cannot start Ray on this machine: ") and "RAY_TMPDIR" in stderr


def test_a_cluster_address_nothing_answers_at_is_an_error_not_a_wait(folder, tmp_path):
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    run = ray_cli(str(folder), "--out", str(tmp_path / "out"), "--ray-address", f"127.0.0.1:{port}")
    _, stderr = run.communicate(timeout=RUN_TIMEOUT_S)
    assert run.returncode == 1 and time.monotonic() - started < 60
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in stderr and "Traceback" not in stderr


def test_workers_that_cannot_start_end_the_run_with_an_error(folder, tmp_path, ray_dir):
    ray.init(address="local", num_cpus=1, include_dashboard=False, _temp_dir=ray_dir,
             object_store_memory=100 * 1024**2)
    try:
        @ray.remote(num_cpus=1)
        class Holder:
            def ready(self) -> bool:
                return True

        holder = Holder.remote()
        ray.get(holder.ready.remote())  # the only CPU is taken: the pool fits the cluster but cannot start
        started = time.monotonic()
        with pytest.raises(RayBatchError, match="did not start within 5 s"):
            run_batch_ray(collect_inputs([folder]), tmp_path / "out", model=DEMO_MODEL,
                          ray_settings=RaySettings(workers=1, startup_timeout=5))
        assert time.monotonic() - started < 60
    finally:
        ray.shutdown()
    assert [row["status"] for row in read_summary(tmp_path / "out")] == []


def test_the_local_backend_does_not_import_ray():
    probe = "import sys, transcriber.cli, transcriber.batch; print('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_ray_needs_an_output_folder(capsys):
    from transcriber import cli

    with pytest.raises(SystemExit):
        cli.main(["a.wav", "--backend", "ray"])
    assert "--out DIR" in capsys.readouterr().err
