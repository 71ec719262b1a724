"""Fit the space in which the engine regroups a diarizer's speakers by voice, on conversations of training voices,
and store it in the diarizer's config.

For ``--conversations`` conversations of 2-4 voices of the pool's **train** split (``conversations.py``, 40 s each,
with their noise and rooms; fixed seeds), every speaker's solo speech in the true turns is cut into pieces as
``transcriber/voice_clusters.py`` cuts a diarizer's, each piece described as the diarizer's config asks (by its
learnt voice embedding where it has one, ``train_voice_embedding.py``, else by MFCCs and pitch); a linear discriminant
analysis within conversations (:func:`~transcriber.voice_clusters.fit_projection`) keeps the ``--dims`` directions
in which one conversation's speakers differ most against how much each speaker's own pieces vary. The map goes into
the diarizer's config as ``diarization_voice_projection`` (and ``diarization_voice_clusters: true``); the weights are
unchanged.

Usage::

    python -m demo_model.fit_voice_projection --diarizer transcriber/assets/demo-diarizer.nemo
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from demo_model.conversations import conversation
from demo_model.evaluate import report
from demo_model.evaluate_diarizer import DEFAULT_DIARIZER, load, write_config
from demo_model.voices import SAMPLE_RATE, split_voices

if TYPE_CHECKING:
    from transcriber.voice_clusters import Describer

logger = logging.getLogger(__name__)

SEED = 20261204
SECONDS = 40.0


def pieces_of(count: int, describer: Describer) -> list[tuple[np.ndarray, list[str]]]:
    """Per training conversation: its pieces' voices as ``describer`` describes them, and each piece's true
    speaker."""
    from transcriber.types import SpeakerTurn
    from transcriber.voice_clusters import VoiceStats, cut_pieces, described_pieces

    voices = split_voices()["train"]
    recordings = []
    for index in range(count):
        speakers = 2 + index % 3
        conv = conversation(voices, speakers, SECONDS, np.random.default_rng([SEED, speakers, index]))
        stats = VoiceStats(SAMPLE_RATE, describer)
        stats.add(conv.samples)
        truth = [SpeakerTurn(t.start, t.end, conv.voices[t.speaker]) for t in conv.turns]
        described = described_pieces(cut_pieces(truth), stats)
        recordings.append((np.array([voice for _, voice in described]), [piece.speaker for piece, _ in described]))
    return recordings


def fit(diarizer: Path, count: int, dims: int) -> dict[str, float]:
    from transcriber.diarization import voice_describer
    from transcriber.voice_clusters import fit_projection

    started = time.perf_counter()
    recordings = pieces_of(count, voice_describer(load(diarizer)))
    projection = fit_projection(recordings, dims)
    pieces = sum(len(features) for features, _ in recordings)
    logger.info("%d conversations, %d pieces, in %.0f s", count, pieces, time.perf_counter() - started)
    write_config(diarizer, diarization_voice_clusters=True,
                 diarization_voice_projection=[[float(x) for x in row] for row in projection])
    return {"conversations": count, "pieces": pieces, "dims": dims}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--diarizer", type=Path, default=DEFAULT_DIARIZER, help="the diarizer file to store it in")
    parser.add_argument("--conversations", type=int, default=900)
    parser.add_argument("--dims", type=int, default=8)
    args = parser.parse_args(argv)
    report(lambda: fit(args.diarizer, args.conversations, args.dims), None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
