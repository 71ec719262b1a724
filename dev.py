#!/usr/bin/env python3
"""Set up and run the project on Linux, macOS or Windows: ``python dev.py app`` or ``python dev.py test``.

Both create or refresh the virtual environment in ``.venv`` first. Packages are reinstalled only when a requirements
file changed since the last run. Uses only the standard library, so it runs with any Python 3.11+.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
RUNTIME_REQUIREMENTS = ROOT / "requirements.txt"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"
RAY_REQUIREMENTS = ROOT / "requirements-ray.txt"
"""The Ray backend's (optional for the app, installed by the test command so its tests run)."""
PROJECT_PATH_FILE = "transcriber-project.pth"
"""In the environment's site-packages: this folder, so the package imports from anywhere (:func:`link_project`)."""
BROWSER = Path("/usr/bin/chromium")
# Debian package -> a command or file it installs, to tell whether it is there.
TEST_SYSTEM_PACKAGES = {
    "chromium": "chromium",  # browser tests
    "sox": "sox",
    # Synthesizers of the demo voice pool (demo_model/voices.py).
    "espeak-ng": "espeak-ng",
    "flite": "flite",
    "festival": "text2wave",
    "festvox-kallpc16k": "/usr/share/festival/voices/english/kal_diphone",
    "festvox-kdlpc16k": "/usr/share/festival/voices/english/ked_diphone",
    "festvox-us-slt-hts": "/usr/share/festival/voices/us/cmu_us_slt_arctic_hts",
    "festvox-italp16k": "/usr/share/festival/voices/italian/lp_diphone",
    "festvox-itapc16k": "/usr/share/festival/voices/italian/pc_diphone",
}
MIN_PYTHON = (3, 11)
FORWARDED_SIGNALS = ("SIGTERM", "SIGHUP")
"""Signals this script passes on to the command it runs."""


def venv_python() -> Path:
    """The virtual environment's interpreter."""
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(*command: str | os.PathLike[str], env: dict[str, str] | None = None) -> None:
    """Run a command, echoing it, and stop the script if it fails (with its status).

    Ctrl-C in the terminal reaches the command as well as this script: the command ends in its own way (the app
    cancels its jobs and closes, pytest prints its summary) while this script waits for it; SIGTERM and SIGHUP sent
    to this script are passed on to the command. Python's own handling
    would print a KeyboardInterrupt traceback here and kill the command a quarter of a second later."""
    print("+", " ".join(str(part) for part in command), flush=True)
    process = subprocess.Popen([str(part) for part in command], cwd=ROOT, env=env)

    def forward(signum: int, _frame: object) -> None:
        process.send_signal(signum)

    # Only once it runs: a command started while SIGINT is ignored would ignore Ctrl-C too.
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN)}
    # A request to end sent to this script alone (kill PID, a service manager) would end it and leave the app running
    # on its port: it goes on to the command, which ends in its own way. One that is ignored (nohup) stays ignored.
    for name in FORWARDED_SIGNALS:
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) == signal.SIG_DFL:
            previous[number] = signal.signal(number, forward)
    try:
        status = process.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if status != 0:
        sys.exit(128 - status if status < 0 else status)  # ended by a signal: as a shell reports it


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stamp(path: Path) -> Path:
    """Where the digest of the last installed copy of a requirements file is kept."""
    return VENV / f".installed-{path.name}.sha256"


def _is_installed(path: Path) -> bool:
    stamp = _stamp(path)
    return stamp.exists() and stamp.read_text().strip() == _digest(path)


def ensure_venv(requirement_files: list[Path]) -> Path:
    """Create ``.venv`` if needed and install the requirements when they changed; returns its interpreter."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer is needed; this is {sys.version.split()[0]}.")
    python = venv_python()
    if not python.exists():
        run(sys.executable, "-m", "venv", VENV)
    link_project(python)
    stale = [path for path in requirement_files if not _is_installed(path)]
    if not stale:
        return python
    run(python, "-m", "pip", "install", "--upgrade", "pip")
    # torch first, on its own: asked for by another package it could resolve to a multi-GB CUDA build.
    torch_pin = next(line for line in RUNTIME_REQUIREMENTS.read_text().splitlines() if line.startswith("torch=="))
    run(python, "-m", "pip", "install", torch_pin)
    for path in stale:
        run(python, "-m", "pip", "install", "-r", path)
        _stamp(path).write_text(_digest(path))
    return python


def link_project(python: Path) -> None:
    """Put this folder on the environment's import path (a ``.pth`` file in its site-packages), so that its
    interpreter runs ``-m transcriber`` from any folder, the user's recordings' included; without it Python found
    the package only when started in this folder. An editable install would need a build backend from the network."""
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    link = Path(purelib) / PROJECT_PATH_FILE
    if not link.exists() or link.read_text(encoding="utf-8").strip() != str(ROOT):
        link.write_text(f"{ROOT}\n", encoding="utf-8")


def ensure_test_system_packages() -> None:
    """Install Chromium (browser tests) and the synthesizers (synthetic speech) with apt when missing and allowed."""
    missing = [
        name for name, marker in TEST_SYSTEM_PACKAGES.items()
        if not (Path(marker).exists() if marker.startswith("/") else shutil.which(marker))
    ]
    if not missing or not sys.platform.startswith("linux"):
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(f"note: {', '.join(missing)} not installed; tests that need them are skipped", flush=True)
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run("apt-get", "update", "-qq", env=env)
    run("apt-get", "install", "-y", "-qq", *missing, env=env)


TEST_WORKERS = max(2, min(4, os.cpu_count() or 1))
"""Processes the test suite runs in (pytest-xdist): it waits on programs, apps and browsers about half the time, so
two share even two cores; more than four would add memory (a model per process) rather than speed."""
WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": "1"}
"""Each worker, and each program its tests start, runs PyTorch on one thread (unless the environment says otherwise):
two workers of two threads each on two cores fight over them (the suite took 886 s of tests, 791 s like this)."""


def pytest_run(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """pytest's arguments for ``dev.py test ARGS``, and what to add to its environment: ``ARGS``, run in
    :data:`TEST_WORKERS` processes (:data:`WORKER_ENVIRONMENT`), the Ray tests one after another in one of them (the
    ``xdist_group`` they share), unless ``ARGS`` choose how to run (``-n 0``: in this process, as a debugger needs;
    ``-p no:xdist``)."""
    chosen = any(arg.split("=")[0] in ("-n", "--numprocesses", "--dist") or re.fullmatch(r"-n\w+", arg)
                 or arg.endswith("no:xdist") for arg in args)
    if chosen:
        return list(args), {}
    return ["-n", str(TEST_WORKERS), "--dist", "loadgroup", *args], dict(WORKER_ENVIRONMENT)


COMMANDS = {
    "app": "set up, then start the web app (extra arguments go to transcribe_ui.py)",
    "test": "set up, then run the whole test suite in several processes (extra arguments go to pytest; -n 0: in one)",
}


def parse_command(argv: list[str]) -> tuple[str, list[str]]:
    """Split ``argv`` into the command and the arguments passed on to it untouched.

    argparse cannot be trusted with the pass-through part: ``REMAINDER`` after a sub-command refuses arguments that
    look like options (``app --port 8000`` gives "unrecognized arguments"), so only the command is parsed here.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="\n".join(f"{name}: {help_}" for name, help_ in COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=sorted(COMMANDS))
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv[:1])  # prints usage and exits: help, or an unknown or missing command
    return argv[0], argv[1:]


def main(argv: list[str] | None = None) -> None:
    command, args = parse_command(sys.argv[1:] if argv is None else argv)
    if command == "app":
        python = ensure_venv([RUNTIME_REQUIREMENTS])
        entry = "transcribe_ui.py" if (ROOT / "transcribe_ui.py").exists() else "-m transcriber"
        run(python, *entry.split(), *args)
    else:
        python = ensure_venv([RUNTIME_REQUIREMENTS, RAY_REQUIREMENTS, DEV_REQUIREMENTS])
        ensure_test_system_packages()
        arguments, environment = pytest_run(args)
        run(python, "-m", "pytest", *arguments, env={**environment, **os.environ} if environment else None)


if __name__ == "__main__":
    main()
