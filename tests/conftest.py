"""Shared fixtures: tiny NeMo models built offline once per session, and a fresh engine per test."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

import pytest

from tiny_models import BLANK, build_tiny_model, build_tiny_prompt_transducer, build_tiny_sortformer


@pytest.fixture(scope="session", autouse=True)
def temporaries_under_pytests_folder(tmp_path_factory):
    """Send this process's temporary files (``tempfile.gettempdir()``) into pytest's own base folder.

    gradio_client downloads every output file through a folder of its own in the temporary folder and leaves it
    behind, empty, after moving the file: about 200 of them per run of the suite. Under pytest's base folder they go
    when pytest prunes its old runs, instead of piling up in /tmp.
    """
    before = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tmp"))
    yield
    tempfile.tempdir = before


@pytest.fixture(autouse=True)
def torch_threads_given_back():
    """A test leaves PyTorch on the thread count it found. The demo model's training, called in a test, set two
    threads for good: every later test in that process ran its models on two threads beside the other test process,
    the fight over two cores that one thread per worker (``dev.py test``) is there to prevent."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    if before is not None:
        assert torch.get_num_threads() == before, "the test left PyTorch on another number of threads"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_ctc(tiny_model_dir):
    """A CTC model that says "nine" once for any audio."""
    return str(build_tiny_model("ctc", tiny_model_dir))


@pytest.fixture(scope="session")
def tiny_rnnt(tiny_model_dir):
    """An RNNT model that says "nine" once per 0.08 s frame."""
    return str(build_tiny_model("rnnt", tiny_model_dir))


@pytest.fixture(scope="session")
def tiny_rnnt_blank(tiny_model_dir):
    """An RNNT model that never speaks (every frame blank): any file is a file without speech."""
    return str(build_tiny_model("rnnt", tiny_model_dir, emit_token=BLANK, filename="tiny-rnnt-blank.nemo"))


@pytest.fixture(scope="session")
def tiny_tdt(tiny_model_dir):
    """A TDT model that says "nine" once per 0.08 s frame."""
    return str(build_tiny_model("tdt", tiny_model_dir))


@pytest.fixture(scope="session", params=["ctc", "rnnt", "tdt", "hybrid"])
def tiny_any(request, tiny_model_dir):
    """Each kind of tiny model in turn: (kind, path)."""
    return request.param, str(build_tiny_model(request.param, tiny_model_dir))


@pytest.fixture(scope="session")
def tiny_prompt_rnnt(tiny_model_dir):
    """A multilingual RNNT conditioned on a language id (en-US, de-DE, es-ES, fr-FR) that says "nine" per frame."""
    return str(build_tiny_prompt_transducer(tiny_model_dir))


@pytest.fixture(scope="session")
def tiny_sortformer(tiny_model_dir):
    """A tiny untrained Sortformer diarizer with 2 speaker outputs and 20 s windows."""
    return str(build_tiny_sortformer(tiny_model_dir))


@pytest.fixture
def engine():
    """A fresh engine on the CPU with an empty model cache."""
    from transcriber.engine import Engine

    return Engine(device="cpu")


@pytest.fixture
def new_york_clock(monkeypatch):
    """This computer's clock in New York's time zone (UTC-5 in December) for the test, as a user there has it."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB file system (tmpfs), as a full disk is met: mounting one needs root, as CI has."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                                 capture_output=True)
    except OSError as exc:  # no mount command (Windows)
        pytest.skip(f"cannot mount a small file system here: {exc}")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


# --- The browser app (transcribe_ui.py): launched in-process, driven by gradio_client or Chromium --------------------


@pytest.fixture(scope="module")
def launch_app(tmp_path_factory):
    """Serve the app from a background thread: ``launch(engine=..., model=...)`` returns its local URL.

    ``timeout`` and ``diarizer`` go to :func:`~transcriber_ui.app.build_demo`, ``max_file_size`` and ``auth`` to
    :func:`~transcriber_ui.app.serve`. Each app saves into a fresh library of its own unless ``library`` is given
    (``False``: none). Every app launched through it is closed at the end of the test module.
    """
    from transcribe_ui import DEFAULT_MAX_FILE_SIZE, build_demo, serve
    from transcriber.library import Library

    demos = []

    def launch(
        *, engine, model: str, timeout: float | None = None, max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        diarizer: str | None = None, library=None, auth=None, library_notice: str = "", preload: bool = False,
    ) -> str:
        if library is None:
            library = Library(tmp_path_factory.mktemp("library") / "library.sqlite")
        library = library or None
        demo = build_demo(engine=engine, default_model=model, timeout=timeout, diarizer=diarizer, library=library,
                          library_notice=library_notice, logins=auth is not None, preload=preload)
        demos.append(demo)
        return serve(demo, max_file_size=max_file_size, block=False, quiet=True, auth=auth, library=library)

    yield launch
    for demo in demos:
        demo.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (``item.report_call``), so fixtures can see if the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
