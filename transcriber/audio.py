"""Turn an audio or video file, or an array of samples, into float32 mono audio at 16 kHz.

Decoding uses PyAV. Its wheels bundle FFmpeg, so users need no system ``ffmpeg`` and every format FFmpeg knows works:
WAV, FLAC, OGG/Vorbis, OGG/Opus, MP3, M4A/AAC and the audio track of MP4, MKV and WebM video, among others.
WAV and FLAC files are read with soundfile (libsndfile, also bundled) instead, because it reads them faster; any
file libsndfile cannot read goes to PyAV, so both paths end in the same typed errors from :mod:`transcriber.errors`.

Audio is decoded a frame or block at a time and mixed down to mono (the mean of its channels) into a fixed buffer;
every full buffer goes through a ``soxr.ResampleStream``. So apart from the 16 kHz result only one block of
source-rate audio is held at once, never the whole file at its own rate and channel count. Resampling in blocks
takes the same time as one ``soxr.resample`` call at the end (measured: within 10%, a little faster on long files),
so the choice is made on memory. The quality is soxr's "HQ", the same as ``librosa.load``'s default.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Sequence

import av
import numpy as np
import soundfile as sf
import soxr

from transcriber.errors import (
    AudioDecodeError,
    AudioError,
    AudioFileNotFoundError,
    EmptyAudioError,
    EmptyFileError,
    InvalidSamplesError,
    NoAudioTrackError,
)
from transcriber.types import SAMPLE_RATE, AudioData

logger = logging.getLogger(__name__)

RESAMPLE_QUALITY = "HQ"
"""soxr quality preset: 20-bit precision (about 120 dB), librosa's default. "VHQ" (28-bit) measured 35% slower for a
difference far below what a 16-bit recording or a speech model can resolve; "MQ" saved little (about 10%)."""

BLOCK_FRAMES = 65_536
"""Source-rate frames mixed down and resampled per block (1.5 s at 44.1 kHz, 256 KiB of float32): large enough that
per-call overhead vanishes, small enough to stay in the CPU cache; measured fastest among 4 Ki to 256 Ki."""

SOUNDFILE_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "FLAC", "AIFF"})
"""libsndfile container formats read with soundfile rather than PyAV, because soundfile reads them faster (measured
on a minute of 44.1 kHz stereo: WAV in half the time, FLAC about 10% faster)."""

SOUNDFILE_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"BW64", b"riff", b"fLaC", b"FORM")
"""First bytes of the files in SOUNDFILE_FORMATS. Other files never reach libsndfile, which would otherwise probe
them (MP3 included) and print its parser's complaints on stderr."""

MAGIC_BYTES = 4
"""How many leading bytes of a file are compared with SOUNDFILE_MAGIC."""

NOT_MEDIA_DEMUXERS = frozenset({"image2", "tty"})
"""FFmpeg demuxers that open still images and text files (shown as ANSI art) as a one-frame video; a file opened by
one of these, or by a ``*_pipe`` image demuxer, is not a video that lacks audio but not media at all."""

_SAMPLE_DTYPES = {
    "u8": np.dtype(np.uint8),
    "s16": np.dtype(np.int16),
    "s32": np.dtype(np.int32),
    "s64": np.dtype(np.int64),
    "flt": np.dtype(np.float32),
    "dbl": np.dtype(np.float64),
}
"""NumPy dtype of each packed FFmpeg sample format; the planar ones add a "p" ("fltp")."""
_SAMPLE_FORMATS = {
    **{name: (dtype, False) for name, dtype in _SAMPLE_DTYPES.items()},
    **{name + "p": (dtype, True) for name, dtype in _SAMPLE_DTYPES.items()},
}
"""(NumPy dtype, is planar) of each FFmpeg sample format name."""


def load_audio(path: str | os.PathLike[str], *, sample_rate: int = SAMPLE_RATE) -> AudioData:
    """Decode an audio or video file into mono float32 samples at ``sample_rate``.

    Args:
        path: An audio file, or a video file with an audio track.
        sample_rate: Sample rate of the result in Hz.

    Returns:
        The decoded audio. Silence is returned as it is, not treated as an error.

    Raises:
        AudioFileNotFoundError: The file does not exist.
        EmptyFileError: The file has zero bytes.
        AudioDecodeError: The path is a folder, or the file is not audio, or it is corrupt. A truncated file decodes
            to the part that can be read; this is raised only when nothing can.
        NoAudioTrackError: The file is a video without an audio track.
        EmptyAudioError: The file holds no audio samples.
        InvalidSamplesError: The audio contains NaN or infinite values.
        AudioError: The file exists but cannot be opened, for example for lack of permission.
        ValueError: ``sample_rate`` is not positive.
    """
    _check_rate(sample_rate)
    source = os.fspath(path)
    samples = None
    if _inspect_file(source).startswith(SOUNDFILE_MAGIC):
        samples = _read_with_soundfile(source, sample_rate)
    if samples is None:
        samples = _read_with_pyav(source, sample_rate)
    return _audio_data(samples, sample_rate, source)


def audio_from_array(
    samples: np.ndarray,
    sample_rate: int,
    *,
    source: str = "<array>",
    target_rate: int = SAMPLE_RATE,
) -> AudioData:
    """Turn samples already in memory (a microphone recording, say) into mono float32 audio at ``target_rate``.

    Integers are scaled to [-1, 1] by their type's full range (int16 by 32768, uint8 around 128, and so on); floats
    are taken as they are.

    Args:
        samples: A 1-D array of mono samples, or a 2-D array of several channels, either (frames, channels) as
            soundfile returns it or (channels, frames) as librosa returns it: the shorter axis is taken as the
            channels (a square array as (frames, channels)). Integer or float dtype.
        sample_rate: Sample rate of ``samples`` in Hz.
        source: A label for the audio, used in error messages and kept in the result.
        target_rate: Sample rate of the result in Hz.

    Returns:
        The audio, mixed down to mono (the mean of the channels) and resampled.

    Raises:
        EmptyAudioError: ``samples`` is empty.
        InvalidSamplesError: ``samples`` contains NaN or infinite values.
        ValueError: ``samples`` is not a 1-D or 2-D array of numbers, or a sample rate is not positive.
    """
    _check_rate(sample_rate)
    _check_rate(target_rate)
    array = np.asarray(samples)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{source}: expected integer or float samples, got dtype {array.dtype}")
    if array.ndim not in (1, 2):
        raise ValueError(f"{source}: expected a 1-D or 2-D array of samples, got shape {array.shape}")
    if not array.size:
        raise EmptyAudioError(source)
    if array.ndim == 2 and array.shape[0] < array.shape[1]:
        array = array.T  # (channels, frames) -> (frames, channels)
    channels = [array] if array.ndim == 1 else [array[:, index] for index in range(array.shape[1])]
    mixer = _MonoResampler(target_rate, source)
    mixer.write(channels, sample_rate)
    return _audio_data(mixer.finish(), target_rate, source)


class _MonoResampler:
    """Mixes blocks of channels down to mono float32 and resamples them to one rate, a block at a time."""

    def __init__(self, target_rate: int, source: str) -> None:
        self._target_rate = target_rate
        self._source = source
        # Holds the sum of the channels; the block's offset and gain turn it into the mean, in [-1, 1], at flush time.
        self._buffer = np.empty(BLOCK_FRAMES, dtype=np.float32)
        self._filled = 0
        self._layout: tuple[np.dtype, int] | None = None
        self._offset = 0.0
        self._gain = 1.0
        self._rate: int | None = None
        self._stream: soxr.ResampleStream | None = None
        self._output: list[np.ndarray] = []

    def write(self, channels: Sequence[np.ndarray], rate: int) -> None:
        """Queue one stretch of audio: equal-length 1-D arrays, one per channel, of any integer or float dtype.

        The arrays are copied before this returns, so they may be views of a decoder's reusable buffers.
        """
        if rate != self._rate:
            self._start(rate)
        layout = (channels[0].dtype, len(channels))
        if layout != self._layout:
            self._set_layout(layout)
        total = len(channels[0])
        start = 0
        while start < total:
            count = min(total - start, BLOCK_FRAMES - self._filled)
            parts = channels if count == total else [channel[start : start + count] for channel in channels]
            block = self._buffer[self._filled : self._filled + count]
            if len(parts) == 1:
                np.copyto(block, parts[0], casting="unsafe")
            else:
                np.add(parts[0], parts[1], out=block, dtype=np.float32, casting="unsafe")
                for part in parts[2:]:
                    np.add(block, part, out=block, dtype=np.float32, casting="unsafe")
            self._filled += count
            start += count
            if self._filled == BLOCK_FRAMES:
                self._flush_block(last=False)

    def finish(self) -> np.ndarray:
        """Return everything written so far as one float32 array at the target rate."""
        self._flush_block(last=True)
        if len(self._output) == 1:
            return self._output[0]
        return np.concatenate(self._output) if self._output else np.empty(0, dtype=np.float32)

    def _start(self, rate: int) -> None:
        # A few streams change sample rate part way through; finish the old rate's tail before starting the new one.
        if self._rate is not None:
            logger.debug("%s: sample rate changes from %d Hz to %d Hz", self._source, self._rate, rate)
            self._flush_block(last=True)
        self._rate = rate
        self._stream = None
        if rate != self._target_rate:
            self._stream = soxr.ResampleStream(rate, self._target_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)

    def _set_layout(self, layout: tuple[np.dtype, int]) -> None:
        # The buffered sums were made with the old sample type and channel count; scale them before changing.
        if self._filled:
            self._flush_block(last=False)
        self._layout = layout
        dtype, channel_count = layout
        offset, scale = _int_scaling(dtype)
        self._offset = offset * channel_count
        self._gain = scale / channel_count

    def _flush_block(self, *, last: bool) -> None:
        block = self._buffer[: self._filled]
        self._filled = 0
        if self._offset:
            block -= self._offset
        if self._gain != 1.0:
            block *= self._gain
        # Checked on the source-rate block, so the check does not depend on how the resampler treats NaN.
        if not np.isfinite(block).all():
            raise InvalidSamplesError(self._source)
        if self._stream is not None:
            resampled = self._stream.resample_chunk(block, last=last)
        else:
            resampled = block.copy()
        if len(resampled):
            self._output.append(resampled)


def _int_scaling(dtype: np.dtype) -> tuple[float, float]:
    """Return (offset, scale) that map samples of ``dtype`` onto [-1, 1] as ``(x - offset) * scale``."""
    if dtype.kind == "f":
        return 0.0, 1.0
    half_range = float(2 ** (dtype.itemsize * 8 - 1))
    offset = half_range if dtype.kind == "u" else 0.0
    return offset, 1.0 / half_range


def _check_rate(rate: int) -> None:
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, got {rate}")


def _inspect_file(path: str) -> bytes:
    """Raise the right AudioError for a path that is missing, a folder, empty or unreadable; return its first bytes."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise AudioDecodeError(path, "is a folder, not an audio file")
        # Reading a FIFO or a device could block forever.
        if not stat.S_ISREG(info.st_mode):
            raise AudioDecodeError(path, "is not a regular file")
        if info.st_size == 0:
            raise EmptyFileError(path)
        with open(path, "rb") as file:
            return file.read(MAGIC_BYTES)
    except FileNotFoundError as exc:
        raise AudioFileNotFoundError(path) from exc
    except OSError as exc:
        raise AudioError(path, f"cannot be opened ({exc.strerror or exc})") from exc


def _audio_data(samples: np.ndarray, sample_rate: int, source: str) -> AudioData:
    if not len(samples):
        raise EmptyAudioError(source)
    return AudioData(samples=samples, sample_rate=sample_rate, source=source)


def _read_with_soundfile(path: str, target_rate: int) -> np.ndarray | None:
    """Decode a WAV or FLAC file with libsndfile; return None to leave the file to PyAV.

    Files libsndfile cannot open, other formats, files it fails on part way and files it finds no samples in all go
    to PyAV, which decides what the error is.
    """
    try:
        sound_file = sf.SoundFile(path)
    except (sf.SoundFileError, RuntimeError) as exc:
        logger.debug("%s: libsndfile cannot open it (%s); using FFmpeg", path, exc)
        return None
    with sound_file:
        if sound_file.format not in SOUNDFILE_FORMATS:
            return None
        mixer = _MonoResampler(target_rate, path)
        try:
            while True:
                block = sound_file.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if not len(block):
                    break
                mixer.write([block[:, index] for index in range(block.shape[1])], sound_file.samplerate)
        except (sf.SoundFileError, RuntimeError) as exc:
            logger.debug("%s: libsndfile failed part way (%s); using FFmpeg", path, exc)
            return None
    samples = mixer.finish()
    return samples if len(samples) else None


def _read_with_pyav(path: str, target_rate: int) -> np.ndarray:
    """Decode the first audio stream of any file FFmpeg can read.

    Packets that fail to decode are skipped, and a file that ends early or breaks part way keeps the audio decoded up
    to there, as the ``ffmpeg`` command does. AudioDecodeError is raised only when no audio at all can be decoded.
    """
    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.FFmpegError, OSError) as exc:
        raise AudioDecodeError(path) from exc
    with container:
        if not container.streams.audio:
            if container.streams.video and not _is_not_media(container):
                raise NoAudioTrackError(path)
            raise AudioDecodeError(path)
        stream = container.streams.audio[0]
        mixer = _MonoResampler(target_rate, path)
        decoded_samples = 0
        failures = 0
        last_error: Exception | None = None
        stopped_early = False
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.FFmpegError as exc:
                    failures += 1
                    last_error = exc
                    continue
                for frame in frames:
                    mixer.write(_frame_channels(frame), frame.sample_rate)
                    decoded_samples += frame.samples
        except av.FFmpegError as exc:
            last_error = exc
            stopped_early = True
    if not decoded_samples and last_error is not None:
        raise AudioDecodeError(path) from last_error
    if failures:
        logger.warning("%s: skipped %d audio packets that could not be decoded", path, failures)
    if stopped_early:
        logger.warning("%s: reading stopped early (%s); keeping the audio decoded so far", path, last_error)
    return mixer.finish()


def _is_not_media(container: av.container.InputContainer) -> bool:
    name = container.format.name
    return name in NOT_MEDIA_DEMUXERS or name.endswith("_pipe")


def _frame_channels(frame: av.AudioFrame) -> list[np.ndarray]:
    """Return one 1-D array per channel viewing a decoded frame's buffers, without copying."""
    dtype, planar = _SAMPLE_FORMATS[frame.format.name]
    count = frame.samples
    if planar:
        return [np.frombuffer(plane, dtype=dtype, count=count) for plane in frame.planes]
    channel_count = frame.layout.nb_channels
    interleaved = np.frombuffer(frame.planes[0], dtype=dtype, count=count * channel_count)
    return [interleaved[index::channel_count] for index in range(channel_count)]
