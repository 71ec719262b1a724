"""Speakers through the real NeMo ``diarize()`` path with a tiny Sortformer built from a config (random weights,
output biased to a known answer), and what a user sees when something is wrong."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from model_doubles import diarizer_engine
from tiny_models import build_tiny_sortformer
from transcriber import cli
from transcriber.diarization import STREAMING_SETTINGS, diarize_window, load_diarizer
from transcriber.errors import ModelLoadError, SpeakerOptionsError
from transcriber.formats import result_to_dict
from transcriber.models import resolve_model
from transcriber.types import SAMPLE_RATE, AudioData, TranscribeOptions

pytestmark = pytest.mark.integration
SPEAKERS = TranscribeOptions(speakers=True)


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path, seconds: float) -> str:
    sf.write(path, tone(seconds), SAMPLE_RATE)
    return str(path)


def with_diarizer(path: str, **changes) -> TranscribeOptions:
    return TranscribeOptions(speakers=True, diarizer=path, **changes)


def test_every_word_gets_the_speaker_diarize_reports(tiny_rnnt, tiny_sortformer, tmp_path):
    engine, loads = diarizer_engine()
    (result,) = engine.transcribe_files([write_wav(tmp_path / "a.wav", 3.0)], model=tiny_rnnt,
                                        options=with_diarizer(tiny_sortformer))
    assert result.ok, result.error
    transcript = result.transcript
    assert transcript.speakers == ("S1",)
    assert transcript.words and {w.speaker for w in transcript.words} == {"S1"}
    assert {s.speaker for s in transcript.segments} == {"S1"}
    data = result_to_dict(result)
    assert data["speakers"] == ["S1"] and all(w["speaker"] == "S1" for w in data["words"])
    assert len(loads) == 1 and loads[0].calls == [pytest.approx(3.0)]  # the same decoded audio, one window


def test_without_speakers_no_diarizer_is_loaded_and_nothing_changes(tiny_rnnt, tmp_path):
    engine, loads = diarizer_engine()
    (result,) = engine.transcribe_files([write_wav(tmp_path / "a.wav", 2.0)], model=tiny_rnnt,
                                        options=TranscribeOptions(timestamps=True))
    assert loads == [] and engine.diarizers.loads == 0
    assert result.transcript.speakers == () and all(w.speaker is None for w in result.transcript.words)
    assert "speakers" not in result_to_dict(result)


def test_the_diarizer_is_loaded_once_and_reused(tiny_rnnt, tiny_sortformer):
    engine, loads = diarizer_engine()
    for seconds in (1.5, 2.5):
        (result,) = engine.transcribe_files([AudioData(tone(seconds), SAMPLE_RATE)], model=tiny_rnnt,
                                            options=with_diarizer(tiny_sortformer))
        assert result.ok
    assert len(loads) == 1 and engine.diarizers.loads == 1


def test_a_long_file_is_diarized_in_overlapping_windows_as_it_is_decoded(tiny_rnnt, tiny_sortformer, tmp_path):
    engine, loads = diarizer_engine()
    (result,) = engine.transcribe_files([write_wav(tmp_path / "long.wav", 130.0)], model=tiny_rnnt,
                                        options=with_diarizer(tiny_sortformer))
    assert result.ok, result.error
    calls = loads[0].calls
    # 20 s windows (the tiny model's session length) overlapping by 10 s: 0-20, 10-30, ... 110-130.
    assert calls[:-1] == [pytest.approx(20.0)] * (len(calls) - 1) and len(calls) == 12
    assert result.transcript.speakers == ("S1",)  # one voice all along keeps one label across every window
    assert result.transcript.words[-1].end > 125


def test_a_diarizer_that_names_a_shorter_window_is_diarized_in_that_window(tiny_rnnt, tmp_path):
    # Trained on 20 s sessions but asking for 12 s windows (as the demo diarizer does): 12 s windows overlapping by
    # 6 s: 0-12, 6-18, ... 48-60.
    diarizer = str(build_tiny_sortformer(tmp_path, session_len_s=20.0, window_s=12.0))
    engine, loads = diarizer_engine()
    (result,) = engine.transcribe_files([write_wav(tmp_path / "long.wav", 60.0)], model=tiny_rnnt,
                                        options=with_diarizer(diarizer))
    assert result.ok, result.error
    calls = loads[0].calls
    assert calls == [pytest.approx(12.0)] * 9
    assert result.transcript.speakers == ("S1",)


def test_a_streaming_diarizer_goes_through_a_window_in_its_model_cards_chunks(tmp_path):
    path = build_tiny_sortformer(tmp_path, session_len_s=90.0, streaming=True, active_speaker=1)
    model = load_diarizer(resolve_model(str(path)), "cpu")
    chunks = []
    model.encoder.register_forward_hook(lambda *_: chunks.append(1))
    turns = diarize_window(model, tone(90.0), SAMPLE_RATE)
    # 90 s are 1125 frames of 80 ms: four chunks of the model card's 340 frames, each with its speaker cache.
    assert model.sortformer_modules.chunk_len == STREAMING_SETTINGS["chunk_len"] == 340
    assert len(chunks) == 4
    assert {turn.speaker for turn in turns} == {"speaker_1"}
    assert turns[0].start < 1.0 and turns[-1].end > 89.0


def test_a_long_file_through_a_streaming_diarizer_keeps_one_label(tiny_rnnt, tmp_path):
    diarizer = str(build_tiny_sortformer(tmp_path, session_len_s=90.0, streaming=True))
    engine, loads = diarizer_engine()
    (result,) = engine.transcribe_files([write_wav(tmp_path / "long.wav", 200.0)], model=tiny_rnnt,
                                        options=with_diarizer(diarizer))
    assert result.ok, result.error
    # 90 s windows overlapping by 15 s: 0-90, 75-165, and the last full window 110-200.
    assert loads[0].calls == [pytest.approx(90.0)] * 3
    assert result.transcript.speakers == ("S1",) and result.transcript.words[-1].end > 195


def test_a_stalled_diarizer_ends_the_job_within_its_bound_and_the_next_job_works(tiny_rnnt, tiny_sortformer):
    release = threading.Event()
    engine, loads = diarizer_engine(release)
    started = time.monotonic()
    (result,) = engine.transcribe_files([AudioData(tone(2.0), SAMPLE_RATE, "stuck.wav")], model=tiny_rnnt,
                                        options=with_diarizer(tiny_sortformer, timeout=2.0))
    assert time.monotonic() - started < 15
    assert not result.ok and "identifying speakers" in result.error and "did not finish within 2 s" in result.error
    (after,) = engine.transcribe_files([AudioData(tone(2.0), SAMPLE_RATE)], model=tiny_rnnt,
                                       options=with_diarizer(tiny_sortformer))
    release.set()
    assert after.ok and after.transcript.speakers == ("S1",)
    assert len(loads) == 2  # the stuck diarizer was dropped and a fresh one loaded


def test_cancel_while_identifying_speakers_stops_the_job(tiny_rnnt, tiny_sortformer):
    release, cancel = threading.Event(), threading.Event()
    # The user cancels once the diarizer has begun (however long loading it took), and it stalls until released.
    engine, loads = diarizer_engine(release, started=cancel)
    started = time.monotonic()
    try:
        (result,) = engine.transcribe_files([AudioData(tone(2.0), SAMPLE_RATE, "talk.wav")], model=tiny_rnnt,
                                            options=with_diarizer(tiny_sortformer), cancel=cancel)
    finally:
        release.set()
    assert not result.ok and "cancelled" in result.error
    assert loads[0].calls and time.monotonic() - started < 15  # stopped in the diarizer, not after its stall


def test_a_bad_file_in_a_batch_gets_its_error_and_the_others_their_speakers(tiny_rnnt, tiny_sortformer, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    engine, _ = diarizer_engine()
    results = engine.transcribe_files([str(bad), write_wav(tmp_path / "good.wav", 2.0)], model=tiny_rnnt,
                                      options=with_diarizer(tiny_sortformer))
    assert not results[0].ok and "notes.wav" in results[0].error
    assert results[1].ok and results[1].transcript.speakers == ("S1",)


def test_a_diarizer_that_hears_nobody_gives_no_speakers_and_no_error(tiny_rnnt, tmp_path):
    nobody = str(build_tiny_sortformer(tmp_path, active_speaker=-1, filename="nobody.nemo"))
    engine, _ = diarizer_engine()
    (quiet,) = engine.transcribe_files([AudioData(np.zeros(2 * SAMPLE_RATE, np.float32), SAMPLE_RATE)],
                                       model=tiny_rnnt, options=with_diarizer(nobody))
    assert quiet.ok, quiet.error
    assert quiet.transcript.speakers == () and all(w.speaker is None for w in quiet.transcript.words)
    assert "speakers" not in result_to_dict(quiet)


def test_a_clip_of_a_third_of_a_second_gets_its_speaker(tiny_rnnt, tiny_sortformer):
    engine, _ = diarizer_engine()
    (short,) = engine.transcribe_files([AudioData(tone(0.3), SAMPLE_RATE)], model=tiny_rnnt,
                                       options=with_diarizer(tiny_sortformer))
    assert short.ok, short.error
    assert {w.speaker for w in short.transcript.words} <= {"S1"}


def test_a_diarizer_file_that_is_not_a_diarizer_is_named(tiny_rnnt, tiny_ctc):
    engine, _ = diarizer_engine()
    with pytest.raises(ModelLoadError, match="is not a speaker diarization model"):
        engine.transcribe_files([AudioData(tone(1.0), SAMPLE_RATE)], model=tiny_rnnt, options=with_diarizer(tiny_ctc))


def test_a_diarizer_whose_voice_projection_does_not_fit_the_voice_features_is_named(tiny_rnnt, tmp_path):
    path = build_tiny_sortformer(tmp_path, filename="bad-projection.nemo", settings={
        "diarization_voice_clusters": True, "diarization_voice_projection": [[1.0, 0.0]] * 5})
    engine, _ = diarizer_engine()
    with pytest.raises(ModelLoadError, match=r"bad-projection.nemo: its diarization_voice_projection must be 21 rows"):
        engine.transcribe_files([AudioData(tone(1.0), SAMPLE_RATE)], model=tiny_rnnt, options=with_diarizer(str(path)))


def test_a_diarizer_whose_voice_embedding_is_not_one_is_named(tiny_rnnt, tmp_path):
    path = build_tiny_sortformer(tmp_path, filename="bad-embedding.nemo", settings={
        "diarization_voice_clusters": True, "diarization_voice_embedding": "not the weights of a network"})
    engine, _ = diarizer_engine()
    with pytest.raises(ModelLoadError,
                       match=r"bad-embedding.nemo: its diarization_voice_embedding cannot be used: not the weights"):
        engine.transcribe_files([AudioData(tone(1.0), SAMPLE_RATE)], model=tiny_rnnt, options=with_diarizer(str(path)))


@pytest.mark.parametrize("count", [0, 9])
def test_a_speaker_count_out_of_range_is_refused(tiny_rnnt, tiny_sortformer, count):
    engine, _ = diarizer_engine()
    with pytest.raises(SpeakerOptionsError, match="between 1 and 8"):
        engine.transcribe_files([AudioData(tone(1.0), SAMPLE_RATE)], model=tiny_rnnt,
                                options=with_diarizer(tiny_sortformer, num_speakers=count))


def test_more_speakers_than_the_diarizer_has_is_refused(tiny_rnnt, tiny_sortformer):
    engine, _ = diarizer_engine()
    with pytest.raises(SpeakerOptionsError, match="at most 2 speakers; 3 were asked for"):
        engine.transcribe_files([AudioData(tone(1.0), SAMPLE_RATE)], model=tiny_rnnt,
                                options=with_diarizer(tiny_sortformer, num_speakers=3))


def test_the_command_line_prints_speakers_in_json(tiny_rnnt, tiny_sortformer, tmp_path, capsys):
    from io import StringIO

    out = StringIO()
    status = cli.main([write_wav(tmp_path / "a.wav", 2.0), "--model", tiny_rnnt, "--speakers", "--diarizer",
                       tiny_sortformer, "--num-speakers", "2", "--json"], out=out)
    assert status == 0
    (line,) = out.getvalue().splitlines()
    data = json.loads(line)
    assert data["speakers"] == ["S1"] and all(w["speaker"] == "S1" for w in data["words"])
    assert all(s["speaker"] == "S1" for s in data["segments"])


@pytest.mark.parametrize("argv", [["--speakers", "--num-speakers", "0"], ["--speakers", "--num-speakers", "9"],
                                  ["--num-speakers", "2"]])
def test_bad_speaker_options_on_the_command_line_are_usage_errors(argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main([write_wav(tmp_path / "a.wav", 1.0), *argv])
    assert exited.value.code == 2
    assert "speakers" in capsys.readouterr().err


def test_a_speech_model_and_a_diarizer_load_at_once_without_mixing_their_files(tiny_rnnt, tiny_sortformer):
    """The app loads its speech model in the background while a first request may load the diarizer. NeMo keeps the
    folder of the archive it is unpacking in process-wide state, so two loads at once read each other's files: the
    speech model's tokenizer was looked for among the diarizer's files ("Artifact not found ... Files in
    nemo_file_folder: ['model_weights.ckpt', 'model_config.yaml']") and the page said the model could not be loaded."""
    from transcriber.engine import Engine

    for _ in range(2):
        engine = Engine(device="cpu")  # an empty cache each round: both load from their files
        start = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [threading.Thread(target=load_after, args=(start, errors, engine.load, tiny_rnnt)),
                   threading.Thread(target=load_after, args=(start, errors, engine.load_diarizer, tiny_sortformer))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not errors, errors


def load_after(start: threading.Barrier, errors: list[BaseException], load, model: str) -> None:
    """``load(model)`` once every thread of ``start`` is ready; what it raises goes into ``errors``."""
    start.wait()
    try:
        load(model)
    except BaseException as exc:  # noqa: BLE001 - the test reports it
        errors.append(exc)
