"""The app against bad files, many users at once and stuck models, through its API as a user's script meets it.

Bad files go through ``/transcribe_batch`` between two good files: each gets one readable reason in its own row (the
file's name in the first column), the good files are transcribed regardless, nothing hangs, and no temporary file is
left behind. The tiny offline RNNT model says "nine" once per 0.08 s, so word counts tell clips apart.
"""

from __future__ import annotations

import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import raw_api
from audio_fixtures import (
    tone,
    truncate,
    write_empty,
    write_png,
    write_text,
    write_tone,
    write_video_without_audio,
)
from model_doubles import stalling_engine
from transcriber.engine import Engine
from transcriber.types import SAMPLE_RATE

pytestmark = pytest.mark.integration

FRAME_S = 0.08
RESULT_TIMEOUT_S = 60.0
DONE = "done"
FORMATS = (".txt", ".srt", ".vtt", ".json", ".csv", ".docx")


# --- Fixtures ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def temp_root(tmp_path_factory):
    """Python's temporary folder while this module runs, so that what NeMo and the app leave there can be seen."""
    folder = tmp_path_factory.mktemp("app-temp")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(folder))
        yield folder


@pytest.fixture(scope="module")
def app(temp_root, launch_app, tiny_rnnt):
    """The app with its own engine: (url, engine)."""
    engine = Engine(device="cpu")
    return launch_app(engine=engine, model=tiny_rnnt), engine


@pytest.fixture
def connect(tmp_path):
    """``connect(url)``: a new API client (a new browser session) whose downloads land in this test's folder."""
    from gradio_client import Client

    def connect(url: str) -> Client:
        return Client(url, verbose=False, download_files=str(tmp_path / "downloads"))

    return connect


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """Two good clips, 1 s and 2 s, that go around every bad file."""
    folder = tmp_path_factory.mktemp("good")
    return write_tone(folder / "before.wav", seconds=1.0), write_tone(folder / "after.wav", seconds=2.0)


def file_arg(path: str | Path):
    from gradio_client import handle_file

    return handle_file(str(path))


def words_in(text: str) -> int:
    return len(text.split())


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


def assert_nothing_left_behind(root: Path, before: set[Path], downloads: list[str]) -> None:
    """The files a request added to the temporary folder are only Gradio's uploads and the downloads it returned.

    Gradio keeps uploads and copies of downloads in its own cache (``gradio/``) and deletes them after a day; the
    app keeps each request's downloads for an hour. Anything else (NeMo manifests, half-written files, decoded
    audio) is a leak.
    """
    names = {Path(path).name for path in downloads}
    added = files_under(root) - before
    leaked = [
        path
        for path in added
        if path.relative_to(root).parts[0] != "gradio"
        and not (path.relative_to(root).parts[0].startswith("transcriber-ui-") and path.name in names)
    ]
    assert leaked == []


# --- Bad and awkward files --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A file to put between the good ones, and what its row must say."""

    write: Callable[[Path], Path]
    status: str = DONE
    duration: float | None = None


def wav_claiming_more_data(folder: Path) -> Path:
    path = write_tone(folder / "claims-more.wav", seconds=1.0, sample_rate=SAMPLE_RATE)
    data = bytearray(path.read_bytes())
    size_at = data.index(b"data") + 4
    data[size_at : size_at + 4] = struct.pack("<I", 10_000_000)  # the header promises 10 MB; 32 KB follow
    path.write_bytes(bytes(data))
    return path


def wav_of(name: str, samples: np.ndarray, subtype: str = "PCM_16") -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        sf.write(folder / name, samples, SAMPLE_RATE, subtype=subtype)
        return folder / name

    return write


def with_nan() -> np.ndarray:
    samples = tone(1.0, SAMPLE_RATE)
    samples[100:200] = np.nan
    return samples


CASES = {
    "empty file": Case(lambda folder: write_empty(folder / "empty.wav"), "the file is empty (0 bytes)"),
    "text renamed .wav": Case(lambda folder: write_text(folder / "notes.wav"), "not a readable audio file"),
    "image": Case(lambda folder: write_png(folder / "photo.png"), "not a readable audio file"),
    "video without sound": Case(
        lambda folder: write_video_without_audio(folder / "silent film.mp4"), "the file has no audio track"
    ),
    "NaN samples": Case(wav_of("nan.wav", with_nan(), "FLOAT"), "the audio contains invalid sample values"),
    # A cut-off file keeps what can be read, as ffmpeg does.
    "truncated WAV": Case(lambda folder: truncate(write_tone(folder / "cut.wav", seconds=2.0), 0.5), duration=1.0),
    "truncated MP3": Case(lambda folder: truncate(write_tone(folder / "cut.mp3", seconds=2.0), 0.5), duration=1.0),
    "truncated FLAC": Case(lambda folder: truncate(write_tone(folder / "cut.flac", seconds=2.0), 0.5), duration=1.0),
    "WAV header claims more data": Case(wav_claiming_more_data, duration=1.0),
    "8-bit PCM": Case(lambda folder: write_tone(folder / "u8.wav", subtype="PCM_U8"), duration=1.0),
    "24-bit PCM": Case(lambda folder: write_tone(folder / "s24.wav", subtype="PCM_24"), duration=1.0),
    "32-bit float": Case(lambda folder: write_tone(folder / "f32.wav", subtype="FLOAT"), duration=1.0),
    "8 kHz": Case(lambda folder: write_tone(folder / "phone.wav", sample_rate=8000), duration=1.0),
    "96 kHz": Case(lambda folder: write_tone(folder / "studio.wav", sample_rate=96_000), duration=1.0),
    "6 channels": Case(lambda folder: write_tone(folder / "surround.wav", channels=6), duration=1.0),
    "0.05 s": Case(
        lambda folder: write_tone(folder / "blip.wav", seconds=0.05, sample_rate=SAMPLE_RATE), duration=0.05
    ),
    "DC offset": Case(wav_of("dc.wav", np.clip(tone(1.0, SAMPLE_RATE) + 0.9, -1, 1)), duration=1.0),
    "clipping": Case(wav_of("loud.wav", np.clip(tone(1.0, SAMPLE_RATE, amplitude=5.0), -1, 1)), duration=1.0),
    "spaces, unicode and quotes in the name": Case(
        lambda folder: write_tone(folder / "it's a \"quoted\" ünïcödé 名前 name.wav"), duration=1.0
    ),
}


@pytest.mark.parametrize("kind", CASES)
def test_a_bad_or_awkward_file_gets_its_own_row_and_the_batch_completes(
    kind, app, connect, good, temp_root, tmp_path
):
    case = CASES[kind]
    folder = tmp_path / "in"
    folder.mkdir()
    odd = case.write(folder)
    before = files_under(temp_root)

    job = connect(app[0]).submit(
        [file_arg(good[0]), file_arg(odd), file_arg(good[1])], api_name="/transcribe_batch"
    )
    status, texts, downloads, _ = job.result(timeout=RESULT_TIMEOUT_S)

    before_row, odd_row, after_row = status["data"]
    assert before_row[:3] == ["before.wav", "1.0", DONE] and after_row[:3] == ["after.wav", "2.0", DONE]
    assert odd_row[0] == odd.name
    assert odd_row[2].startswith(case.status), odd_row
    assert "Traceback" not in odd_row[2] and "\n" not in odd_row[2]
    if case.duration is not None:
        assert float(odd_row[1]) == pytest.approx(case.duration, abs=0.1)
    assert texts.startswith("[before.wav]\nnine") and "[after.wav]\nnine" in texts
    assert (f"[{odd.name}]" in texts) == (case.status == DONE)
    assert_nothing_left_behind(temp_root, before, downloads)


def test_two_files_of_one_awkward_name_get_their_own_safe_downloads(app, connect, tmp_path):
    name = "it's a \"quoted\" ünïcödé 名前 name.wav"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = write_tone(tmp_path / "a" / name), write_tone(tmp_path / "b" / name, seconds=2.0)
    status, texts, downloads, _ = connect(app[0]).predict(
        [file_arg(first), file_arg(second)], api_name="/transcribe_batch"
    )
    assert [row[:3] for row in status["data"]] == [[name, "1.0", DONE], [name, "2.0", DONE]]
    assert texts.count(f"[{name}]\nnine") == 2
    stem = "it's a _quoted_ ünïcödé 名前 name"  # safe on every OS; the second file does not overwrite the first
    assert sorted(Path(path).name for path in downloads[1:]) == sorted(
        [f"{stem}{ext}" for ext in FORMATS] + [f"{stem}-2{ext}" for ext in FORMATS]
    )
    (second_txt,) = [path for path in downloads if path.endswith(f"{stem}-2.txt")]
    assert words_in(Path(second_txt).read_text(encoding="utf-8")) == pytest.approx(2.0 / FRAME_S, abs=1)


def test_a_file_that_vanished_before_its_turn_is_named_and_the_rest_are_transcribed(app, good, tiny_rnnt, tmp_path):
    """Gradio deletes day-old uploads: a page left open that long sends the path of a file that is gone."""
    url = app[0]
    gone = raw_api.upload(url, write_tone(tmp_path / "gone.wav"))
    kept = raw_api.upload(url, Path(good[1]))
    Path(gone).unlink()
    files = [raw_api.file_data(gone), raw_api.file_data(kept)]
    result = raw_api.call(url, "transcribe_batch", [files, tiny_rnnt, 4, False, False, "auto", None, "transcribe", None])
    assert result["success"], result
    rows = result["output"]["data"][0]["data"]
    assert [row[:3] for row in rows] == [["gone.wav", "", "file not found"], ["after.wav", "2.0", DONE]]


def test_a_clip_shorter_than_a_second_gives_only_its_own_words(app, connect, tmp_path):
    clip = write_tone(tmp_path / "half.wav", seconds=0.5, sample_rate=SAMPLE_RATE)
    text, *_ = connect(app[0]).predict(file_arg(clip), api_name="/transcribe")
    assert words_in(text) == pytest.approx(0.5 / FRAME_S, abs=1)


@pytest.mark.slow
def test_three_hours_of_silence_give_empty_text_in_bounded_time(connect, launch_app, tiny_rnnt_blank, good, tmp_path):
    """180 one-minute windows of a tiny model that never speaks: about a minute on two busy CPU cores."""
    silence = tmp_path / "three hours.flac"
    minute = np.zeros(60 * SAMPLE_RATE, dtype=np.int16)
    with sf.SoundFile(silence, "w", SAMPLE_RATE, 1, subtype="PCM_16") as file:  # FLAC: about 0.5 MB to upload
        for _ in range(180):
            file.write(minute)
    url = launch_app(engine=Engine(device="cpu"), model=tiny_rnnt_blank)
    started = time.monotonic()
    job = connect(url).submit([file_arg(silence), file_arg(good[0])], api_name="/transcribe_batch")
    status, texts, _, _ = job.result(timeout=180)
    assert time.monotonic() - started < 180
    assert [row[:3] for row in status["data"]] == [["three hours.flac", "10800.0", DONE], ["before.wav", "1.0", DONE]]
    assert texts == "[three hours.flac]\n(No speech was recognised.)\n\n[before.wav]\n(No speech was recognised.)"


# --- Many users at once -----------------------------------------------------------------------------------------------


def test_four_clients_sending_three_requests_each_get_their_own_results(connect, launch_app, tiny_rnnt, tmp_path):
    engine = Engine(device="cpu")
    url = launch_app(engine=engine, model=tiny_rnnt)
    seconds = [1.0, 1.5, 2.0, 2.5]  # 12, 19, 25 and 31 words: every client's clip is told apart by its length
    clips = []
    for number, length in enumerate(seconds):
        (tmp_path / f"client{number}").mkdir()
        clips.append(write_tone(tmp_path / f"client{number}" / "clip.wav", seconds=length))  # all called clip.wav
    clients = [connect(url) for _ in seconds]
    jobs = [
        (length, client.submit(file_arg(clip), api_name="/transcribe"))
        for client, clip, length in zip(clients, clips, seconds)
        for _ in range(3)
    ]
    for length, job in jobs:
        text, _, _, downloads, _ = job.result(timeout=RESULT_TIMEOUT_S)
        assert words_in(text) == pytest.approx(length / FRAME_S, abs=1)
        (txt,) = [path for path in downloads if path.endswith(".txt")]
        assert Path(txt).read_text(encoding="utf-8") == text + "\n"
    assert engine.cache.loads == 1


# --- Stuck models -----------------------------------------------------------------------------------------------------

STUCK_TIMEOUT_S = 2.0


def test_a_stuck_model_ends_the_job_with_a_clear_error_within_the_time_limit(connect, launch_app, tiny_rnnt, good):
    from gradio_client.exceptions import AppError

    release = threading.Event()
    engine = stalling_engine(release)
    client = connect(launch_app(engine=engine, model=tiny_rnnt, timeout=STUCK_TIMEOUT_S))
    try:
        engine.load(tiny_rnnt)  # the loading time is not part of the limit; take it out of the measurement
        started = time.monotonic()
        job = client.submit(file_arg(good[0]), api_name="/transcribe")
        with pytest.raises(AppError, match=r"^before\.wav: did not finish within 2 s and was stopped"):
            job.result(timeout=RESULT_TIMEOUT_S)
        assert time.monotonic() - started < STUCK_TIMEOUT_S + 5
        # The stuck model was dropped: the next request loads a fresh one and works.
        text, *_ = client.submit(file_arg(good[1]), api_name="/transcribe").result(timeout=RESULT_TIMEOUT_S)
        assert words_in(text) == pytest.approx(2.0 / FRAME_S, abs=1)
        assert engine.cache.loads == 2
    finally:
        release.set()


def stop_a_stuck_job(client, good, started: threading.Event) -> None:
    """Start a job on the stuck model, press Stop, and check that the job ends as cancelled."""
    from gradio_client.exceptions import AppError

    job = client.submit(file_arg(good[0]), api_name="/transcribe")
    assert started.wait(RESULT_TIMEOUT_S), "the job never reached the model"
    client.predict(api_name="/stop")
    with pytest.raises(AppError, match="cancelled"):
        job.result(timeout=10)


def test_stop_frees_the_queue_for_the_next_request(connect, launch_app, tiny_rnnt, tiny_ctc, good):
    started, release = threading.Event(), threading.Event()
    client = connect(launch_app(engine=stalling_engine(release, started=started), model=tiny_rnnt))
    try:
        stop_a_stuck_job(client, good, started)
        # One transcription runs at a time: this one could not start if the stopped job still held the queue.
        text, *_ = client.submit(file_arg(good[1]), model=tiny_ctc, api_name="/transcribe").result(timeout=20)
        assert text == "nine"  # the tiny CTC model says it once
    finally:
        release.set()


def test_after_stop_on_a_stuck_model_the_next_request_on_that_model_works(connect, launch_app, tiny_rnnt, good):
    started, release = threading.Event(), threading.Event()
    client = connect(launch_app(engine=stalling_engine(release, started=started), model=tiny_rnnt, timeout=5.0))
    try:
        stop_a_stuck_job(client, good, started)
        asked = time.monotonic()
        text, *_ = client.submit(file_arg(good[1]), api_name="/transcribe").result(timeout=RESULT_TIMEOUT_S)
        assert words_in(text) == pytest.approx(2.0 / FRAME_S, abs=1)
        assert time.monotonic() - asked < 4.0
    finally:
        release.set()
