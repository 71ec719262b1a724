"""The learnt voice embedding (transcriber/voice_embedding.py) and its training data
(demo_model/train_voice_embedding.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from demo_model.voices import installed_synthesizers, split_voices
from transcriber.types import SAMPLE_RATE
from transcriber.voice_clusters import BLOCK_S, VoiceStats
from transcriber.voice_embedding import LearntVoices, build_network, log_mel, pool, weights_to_text

SEED = 515


def _voice_like(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(pitch) / SAMPLE_RATE) / k for k in range(1, 8))
    syllables = (np.sin(2 * np.pi * 3 * t) > -0.3).astype(float)  # pauses between "syllables"
    return (0.1 * voiced * syllables + rng.normal(0, 0.003, len(t))).astype(np.float32)


def test_the_engine_reads_the_voice_the_training_pooled():
    """Training pools a crop's frames in one go; the engine sums them per block as the audio passes and reads a
    span's voice from the sums. Both must give the same voice, or the network would be used on numbers it never
    saw."""
    network = build_network().eval()
    for module in network.modules():  # running statistics as after training, not the identity of a new network
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    text = weights_to_text(network)
    describer = LearntVoices(text)
    network.load_state_dict({name: torch.from_numpy(value.numpy().astype(np.float16).astype(np.float32))
                             for name, value in network.state_dict().items()})  # the weights as stored
    samples = _voice_like(6.0)
    stats = VoiceStats(SAMPLE_RATE, describer)
    stats.add(samples)
    start, end = 1.0, 4.0
    read = stats.span(start, end)
    mel, loudness = log_mel(samples, SAMPLE_RATE)
    a, b = round(start / BLOCK_S) * 10, round(end / BLOCK_S) * 10
    with torch.no_grad():
        outputs = network["body"](torch.from_numpy(mel.T.copy())[None])[:, :, a:b]
        pooled = network["embed"](pool(outputs, torch.from_numpy(loudness[a:b])[None]))[0].numpy()
    assert read.shape == (describer.dims,)
    assert np.linalg.norm(read - pooled) <= 1e-3 * np.linalg.norm(pooled)


def test_weights_that_are_not_an_embedding_are_refused():
    with pytest.raises(ValueError, match="not the weights of a voice embedding"):
        LearntVoices("bm90IGFuIG5weg==")  # base64 of "not an npz"
    with pytest.raises(ValueError, match="weights missing"):
        LearntVoices(weights_to_text(torch.nn.ModuleDict({"embed": torch.nn.Linear(128, 64)})))


@pytest.mark.skipif("espeak-ng" not in installed_synthesizers(), reason="espeak-ng is not installed")
def test_the_embedding_learns_from_training_voices_only():
    from demo_model.train_voice_embedding import examples

    pieces = examples(2, changed_voices=4)
    assert len(pieces) >= 6
    train_ids = {voice.id for voice in split_voices()["train"]}
    assert {voice.split("~")[0] for voice, _, _ in pieces} <= train_ids
    for _, mel, loudness in pieces:
        assert mel.shape[1] == 40 and len(mel) == len(loudness) >= 50
