"""Write small audio and video files with known content, for tests and benchmarks.

Everything is generated on the fly with PyAV and soundfile (both bundle their codecs), so no system ffmpeg is needed and
no binary fixture is committed. Each channel carries a sine of a known frequency, so a test can check that what comes
back out of a decoder is the same signal that went in.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf

TONE_HZ = 440.0
"""Default tone; channel ``c`` of a multi-channel tone is ``TONE_HZ * (c + 1)``."""

AMPLITUDE = 0.5
SECONDS = 1.0
FADE_SECONDS = 0.01
"""Tones fade in and out over this long, so lossy codecs do not ring at a hard edge."""
RIFF_SIZE_OFFSET = 4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VIDEO_SIZE = 64
VIDEO_FPS = 10
ENCODE_FRAME_SIZE = 1024
"""Samples per frame handed to PyAV encoders (which re-chunk to their own frame size)."""

# Suffix -> default subtype for files written with soundfile.
SOUNDFILE_SUFFIXES = {".wav": "PCM_16", ".flac": "PCM_16", ".ogg": "VORBIS"}
# Suffix -> (PyAV audio codec, container format) for files written with PyAV.
PYAV_AUDIO = {
    ".mp3": ("libmp3lame", "mp3"),
    ".opus": ("libopus", "ogg"),
    ".m4a": ("aac", "ipod"),
    ".aac": ("aac", "adts"),
    ".mka": ("flac", "matroska"),
}
# Suffix -> (video codec, audio codec) for video files.
VIDEO_CODECS = {
    ".mp4": ("mpeg4", "aac"),
    ".mkv": ("libx264", "libopus"),
    ".webm": ("libvpx", "libopus"),
    ".mov": ("mpeg4", "aac"),
}
# Sample rates libopus accepts; a tone for Opus at any other rate is written at 48 kHz.
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
OPUS_SUFFIXES = (".opus", ".mkv", ".webm")


def channel_frequencies(channels: int, frequency: float = TONE_HZ) -> list[float]:
    """The frequency of each channel of a tone written by :func:`write_tone`."""
    return [frequency * (index + 1) for index in range(channels)]


def tone(
    seconds: float = SECONDS,
    sample_rate: int = 44_100,
    channels: int = 1,
    frequency: float = TONE_HZ,
    amplitude: float = AMPLITUDE,
) -> np.ndarray:
    """Return a float32 (frames, channels) array: channel ``c`` is a sine at ``frequency * (c + 1)``.

    The first and last FADE_SECONDS fade in and out.
    """
    times = np.arange(round(seconds * sample_rate)) / sample_rate
    columns = [amplitude * np.sin(2 * np.pi * hz * times) for hz in channel_frequencies(channels, frequency)]
    envelope = np.minimum(1.0, np.minimum(times, times[-1] - times) / FADE_SECONDS) if len(times) else times
    return (np.stack(columns, axis=1) * envelope[:, None]).astype(np.float32)


def write_tone(
    path: str | Path,
    *,
    seconds: float = SECONDS,
    sample_rate: int = 44_100,
    channels: int = 1,
    frequency: float = TONE_HZ,
    amplitude: float = AMPLITUDE,
    subtype: str | None = None,
) -> Path:
    """Write a tone (see :func:`tone`) in the format the suffix names and return the path.

    Audio suffixes are written by :func:`write_samples`. Opus is written at 48 kHz unless ``sample_rate`` is one
    libopus accepts. Video suffixes (``.mp4``, ``.mkv``, ``.webm``, ``.mov``) get a small video track as well.
    """
    path = Path(path)
    if path.suffix.lower() in VIDEO_CODECS:
        return write_video_with_audio(path, seconds=seconds, sample_rate=sample_rate, channels=channels)
    if path.suffix.lower() in OPUS_SUFFIXES and sample_rate not in OPUS_RATES:
        sample_rate = 48_000
    return write_samples(path, tone(seconds, sample_rate, channels, frequency, amplitude), sample_rate, subtype=subtype)


def write_samples(path: str | Path, samples: np.ndarray, sample_rate: int, *, subtype: str | None = None) -> Path:
    """Write float (frames, channels) samples in the format the suffix names and return the path.

    ``.wav``, ``.flac`` and ``.ogg`` (Vorbis) are written with soundfile, ``subtype`` choosing the sample format
    (``"PCM_U8"``, ``"PCM_24"``, ``"FLOAT"`` ...); ``.mp3``, ``.opus``, ``.m4a``, ``.aac`` and ``.mka`` with PyAV.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    samples = samples if samples.ndim == 2 else samples[:, np.newaxis]
    if suffix in SOUNDFILE_SUFFIXES:
        sf.write(path, samples, sample_rate, subtype=subtype or SOUNDFILE_SUFFIXES[suffix])
        return path
    codec, container_format = PYAV_AUDIO[suffix]
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=sample_rate, layout=_layout(samples.shape[1]))
        _encode_audio(container, stream, samples, sample_rate)
    return path


def write_video_with_audio(
    path: str | Path,
    *,
    seconds: float = SECONDS,
    sample_rate: int = 48_000,
    channels: int = 2,
    video_codec: str | None = None,
    audio_codec: str | None = None,
) -> Path:
    """Write a short video with a tone (see :func:`tone`) on its audio track.

    The codecs default by suffix (see VIDEO_CODECS); Opus is written at 48 kHz unless ``sample_rate`` is one libopus
    accepts.
    """
    path = Path(path)
    default_video, default_audio = VIDEO_CODECS[path.suffix.lower()]
    audio_codec = audio_codec or default_audio
    if audio_codec == "libopus" and sample_rate not in OPUS_RATES:
        sample_rate = 48_000
    with av.open(str(path), "w") as container:
        video = _add_video_stream(container, video_codec or default_video)
        audio = container.add_stream(audio_codec, rate=sample_rate, layout=_layout(channels))
        _encode_video(container, video, seconds)
        _encode_audio(container, audio, tone(seconds, sample_rate, channels), sample_rate)
    return path


def write_video_without_audio(path: str | Path, *, seconds: float = SECONDS, video_codec: str | None = None) -> Path:
    """Write a short video with no audio track at all."""
    path = Path(path)
    with av.open(str(path), "w") as container:
        video = _add_video_stream(container, video_codec or VIDEO_CODECS[path.suffix.lower()][0])
        _encode_video(container, video, seconds)
    return path


def write_png(path: str | Path, size: int = 8) -> Path:
    """Write a small grey PNG image (built by hand: signature, IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = b"".join(b"\x00" + bytes([128]) * size for _ in range(size))  # each row: filter type 0, then pixels
    path = Path(path)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")
    path.write_bytes(PNG_SIGNATURE + chunks)
    return path


def write_text(path: str | Path) -> Path:
    """Write a text document, whatever the suffix says."""
    path = Path(path)
    path.write_text("Meeting notes.\nThis is a text document, not a recording.\n" * 20)
    return path


def write_random_bytes(path: str | Path, size: int = 4096) -> Path:
    """Write bytes from a fixed random seed: no format at all."""
    path = Path(path)
    path.write_bytes(np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def write_empty(path: str | Path) -> Path:
    """Write a file of zero bytes."""
    path = Path(path)
    path.write_bytes(b"")
    return path


def truncate(path: str | Path, keep: float) -> Path:
    """Cut a file down to the first ``keep`` fraction of its bytes, as an interrupted download would."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def damage(path: str | Path, *, at: float = 0.5, length: float = 0.05) -> Path:
    """Overwrite ``length`` (a fraction of the file) of bytes starting at fraction ``at`` with random bytes."""
    path = Path(path)
    data = bytearray(path.read_bytes())
    start, count = int(len(data) * at), int(len(data) * length)
    data[start : start + count] = np.random.default_rng(0).integers(0, 256, count, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def clear_wav_sizes(path: str | Path) -> Path:
    """Zero the RIFF and data chunk sizes of a WAV file, as a recorder killed before closing the file leaves them."""
    path = Path(path)
    data = bytearray(path.read_bytes())
    data[RIFF_SIZE_OFFSET : RIFF_SIZE_OFFSET + 4] = bytes(4)
    data_size_offset = data.index(b"data") + 4
    data[data_size_offset : data_size_offset + 4] = bytes(4)
    path.write_bytes(bytes(data))
    return path


def write_audio_tracks(path: str | Path, frequencies: Sequence[float], *, default: int | None,
                       sample_rate: int = 16_000) -> Path:
    """A Matroska file with one mono FLAC track per frequency (a tone each, as a film's languages or a recorder's
    microphones), track ``default`` flagged as the one to play (``None``: none flagged)."""
    path = Path(path)
    with av.open(str(path), "w", format="matroska") as container:
        streams = []
        for index, frequency in enumerate(frequencies):
            stream = container.add_stream("flac", rate=sample_rate, layout="mono")
            stream.disposition = av.stream.Disposition.default if index == default else av.stream.Disposition(0)
            streams.append((stream, tone(sample_rate=sample_rate, frequency=frequency)))
        for stream, samples in streams:
            _encode_audio(container, stream, samples, sample_rate)
    return path


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo", 6: "5.1"}[channels]


def _encode_audio(
    container: av.container.OutputContainer, stream: av.AudioStream, samples: np.ndarray, rate: int
) -> None:
    # PyAV converts each frame to the encoder's sample format and frame size itself.
    for start in range(0, len(samples), ENCODE_FRAME_SIZE):
        block = np.ascontiguousarray(samples[start : start + ENCODE_FRAME_SIZE].T)
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=stream.layout.name)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def _add_video_stream(container: av.container.OutputContainer, codec: str) -> av.VideoStream:
    stream = container.add_stream(codec, rate=VIDEO_FPS)
    stream.width = stream.height = VIDEO_SIZE
    stream.pix_fmt = "yuv420p"
    return stream


def _encode_video(container: av.container.OutputContainer, stream: av.VideoStream, seconds: float) -> None:
    for index in range(round(seconds * VIDEO_FPS)):
        shade = int(255 * index / max(1, seconds * VIDEO_FPS))
        image = np.full((VIDEO_SIZE, VIDEO_SIZE, 3), shade, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = index
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
