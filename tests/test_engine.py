"""The engine driving real (tiny) NeMo models through the real ``transcribe()``."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from model_doubles import stalling_engine
from transcriber.engine import Engine
from transcriber.windows import window_count
from transcriber.errors import (
    ModelLoadError,
    ModelNotAvailableError,
    TranscriptionCancelledError,
)
from transcriber.types import SAMPLE_RATE, AudioData, TranscribeOptions

pytestmark = pytest.mark.integration

FRAME_S = 0.08  # one encoder frame of the tiny models; the biased RNNT/TDT models say one word per frame
TIMESTAMPS = TranscribeOptions(timestamps=True)


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path, seconds: float, freq: float = 220.0) -> str:
    sf.write(path, tone(seconds, freq), SAMPLE_RATE)
    return str(path)


def assert_valid_timings(transcript):
    assert transcript.words, "timestamps were requested but no words came back"
    previous_start = 0.0
    for word in transcript.words:
        assert type(word.start) is float and type(word.end) is float
        assert 0.0 <= word.start <= word.end <= transcript.duration + 1e-9
        assert word.start >= previous_start
        previous_start = word.start
    for segment in transcript.segments:
        assert 0.0 <= segment.start <= segment.end <= transcript.duration + 1e-9
    assert transcript.segments[0].start <= transcript.words[0].start
    assert transcript.words[-1].end <= transcript.segments[-1].end + 1e-9


def test_every_model_kind_transcribes_with_and_without_timestamps(engine, tiny_any, tmp_path):
    kind, model = tiny_any
    clip = write_wav(tmp_path / "clip.wav", 2.0)

    (plain,) = engine.transcribe_files([clip], model=model)
    assert plain.ok, plain.error
    assert plain.transcript.text.split()[0] == "nine"
    assert plain.transcript.words == () and plain.transcript.segments == ()
    assert plain.transcript.duration == pytest.approx(2.0)

    (timed,) = engine.transcribe_files([clip], model=model, options=TIMESTAMPS)
    assert timed.transcript.text == plain.transcript.text
    assert_valid_timings(timed.transcript)
    if kind != "ctc":  # the biased CTC model says one word; the others one per frame
        assert len(timed.transcript.words) == pytest.approx(2.0 / FRAME_S, abs=1)
        assert timed.transcript.words[-1].end == pytest.approx(2.0, abs=FRAME_S)

    # NeMo keeps timestamps switched on between calls; a call without them must still give none.
    (again,) = engine.transcribe_files([clip], model=model)
    assert again.transcript.words == () and again.transcript.segments == ()
    assert again.transcript.text == plain.transcript.text
    assert engine.cache.loads == 1


def test_a_batch_keeps_input_order(engine, tiny_rnnt, tmp_path):
    seconds = [3.0, 1.0, 2.0, 1.5, 2.5]
    files = [write_wav(tmp_path / f"clip{i}.wav", s) for i, s in enumerate(seconds)]
    results = engine.transcribe_files(files, model=tiny_rnnt, options=TranscribeOptions(timestamps=True, batch_size=2))
    assert [r.file for r in results] == files
    for result, length in zip(results, seconds):
        assert result.transcript.duration == pytest.approx(length)
        assert len(result.transcript.words) == pytest.approx(length / FRAME_S, abs=1)


def test_bad_files_get_their_own_error_and_the_rest_are_transcribed(engine, tiny_tdt, tmp_path):
    good1 = write_wav(tmp_path / "good one.wav", 1.5)
    missing = str(tmp_path / "missing.wav")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 50)
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    good2 = write_wav(tmp_path / "good-two.wav", 2.0)
    files = [good1, missing, str(text), str(empty), good2]

    heard = []
    results = engine.transcribe_files(files, model=tiny_tdt, options=TranscribeOptions(timestamps=True, batch_size=4),
                                      on_result=lambda index, result: heard.append((index, result)))

    assert [r.file for r in results] == files
    assert [r.ok for r in results] == [True, False, False, False, True]
    # Each file is heard of once, as soon as it is known: the bad ones while the good ones wait for their batch.
    assert heard == [(1, results[1]), (2, results[2]), (3, results[3]), (0, results[0]), (4, results[4])]
    assert "missing.wav" in results[1].error and "not found" in results[1].error
    assert "notes.wav" in results[2].error
    assert "empty.mp3" in results[3].error and "empty" in results[3].error
    assert results[0].transcript.duration == pytest.approx(1.5)
    assert results[4].transcript.duration == pytest.approx(2.0)
    assert_valid_timings(results[4].transcript)


def test_numpy_audio_and_short_clips(engine, tiny_rnnt):
    short = AudioData(tone(0.3), SAMPLE_RATE, source="short")
    (result,) = engine.transcribe_files([short], model=tiny_rnnt, options=TIMESTAMPS)
    assert result.file == "short"
    assert_valid_timings(result.transcript)
    # NeMo would pad a 0.3 s array on both sides and shift every time; the words must start at the real start.
    assert result.transcript.words[0].start == 0.0
    assert result.transcript.words[-1].end <= 0.3


def test_silence_is_not_an_error(engine, tiny_ctc):
    silence = AudioData(np.zeros(SAMPLE_RATE * 2, dtype=np.float32), SAMPLE_RATE, source="silence")
    (result,) = engine.transcribe_files([silence], model=tiny_ctc, options=TIMESTAMPS)
    assert result.ok


def test_transcribe_is_called_with_direct_keywords_and_never_override_config(engine, tiny_tdt, tmp_path):
    calls = []
    nemo_model = engine.load(tiny_tdt).model
    original = nemo_model.transcribe

    def spy(audio, **kwargs):
        calls.append(kwargs)
        return original(audio, **kwargs)

    nemo_model.transcribe = spy
    clip = write_wav(tmp_path / "clip.wav", 1.0)
    engine.transcribe_files([clip], model=tiny_tdt, options=TranscribeOptions(timestamps=True, batch_size=3))
    engine.transcribe_files([clip], model=tiny_tdt, options=TranscribeOptions(timestamps=False))
    assert calls == [
        {"batch_size": 3, "num_workers": 0, "return_hypotheses": True, "timestamps": True, "verbose": False},
        {"batch_size": 4, "num_workers": 0, "return_hypotheses": True, "timestamps": False, "verbose": False},
    ]


def test_ten_minute_file_is_stitched_without_lost_or_doubled_words(engine, tiny_rnnt, tmp_path):
    clip = write_wav(tmp_path / "long.wav", 600.0)
    seen = []
    (result,) = engine.transcribe_files([clip], model=tiny_rnnt, options=TIMESTAMPS, progress=seen.append)
    assert result.ok, result.error
    transcript = result.transcript
    assert transcript.duration == pytest.approx(600.0)
    assert_valid_timings(transcript)
    # The biased model says one word per frame: any seam that drops or doubles a word shows as a gap or a repeat.
    starts = np.array([word.start for word in transcript.words])
    assert np.allclose(np.diff(starts), FRAME_S, atol=0.01)
    assert len(starts) == pytest.approx(600.0 / FRAME_S, abs=1)
    assert transcript.words[-1].end == pytest.approx(600.0, abs=FRAME_S)
    assert transcript.text == " ".join(word.text for word in transcript.words)
    parts = [p.description for p in seen if "part" in p.description]
    assert parts[0] == f"Transcribing long.wav (part 1 of {window_count(600.0)})" and len(parts) > 1
    assert all(0 <= p.done <= 1 for p in seen)


def test_a_long_file_is_transcribed_while_it_is_decoded_so_memory_stays_flat(engine, tiny_rnnt, tmp_path, monkeypatch):
    import transcriber.engine as engine_module

    # 120 s of windows per transcribe() call (the default is 600 s): the same code path, at a test's scale.
    monkeypatch.setattr(engine_module, "CALL_MAX_AUDIO_S", 120.0)
    options = TranscribeOptions(timestamps=True, batch_size=2)
    short, long = write_wav(tmp_path / "five minutes.wav", 300.0), write_wav(tmp_path / "ten minutes.wav", 600.0)
    engine.transcribe_files([short], model=tiny_rnnt, options=options)  # warm-up: NeMo's one-off allocations

    peaks, results = {}, {}
    for path in (short, long):
        tracemalloc.start()  # NumPy's allocations are traced: decoded audio, windows, energy tracks
        (results[path],) = engine.transcribe_files([path], model=tiny_rnnt, options=options)
        peaks[path] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert results[path].ok, results[path].error
    decoded_ten_minutes = 600 * SAMPLE_RATE * 4
    assert peaks[long] < 0.8 * decoded_ten_minutes  # the whole recording was never in memory at once
    assert peaks[long] < 1.2 * peaks[short]  # twice the audio, about the same memory

    # Decoding as it goes gives exactly what transcribing the whole decoded recording gives.
    streamed = results[long]
    in_memory = AudioData(sf.read(long, dtype="float32")[0], SAMPLE_RATE, long)
    (whole,) = engine.transcribe_files([in_memory], model=tiny_rnnt, options=options)
    assert streamed.transcript == whole.transcript
    assert len(streamed.transcript.words) == pytest.approx(600.0 / FRAME_S, abs=1)


def test_a_long_file_that_breaks_part_way_gets_its_own_error(engine, tiny_rnnt, tmp_path, monkeypatch):
    import transcriber.engine as engine_module

    # Two windows per transcribe() call, and the NaN far past the first: found only while the file is transcribed.
    monkeypatch.setattr(engine_module, "CALL_MAX_AUDIO_S", 60.0)
    samples = tone(200.0)
    samples[round(190 * SAMPLE_RATE)] = np.nan
    broken = tmp_path / "broken late.wav"
    sf.write(broken, samples, SAMPLE_RATE, subtype="FLOAT")
    good = write_wav(tmp_path / "good.wav", 2.0)
    options = TranscribeOptions(batch_size=2)
    results = engine.transcribe_files([str(broken), good], model=tiny_rnnt, options=options)
    assert "broken late.wav" in results[0].error and "NaN" in results[0].error
    assert results[1].ok and results[1].transcript.text.startswith("nine")


def test_long_audio_without_timestamps_gives_text_only(engine, tiny_rnnt, tmp_path):
    (result,) = engine.transcribe_files([write_wav(tmp_path / "long.wav", 130.0)], model=tiny_rnnt)
    assert result.transcript.words == () and result.transcript.segments == ()
    assert len(result.transcript.text.split()) == pytest.approx(130.0 / FRAME_S, abs=1)


def test_cancel_stops_a_long_file_between_windows(engine, tiny_rnnt, tmp_path):
    nemo_model = engine.load(tiny_rnnt).model
    slow = nemo_model.encoder.register_forward_pre_hook(lambda *_: time.sleep(0.3))
    clip = write_wav(tmp_path / "long.wav", 600.0)
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    try:
        (result,) = engine.transcribe_files([clip], model=tiny_rnnt, options=TranscribeOptions(batch_size=1), cancel=cancel)
    finally:
        slow.remove()
    assert "cancelled" in result.error
    assert time.monotonic() - started < 5
    # The worker stopped at the next window and gave the model back: the next job runs at once.
    (after,) = engine.transcribe_files([write_wav(tmp_path / "short.wav", 1.0)], model=tiny_rnnt,
                                       options=TranscribeOptions(timeout=5))
    assert after.ok, after.error


def test_short_files_before_a_long_one_are_done_before_it(engine, tiny_rnnt, tmp_path):
    # Short files were gathered for one batch and waited behind the long file that followed them: a Stop during a
    # three-hour recording marked the voice memos listed before it "cancelled", though they take a second, and the
    # page said 0 of 32 files were done all the while.
    memos = [write_wav(tmp_path / f"memo {n}.wav", 2.0) for n in range(3)]
    lecture = write_wav(tmp_path / "lecture.wav", 300.0)
    cancel, seen, finished = threading.Event(), [], []

    def progress(update):
        seen.append((update.done, update.description))
        if "part 2 of" in update.description:
            cancel.set()

    results = engine.transcribe_files([*memos, lecture], model=tiny_rnnt, options=TranscribeOptions(batch_size=1),
                                      cancel=cancel, progress=progress, on_result=lambda index, _: finished.append(index))
    assert [r.ok for r in results] == [True, True, True, False] and "cancelled" in results[3].error
    assert finished == [0, 1, 2, 3]
    assert [done for done, text in seen if "part 1 of" in text] == [3]  # three files done when the lecture began


def test_progress_is_the_share_of_the_audio_done(engine, tiny_rnnt, tmp_path):
    # Counted in files, a three-hour recording after thirty voice memos sat at 94 % (30 of 32 files) for its hour.
    memos = [write_wav(tmp_path / f"memo {n}.wav", 2.0) for n in range(3)]
    lecture = write_wav(tmp_path / "lecture.wav", 300.0)
    seen = []
    engine.transcribe_files([*memos, lecture], model=tiny_rnnt, progress=seen.append, share_of_audio=True)
    shares = [update.share for update in seen]
    assert all(share is not None for share in shares)
    assert shares == sorted(shares) and shares[-1] == pytest.approx(1.0)
    parts = [update for update in seen if "lecture.wav (part" in update.description]
    assert parts[0].done == 3 and len(parts) > 1
    for update in parts:  # the memos' 6 s and the lecture's share so far, of 306 s
        assert update.share == pytest.approx((6.0 + 300.0 * (update.done - 3)) / 306.0)
    (memos_done,) = [update for update in seen if update.description == "Transcribed 3 of 4"]
    assert memos_done.share == pytest.approx(6.0 / 306.0)


def test_a_stuck_job_ends_with_a_clear_error_and_the_next_one_works(tiny_rnnt, tmp_path):
    release = threading.Event()
    engine = stalling_engine(release)
    clip = write_wav(tmp_path / "stuck.wav", 1.0)
    started = time.monotonic()
    (result,) = engine.transcribe_files([clip], model=tiny_rnnt, options=TranscribeOptions(timeout=0.5))
    elapsed = time.monotonic() - started
    release.set()
    assert not result.ok
    assert "stuck.wav" in result.error and "did not finish within 0.5 s" in result.error  # not "within 0 s"
    assert elapsed < 10
    (after,) = engine.transcribe_files([clip], model=tiny_rnnt)
    assert after.ok and after.transcript.text.startswith("nine")
    assert engine.cache.loads == 2  # the stuck model was dropped and a fresh one loaded


def test_cancel_from_another_thread(tiny_rnnt, tmp_path):
    release = threading.Event()
    engine = stalling_engine(release)
    files = [write_wav(tmp_path / f"c{i}.wav", 1.0) for i in range(3)]
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    results = engine.transcribe_files(files, model=tiny_rnnt, options=TranscribeOptions(batch_size=1), cancel=cancel)
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 10
    assert [r.file for r in results] == files
    assert all("cancelled" in r.error for r in results)


def test_cancel_raises_for_a_single_transcription(tiny_rnnt, tmp_path):
    release = threading.Event()
    engine = stalling_engine(release)
    audio = AudioData(tone(1.0), SAMPLE_RATE, source="one")
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(TranscriptionCancelledError, match="cancelled"):
        engine.transcribe_arrays([audio], model=tiny_rnnt, cancel=cancel)
    release.set()


def test_progress_reports_loading_and_each_batch(engine, tiny_ctc, tmp_path):
    files = [write_wav(tmp_path / f"p{i}.wav", 1.0) for i in range(3)]
    seen = []
    engine.transcribe_files(files, model=tiny_ctc, options=TranscribeOptions(batch_size=2), progress=seen.append)
    descriptions = [p.description for p in seen]
    assert any(d.startswith("Loading model") for d in descriptions)
    assert [(p.done, p.description) for p in seen if p.description.startswith("Transcribing")] == [
        (0, "Transcribing p0.wav"),
        (2, "Transcribing p2.wav"),
    ]
    assert seen[-1].done == 3
    assert all(p.total == 3 for p in seen)


def test_a_model_that_is_not_installed_names_itself(engine, monkeypatch, tmp_path):
    monkeypatch.setenv("TRANSCRIBER_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelNotAvailableError, match="nvidia/no-such-model.*setup_local_models.py --download"):
        engine.load("nvidia/no-such-model")


def test_a_file_that_is_not_a_model_gives_a_load_error(engine, tmp_path):
    fake = tmp_path / "fake.nemo"
    fake.write_bytes(b"not a tar archive")
    with pytest.raises(ModelLoadError, match="fake.nemo could not be loaded"):
        engine.load(str(fake))


@pytest.fixture
def simulated_windows_temp(tmp_path, monkeypatch):
    """Redirect temporary files as on Windows; everything is restored afterwards."""
    import tempfile

    from transcriber import tempdir

    for name in (*tempdir.TEMP_ENV_VARS, tempdir.GRADIO_TEMP_ENV):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "LocalAppData"))
    return tempdir.redirect_temp(os_name="nt")


def test_nemo_temp_files_land_in_the_redirected_folder_and_are_removed(simulated_windows_temp, tiny_rnnt, tmp_path):
    target = simulated_windows_temp
    assert target == (tmp_path / "LocalAppData" / "transcriber" / "tmp").resolve()
    engine = Engine(device="cpu")
    nemo_model = engine.load(tiny_rnnt).model
    seen: list[list[str]] = []
    handle = nemo_model.encoder.register_forward_pre_hook(
        lambda *_: seen.append(sorted(p.relative_to(target).as_posix() for p in target.rglob("*")))
    )
    try:
        clip = write_wav(tmp_path / "clip.wav", 1.0)
        # Given paths, NeMo writes a manifest into a temporary folder of its own.
        nemo_model.transcribe([clip], batch_size=1, num_workers=0, return_hypotheses=True, timestamps=False, verbose=False)
        assert any(name.endswith("/manifest.json") for name in seen[-1]), seen
        assert list(target.iterdir()) == []
        # The engine hands NeMo arrays: NeMo's temporary folder is still ours, and is gone afterwards.
        (result,) = engine.transcribe_files([clip], model=tiny_rnnt)
        assert result.ok
        assert len(seen[-1]) == 1 and (target / seen[-1][0]).parent == target
        assert list(target.iterdir()) == []
    finally:
        handle.remove()


@pytest.mark.parametrize(
    "raw, expected",
    [
        # Canary and parakeet v3 give punctuation as separate "words" in some versions, with or without time.
        ([("¿", 0.0, 0.0), ("Dónde", 0.1, 0.4), ("estás", 0.5, 0.8), ("?", 0.8, 0.8)],
         [("¿Dónde", 0.1, 0.4), ("estás?", 0.5, 0.8)]),
        ([("¡", 1.0, 1.0), ("Hola", 1.0, 1.3), ("!", 1.3, 1.3), ("Adiós", 2.0, 2.0)],
         [("¡Hola!", 1.0, 1.3), ("Adiós", 2.0, 2.02)]),
        ([("Yes", 0.0, 0.3), (",", 0.3, 0.3), ("well", 0.4, 0.4), ("...", 0.4, 0.4), ("no", 0.41, 0.6)],
         [("Yes,", 0.0, 0.3), ("well...", 0.4, 0.41), ("no", 0.41, 0.6)]),
        ([("Hello.", 0.0, 0.5)], [("Hello.", 0.0, 0.5)]),
    ],
)
def test_punctuation_stays_with_its_word_and_no_word_lasts_no_time(raw, expected):
    from transcriber.hypotheses import attach_punctuation
    from transcriber.types import Word

    words = attach_punctuation([Word(text, start, end) for text, start, end in raw], duration=3.0)
    assert [(w.text, round(w.start, 3), round(w.end, 3)) for w in words] == expected


def test_a_files_seconds_do_not_count_loading_the_model(tiny_ctc, tmp_path):
    """A folder batch's log began "[1/3400] memo.wav: 2.6 s of audio in 4.4 s", the model's loading counted as the
    first file's time (and so in summary.csv and the page's table): no file's time includes it."""
    from transcriber.nemo_models import load_nemo_model

    def slow_load(source, device):  # a large model on a slow disk: NeMo's own loading, three seconds later
        time.sleep(3.0)
        return load_nemo_model(source, device)

    files = []
    for name, seconds in (("a.wav", 1.0), ("b.wav", 80.0)):  # a short one and one the model hears in windows
        sf.write(tmp_path / name, tone(seconds), SAMPLE_RATE)
        files.append(str(tmp_path / name))
    for order in (files, files[::-1]):
        results = Engine(device="cpu", loader=slow_load).transcribe_files(order, model=tiny_ctc)
        assert [result.error for result in results] == [None, None]
        assert max(result.seconds for result in results) < 2.5, [result.seconds for result in results]
