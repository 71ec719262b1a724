"""A learnt voice embedding: a small network that hears who is speaking, for a diarizer that regroups its speakers
by voice (:mod:`.voice_clusters`).

The network is of the x-vector kind: convolutions over log-mel frames (each frame level-normalised, so loudness
does not count), each frame's :data:`CHANNELS` outputs pooled over a piece of speech as their mean and standard
deviation (frames weighted by their loudness, so pauses count little), and a linear layer from those to
:data:`DIMS` numbers. It is trained to tell apart the voices of many speakers (``demo_model/train_voice_embedding.py``)
and measured on voices it never heard.

Pooling only needs per-frame sums (of the outputs and of their squares), so a recording is described as it is fed,
in blocks, and any span's voice is read from the sums afterwards: memory grows with the recording by
``2 * CHANNELS`` numbers per block, not with its audio.

The weights travel inside the diarizer's own config (``diarization_voice_embedding``: a ``.npz`` of half-precision
arrays, base64), so the diarizer file is all a user installs. Torch is imported only when a network is built.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from .voice_clusters import FRAME_S, HOP_S  # the frames VoiceStats sums into its blocks

MELS = 40
HIDDEN = 128
"""Channels of the convolutions before the last."""
CHANNELS = 64
"""Per-frame outputs that are pooled."""
DIMS = 64
"""Numbers that describe a voice."""


def build_network() -> Any:
    """The untrained network (``torch.nn.ModuleDict``): ``body`` maps (batch, :data:`MELS`, frames) to (batch,
    :data:`CHANNELS`, frames), ``embed`` maps pooled means and deviations (batch, 2 * :data:`CHANNELS`) to (batch,
    :data:`DIMS`)."""
    import torch

    nn = torch.nn
    body = nn.Sequential(
        nn.Conv1d(MELS, HIDDEN, 5, padding=2), nn.ReLU(), nn.BatchNorm1d(HIDDEN),
        nn.Conv1d(HIDDEN, HIDDEN, 3, dilation=2, padding=2), nn.ReLU(), nn.BatchNorm1d(HIDDEN),
        nn.Conv1d(HIDDEN, HIDDEN, 3, dilation=3, padding=3), nn.ReLU(), nn.BatchNorm1d(HIDDEN),
        nn.Conv1d(HIDDEN, CHANNELS, 1), nn.ReLU(), nn.BatchNorm1d(CHANNELS),
    )
    return nn.ModuleDict({"body": body, "embed": nn.Linear(2 * CHANNELS, DIMS)})


def log_mel(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames, :data:`MELS`) log-mel frames every :data:`HOP_S`, each less its own mean (level does not count), and
    (frames,) each frame's loudness (the square root of its mel power), the weight it is pooled with."""
    import librosa  # only here: slow to import, and only speaker identification needs it

    power = librosa.feature.melspectrogram(
        y=samples.astype(np.float32), sr=sample_rate, n_fft=round(FRAME_S * sample_rate),
        hop_length=round(HOP_S * sample_rate), n_mels=MELS,
    ).T
    mel = np.log(power + 1e-6).astype(np.float32)
    return mel - mel.mean(axis=1, keepdims=True), np.sqrt(power.sum(axis=1)).astype(np.float32)


def pool(outputs: Any, weights: Any) -> Any:
    """Pooled (batch, 2 * :data:`CHANNELS`) means and standard deviations of ``outputs`` (batch, channels, frames)
    weighted by ``weights`` (batch, frames), as torch tensors (what :meth:`LearntVoices.voice` computes from sums)."""
    share = (weights / weights.sum(dim=1, keepdim=True).clamp(min=1e-12))[:, None, :]
    mean = (outputs * share).sum(dim=2)
    square = (outputs * outputs * share).sum(dim=2)
    return with_deviation(mean, square)


def with_deviation(mean: Any, square: Any) -> Any:
    """``mean`` and the standard deviation from ``mean`` and the mean ``square``, side by side (torch tensors)."""
    import torch

    return torch.cat([mean, (square - mean * mean).clamp(min=1e-6).sqrt()], dim=1)


def weights_to_text(network: Any) -> str:
    """The network's weights as config text (base64 of a ``.npz`` of half-precision arrays)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{name: value.detach().cpu().numpy().astype(np.float16)
                                   for name, value in network.state_dict().items() if value.is_floating_point()})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class LearntVoices:
    """Describes audio by the learnt embedding, for :class:`~.voice_clusters.VoiceStats`: per frame the network's
    outputs and their squares (:meth:`frames`, summed by the caller), and a voice from their weighted means
    (:meth:`voice`).

    Args:
        text: The weights, as :func:`weights_to_text` wrote them.

    Raises:
        ValueError: ``text`` is not such weights.
    """

    size = 2 * CHANNELS
    """Numbers per frame that are summed."""
    dims = DIMS
    """Numbers that describe a voice."""

    def __init__(self, text: str):
        import torch

        try:
            with np.load(io.BytesIO(base64.b64decode(text, validate=True))) as arrays:
                state = {name: torch.from_numpy(arrays[name].astype(np.float32)) for name in arrays.files}
        except (ValueError, OSError, TypeError) as error:
            raise ValueError(f"not the weights of a voice embedding ({error})") from error
        network = build_network()
        try:
            network.load_state_dict(state, strict=False)
        except RuntimeError as error:
            raise ValueError(f"weights of another shape ({error})") from error
        missing = {name for name, value in network.state_dict().items() if value.is_floating_point()} - set(state)
        if missing:
            raise ValueError(f"weights missing: {', '.join(sorted(missing))}")
        self._network = network.eval()

    def frames(self, samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """(frames, :attr:`size`) per-frame outputs and their squares, and (frames,) loudness weights, every
        :data:`HOP_S`."""
        import torch

        mel, loudness = log_mel(samples, sample_rate)
        with torch.inference_mode():
            outputs = self._network["body"](torch.from_numpy(mel.T.copy())[None])[0].T.numpy()
        return np.concatenate([outputs, outputs * outputs], axis=1), loudness

    def voice(self, means: np.ndarray) -> np.ndarray:
        """(:attr:`dims`,) the voice of a span from the weighted means of its :meth:`frames`."""
        import torch

        with torch.inference_mode():
            pooled = with_deviation(torch.from_numpy(means[None, :CHANNELS].astype(np.float32)),
                                         torch.from_numpy(means[None, CHANNELS:].astype(np.float32)))
            return self._network["embed"](pooled)[0].numpy().astype(np.float64)
