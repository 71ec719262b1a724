"""Secure defaults, checked with real connections to the app served in-process.

The server listens on this computer only and publishes no public link, whatever Gradio's environment variables say;
it serves no file but its own uploads and outputs, however the path is spelled; it refuses uploads over its size cap
with a message saying so; and a model "path" typed into the page never makes it open a file that is not a ``.nemo``.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import httpx
import pytest

import raw_api
from audio_fixtures import write_tone
from transcribe_ui import build_demo, serve
from transcriber.engine import Engine
from transcriber.nemo_models import load_nemo_model

ROOT = Path(__file__).resolve().parent.parent
SECRET = "the-secret-content-7f3a"
PASSWD = Path("/etc/passwd")
CAP_BYTES = 64 * 1024


class RecordingEngine(Engine):
    """A CPU engine that records every model it is asked to load and every file it is given."""

    def __init__(self) -> None:
        super().__init__(device="cpu", loader=self._load)
        self.loaded: list[str] = []
        self.given: list[str] = []

    def _load(self, source, device):
        self.loaded.append(source.name)
        return load_nemo_model(source, device)

    def transcribe_files(self, files, **options):
        self.given += [str(file) for file in files]
        return super().transcribe_files(files, **options)


@pytest.fixture(scope="module")
def app(launch_app, tiny_rnnt):
    """The app with a recording engine: (url, engine)."""
    engine = RecordingEngine()
    return launch_app(engine=engine, model=tiny_rnnt), engine


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture
def client(app, tmp_path):
    from gradio_client import Client

    return Client(app[0], verbose=False, download_files=str(tmp_path / "downloads"))


def outward_address() -> str | None:
    """This computer's address on its network, if it has one besides loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a UDP "connect" only picks the route; nothing is sent
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


# --- Who can reach the page -------------------------------------------------------------------------------------------


def test_the_page_is_private_even_when_gradio_variables_say_otherwise(monkeypatch, tiny_rnnt):
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SHARE", "True")
    demo = build_demo(engine=Engine(device="cpu"), default_model=tiny_rnnt)
    url = serve(demo, block=False, quiet=True)
    try:
        port = httpx.URL(url).port
        assert url.startswith("http://127.0.0.1:")
        assert demo.share is False and demo.share_url is None  # no public gradio.live link
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        address = outward_address()
        if address is not None:  # from the network the port is closed
            with pytest.raises(OSError):
                socket.create_connection((address, port), timeout=5).close()
    finally:
        demo.close()


def test_transcripts_are_not_kept_in_a_run_history(app):
    assert httpx.get(f"{app[0]}config").json()["run_history"] is False
    assert httpx.get(f"{app[0]}gradio_api/runs").status_code == 404


# --- Which files it serves --------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_only_its_own_uploads_and_outputs_are_served(app, secret, tiny_rnnt, tmp_path):
    url = app[0]
    uploaded = raw_api.upload(url, secret)
    assert raw_api.get(url, f"/gradio_api/file={uploaded}") == (200, SECRET.encode())  # the route works
    clip = raw_api.upload(url, write_tone(tmp_path / "clip.wav"))
    result = raw_api.call(url, "transcribe", [raw_api.file_data(clip), tiny_rnnt, 4, False, False, "auto", None, "transcribe", None])
    output = result["output"]["data"][3][0]["path"]  # where the server keeps the first download
    status, body = raw_api.get(url, f"/gradio_api/file={output}")
    assert status == 200 and body.startswith(b"nine")

    repo_file = ROOT / "transcribe_ui.py"
    upload_dir = Path(uploaded).parent.parent
    attempts = [
        f"/gradio_api/file={secret}",
        f"/gradio_api/file={repo_file}",
        "/gradio_api/file=transcribe_ui.py",  # relative to the folder the app runs in
        "/gradio_api/file=README.md",
        f"/gradio_api/file={PASSWD}",
        "/gradio_api/file=%2Fetc%2Fpasswd",
        "/gradio_api/file=%252Fetc%252Fpasswd",
        "/gradio_api/file=../../../../../../../../etc/passwd",
        "/gradio_api/file=..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        f"/gradio_api/file={upload_dir}/../../../../../../etc/passwd",
        f"/gradio_api/file={uploaded}/../../../../../../../etc/passwd",
        f"/gradio_api/file={upload_dir}/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        f"/gradio_api/file={upload_dir}/../../../../../../{secret}",
        "/gradio_api/file/etc/passwd",
        f"/gradio_api/file/{repo_file}",
        "/file=/etc/passwd",
        f"/file={secret}",
        "/file/etc/passwd",
        "/gradio_api/static/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/assets/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/static/../../../../../etc/passwd",
    ]
    markers = [SECRET.encode(), b"root:x:0:0", repo_file.read_bytes()[:60], b"# transcriber"]
    served = []
    for path in attempts:
        status, body = raw_api.get(url, path)
        if status == 200 or any(marker in body for marker in markers):
            served.append((path, status, body[:80]))
    assert served == []


def test_a_server_path_the_client_did_not_upload_is_refused_before_the_engine_sees_it(app, secret, tiny_rnnt):
    url, engine = app
    given_before = list(engine.given)
    for path in (str(secret), str(PASSWD), f"{ROOT}/README.md"):
        result = raw_api.call(url, "transcribe_batch", [[raw_api.file_data(path)], tiny_rnnt, 4, False, False, "auto", None, "transcribe", None])
        assert result["success"] is False
        assert SECRET not in str(result) and "root:x" not in str(result)
    assert engine.given == given_before


# --- Upload size cap --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def capped_app(launch_app, tiny_rnnt):
    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, max_file_size=CAP_BYTES)


@pytest.mark.integration
def test_an_upload_over_the_cap_is_refused_with_a_message_saying_so(capped_app, tmp_path):
    from gradio_client import Client, handle_file

    big = write_tone(tmp_path / "big.wav", seconds=4.0, sample_rate=16_000)  # 128 KB
    small = write_tone(tmp_path / "small.wav", seconds=1.0, sample_rate=16_000)  # 32 KB
    response = httpx.post(f"{capped_app}gradio_api/upload", files=[("files", ("big.wav", big.read_bytes()))])
    assert response.status_code == 413
    assert response.text == f"File size exceeded maximum allowed size of {CAP_BYTES} bytes."

    client = Client(capped_app, verbose=False, download_files=str(tmp_path / "downloads"))
    with pytest.raises(ValueError, match=rf"big\.wav exceeds the maximum file size of {CAP_BYTES} bytes"):
        client.predict([handle_file(str(big)), handle_file(str(small))], api_name="/transcribe_batch")
    status, _, _, _ = client.predict([handle_file(str(small))], api_name="/transcribe_batch")
    assert [row[:3] for row in status["data"]] == [["small.wav", "1.0", "done"]]


# --- Model names typed into the page ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def opened_files():
    """The paths Python code in this process opens while a test watches them (an audit hook; see PEP 578)."""
    watched: set[str] = set()
    opened: list[str] = []

    def hook(event: str, args: tuple) -> None:
        if event == "open" and watched and isinstance(args[0], (str, os.PathLike)) and os.fspath(args[0]) in watched:
            opened.append(os.fspath(args[0]))

    sys.addaudithook(hook)  # cannot be removed again; idle while nothing is watched
    yield watched, opened
    watched.clear()


@pytest.fixture
def watch_opens(opened_files):
    """(watched, opened) for one test: add paths to ``watched``; ``opened`` lists those opened since."""
    watched, opened = opened_files
    yield watched, opened
    watched.clear()
    opened.clear()


@pytest.mark.integration
def test_a_typed_model_that_is_not_a_nemo_file_is_refused_without_opening_it(
    app, client, secret, watch_opens, tmp_path
):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    url, engine = app
    watched, opened = watch_opens
    clip = handle_file(str(write_tone(tmp_path / "clip.wav")))
    typed = [
        str(secret),
        str(PASSWD),
        "../../secret.txt",
        f"{secret.parent}/../{secret.parent.name}/secret.txt",
        "someone/unknown-model",
    ]
    watched.update([*typed, str(secret.resolve())])
    loaded_before = list(engine.loaded)
    for name in typed:
        with pytest.raises(AppError, match="is not a model this app offers: pick one from the list"):
            client.predict(clip, model=name, api_name="/transcribe")
    assert opened == [] and engine.loaded == loaded_before
    # A .nemo path is the user's to name: a missing one, or one that is not a model, says so in one sentence.
    with pytest.raises(AppError, match=r"^Model file .*missing\.nemo does not exist\.$"):
        client.predict(clip, model=str(tmp_path / "missing.nemo"), api_name="/transcribe")
    fake = tmp_path / "fake.nemo"
    fake.write_text(SECRET)
    watched.add(str(fake))
    with pytest.raises(AppError, match=r"^Model file fake\.nemo could not be loaded") as not_a_model:
        client.predict(clip, model=str(fake), api_name="/transcribe")
    assert SECRET not in str(not_a_model.value)
    assert str(fake) in opened  # the hook does see what the server opens
