"""Mix audio down to mono float32 and resample it to one rate, a block at a time.

Decoded audio arrives a frame or block at a time and is mixed down to mono (the mean of its channels) into a fixed
buffer; every full buffer goes through a ``soxr.ResampleStream``. So apart from the result only one block of
source-rate audio is held at once, never the whole file at its own rate and channel count. Resampling in blocks
takes the same time as one ``soxr.resample`` call at the end (measured: within 10%, a little faster on long files),
so the choice is made on memory. The quality is soxr's "HQ", the same as ``librosa.load``'s default.

A stereo recording whose two channels are in opposite phase (one wired or set inverted) plays normally through two
speakers but cancels to silence when its channels are averaged, so the model would hear nothing. Where a block's mean
keeps almost none of its channels' sound (:data:`CANCELLED_MIX_RATIO`), that block is their half-difference instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import soxr

from transcriber.errors import InvalidSamplesError

logger = logging.getLogger(__name__)

RESAMPLE_QUALITY = "HQ"
"""soxr quality preset: 20-bit precision (about 120 dB), librosa's default. "VHQ" (28-bit) measured 35% slower for a
difference far below what a 16-bit recording or a speech model can resolve; "MQ" saved little (about 10%)."""

BLOCK_FRAMES = 65_536
"""Source-rate frames mixed down and resampled per block (1.5 s at 44.1 kHz, 256 KiB of float32): large enough that
per-call overhead vanishes, small enough to stay in the CPU cache; measured fastest among 4 Ki to 256 Ki."""

CANCELLED_MIX_RATIO = 0.01
"""A stereo block whose mean has less than this share of the energy of its channels' half-difference (20 dB below)
has channels in opposite phase and is taken as that difference. Two microphones, two talkers or a stereo mix keep
their mean within a few dB of it, or far above it; only channels that are one signal inverted fall below."""

NO_SAMPLES = np.empty(0, dtype=np.float32)


class MonoResampler:
    """Mixes blocks of channels down to mono float32 and resamples them to one rate, a block at a time."""

    def __init__(self, target_rate: int, source: str) -> None:
        self._target_rate = target_rate
        self._source = source
        # Holds the sum of the channels; the block's offset and gain turn it into the mean, in [-1, 1], at flush time.
        self._buffer = np.empty(BLOCK_FRAMES, dtype=np.float32)
        # Of two channels, also their difference (left - right), for a block whose mean cancels.
        self._difference: np.ndarray | None = None
        self._opposite_logged = False
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
            elif self._difference is not None:
                np.add(parts[0], parts[1], out=block, dtype=np.float32, casting="unsafe")
                difference = self._difference[self._filled : self._filled + count]
                np.subtract(parts[0], parts[1], out=difference, dtype=np.float32, casting="unsafe")
            else:
                np.add(parts[0], parts[1], out=block, dtype=np.float32, casting="unsafe")
                for part in parts[2:]:
                    np.add(block, part, out=block, dtype=np.float32, casting="unsafe")
            self._filled += count
            start += count
            if self._filled == BLOCK_FRAMES:
                self._flush_block(last=False)

    def take(self) -> np.ndarray:
        """Return the samples resampled since the last call, as one float32 array at the target rate."""
        output, self._output = self._output, []
        if len(output) == 1:
            return output[0]
        return np.concatenate(output) if output else NO_SAMPLES

    def finish(self) -> np.ndarray:
        """Flush the resampler's tail and return what :meth:`take` has not returned yet."""
        self._flush_block(last=True)
        return self.take()

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
        if channel_count == 2 and self._difference is None:
            self._difference = np.empty(BLOCK_FRAMES, dtype=np.float32)
        elif channel_count != 2:
            self._difference = None

    def _flush_block(self, *, last: bool) -> None:
        block = self._buffer[: self._filled]
        if self._offset:
            block -= self._offset
        if self._difference is not None:
            block = self._unless_cancelled(block, self._difference[: self._filled])
        self._filled = 0
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

    def _unless_cancelled(self, total: np.ndarray, difference: np.ndarray) -> np.ndarray:
        """Return the block's channel sum, or their difference where the sum cancels (channels in opposite phase).

        Both are unscaled; the difference of unsigned samples had no offset to remove.
        """
        total_energy = float(np.dot(total, total))
        difference_energy = float(np.dot(difference, difference))
        if not total_energy < CANCELLED_MIX_RATIO * difference_energy:
            return total
        if not self._opposite_logged:
            self._opposite_logged = True
            logger.warning(
                "%s: its two channels are in opposite phase and cancel when mixed; using their difference", self._source
            )
        return difference


def _int_scaling(dtype: np.dtype) -> tuple[float, float]:
    """Return (offset, scale) that map samples of ``dtype`` onto [-1, 1] as ``(x - offset) * scale``."""
    if dtype.kind == "f":
        return 0.0, 1.0
    half_range = float(2 ** (dtype.itemsize * 8 - 1))
    offset = half_range if dtype.kind == "u" else 0.0
    return offset, 1.0 / half_range
