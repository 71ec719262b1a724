"""Train the demo diarizer's voice embedding (``transcriber/voice_embedding.py``) and store it in the diarizer's
config.

Data: ``--conversations`` conversations of 40 s (``conversations.py``: turns, pauses, overlap, levels, noise and
rooms) of 2-4 speakers drawn from the pool's **train** voices and ``--changed-voices`` new voices made from them
(``Voice.changed``: formants and pitch moved), so the network meets a few thousand speakers rather than the pool's
six hundred. Every speaker's solo speech in the true turns is cut into pieces as the engine cuts a diarizer's
(``voice_clusters.cut_pieces``); each piece is one example of its voice, wherever it was said (other rooms, noise
and levels), so the network learns the voice and not the recording.

Training: a crop of :data:`CROP_S` from each piece, the embedding followed by a classifier over all training voices
(cross-entropy), Adam with a one-cycle learning rate, :data:`EPOCHS` epochs; fixed seeds. The classifier is then
dropped; the network's weights go into the diarizer's config as ``diarization_voice_embedding``. The space the
regrouping clusters in is fitted afterwards on these embeddings (``python -m demo_model.fit_voice_projection
--dims 16``).

Usage::

    python -m demo_model.train_voice_embedding --diarizer transcriber/assets/demo-diarizer.nemo
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

from demo_model.conversations import conversation
from demo_model.evaluate import report
from demo_model.evaluate_diarizer import DEFAULT_DIARIZER, write_config
from demo_model.threads import with_torch_threads
from demo_model.train_diarizer import bank_voices
from demo_model.voices import SAMPLE_RATE, Voice, split_voices

logger = logging.getLogger(__name__)

SEED = 7101
CONVERSATIONS = 2400
CHANGED_VOICES = 1500
SECONDS = 40.0
MIN_PIECE_FRAMES = 50
"""Pieces shorter than this many frames (0.5 s) are not examples."""
CROP_S = 1.5
EPOCHS = 12
BATCH = 64
PEAK_LR = 2e-3
WEIGHT_DECAY = 1e-4
WORKERS = 2
THREADS = 2

_voices: tuple[Voice, ...] = ()  # the speakers conversations are drawn from, set in each worker


def _init_worker(voices: tuple[Voice, ...]) -> None:
    global _voices
    _voices = voices


def _pieces_of(index: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The pieces of one training conversation: (voice id, level-normalised log-mel frames, loudness)."""
    from transcriber.types import SpeakerTurn
    from transcriber.voice_clusters import HOP_S, cut_pieces
    from transcriber.voice_embedding import log_mel

    speakers = 2 + index % 3
    conv = conversation(_voices, speakers, SECONDS, np.random.default_rng([SEED, speakers, index]))
    mel, loudness = log_mel(conv.samples, SAMPLE_RATE)
    truth = [SpeakerTurn(t.start, t.end, conv.voices[t.speaker]) for t in conv.turns]
    pieces = []
    for piece in cut_pieces(truth):
        a, b = round(piece.start / HOP_S), round(piece.end / HOP_S)
        if b - a >= MIN_PIECE_FRAMES:
            pieces.append((piece.speaker, mel[a:b].astype(np.float16), loudness[a:b]))
    return pieces


def examples(count: int, changed_voices: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Every piece of ``count`` training conversations (:data:`WORKERS` processes)."""
    train = split_voices()["train"]
    voices = bank_voices(train, np.random.default_rng(SEED), pool_voices=len(train), changed_voices=changed_voices)
    with multiprocessing.get_context("fork").Pool(WORKERS, _init_worker, (voices,)) as pool:
        return [piece for pieces in pool.imap(_pieces_of, range(count), chunksize=4) for piece in pieces]


def _crop(mel: np.ndarray, loudness: np.ndarray, frames: int, rng: np.random.Generator):
    if len(mel) < frames:  # a short piece is repeated to fill the crop
        repeat = frames // len(mel) + 1
        mel, loudness = np.tile(mel, (repeat, 1)), np.tile(loudness, repeat)
    start = int(rng.integers(0, len(mel) - frames + 1))
    return mel[start : start + frames].astype(np.float32), loudness[start : start + frames]


@with_torch_threads(THREADS)
def train_network(pieces: list[tuple[str, np.ndarray, np.ndarray]], epochs: int):
    """The embedding network (:func:`~transcriber.voice_embedding.build_network`) trained to name each piece's
    voice."""
    import torch

    from transcriber.voice_clusters import HOP_S
    from transcriber.voice_embedding import DIMS, build_network, pool

    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    names = sorted({voice for voice, _, _ in pieces})
    index = {voice: i for i, voice in enumerate(names)}
    network = build_network()
    head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.BatchNorm1d(DIMS), torch.nn.Linear(DIMS, len(names)))
    parameters = list(network.parameters()) + list(head.parameters())
    optimiser = torch.optim.Adam(parameters, lr=PEAK_LR, weight_decay=WEIGHT_DECAY)
    steps = epochs * -(-len(pieces) // BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, PEAK_LR, total_steps=steps, pct_start=0.1)
    frames = round(CROP_S / HOP_S)
    logger.info("%d pieces of %d voices, %d steps", len(pieces), len(names), steps)
    started = time.perf_counter()
    for epoch in range(epochs):
        order, total = rng.permutation(len(pieces)), 0.0
        for first in range(0, len(order), BATCH):
            batch = [pieces[i] for i in order[first : first + BATCH]]
            crops = [_crop(mel, loudness, frames, rng) for _, mel, loudness in batch]
            mel = torch.from_numpy(np.stack([c[0] for c in crops])).transpose(1, 2)
            loudness = torch.from_numpy(np.stack([c[1] for c in crops]))
            target = torch.tensor([index[voice] for voice, _, _ in batch])
            logits = head(network["embed"](pool(network["body"](mel), loudness)))
            loss = torch.nn.functional.cross_entropy(logits, target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        logger.info("epoch %d: loss %.3f (%.0f s)", epoch, total / len(pieces), time.perf_counter() - started)
    return network.eval()


def train(diarizer: Path, conversations: int, changed_voices: int, epochs: int) -> dict[str, float]:
    from transcriber.voice_embedding import weights_to_text

    started = time.perf_counter()
    pieces = examples(conversations, changed_voices)
    made = time.perf_counter() - started
    logger.info("%d conversations, %d pieces, in %.0f s", conversations, len(pieces), made)
    network = train_network(pieces, epochs)
    # The old space was fitted on other features: refit it (fit_voice_projection.py).
    write_config(diarizer, diarization_voice_embedding=weights_to_text(network), diarization_voice_projection=None)
    return {"conversations": conversations, "pieces": len(pieces), "voices": len({v for v, _, _ in pieces}),
            "data_s": round(made), "train_s": round(time.perf_counter() - started - made)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--diarizer", type=Path, default=DEFAULT_DIARIZER, help="the diarizer file to store it in")
    parser.add_argument("--conversations", type=int, default=CONVERSATIONS)
    parser.add_argument("--changed-voices", type=int, default=CHANGED_VOICES)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    report(lambda: train(args.diarizer, args.conversations, args.changed_voices, args.epochs), None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
