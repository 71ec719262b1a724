"""``dev.py``, the README's two commands: arguments after the command reach the app or pytest untouched."""

from __future__ import annotations

import subprocess
import sys
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
    assert " passed" in done.stdout and " deselected" in done.stdout  # -k reached pytest


def test_dev_app_passes_app_options_through():
    done = _dev("app", "--port", "8000", "--help")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--max-file-size" in done.stdout  # transcribe_ui.py's own help, so --port 8000 was accepted by it
