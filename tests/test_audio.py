"""Tests for transcriber.audio: every supported format decodes to the same 16 kHz mono signal, and every kind of bad
input ends in the typed error a user can act on, naming the file.

Test files are written on the fly by ``audio_fixtures`` (PyAV and soundfile, no system ffmpeg), mostly 1 s tones whose
frequency and amplitude are known, so a decode that is wrong in a way a listener would notice fails here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays

import audio_fixtures as fx
from transcriber.audio import AudioReader, audio_from_array, load_audio
from transcriber.errors import (
    AudioDecodeError,
    AudioError,
    AudioFileNotFoundError,
    EmptyAudioError,
    EmptyFileError,
    InvalidSamplesError,
    NoAudioTrackError,
)
from transcriber.mixdown import BLOCK_FRAMES, CANCELLED_MIX_RATIO
from transcriber.types import SAMPLE_RATE, AudioData

FREQUENCY_TOLERANCE_HZ = 2.0
LOSSLESS = 0.0
# How far the decoded length of a 1 s tone may be from 1 s. Lossless formats must be exact (to one output sample);
# AAC gains up to two codec frames (encoder priming, which our PyAV-written files carry no edit list for, and padding
# of the last frame); the other lossy codecs trim their delay from metadata.
FORMAT_DURATION_TOLERANCE = {
    ".wav": LOSSLESS,
    ".flac": LOSSLESS,
    ".mka": LOSSLESS,
    ".ogg": 0.01,
    ".opus": 0.01,
    ".mp3": 0.01,
    ".m4a": 0.05,
    ".aac": 0.05,
    ".mp4": 0.05,
    ".mov": 0.05,
    ".mkv": 0.01,
    ".webm": 0.01,
}
LOSSLESS_AMPLITUDE_TOLERANCE = 0.01
LOSSY_AMPLITUDE_TOLERANCE = 0.1


def spectrum_amplitude(audio: AudioData, frequency: float) -> float:
    """Amplitude of the sine at exactly ``frequency`` in ``audio`` (0.5 for a sine of peak 0.5).

    A Hann-windowed Fourier transform evaluated at that one frequency, so there is no loss from falling between bins.
    """
    window = np.hanning(len(audio.samples))
    times = np.arange(len(audio.samples)) / audio.sample_rate
    component = np.sum(audio.samples * window * np.exp(-2j * np.pi * frequency * times))
    return float(2 * np.abs(component) / window.sum())


def dominant_frequency(audio: AudioData) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples * np.hanning(len(audio.samples))))
    return float(np.fft.rfftfreq(len(audio.samples), 1 / audio.sample_rate)[spectrum.argmax()])


def assert_standard(audio: AudioData, seconds: float, tolerance: float = LOSSLESS) -> None:
    """The shape every caller relies on: 1-D float32 at 16 kHz, of the expected length."""
    assert audio.sample_rate == SAMPLE_RATE
    assert audio.samples.dtype == np.float32
    assert audio.samples.ndim == 1
    assert abs(audio.duration - seconds) <= tolerance + 1 / SAMPLE_RATE, audio.duration


@pytest.fixture(scope="module")
def two_second_tone(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], bytes]:
    """The bytes of a 2 s tone file for a suffix, encoded once per test module."""
    folder = tmp_path_factory.mktemp("tones")
    encoded: dict[str, bytes] = {}

    def get(suffix: str) -> bytes:
        if suffix not in encoded:
            encoded[suffix] = fx.write_tone(folder / f"tone{suffix}", seconds=2.0).read_bytes()
        return encoded[suffix]

    return get


# --- every format gives back the same tone ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(FORMAT_DURATION_TOLERANCE))
def test_each_format_decodes_to_the_tone_at_16k(tmp_path: Path, suffix: str) -> None:
    path = fx.write_tone(tmp_path / f"tone{suffix}")

    audio = load_audio(path)

    tolerance = FORMAT_DURATION_TOLERANCE[suffix]
    assert_standard(audio, fx.SECONDS, tolerance)
    assert audio.source == str(path)
    assert abs(dominant_frequency(audio) - fx.TONE_HZ) <= FREQUENCY_TOLERANCE_HZ
    amplitude_tolerance = LOSSLESS_AMPLITUDE_TOLERANCE if tolerance == LOSSLESS else LOSSY_AMPLITUDE_TOLERANCE
    assert spectrum_amplitude(audio, fx.TONE_HZ) == pytest.approx(fx.AMPLITUDE, rel=amplitude_tolerance)


@pytest.mark.parametrize(
    ("suffix", "video_codec", "audio_codec"),
    [
        (".mp4", "libx264", "aac"),
        (".mp4", "mpeg4", "aac"),
        (".webm", "libvpx", "libopus"),
        (".webm", "libvpx-vp9", "libopus"),
        (".mkv", "libx264", "aac"),
        (".mkv", "mpeg4", "flac"),
    ],
)
def test_stereo_audio_track_of_a_video(tmp_path: Path, suffix: str, video_codec: str, audio_codec: str) -> None:
    path = fx.write_video_with_audio(
        tmp_path / f"clip{suffix}", sample_rate=48_000, channels=2, video_codec=video_codec, audio_codec=audio_codec
    )

    audio = load_audio(path)

    assert_standard(audio, fx.SECONDS, tolerance=0.05)
    for frequency in fx.channel_frequencies(2):
        assert spectrum_amplitude(audio, frequency) == pytest.approx(fx.AMPLITUDE / 2, rel=LOSSY_AMPLITUDE_TOLERANCE)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_sample_formats_are_scaled_to_the_same_level(tmp_path: Path, subtype: str) -> None:
    path = fx.write_tone(tmp_path / f"{subtype}.wav", subtype=subtype)

    audio = load_audio(path)

    assert_standard(audio, fx.SECONDS)
    assert spectrum_amplitude(audio, fx.TONE_HZ) == pytest.approx(fx.AMPLITUDE, rel=LOSSLESS_AMPLITUDE_TOLERANCE)


@pytest.mark.parametrize("sample_rate", [8_000, 16_000, 22_050, 44_100, 48_000, 96_000])
@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_any_sample_rate_is_resampled_to_16k(tmp_path: Path, suffix: str, sample_rate: int) -> None:
    path = fx.write_tone(tmp_path / f"tone{suffix}", sample_rate=sample_rate)

    audio = load_audio(path)

    assert_standard(audio, fx.SECONDS)
    assert abs(dominant_frequency(audio) - fx.TONE_HZ) <= FREQUENCY_TOLERANCE_HZ
    assert spectrum_amplitude(audio, fx.TONE_HZ) == pytest.approx(fx.AMPLITUDE, rel=LOSSLESS_AMPLITUDE_TOLERANCE)


def test_content_above_8k_is_filtered_out_not_aliased(tmp_path: Path) -> None:
    # A 12 kHz tone cannot exist at 16 kHz; naive decimation from 96 kHz would fold it onto 4 kHz.
    rate = 96_000
    times = np.arange(rate) / rate
    signal = 0.4 * np.sin(2 * np.pi * fx.TONE_HZ * times) + 0.4 * np.sin(2 * np.pi * 12_000 * times)
    path = fx.write_samples(tmp_path / "hi.wav", signal.astype(np.float32), rate, subtype="FLOAT")

    audio = load_audio(path)

    assert spectrum_amplitude(audio, fx.TONE_HZ) == pytest.approx(0.4, rel=LOSSLESS_AMPLITUDE_TOLERANCE)
    assert spectrum_amplitude(audio, 4_000) < 1e-3


def test_sample_rate_option(tmp_path: Path) -> None:
    audio = load_audio(fx.write_tone(tmp_path / "tone.wav"), sample_rate=8_000)

    assert audio.sample_rate == 8_000
    assert len(audio.samples) == 8_000
    assert abs(dominant_frequency(audio) - fx.TONE_HZ) <= FREQUENCY_TOLERANCE_HZ


def test_soundfile_and_ffmpeg_paths_give_the_same_samples(tmp_path: Path) -> None:
    # The same lossless FLAC stream: bare (read with soundfile) and inside Matroska (read with PyAV).
    signal = fx.tone(channels=2)
    bare = load_audio(fx.write_samples(tmp_path / "tone.flac", signal, 44_100))
    wrapped = load_audio(fx.write_samples(tmp_path / "tone.mka", signal, 44_100))

    np.testing.assert_allclose(bare.samples, wrapped.samples, atol=1e-6)


def test_sample_rate_change_inside_a_stream(tmp_path: Path) -> None:
    # Two MP3s back to back, 440 Hz at 44.1 kHz then 880 Hz at 22.05 kHz: players play both, and so must we.
    first = fx.write_tone(tmp_path / "first.mp3", sample_rate=44_100)
    second = fx.write_tone(tmp_path / "second.mp3", sample_rate=22_050, frequency=880.0)
    joined = tmp_path / "joined.mp3"
    joined.write_bytes(first.read_bytes() + second.read_bytes())

    audio = load_audio(joined)

    assert audio.duration == pytest.approx(2 * fx.SECONDS, abs=0.1)
    halves = [AudioData(part, SAMPLE_RATE) for part in (audio.samples[:SAMPLE_RATE], audio.samples[-SAMPLE_RATE:])]
    assert [round(dominant_frequency(half)) for half in halves] == [440, 880]


# --- channels --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".ogg"])
def test_stereo_is_the_mean_of_both_channels(tmp_path: Path, suffix: str) -> None:
    audio = load_audio(fx.write_tone(tmp_path / f"stereo{suffix}", channels=2))

    left_hz, right_hz = fx.channel_frequencies(2)
    rel = LOSSLESS_AMPLITUDE_TOLERANCE if suffix in (".wav", ".flac") else LOSSY_AMPLITUDE_TOLERANCE
    assert spectrum_amplitude(audio, left_hz) == pytest.approx(fx.AMPLITUDE / 2, rel=rel)
    assert spectrum_amplitude(audio, right_hz) == pytest.approx(fx.AMPLITUDE / 2, rel=rel)


@pytest.mark.parametrize(("default", "heard"), [(1, 880.0), (None, 440.0)])
def test_a_file_of_several_audio_tracks_gives_the_one_flagged_to_play(tmp_path, default, heard):
    # A film with a commentary first and the dialogue flagged as the track to play, or a recording of two microphones:
    # the track a player plays is the one transcribed (the first when none is flagged).
    path = fx.write_audio_tracks(tmp_path / "film.mkv", [440.0, 880.0], default=default)
    audio = load_audio(path)
    other = 880.0 if heard == 440.0 else 440.0
    assert spectrum_amplitude(audio, heard) == pytest.approx(fx.AMPLITUDE, rel=LOSSLESS_AMPLITUDE_TOLERANCE)
    assert spectrum_amplitude(audio, other) < 0.01


@pytest.mark.parametrize(("suffix", "subtype"), [(".wav", None), (".wav", "PCM_U8"), (".flac", None), (".mp3", None)])
def test_channels_in_opposite_phase_give_the_sound_not_silence(
    tmp_path: Path, suffix: str, subtype: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    # One channel inverted: the file plays normally, but the mean of its channels is silence.
    left = fx.tone()[:, 0]
    path = fx.write_samples(tmp_path / f"opposite{suffix}", np.stack([left, -left], axis=1), 44_100, subtype=subtype)

    with caplog.at_level(logging.WARNING, logger="transcriber.mixdown"):
        audio = load_audio(path)

    rel = LOSSY_AMPLITUDE_TOLERANCE if suffix == ".mp3" or subtype == "PCM_U8" else LOSSLESS_AMPLITUDE_TOLERANCE
    assert spectrum_amplitude(audio, fx.TONE_HZ) == pytest.approx(fx.AMPLITUDE, rel=rel)
    assert [record.getMessage() for record in caplog.records] == [
        f"{path}: its two channels are in opposite phase and cancel when mixed; using their difference"
    ]


def test_only_the_stretch_in_opposite_phase_is_taken_as_the_difference() -> None:
    # A block of two talkers (one per channel), then a block of one signal inverted: the first stays the mean.
    seconds = BLOCK_FRAMES / SAMPLE_RATE
    talkers = fx.tone(seconds=seconds, sample_rate=SAMPLE_RATE, channels=2)
    inverted = fx.tone(seconds=seconds, sample_rate=SAMPLE_RATE)[:, 0]
    audio = audio_from_array(np.concatenate([talkers, np.stack([inverted, -inverted], axis=1)]), SAMPLE_RATE)

    first, second = (AudioData(half, SAMPLE_RATE, "half") for half in np.split(audio.samples, 2))
    left_hz, right_hz = fx.channel_frequencies(2)
    assert spectrum_amplitude(first, left_hz) == pytest.approx(fx.AMPLITUDE / 2, rel=LOSSLESS_AMPLITUDE_TOLERANCE)
    assert spectrum_amplitude(first, right_hz) == pytest.approx(fx.AMPLITUDE / 2, rel=LOSSLESS_AMPLITUDE_TOLERANCE)
    assert spectrum_amplitude(second, fx.TONE_HZ) == pytest.approx(fx.AMPLITUDE, rel=LOSSLESS_AMPLITUDE_TOLERANCE)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_six_channels_are_mixed_equally(tmp_path: Path, suffix: str) -> None:
    audio = load_audio(fx.write_tone(tmp_path / f"surround{suffix}", channels=6))

    assert_standard(audio, fx.SECONDS)
    for frequency in fx.channel_frequencies(6):
        assert spectrum_amplitude(audio, frequency) == pytest.approx(fx.AMPLITUDE / 6, rel=LOSSLESS_AMPLITUDE_TOLERANCE)


@pytest.mark.parametrize("suffix", [".m4a", ".opus"])
def test_lossy_six_channel_files_decode(tmp_path: Path, suffix: str) -> None:
    audio = load_audio(fx.write_tone(tmp_path / f"surround{suffix}", channels=6))

    assert_standard(audio, fx.SECONDS, FORMAT_DURATION_TOLERANCE[suffix])
    # Channel 1 (front left, 440 Hz) survives any 5.1 encoder untouched (the LFE channel may be low-passed).
    assert spectrum_amplitude(audio, fx.TONE_HZ) == pytest.approx(fx.AMPLITUDE / 6, rel=LOSSY_AMPLITUDE_TOLERANCE)


# --- silence, short and damaged files --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_silence_is_not_an_error(tmp_path: Path, suffix: str) -> None:
    audio = load_audio(fx.write_tone(tmp_path / f"silence{suffix}", amplitude=0.0))

    assert_standard(audio, fx.SECONDS, FORMAT_DURATION_TOLERANCE[suffix])
    assert np.abs(audio.samples).max() < 1e-4


def test_wav_shorter_than_its_header_says_keeps_what_is_there(tmp_path: Path) -> None:
    # An interrupted recording: the header promises 2 s, the file holds about 1 s.
    path = fx.truncate(fx.write_tone(tmp_path / "cut.wav", seconds=2.0), keep=0.5)

    audio = load_audio(path)

    assert audio.duration == pytest.approx(1.0, abs=0.01)
    assert abs(dominant_frequency(audio) - fx.TONE_HZ) <= FREQUENCY_TOLERANCE_HZ


def test_wav_whose_header_was_never_finished_is_read_to_the_end(tmp_path: Path) -> None:
    # libsndfile reads such a file as empty; FFmpeg reads the data that is there.
    path = fx.clear_wav_sizes(fx.write_tone(tmp_path / "unfinished.wav"))

    audio = load_audio(path)

    assert_standard(audio, fx.SECONDS)
    assert abs(dominant_frequency(audio) - fx.TONE_HZ) <= FREQUENCY_TOLERANCE_HZ


@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".opus", ".webm"])
def test_half_a_file_decodes_to_about_half_the_audio(tmp_path: Path, suffix: str) -> None:
    path = fx.truncate(fx.write_tone(tmp_path / f"cut{suffix}", seconds=2.0), keep=0.5)

    audio = load_audio(path)

    assert 0.75 <= audio.duration <= 1.1
    assert abs(dominant_frequency(audio) - fx.TONE_HZ) <= FREQUENCY_TOLERANCE_HZ


@pytest.mark.parametrize("suffix", [".mp3", ".m4a", ".flac"])
def test_garbage_in_the_middle_keeps_the_rest(tmp_path: Path, suffix: str) -> None:
    path = fx.damage(fx.write_tone(tmp_path / f"damaged{suffix}", seconds=2.0))

    audio = load_audio(path)

    assert audio.duration >= 1.0
    assert abs(dominant_frequency(audio) - fx.TONE_HZ) <= FREQUENCY_TOLERANCE_HZ


def test_skipped_damage_is_logged_with_the_file_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = fx.damage(fx.write_tone(tmp_path / "damaged.mp3", seconds=2.0))

    with caplog.at_level(logging.WARNING, logger="transcriber.audio"):
        load_audio(path)

    assert any(record.levelno == logging.WARNING and "damaged.mp3" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("keep", [0.02, 0.1, 0.3, 0.6, 0.9, 0.99])
@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".mp4", ".mkv", ".webm"])
def test_truncated_files_decode_or_raise_a_typed_error(
    tmp_path: Path, two_second_tone: Callable[[str], bytes], suffix: str, keep: float
) -> None:
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(two_second_tone(suffix))
    fx.truncate(path, keep=keep)

    try:
        audio = load_audio(path)
    except AudioError as error:
        assert path.name in str(error)
    else:
        assert audio.sample_rate == SAMPLE_RATE
        assert audio.samples.dtype == np.float32
        assert 0 < audio.duration <= 2.0 + FORMAT_DURATION_TOLERANCE[suffix]


# --- errors ----------------------------------------------------------------------------------------------------------


def write_header_only_wav(path: Path) -> Path:
    sf.write(path, np.zeros((0, 1), dtype=np.float32), SAMPLE_RATE)
    return path


def write_cut_tone(path: Path) -> Path:
    """The first 1% of a tone file: the header and a few bytes, less than one decodable frame."""
    return fx.truncate(fx.write_tone(path), keep=0.01)


def write_float_wav_with(value: float, sample_rate: int) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        samples = fx.tone(sample_rate=sample_rate)
        samples[sample_rate // 2] = value
        return fx.write_samples(path, samples, sample_rate, subtype="FLOAT")

    return write


@pytest.mark.parametrize(
    ("name", "write", "error"),
    [
        ("missing.wav", Path, AudioFileNotFoundError),
        ("empty.wav", fx.write_empty, EmptyFileError),
        ("empty.mp3", fx.write_empty, EmptyFileError),
        ("notes.wav", fx.write_text, AudioDecodeError),
        ("notes.txt", fx.write_text, AudioDecodeError),  # FFmpeg opens .txt as an ANSI-art "video"
        ("noise.mp3", fx.write_random_bytes, AudioDecodeError),
        ("picture.png", fx.write_png, AudioDecodeError),
        ("picture.wav", fx.write_png, AudioDecodeError),
        ("cut.mp3", write_cut_tone, AudioDecodeError),
        ("cut.flac", write_cut_tone, AudioDecodeError),
        ("silent-film.mp4", fx.write_video_without_audio, NoAudioTrackError),
        ("silent-film.webm", fx.write_video_without_audio, NoAudioTrackError),
        ("silent-film.mkv", fx.write_video_without_audio, NoAudioTrackError),
        ("header-only.wav", write_header_only_wav, EmptyAudioError),
        ("nan.wav", write_float_wav_with(np.nan, 44_100), InvalidSamplesError),
        ("nan-16k.wav", write_float_wav_with(np.nan, SAMPLE_RATE), InvalidSamplesError),
        ("inf.wav", write_float_wav_with(np.inf, 44_100), InvalidSamplesError),
    ],
)
def test_bad_files_raise_a_typed_error_naming_the_file(
    tmp_path: Path, name: str, write: Callable[[Path], Path], error: type[AudioError]
) -> None:
    path = write(tmp_path / name)

    with pytest.raises(error) as raised:
        load_audio(path)

    assert type(raised.value) is error
    assert name in str(raised.value)
    assert raised.value.path == str(path)


@pytest.mark.parametrize(
    ("name", "write"),
    [("notes.wav", fx.write_text), ("noise.mp3", fx.write_random_bytes), ("cut.mp3", write_cut_tone)],
)
def test_decode_errors_keep_ffmpegs_reason_as_the_cause(
    tmp_path: Path, name: str, write: Callable[[Path], Path]
) -> None:
    with pytest.raises(AudioDecodeError) as raised:
        load_audio(write(tmp_path / name))

    assert raised.value.__cause__ is not None


def test_empty_ogg_stream_is_empty_audio(tmp_path: Path) -> None:
    path = fx.write_samples(tmp_path / "nothing.ogg", np.zeros((0, 1), dtype=np.float32), 44_100)

    with pytest.raises(EmptyAudioError, match="nothing.ogg"):
        load_audio(path)


def test_folder_is_rejected_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "recordings.wav"
    folder.mkdir()

    with pytest.raises(AudioDecodeError, match="recordings.wav: is a folder"):
        load_audio(folder)


def test_non_positive_sample_rate_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_audio(fx.write_tone(tmp_path / "tone.wav"), sample_rate=0)


# --- audio_from_array ------------------------------------------------------------------------------------------------


def test_int16_mono_at_16k_is_scaled_and_kept_sample_for_sample() -> None:
    samples = np.array([0, 16384, -32768, 32767, -1], dtype=np.int16)

    audio = audio_from_array(samples, SAMPLE_RATE, source="mic")

    np.testing.assert_array_equal(audio.samples, samples.astype(np.float32) / 32768)
    assert audio.samples.dtype == np.float32
    assert audio.source == "mic"


@pytest.mark.parametrize(
    ("dtype", "full_scale"),
    [(np.int16, 32768), (np.int32, 2**31), (np.uint8, 128), (np.float32, 1.0), (np.float64, 1.0)],
)
def test_every_sample_type_lands_in_the_same_range(dtype: type, full_scale: float) -> None:
    level = fx.tone(sample_rate=SAMPLE_RATE)[:, 0]
    offset = 128 if dtype is np.uint8 else 0
    samples = (level * full_scale + offset).astype(dtype)

    audio = audio_from_array(samples, SAMPLE_RATE)

    assert spectrum_amplitude(audio, fx.TONE_HZ) == pytest.approx(fx.AMPLITUDE, rel=LOSSLESS_AMPLITUDE_TOLERANCE)
    assert abs(float(audio.samples.mean())) < 0.01


def test_channels_first_and_channels_last_give_the_same_mono() -> None:
    stereo = (fx.tone(channels=2, sample_rate=44_100) * 32767).astype(np.int16)  # (frames, channels)

    last = audio_from_array(stereo, 44_100)
    first = audio_from_array(stereo.T, 44_100)

    np.testing.assert_array_equal(last.samples, first.samples)
    assert_standard(last, fx.SECONDS)
    assert spectrum_amplitude(last, fx.TONE_HZ) == pytest.approx(fx.AMPLITUDE / 2, rel=LOSSLESS_AMPLITUDE_TOLERANCE)


def test_array_and_file_give_the_same_audio(tmp_path: Path) -> None:
    path = fx.write_tone(tmp_path / "tone.wav", channels=2, sample_rate=48_000)
    samples, rate = sf.read(path, dtype="int16")

    np.testing.assert_allclose(audio_from_array(samples, rate).samples, load_audio(path).samples, atol=1e-6)


def test_long_array_is_resampled_across_blocks() -> None:
    # Longer than one internal block, at an odd rate: the joins between blocks must not click or drop samples.
    rate = 22_050
    seconds = 7.0
    samples = fx.tone(seconds=seconds, sample_rate=rate)[:, 0]

    audio = audio_from_array(samples, rate)

    assert len(audio.samples) == round(seconds * SAMPLE_RATE)
    steady = audio.samples[SAMPLE_RATE:-SAMPLE_RATE]
    expected = fx.tone(seconds=seconds, sample_rate=SAMPLE_RATE)[SAMPLE_RATE:-SAMPLE_RATE, 0]
    assert np.abs(steady - expected).max() < 1e-3


@settings(max_examples=50, deadline=None)
@given(
    arrays(
        np.float32,
        st.tuples(st.integers(1, 2_000), st.integers(1, 8)),
        elements=st.floats(-1, 1, width=32),
    )
)
def test_downmix_is_the_mean_of_the_channels(frames_by_channels: np.ndarray) -> None:
    audio = audio_from_array(frames_by_channels, SAMPLE_RATE)

    frames, channels = frames_by_channels.shape
    channel_axis = 1 if frames >= channels else 0  # the shorter axis holds the channels
    by_channel = np.moveaxis(frames_by_channels, channel_axis, 0).astype(np.float64)
    expected = by_channel.mean(axis=0)
    if len(by_channel) == 2:  # unless two channels cancel (test_channels_in_opposite_phase_give_the_sound_not_silence)
        half_difference = (by_channel[0] - by_channel[1]) / 2
        if expected @ expected < CANCELLED_MIX_RATIO * (half_difference @ half_difference):
            expected = half_difference
    np.testing.assert_allclose(audio.samples, expected, atol=1e-6)


def test_nan_in_array_raises_naming_the_source() -> None:
    samples = np.zeros(SAMPLE_RATE, dtype=np.float32)
    samples[100] = np.nan

    with pytest.raises(InvalidSamplesError, match="microphone"):
        audio_from_array(samples, SAMPLE_RATE, source="microphone")


@pytest.mark.parametrize("empty", [np.zeros(0, dtype=np.int16), np.zeros((0, 2), dtype=np.float32)])
def test_empty_array_is_empty_audio(empty: np.ndarray) -> None:
    with pytest.raises(EmptyAudioError, match="microphone"):
        audio_from_array(empty, SAMPLE_RATE, source="microphone")


@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 2, 100), dtype=np.float32), np.zeros(100, dtype=np.complex64), np.array(["a", "b"])],
)
def test_arrays_that_are_not_samples_are_rejected(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        audio_from_array(bad, SAMPLE_RATE)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".ogg", ".m4a"])
def test_a_reader_gives_the_samples_of_load_audio_a_stretch_at_a_time(tmp_path: Path, suffix: str) -> None:
    path = fx.write_tone(tmp_path / f"tone{suffix}", seconds=5.0, channels=2)
    whole = load_audio(path).samples

    stretches = []
    with AudioReader(path) as reader:
        for size in [1, 777, 16_000, 3, 40_000] * 10:
            stretch = reader.read(size)
            stretches.append(stretch)
            if len(stretch) < size:  # only at the end, and nothing after it
                assert len(reader.read(size)) == 0
                break
        estimate = reader.estimated_duration
        position = reader.position

    np.testing.assert_array_equal(np.concatenate(stretches), whole)
    assert position == len(whole)
    assert estimate == pytest.approx(5.0, abs=0.1)


def test_a_reader_names_a_missing_file_at_once(tmp_path: Path) -> None:
    with pytest.raises(AudioFileNotFoundError, match="missing.wav"):
        AudioReader(tmp_path / "missing.wav")


def test_a_reader_raises_for_bad_samples_when_it_reaches_them(tmp_path: Path) -> None:
    samples = fx.tone(seconds=10.0, sample_rate=16_000)
    samples[round(9.5 * 16_000)] = np.nan
    path = fx.write_samples(tmp_path / "late nan.wav", samples, 16_000, subtype="FLOAT")

    with AudioReader(path) as reader:
        assert len(reader.read(4 * SAMPLE_RATE)) == 4 * SAMPLE_RATE
        with pytest.raises(InvalidSamplesError, match="late nan.wav"):
            reader.read(6 * SAMPLE_RATE)
