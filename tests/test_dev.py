"""``dev.py``, the README's two commands: arguments after the command reach the app or pytest untouched."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import dev  # noqa: E402  (dev.py lives in the repository root, not in a package)


@pytest.mark.parametrize(
    ("argv", "command", "rest"),
    [
        (["app", "--port", "8000"], "app", ["--port", "8000"]),
        (["test", "-k", "engine", "-x"], "test", ["-k", "engine", "-x"]),
        (["test"], "test", []),
        (["app", "--help"], "app", ["--help"]),  # the app's help, not dev.py's
    ],
)
def test_arguments_after_the_command_are_passed_on_untouched(argv, command, rest):
    assert dev.parse_command(argv) == (command, rest)


@pytest.mark.parametrize(
    ("args", "workers"),
    [
        ([], True),
        (["-k", "engine", "-x", "-p", "no:cacheprovider"], True),
        (["-n", "0"], False),  # one process, as a debugger needs
        (["-n4"], False),
        (["--numprocesses=3"], False),
        (["--dist", "loadfile"], False),
        (["-p", "no:xdist"], False),
    ],
)
def test_the_suite_runs_in_several_processes_unless_the_arguments_say_how(args, workers):
    """The suite waits on programs, apps and browsers about half its time: on two cores it took 22 minutes of tests in
    one process and 13 in two, each running PyTorch on one thread."""
    assert dev.TEST_WORKERS >= 2
    arguments, environment = dev.pytest_run(args)
    assert arguments == (["-n", str(dev.TEST_WORKERS), "--dist", "loadgroup", *args] if workers else args)
    assert environment == ({"OMP_NUM_THREADS": "1"} if workers else {})  # two threads each would fight over cores


def test_the_tests_of_one_xdist_group_run_in_one_process(tmp_path):
    """The Ray tests share one ``xdist_group`` so that one Ray runs at a time on this machine. Under pytest 9.2 the
    group's mark did nothing (pytest-xdist 3.8 renames a test by an attribute 9.2 no longer reads) and two workers
    each started a Ray cluster at once."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_grouped.py").write_text(
        "import os, pytest\n"
        "pytestmark = pytest.mark.xdist_group('ray')\n"
        "@pytest.mark.parametrize('n', range(4))\n"
        "def test_grouped(n):\n"
        "    with open(f'worker-{n}', 'w') as f: f.write(os.environ['PYTEST_XDIST_WORKER'])\n"
    )
    (tmp_path / "test_alone.py").write_text("def test_one(): pass\ndef test_two(): pass\n")
    arguments, environment = dev.pytest_run(["-q", "-p", "no:cacheprovider"])
    done = subprocess.run([sys.executable, "-m", "pytest", *arguments], cwd=tmp_path, env={**os.environ, **environment},
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    workers = {(tmp_path / f"worker-{n}").read_text() for n in range(4)}
    assert len(workers) == 1, f"the group's tests ran in {sorted(workers)}"


@pytest.mark.parametrize("argv", [[], ["bogus"], ["--port", "8000"]])
def test_a_missing_or_unknown_command_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        dev.parse_command(argv)
    assert exited.value.code == 2
    assert "app" in capsys.readouterr().err


def _dev(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "dev.py"), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)


def test_dev_test_passes_pytest_options_through():
    # The stamps of this checkout's environment are current, so dev.py goes straight to pytest.
    done = _dev("test", "tests/test_formats.py", "-k", "srt", "-x", "-q", "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "unrecognized arguments" not in done.stderr
    assert "\n1 passed" in done.stdout  # of the file's many tests: -k reached pytest, as the command line shows
    assert f"-m pytest -n {dev.TEST_WORKERS} --dist loadgroup tests/test_formats.py -k srt -x -q" in done.stdout


def test_dev_app_passes_app_options_through():
    done = _dev("app", "--port", "8000", "--help")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--max-file-size" in done.stdout  # transcribe_ui.py's own help, so --port 8000 was accepted by it


@pytest.mark.parametrize(("signal_name", "whom", "stopped"), [
    ("SIGINT", "group", 130),  # Ctrl-C in a terminal: to every process of its group
    ("SIGTERM", "dev.py", 143),  # kill PID of dev.py alone: a script, a service manager stopping it
])
def test_a_stop_reaching_dev_py_stops_the_app_without_a_traceback(tmp_path, signal_name, whom, stopped):
    """Ctrl-C reaches dev.py and the app alike: dev.py printed a KeyboardInterrupt traceback and killed the app a
    quarter of a second later, in the middle of its shutdown; the app's log ended in torch's cache statistics.
    SIGTERM sent to dev.py alone ended dev.py only: the app it had started went on serving on its port, with no
    terminal left to stop it from."""
    import contextlib
    import os
    import signal
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, str(ROOT / "dev.py"), "app", "--port", str(port),
               "--library", str(tmp_path / "library.sqlite"), "--temp-dir", str(tmp_path / "temp")]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)  # its own process group, as a terminal's
    lines = []
    for line in process.stdout:  # until the page is served; the model is still loading
        lines.append(line)
        if "Running on local URL" in line:
            break
    time.sleep(0.5)
    number = getattr(signal, signal_name)
    if whom == "group":
        os.killpg(process.pid, number)
    else:
        process.send_signal(number)
    try:
        rest, _ = process.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):  # an app left serving is not left behind by the test
            os.killpg(process.pid, signal.SIGKILL)
    terminal = "".join(lines) + rest
    assert "Traceback" not in terminal and " INFO torch." not in terminal, terminal[-3000:]
    # Serving: the app stops; still starting (Gradio checks its own page first): it ends with a word.
    said = "Stopping: jobs still running are cancelled." if process.returncode == 0 else "Interrupted."
    assert process.returncode in (0, stopped) and said in terminal, terminal[-3000:]
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the closed connections' TIME_WAIT
        probe.bind(("127.0.0.1", port))
        probe.listen()  # no one else listens there: the app is gone, not serving on


def test_the_command_line_runs_from_the_folder_of_the_recordings(tmp_path):
    """README: after the first run, .venv/bin/python -m transcriber clip.wav runs the command line. From any folder
    but this one (the user's recordings', say) Python said "No module named transcriber"."""
    import json

    import soundfile as sf

    dev.link_project(Path(sys.executable))  # as dev.py app / dev.py test do before anything else
    sf.write(tmp_path / "clip.wav", [0.0] * 16000, 16000)
    run = subprocess.run([sys.executable, "-m", "transcriber", "clip.wav", "--json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout)["file"] == str(tmp_path / "clip.wav")
