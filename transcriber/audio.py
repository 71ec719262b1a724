"""Turn an audio or video file, or an array of samples, into float32 mono audio at 16 kHz.

Decoding uses PyAV. Its wheels bundle FFmpeg, so users need no system ``ffmpeg`` and every format FFmpeg knows works:
WAV, FLAC, OGG/Vorbis, OGG/Opus, MP3, M4A/AAC and the audio track of MP4, MKV and WebM video, among others.
WAV and FLAC files are read with soundfile (libsndfile, also bundled) instead, because it reads them faster; any
file libsndfile cannot read goes to PyAV, so both paths end in the same typed errors from :mod:`transcriber.errors`.

Audio is decoded a frame or block at a time and handed to :class:`~transcriber.mixdown.MonoResampler`, which mixes it
down to mono and resamples it a block at a time, so only one block of source-rate audio is held at once.

:class:`AudioReader` hands the 16 kHz result out as it is decoded, so a long recording never has to be in memory
whole; :func:`load_audio` reads it all.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator

import av
import numpy as np
import soundfile as sf

from transcriber.errors import (
    AudioDecodeError,
    AudioError,
    AudioFileNotFoundError,
    EmptyAudioError,
    EmptyFileError,
    NoAudioTrackError,
)
from transcriber.mixdown import BLOCK_FRAMES, NO_SAMPLES, MonoResampler
from transcriber.types import SAMPLE_RATE, AudioData

logger = logging.getLogger(__name__)

SOUNDFILE_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "FLAC", "AIFF"})
"""libsndfile container formats read with soundfile rather than PyAV, because soundfile reads them faster (measured
on a minute of 44.1 kHz stereo: WAV in half the time, FLAC about 10% faster)."""

SOUNDFILE_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"BW64", b"riff", b"fLaC", b"FORM")
"""First bytes of the files in SOUNDFILE_FORMATS. Other files never reach libsndfile, which would otherwise probe
them (MP3 included) and print its parser's complaints on stderr."""

MAGIC_BYTES = 4
"""How many leading bytes of a file are compared with SOUNDFILE_MAGIC."""

READ_ALL_CHUNK = 1 << 22
"""Samples per step of :meth:`AudioReader.read_all` (about 4 minutes at 16 kHz)."""

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
    with AudioReader(path, sample_rate=sample_rate) as reader:
        return _audio_data(reader.read_all(), sample_rate, reader.source)


class AudioReader:
    """A file's audio decoded while it is read: mono float32 at ``sample_rate``, a stretch at a time.

    Only what has been decoded and not yet read is held (plus one block at the source rate), so a three-hour
    recording can be transcribed a window at a time without the whole of it in memory. :func:`load_audio` is
    ``read_all()`` of a reader: both give the same samples and raise the same errors, a reader when it reaches them.

    Args:
        path: An audio file, or a video file with an audio track.
        sample_rate: Sample rate of the samples read, in Hz.

    Raises:
        AudioFileNotFoundError, EmptyFileError, AudioDecodeError, AudioError: At once, as :func:`load_audio` does,
            when the path is missing, empty, a folder or unreadable. Decoding errors come from :meth:`read`.
    """

    def __init__(self, path: str | os.PathLike[str], *, sample_rate: int = SAMPLE_RATE) -> None:
        _check_rate(sample_rate)
        self.source = os.fspath(path)
        self.sample_rate = sample_rate
        self.estimated_duration: float | None = None
        """Length in seconds that the file's header claims, once known (after the first read); may be wrong."""
        self.position = 0
        """Samples read so far."""
        self._chunks = self._decode(_inspect_file(self.source).startswith(SOUNDFILE_MAGIC))
        self._pending: list[np.ndarray] = []
        self._pending_count = 0
        self._ended = False

    def read(self, count: int) -> np.ndarray:
        """The next ``count`` samples; fewer only at the end of the audio, none after it.

        Raises:
            AudioDecodeError, NoAudioTrackError, InvalidSamplesError: As :func:`load_audio` does.
        """
        while self._pending_count < count and not self._ended:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._ended = True
                break
            self._pending.append(chunk)
            self._pending_count += len(chunk)
        joined = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending or [NO_SAMPLES])
        taken, rest = joined[:count], joined[count:]
        self._pending = [rest] if len(rest) else []
        self._pending_count = len(rest)
        self.position += len(taken)
        return taken

    def read_all(self) -> np.ndarray:
        """Every sample not read yet."""
        chunks = []
        while len(chunk := self.read(READ_ALL_CHUNK)):
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks or [NO_SAMPLES])

    def close(self) -> None:
        """Close the file (also done by leaving a ``with`` block)."""
        self._chunks.close()
        self._ended = True

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _decode(self, try_soundfile: bool) -> Iterator[np.ndarray]:
        # WAV and FLAC go to libsndfile first. A file it cannot open goes to PyAV; so does one it fails on part way,
        # and PyAV then carries on from where libsndfile stopped (the samples already given are skipped).
        given = 0
        if try_soundfile:
            try:
                for chunk in _soundfile_chunks(self.source, self.sample_rate, self._set_estimate):
                    given += len(chunk)
                    yield chunk
                if given:
                    return
            except _UseFFmpeg:
                pass
        skip = given
        for chunk in _pyav_chunks(self.source, self.sample_rate, self._set_estimate):
            if skip:
                dropped = min(skip, len(chunk))
                chunk, skip = chunk[dropped:], skip - dropped
            if len(chunk):
                yield chunk

    def _set_estimate(self, seconds: float | None) -> None:
        self.estimated_duration = seconds


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
        The audio, mixed down to mono (the mean of the channels, or of two in opposite phase their difference) and
            resampled.

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
    mixer = MonoResampler(target_rate, source)
    mixer.write(channels, sample_rate)
    return _audio_data(mixer.finish(), target_rate, source)


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


class _UseFFmpeg(Exception):
    """libsndfile cannot read this file (or stopped part way); PyAV takes over."""


def _soundfile_chunks(path: str, target_rate: int, estimate: Callable[[float | None], None]) -> Iterator[np.ndarray]:
    """Decode a WAV or FLAC file with libsndfile, yielding resampled mono chunks.

    Raises:
        _UseFFmpeg: libsndfile cannot open the file, it is of another format, or it fails part way. Files it finds
            no samples in yield nothing; PyAV then decides what the error is.
    """
    try:
        # as bytes: libsndfile is given the name's own bytes, also those that are not UTF-8 (``caf\xe9.wav`` from a
        # Latin-1 system), which soundfile would otherwise fail to encode
        sound_file = sf.SoundFile(os.fsencode(path))
    except (sf.SoundFileError, RuntimeError) as exc:
        logger.debug("%s: libsndfile cannot open it (%s); using FFmpeg", path, exc)
        raise _UseFFmpeg from exc
    with sound_file:
        if sound_file.format not in SOUNDFILE_FORMATS:
            raise _UseFFmpeg
        estimate(sound_file.frames / sound_file.samplerate if sound_file.samplerate else None)
        mixer = MonoResampler(target_rate, path)
        while True:
            try:
                block = sound_file.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
            except (sf.SoundFileError, RuntimeError) as exc:
                logger.debug("%s: libsndfile failed part way (%s); using FFmpeg", path, exc)
                raise _UseFFmpeg from exc
            if not len(block):
                break
            mixer.write([block[:, index] for index in range(block.shape[1])], sound_file.samplerate)
            if len(chunk := mixer.take()):
                yield chunk
        if len(chunk := mixer.finish()):
            yield chunk


def _pyav_chunks(path: str, target_rate: int, estimate: Callable[[float | None], None]) -> Iterator[np.ndarray]:
    """Decode the main audio stream (:func:`main_audio_stream`) of any file FFmpeg can read, yielding resampled mono
    chunks.

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
        stream = main_audio_stream(container)
        estimate(_header_duration(container, stream))
        mixer = MonoResampler(target_rate, path)
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
                if len(chunk := mixer.take()):
                    yield chunk
        except av.FFmpegError as exc:
            last_error = exc
            stopped_early = True
    if not decoded_samples and last_error is not None:
        raise AudioDecodeError(path) from last_error
    if failures:
        logger.warning("%s: skipped %d audio packets that could not be decoded", path, failures)
    if stopped_early:
        logger.warning("%s: reading stopped early (%s); keeping the audio decoded so far", path, last_error)
    if len(chunk := mixer.finish()):
        yield chunk


def main_audio_stream(container: av.container.InputContainer) -> av.AudioStream:
    """The audio track a player plays: the one flagged as the default (a film's dialogue after its commentary), else
    the first. The container must have one."""
    streams = container.streams.audio
    return next((stream for stream in streams if stream.disposition & av.stream.Disposition.default), streams[0])


def header_duration(path: str | os.PathLike[str]) -> float | None:
    """The length in seconds that a file's header states, without decoding it; None when it says none or cannot be
    read (the decode will say why)."""
    if not os.path.isfile(path):  # a pipe would block the open; the decode says what is wrong with it
        return None
    try:
        with av.open(os.fspath(path), metadata_errors="ignore") as container:
            return _header_duration(container, main_audio_stream(container)) if container.streams.audio else None
    except (av.FFmpegError, OSError, ValueError):
        return None


def _header_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    """The stream's length as its container states it, in seconds, or None when it does not say."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


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
