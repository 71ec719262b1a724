"""The browser app's handlers, driven through ``gradio_client`` against the app served in-process.

The fast tests at the top need no model; the rest run the tiny offline RNNT model, which says "nine" once per 0.08 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from model_doubles import slowed_engine, stalling_engine
from transcriber_ui.app import build_parser
from transcriber_ui.jobs import CancelFlags, OutputFolders, RequestFolder
from transcriber_ui.model_choice import BROWSE_CHOICE, ModelRefusedError, check_model_choice, model_choices
from transcriber_ui.widgets import status_rows
from transcriber import models
from transcriber.engine import Engine
from transcriber.models import DEFAULT_MODEL, DEMO_MODEL, KNOWN_MODELS, model_file_name
from transcriber.types import SAMPLE_RATE, FileResult, Transcript, Word

ROOT = Path(__file__).resolve().parent.parent
FRAME_S = 0.08
FORMATS = {".txt", ".srt", ".vtt", ".json", ".csv", ".docx"}
ACCEPTANCE_LIMIT_S = 60.0
STOP_LIMIT_S = 5.0
APP_START_LIMIT_S = 120.0
CONFIG_TROUBLE = re.compile(r"override_config|Config\w*Error|config(uration)? error", re.IGNORECASE)


def write_tone(path: Path, seconds: float, freq: float = 220.0) -> str:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SAMPLE_RATE)
    return str(path)


def write_not_audio(path: Path) -> str:
    path.write_text("this is not audio\n" * 50)
    return str(path)


# --- Without a model --------------------------------------------------------------------------------------------------


def test_flags_default_to_a_private_local_server():
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.share) == ("127.0.0.1", None, False)
    assert args.model is None  # main() then picks models.default_model()
    assert args.temp_dir is None and args.device is None and args.timeout is None
    assert args.max_file_size == 2 * 1024**3


def test_timeout_and_upload_cap_flags():
    args = build_parser().parse_args(["--timeout", "90", "--max-file-size", "500MB"])
    assert args.timeout == 90.0 and args.max_file_size == 500 * 1024**2
    assert build_parser().parse_args(["--max-file-size", "1048576"]).max_file_size == 1048576
    for bad in (["--timeout", "0"], ["--max-file-size", "lots"], ["--max-file-size", "2 parsecs"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)


@pytest.mark.parametrize("bad", ["99999", "0", "http"])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(bad, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--port", bad])
    assert f"expected a port from 1 to 65535, got '{bad}'" in capsys.readouterr().err


def test_an_address_the_page_cannot_be_served_at_is_said_before_anything_loads():
    from transcriber_ui.app import address_problem

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert address_problem("127.0.0.1", port).startswith(f"--port {port}: another program listens there")
    assert address_problem("127.0.0.1", None) is None and address_problem("127.0.0.1", port) is None
    assert address_problem("999.1.1.1", None) == "--host 999.1.1.1: no such address or name."
    # 192.0.2.0/24 is reserved for documentation (RFC 5737): no computer has it
    assert address_problem("192.0.2.1", None) == "--host 192.0.2.1: not an address of this computer."


@pytest.mark.skipif(os.name == "nt", reason="Windows lets a closed connection's port be taken again at once")
def test_the_port_of_an_app_just_stopped_is_free_again():
    """Stopped and started again with the same --port, the app said "another program listens there" for a minute
    after: the connections it had served lingered (TIME_WAIT), which the server, binding as Gradio does, does not
    mind, but the check before it did."""
    from transcriber_ui.app import address_problem

    with socket.socket() as server:  # a page served and stopped: the server closes its connections first
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as browser:
            connection, _ = server.accept()
            connection.close()
            browser.recv(1)
    assert address_problem("127.0.0.1", port) is None
    with socket.socket() as restarted:  # where the app's server binds
        restarted.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        restarted.bind(("127.0.0.1", port))
        restarted.listen()
        assert address_problem("127.0.0.1", port).startswith(f"--port {port}: another program listens there")


def test_an_auth_file_that_is_not_text_is_named_in_one_sentence(tmp_path):
    from transcriber_ui.auth import AuthConfigError, read_auth_file

    recording = tmp_path / "talk.wav"
    recording.write_bytes(b"RIFF\x24\xf7\x00\x00WAVEfmt ")
    with pytest.raises(AuthConfigError, match=r"talk.wav: not an auth file: it is not text"):
        read_auth_file(recording)


def test_a_temp_dir_that_is_a_file_stops_the_app_with_one_sentence(tmp_path):
    blocker = tmp_path / "talk.wav"
    blocker.write_bytes(b"RIFF")
    run = subprocess.run([sys.executable, "transcribe_ui.py", "--temp-dir", str(blocker)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"Cannot write temporary files into {blocker}: {blocker} is a file, not a folder." in run.stderr


def test_importing_the_app_loads_neither_gradio_nor_nemo():
    code = "import sys, transcribe_ui; print(sorted({'gradio', 'nemo', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_page_builds_without_a_layout_warning_in_the_terminal():
    """Gradio says what it thinks wrong with a page's layout as a UserWarning, which `dev.py app` prints on start."""
    from transcriber_ui.app import build_demo

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_demo(library=None)
    assert not [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


@contextlib.contextmanager
def started_app(model: str, folder: Path):
    """``transcribe_ui.py`` started as a user starts it (its library and temporary files in ``folder``); yields its
    URL, the lines of its terminal up to its model's background load (loaded, or why not), once that is done, and
    the process with ``process.log``: every line of its terminal so far."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = subprocess.Popen(
        [sys.executable, "transcribe_ui.py", "--model", model, "--port", str(port),
         "--library", str(folder / "library.sqlite"), "--temp-dir", str(folder / "temp")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines = []
    hung = threading.Timer(APP_START_LIMIT_S, app.kill)  # a start that hangs ends the loop below, and fails
    hung.start()
    try:
        for line in app.stderr:  # ends when the app does, so a failed start fails the caller's assertions
            lines.append(line)
            if "transcriber_ui.preload:" in line:  # the background load's one line: loaded, or why not
                break
        hung.cancel()
        app.log = lines
        threading.Thread(target=lines.extend, args=(app.stderr,), daemon=True).start()  # a full pipe would stall it
        yield f"http://127.0.0.1:{port}/", "".join(lines), app
    finally:
        hung.cancel()
        app.terminate()
        app.wait(timeout=30)


def test_the_background_load_counts_as_a_running_model_call_from_its_first_step():
    """The app loads its model in the background from the start, and choosing the device imports PyTorch there,
    before the model call that a stopping program waits for: stopped then (SIGTERM right after the page was served,
    the model still loading) the interpreter's exit tore that thread down inside PyTorch's import, "terminate called
    without an active exception" and status 134. That import counts as a running model call, as the load after it
    does."""
    probe = (
        "import os, sys, time\n"
        "from transcriber.engine import Engine\n"
        "from transcriber.models import DEMO_MODEL_PATH\n"
        "from transcriber.watchdog import model_call_running\n"
        "from transcriber_ui.preload import Preloader\n"
        "before = 'torch' in sys.modules\n"
        "Preloader(Engine(), str(DEMO_MODEL_PATH)).start()\n"
        "seen = []\n"
        "for _ in range(30):\n"
        "    time.sleep(0.01)\n"
        "    seen.append(model_call_running())\n"
        "print(before, 'torch' in sys.modules, all(seen), flush=True)\n"
        "os._exit(0)\n"  # not the interpreter's exit, which a load still running would abort at old code
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    # PyTorch not imported before the load began, being imported meanwhile, and the load running all along
    assert done.stdout.split() == ["False", "True", "True"], done.stdout + done.stderr[-2000:]


def test_ctrl_c_while_a_job_runs_stops_the_app_without_aborting(tiny_rnnt, tmp_path):
    """Ctrl+C in the app's terminal while a file was being transcribed let the job run on while the server closed, and
    could end in "terminate called without an active exception" and status 134: the interpreter's exit tore the
    model's worker thread down inside PyTorch."""
    import signal

    from gradio_client import Client, handle_file

    long_file = tmp_path / "long.wav"
    sf.write(long_file, np.random.default_rng(0).normal(0, 0.05, 30 * 60 * 16000).astype(np.float32), 16000)
    with started_app(tiny_rnnt, tmp_path) as (url, log, app):
        assert "loaded; ready" in log, log
        job = Client(url, verbose=False).submit(handle_file(str(long_file)), api_name="/transcribe")
        deadline = time.monotonic() + 60
        while not job.status().progress_data and time.monotonic() < deadline:  # its windows are under way
            time.sleep(0.1)
        assert not job.done(), "the file was transcribed before it could be interrupted"
        app.send_signal(signal.SIGINT)
        assert app.wait(timeout=60) == 0, "".join(app.log)[-3000:]
    terminal = "".join(app.log)
    assert "terminate called" not in terminal and "Traceback" not in terminal, terminal[-3000:]
    # The job was cancelled at once, not left to run on (and hold the exit up) while the server closed.
    assert "long.wav: failed (long.wav: cancelled.)" in terminal, terminal[-3000:]


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_the_started_app_serves_its_library_and_a_request_to_end_stops_it_as_ctrl_c_does(tiny_rnnt, tmp_path, name):
    """``transcribe_ui.py`` as a user starts it (it serves until stopped), not only as the tests' launch_app does.

    ``kill``, a service manager's stop or a closed terminal ended the app on the spot: its temporary folders stayed,
    and library.sqlite held none of the transcripts (they were still in library.sqlite-wal beside it), so a copy or
    backup of the library file had none of them. And NeMo's telemetry library said at import, in three lines, that
    it is off: noise, and alarming offline."""
    import shutil
    import signal

    import httpx
    from gradio_client import Client, handle_file

    from transcriber.library import Library

    clip = write_tone(tmp_path / "meeting.wav", 1.0)
    with started_app(tiny_rnnt, tmp_path) as (url, log, app):
        assert "loaded; ready" in log, log
        assert "telemetry" not in log.lower() and "OneLogger" not in log, log
        *_, saved = Client(url, verbose=False).predict(handle_file(str(clip)), api_name="/transcribe")
        assert list((tmp_path / "temp").glob("transcriber-ui-*"))  # this request's downloads
        # The review view's player asks for the saved audio in ranges.
        audio = httpx.get(f"{url}library/media/{saved}", headers={"Range": "bytes=0-99"}, timeout=30)
        assert audio.status_code == 206 and audio.content == Path(clip).read_bytes()[:100], audio
        app.send_signal(getattr(signal, name))
        assert app.wait(timeout=60) == 0, "".join(app.log)[-3000:]
    assert "Traceback" not in "".join(app.log), "".join(app.log)[-3000:]
    assert list((tmp_path / "temp").glob("transcriber-ui-*")) == []
    backup = tmp_path / "backup" / "library.sqlite"
    backup.parent.mkdir()
    shutil.copy(tmp_path / "library.sqlite", backup)  # the one file, as a user copies it
    assert [entry.name for entry in Library(backup).entries()] == ["meeting.wav"]


def test_main_redirects_the_temp_folder_before_gradio_is_imported(tmp_path):
    code = """
import os, sys, transcriber_ui.app as ui
real_redirect = ui.redirect_temp
def redirect(folder):
    print("imported before the redirect:", sorted({"gradio", "nemo"} & set(sys.modules)))
    return real_redirect(folder)
ui.redirect_temp = redirect
ui.serve = lambda demo, **options: print("serve", type(demo).__name__, options, os.environ["GRADIO_TEMP_DIR"])
ui.main(["--temp-dir", sys.argv[1], "--model", "my.nemo", "--port", "7000", "--max-file-size", "1GB",
         "--library", sys.argv[1] + "/lib.sqlite"])
"""
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "imported before the redirect: []" in run.stdout
    options = "{'host': '127.0.0.1', 'port': 7000, 'share': False, 'max_file_size': 1073741824, 'auth': None, 'library'"
    assert f"serve Blocks {options}" in run.stdout and f"{tmp_path / 'gradio'}\n" in run.stdout


@pytest.mark.parametrize(
    "flags, warned",
    [(["--host", "0.0.0.0"], True), (["--host", "0.0.0.0", "--auth", "anna:pw"], False), ([], False),
     (["--host", "::1"], False), (["--share"], True), (["--share", "--auth", "anna:pw"], False)],
    ids=["network, no logins", "network with logins", "this PC", "IPv6 loopback", "public link, no logins",
         "public link with logins"],
)
def test_a_page_open_to_the_network_without_logins_warns_that_anyone_can_read_the_library(tmp_path, flags, warned):
    code = """
import sys, transcriber_ui.app as ui
ui.build_demo = lambda **options: print("notice:", options["library_notice"], "logins:", options["logins"])
ui.serve = lambda demo, **options: print("auth:", options["auth"] is not None)
ui.main(["--library", sys.argv[1], *sys.argv[2:]])
"""
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path / "lib.sqlite"), *flags], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    said = "anyone who has the link" if "--share" in flags else "anyone who can reach this computer"
    assert (said in run.stderr) == warned
    assert (said in run.stdout) == warned  # on the page too
    assert ("auth: True" in run.stdout) == ("--auth" in flags)


def test_a_bad_login_flag_is_a_usage_error(tmp_path):
    run = subprocess.run([sys.executable, "transcribe_ui.py", "--auth", "no-colon"], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 2 and "expected user:password" in run.stderr


def test_hash_password_prints_a_hash_an_auth_file_accepts():
    from transcriber_ui.auth import password_matches

    run = subprocess.run([sys.executable, "transcribe_ui.py", "--hash-password"], cwd=ROOT, input="s3cret\n",
                         capture_output=True, text=True, check=True)
    hashed = run.stdout.strip()
    assert hashed.startswith("pbkdf2_sha256$") and password_matches(hashed, "s3cret")
    assert not password_matches(hashed, "s3cre")


@pytest.mark.parametrize("demo_present", [True, False], ids=["demo model present", "no demo model"])
def test_main_starts_with_the_default_model_and_passes_the_time_limit_on(tmp_path, demo_present):
    code = """
import pathlib, sys, transcriber_ui.app as ui
from transcriber import models
models.DEMO_MODEL_PATH = pathlib.Path(sys.argv[1])
ui.build_demo = lambda **options: print("build", options["default_model"], options["timeout"])
ui.serve = lambda demo, **options: None
ui.main(["--timeout", "30"])
"""
    demo_file = tmp_path / "demo.nemo"
    if demo_present:
        demo_file.write_bytes(b"x")
    environment = {**os.environ, "TRANSCRIBER_MODEL_DIR": str(tmp_path / "models"), "HF_HUB_CACHE": str(tmp_path),
                   "TRANSCRIBER_LIBRARY": str(tmp_path / "library.sqlite")}
    run = subprocess.run(
        [sys.executable, "-c", code, str(demo_file)], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"build {DEMO_MODEL if demo_present else DEFAULT_MODEL} 30.0\n"


def test_a_request_folder_never_reuses_a_name(tmp_path):
    folder = RequestFolder(tmp_path)
    transcript = Transcript("hello", duration=1.0)
    first = folder.write("/a/clip.wav", transcript)
    second = folder.write("/b/clip.wav", transcript)
    assert {p.name for p in first} == {f"clip{ext}" for ext in FORMATS}
    assert {p.name for p in second} == {f"clip-2{ext}" for ext in FORMATS}
    assert json.loads((folder.path / "clip.json").read_text())["file"] == "clip.wav"
    assert RequestFolder(tmp_path).path != folder.path
    # Windows and macOS take Clip.txt for clip.txt: the second would overwrite the first, and the zip hold it twice
    assert [p.name for p in folder.write("/c/Clip.wav", transcript, formats=["txt"])] == ["Clip-3.txt"]


def test_old_request_folders_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    folders = OutputFolders(max_age_s=0.0)
    old = folders.new().path
    new = folders.new().path
    assert not old.exists() and new.exists()


def test_stop_only_cancels_its_own_session():
    flags = CancelFlags()
    with flags.running("alice") as alice, flags.running("bob") as bob:
        assert flags.cancel("alice") == 1
        assert alice.is_set() and not bob.is_set()
    assert flags.cancel("alice") == 0  # finished requests are forgotten


def test_a_job_that_waited_through_its_sessions_stop_starts_cancelled():
    flags = CancelFlags()
    waiting, other = flags.ticket(), flags.ticket()
    flags.cancel("alice")  # alice's job holding `waiting` is still in the queue
    later = flags.ticket()
    with flags.running("alice", waiting) as stopped, flags.running("alice", later) as fresh, \
            flags.running("bob", other) as bobs:
        assert stopped.is_set() and not fresh.is_set() and not bobs.is_set()
    with flags.running("alice") as without_ticket:  # an API call: no ticket, only a Stop while it runs ends it
        assert not without_ticket.is_set()


@pytest.fixture
def model_folder(tmp_path, monkeypatch):
    """An empty model folder, an empty Hugging Face cache, and no built-in demo model."""
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("TRANSCRIBER_MODEL_DIR", str(folder))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(models, "DEMO_MODEL_PATH", tmp_path / "no-demo.nemo")
    return folder


def test_model_choices_list_installed_models_then_downloadable_ones_then_browse(model_folder, tmp_path, monkeypatch):
    (model_folder / model_file_name(DEFAULT_MODEL)).write_bytes(b"x")  # installed by hand
    dummy = tmp_path / "mine.nemo"
    dummy.write_bytes(b"x")
    models.install_file(dummy, "team/meeting-model")  # installed through the manifest
    loose = model_folder / "loose.nemo"
    loose.write_bytes(b"x")
    monkeypatch.setattr(models, "DEMO_MODEL_PATH", dummy)

    choices = model_choices()
    values = [value for _, value in choices]
    labels = dict((value, label) for label, value in choices)
    not_installed = [info.name for info in KNOWN_MODELS if info.name != DEFAULT_MODEL]
    assert values == [DEFAULT_MODEL, "team/meeting-model", str(loose), DEMO_MODEL, *not_installed, BROWSE_CHOICE]
    assert "not installed" not in labels[DEFAULT_MODEL]
    for name in not_installed:
        assert labels[name].endswith(f"— not installed: python setup_local_models.py --download {name}")
    assert "demo" in labels[DEMO_MODEL]
    assert labels[BROWSE_CHOICE] == "Browse for a .nemo file…"


def test_model_choices_offer_a_named_model_first_once(model_folder):
    values = [value for _, value in model_choices("/models/tiny.nemo")]
    assert values[0] == "/models/tiny.nemo" and values.count("/models/tiny.nemo") == 1
    assert DEMO_MODEL not in values  # its file is not there
    assert [value for _, value in model_choices(DEFAULT_MODEL)].count(DEFAULT_MODEL) == 1


def test_a_damaged_manifest_does_not_keep_the_page_from_opening(model_folder):
    (model_folder / "manifest.json").write_text("{not json")
    assert [value for _, value in model_choices()][-1] == BROWSE_CHOICE


def test_only_offered_models_and_nemo_paths_are_accepted(model_folder):
    for name in (DEFAULT_MODEL, DEMO_MODEL, "/any/where/model.nemo", "../relative/Model.NEMO", " padded.nemo "):
        assert check_model_choice(name) == name.strip()
    assert check_model_choice("team/started-with", trusted={"team/started-with"}) == "team/started-with"
    for name in ("/etc/passwd", "../../secret.txt", "someone/unknown-model", "C:\\Windows\\win.ini"):
        with pytest.raises(ModelRefusedError, match="not a model this app offers"):
            check_model_choice(name)
    with pytest.raises(ModelRefusedError, match="Choose a model first"):
        check_model_choice("  ")
    with pytest.raises(ModelRefusedError, match="Choose a .nemo file first"):
        check_model_choice(BROWSE_CHOICE)


def test_status_rows_show_errors_in_their_row():
    transcript = Transcript("nine", words=(Word("nine", 0.0, 0.08),), duration=2.0)
    results = [FileResult("/x/a.wav", transcript=transcript, seconds=0.5), FileResult("/x/b.wav", error="b.wav: bad")]
    rows = status_rows(results)
    assert rows == [["a.wav", "2.0", "done", "0.50"], ["b.wav", "", "bad", "0.00"]]


# --- Through gradio_client, with the tiny model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    (folder / "other").mkdir()
    return {
        "two": write_tone(folder / "two.wav", 2.0),
        "one": write_tone(folder / "one.wav", 1.0),
        "ten": write_tone(folder / "ten.wav", 10.0),
        "bad": write_not_audio(folder / "bad.wav"),
        "two_elsewhere": write_tone(folder / "other" / "two.wav", 1.0, freq=440.0),
    }


@pytest.fixture(scope="module")
def app(launch_app, tiny_rnnt):
    """The app with its own engine: (url, engine)."""
    engine = Engine(device="cpu")
    return launch_app(engine=engine, model=tiny_rnnt), engine


@pytest.fixture
def client(app, tmp_path):
    from gradio_client import Client

    return Client(app[0], verbose=False, download_files=str(tmp_path))


def file_arg(path: str):
    from gradio_client import handle_file

    return handle_file(path)


def read(paths: list[str], suffix: str) -> str:
    (path,) = [p for p in paths if p.endswith(suffix)]
    return Path(path).read_text(encoding="utf-8")


def words_in(text: str) -> int:
    return len(text.split())


@pytest.mark.integration
def test_one_file_without_timestamps(client, clips):
    text, word_list, word_table, downloads, _ = client.predict(file_arg(clips["two"]), api_name="/transcribe")
    assert text.split()[0] == "nine"
    assert words_in(text) == pytest.approx(2.0 / FRAME_S, abs=1)
    assert word_list["visible"] is False and word_table["visible"] is False
    assert {Path(p).name for p in downloads} == {f"two{ext}" for ext in FORMATS}
    assert read(downloads, ".txt") == text + "\n"
    assert "00:00:00,000 --> 00:00:02,000" in read(downloads, ".srt")
    assert read(downloads, ".vtt").startswith("WEBVTT")
    assert json.loads(read(downloads, ".json"))["text"] == text
    assert read(downloads, ".csv").startswith("\ufeffstart,end,text")  # the mark Excel needs for accents


@pytest.mark.integration
def test_one_file_with_timestamps(client, clips):
    text, word_list, word_table, downloads, _ = client.predict(
        file_arg(clips["ten"]), timestamps=True, api_name="/transcribe"
    )
    assert word_list["visible"] is True and word_table["visible"] is True
    assert "\n\n`0.00s - 0.08s` → **nine**\n\n`0.08s - 0.16s` → **nine**" in word_list["value"]
    assert word_list["value"].count("→ **nine**") == 50  # the first 50 words, then a count of the rest
    assert word_list["value"].endswith(f"… and {words_in(text) - 50} more words")
    rows = word_table["value"]["data"]
    assert len(rows) == words_in(text) == pytest.approx(10.0 / FRAME_S, abs=1)
    starts = [row[1] for row in rows]
    assert starts == sorted(starts) and rows[-1][2] <= 10.0
    assert len(json.loads(read(downloads, ".json"))["words"]) == len(rows)
    assert read(downloads, ".srt").startswith("1\n00:00:00,000 --> ")


@pytest.mark.integration
def test_a_batch_with_one_bad_file(client, clips):
    status, texts, downloads, _ = client.predict(
        [file_arg(clips["two"]), file_arg(clips["bad"]), file_arg(clips["two_elsewhere"])],
        timestamps=True,
        api_name="/transcribe_batch",
    )
    rows = status["data"]
    assert [row[0] for row in rows] == ["two.wav", "bad.wav", "two.wav"]
    assert [row[2] for row in rows][::2] == ["done", "done"]
    assert rows[1][2].startswith("not a readable audio file")
    assert [row[1] for row in rows] == ["2.0", "", "1.0"]
    assert texts.count("[two.wav]") == 2 and "bad.wav" not in texts

    archive, *files = downloads
    assert Path(archive).name == "transcripts.zip"
    names = {Path(p).name for p in files}  # two inputs named two.wav: neither overwrites the other
    assert names == {f"two{ext}" for ext in FORMATS} | {f"two-2{ext}" for ext in FORMATS}
    with zipfile.ZipFile(archive) as bundle:
        assert set(bundle.namelist()) == names
        assert words_in(bundle.read("two-2.txt").decode()) == pytest.approx(1.0 / FRAME_S, abs=1)


@pytest.mark.integration
def test_video_files_are_transcribed_from_their_audio_track(client, tmp_path):
    from audio_fixtures import write_video_with_audio, write_video_without_audio

    with_sound = write_video_with_audio(tmp_path / "talk.mp4", seconds=1.5)
    silent_film = write_video_without_audio(tmp_path / "silent.mp4")
    files = [file_arg(str(with_sound)), file_arg(str(silent_film))]
    status, texts, _, _ = client.predict(files, api_name="/transcribe_batch")
    rows = [row[:3] for row in status["data"]]
    assert rows == [["talk.mp4", "1.5", "done"], ["silent.mp4", "", "the file has no audio track"]]
    assert texts.startswith("[talk.mp4]\nnine")


@pytest.mark.integration
def test_user_errors_are_one_sentence(client, clips, tmp_path):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Upload or record an audio file first"):
        client.predict(None, api_name="/transcribe")
    with pytest.raises(AppError, match="Add one or more files first"):
        client.predict([], api_name="/transcribe_batch")
    with pytest.raises(AppError, match=r"bad.wav: not a readable audio file") as bad:
        client.predict(file_arg(clips["bad"]), api_name="/transcribe")
    with pytest.raises(AppError, match=r"Model file .*missing.nemo does not exist") as missing:
        client.predict(file_arg(clips["one"]), model=str(tmp_path / "missing.nemo"), api_name="/transcribe")
    for error in (bad.value, missing.value):
        assert "Traceback" not in str(error)


@pytest.mark.integration
def test_two_sessions_at_once_get_their_own_results(app, clips):
    from gradio_client import Client

    alice, bob = Client(app[0], verbose=False), Client(app[0], verbose=False)
    # Both upload a file called two.wav, of different lengths.
    jobs = [
        alice.submit(file_arg(clips["two"]), api_name="/transcribe"),
        bob.submit(file_arg(clips["two_elsewhere"]), api_name="/transcribe"),
    ]
    (text_a, *_, files_a, id_a), (text_b, *_, files_b, id_b) = [job.result(timeout=120) for job in jobs]
    assert isinstance(id_a, int) and isinstance(id_b, int) and id_a != id_b  # both saved, each under its own id
    assert words_in(text_a) == pytest.approx(2.0 / FRAME_S, abs=1)
    assert words_in(text_b) == pytest.approx(1.0 / FRAME_S, abs=1)
    assert read(files_a, ".txt") == text_a + "\n" and read(files_b, ".txt") == text_b + "\n"


@pytest.mark.integration
def test_the_model_loads_once_across_two_requests(launch_app, tiny_rnnt, clips):
    from gradio_client import Client

    engine = Engine(device="cpu")
    client = Client(launch_app(engine=engine, model=tiny_rnnt), verbose=False)
    first = client.predict(file_arg(clips["one"]), api_name="/transcribe")
    second = client.predict(file_arg(clips["one"]), timestamps=True, api_name="/transcribe")
    assert first[0] == second[0]
    assert engine.cache.loads == 1


class LogRecords(logging.Handler):
    """Collects the messages of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def progress_descriptions(job) -> list[str]:
    """The ``gr.Progress`` descriptions a finished job received, in order."""

    async def collect() -> list[str]:
        return [unit.desc or "" async for update in job for unit in (getattr(update, "progress_data", None) or ())]

    return asyncio.run(collect())


@pytest.mark.integration
@pytest.mark.slow
def test_a_ten_second_clip_within_a_minute_with_progress_and_a_clean_log(
    launch_app, tiny_rnnt, clips, capfd, recwarn
):
    """The seed's acceptance check, first request of a fresh app (the model loads during it)."""
    from gradio_client import Client

    handler = LogRecords()
    loggers = [logging.getLogger(), logging.getLogger("nemo_logger")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        client = Client(launch_app(engine=slowed_engine(0.5), model=tiny_rnnt), verbose=False)
        started = time.monotonic()
        job = client.submit(file_arg(clips["ten"]), timestamps=True, api_name="/transcribe")
        watched = []  # what a user watching the page sees while the job runs
        while not job.done() and time.monotonic() - started < ACCEPTANCE_LIMIT_S:
            watched += [unit.desc or "" for unit in (job.status().progress_data or ())]
            time.sleep(0.02)
        text, *_ = job.result(timeout=ACCEPTANCE_LIMIT_S)
        elapsed = time.monotonic() - started
    finally:
        for logger in loggers:
            logger.removeHandler(handler)

    assert elapsed < ACCEPTANCE_LIMIT_S
    assert words_in(text) == pytest.approx(10.0 / FRAME_S, abs=1)
    steps = watched + progress_descriptions(job)
    assert any(step.startswith("Loading model") for step in steps), steps
    # Sent from the engine's worker thread while the model runs, not only the "Transcribed 1 of 1" at the end.
    assert any(step.startswith("Transcribing ten") for step in steps), steps
    captured = capfd.readouterr()
    assert "Transcribing" in captured.err  # NeMo's own progress bar reaches the terminal
    log = "\n".join([*handler.lines, captured.out, captured.err, *(str(w.message) for w in recwarn)])
    assert not CONFIG_TROUBLE.search(log), CONFIG_TROUBLE.search(log)


@pytest.mark.integration
def test_stop_ends_the_running_job_within_seconds(launch_app, tiny_rnnt, clips):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    started, release = threading.Event(), threading.Event()
    url = launch_app(engine=stalling_engine(release, started=started), model=tiny_rnnt)
    client = Client(url, verbose=False)
    try:
        job = client.submit(file_arg(clips["one"]), api_name="/transcribe")
        assert started.wait(60), "the job never reached the model"
        stop_pressed = time.monotonic()
        client.predict(api_name="/stop")
        with pytest.raises(AppError, match="cancelled"):
            job.result(timeout=STOP_LIMIT_S * 2)
        assert time.monotonic() - stop_pressed < STOP_LIMIT_S
    finally:
        release.set()


def test_progress_shows_whole_files_as_counts_and_parts_of_a_long_file_as_a_fraction_or_the_share_of_the_audio():
    from transcriber_ui.jobs import progress_reporter
    from transcriber.types import Progress

    calls = []
    report = progress_reporter(lambda *args, **kwargs: calls.append((args, kwargs)))
    report(Progress(1, 4, "Transcribing b.wav"))
    report(Progress(2.5, 4, "Transcribing c.wav (part 2 of 4)"))
    assert calls[0] == (((1, 4),), {"desc": "Transcribing b.wav", "unit": "files"})
    assert calls[1] == ((0.625,), {"desc": "Transcribing c.wav (part 2 of 4)"})
    # Where the files' lengths are known, the bar is the share of their audio done, and the text counts the files.
    report(Progress(30, 32, "Transcribing lecture.wav (part 313 of 748)", 0.42))
    report(Progress(31, 32, "Transcribed 31 of 32", 0.99))
    assert calls[2] == ((0.42,), {"desc": "Transcribing lecture.wav (part 313 of 748) · 30 of 32 files done"})
    assert calls[3] == ((0.99,), {"desc": "Transcribed 31 of 32"})


@pytest.fixture(scope="module")
def speaker_app(launch_app, tiny_rnnt, tiny_sortformer):
    """The app with a tiny Sortformer (two outputs, biased to hear speaker 0 all the time) as its diarizer."""
    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, diarizer=tiny_sortformer)


@pytest.fixture
def speaker_client(speaker_app, tmp_path):
    from gradio_client import Client

    return Client(speaker_app, verbose=False, download_files=str(tmp_path))


@pytest.mark.integration
def test_identify_speakers_shows_turns_and_a_speaker_column(speaker_client, clips):
    text, word_list, word_table, downloads, _ = speaker_client.predict(
        file_arg(clips["two"]), speakers=True, num_speakers="2", api_name="/transcribe"
    )
    assert text.startswith("S1  00:00:00  nine nine")
    assert word_table["visible"] is True and word_table["value"]["headers"][-1] == "speaker"
    assert {row[3] for row in word_table["value"]["data"]} == {"S1"}
    assert read(downloads, ".txt").startswith("S1: nine")
    assert "\n[S1] nine" in read(downloads, ".srt") and "<v S1>nine" in read(downloads, ".vtt")
    assert json.loads(read(downloads, ".json"))["speakers"] == ["S1"]
    assert read(downloads, ".csv").startswith("\ufeffstart,end,text,speaker\n")


@pytest.mark.integration
def test_a_batch_with_speakers_gives_turns_per_file_and_the_bad_file_its_reason(speaker_client, clips):
    status, texts, downloads, _ = speaker_client.predict(
        [file_arg(clips["two"]), file_arg(clips["bad"])], speakers=True, api_name="/transcribe_batch"
    )
    assert status["data"][0][2] == "done" and "not a readable audio file" in status["data"][1][2]
    assert texts.startswith("[two.wav]\nS1  00:00:00  nine")


@pytest.mark.integration
def test_more_speakers_than_the_diarizer_has_is_one_sentence(speaker_client, clips):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="at most 2 speakers; 4 were asked for"):
        speaker_client.predict(file_arg(clips["one"]), speakers=True, num_speakers="4", api_name="/transcribe")


@pytest.mark.integration
def test_without_the_box_ticked_nothing_mentions_speakers(speaker_client, clips):
    text, _, word_table, downloads, _ = speaker_client.predict(file_arg(clips["one"]), timestamps=True,
                                                            api_name="/transcribe")
    assert not text.startswith("S1") and word_table["value"]["headers"][-1] == "end (s)"
    assert "speakers" not in json.loads(read(downloads, ".json"))
