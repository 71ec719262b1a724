"""Evaluate the demo diarizer on conversations of voices it never trained on (the voice pool's test split).

For 2, 3 and 4 speakers it makes ``--count`` conversations (``conversations.py``, fixed seeds) and prints:

* **DER** (diarization error rate, collar 0.25 s around every reference boundary, overlapping speech scored): the
  diarizer's turns, as the engine computes them (windows, speaker matching), against the true turns, under the best
  mapping of labels. Targets: <= 10 % / 15 % / 20 %.
* **Word-speaker accuracy through the engine**: the demo recognizer and the diarizer in one
  ``Engine.transcribe_files(..., TranscribeOptions(speakers=True))`` call; each recognised word's true speaker is the
  one whose turn covers the word's midpoint (words in no turn, or in overlapping speech, are not scored); the share of
  words whose label maps to it under the best mapping. Targets: >= 95 % / 90 % / 85 %.

Usage::

    python -m demo_model.evaluate_diarizer --diarizer transcriber/assets/demo-diarizer.nemo
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from demo_model.conversations import SEED, Conversation, conversation
from demo_model.evaluate import report
from demo_model.voices import SAMPLE_RATE, split_voices

logger = logging.getLogger(__name__)

DEFAULT_DIARIZER = Path("transcriber/assets/demo-diarizer.nemo")
DEFAULT_MODEL = Path("transcriber/assets/demo-en-commands.nemo")
COLLAR_S = 0.25
FRAME_S = 0.01
TARGETS = {2: (10.0, 95.0), 3: (15.0, 90.0), 4: (20.0, 85.0)}


def activity(turns, labels: list, frames: int) -> np.ndarray:
    """(frames, len(labels)) 0/1 matrix of who talks in each 10 ms frame."""
    matrix = np.zeros((frames, len(labels)), dtype=bool)
    for turn in turns:
        a, b = round(turn.start / FRAME_S), round(turn.end / FRAME_S)
        matrix[max(0, a) : min(frames, b), labels.index(turn.speaker)] = True
    return matrix


def der(reference, hypothesis, duration: float) -> tuple[float, float]:
    """(errors, scored reference speech) in frames, with the collar, under the best label mapping."""
    frames = int(np.ceil(duration / FRAME_S)) + 1
    ref_labels = sorted({t.speaker for t in reference})
    hyp_labels = sorted({t.speaker for t in hypothesis})
    ref = activity(reference, ref_labels, frames)
    hyp = activity(hypothesis, hyp_labels, frames) if hyp_labels else np.zeros((frames, 0), bool)
    keep = np.ones(frames, dtype=bool)
    collar = round(COLLAR_S / FRAME_S)
    for turn in reference:
        for edge in (turn.start, turn.end):
            centre = round(edge / FRAME_S)
            keep[max(0, centre - collar) : centre + collar] = False
    ref, hyp = ref[keep], hyp[keep]
    mapped = np.zeros_like(ref)
    if hyp_labels:
        overlap = ref.T.astype(int) @ hyp.astype(int)
        rows, cols = linear_sum_assignment(-overlap)
        for r, c in zip(rows, cols, strict=True):
            mapped[:, r] = hyp[:, c]
    n_ref, n_hyp = ref.sum(axis=1), hyp.sum(axis=1)
    correct = (ref & mapped).sum(axis=1)
    return float((np.maximum(n_ref, n_hyp) - correct).sum()), float(n_ref.sum())


def word_accuracy(conv: Conversation, words) -> tuple[int, int]:
    """(words whose label maps to their true speaker, words scored) under the best mapping."""
    pairs = []
    for word in words:
        middle = (word.start + word.end) / 2
        speakers = {t.speaker for t in conv.turns if t.start <= middle <= t.end}
        if len(speakers) == 1 and word.speaker is not None:
            pairs.append((speakers.pop(), word.speaker))
    if not pairs:
        return 0, 0
    truth = sorted({a for a, _ in pairs})
    labels = sorted({b for _, b in pairs})
    counts = np.zeros((len(truth), len(labels)), dtype=int)
    for a, b in pairs:
        counts[truth.index(a), labels.index(b)] += 1
    rows, cols = linear_sum_assignment(-counts)
    return int(counts[rows, cols].sum()), len(pairs)


def evaluate(diarizer: Path, model: Path, *, count: int, seconds: float) -> dict[int, dict[str, float]]:
    from transcriber.diarization import WindowFeeder, diarize_window, load_diarizer, window_seconds
    from transcriber.engine import Engine
    from transcriber.models import ModelSource
    from transcriber.types import AudioData, TranscribeOptions

    voices = split_voices()["test"]
    engine = Engine(device="cpu")
    options = TranscribeOptions(speakers=True, diarizer=str(diarizer), batch_size=8)
    nemo_diarizer = load_diarizer(ModelSource(str(diarizer), diarizer), "cpu")
    figures = {}
    for speakers in (2, 3, 4):
        errors = scored = right = words = 0.0
        diarize_s = 0.0
        for index in range(count):
            conv = conversation(voices, speakers, seconds, np.random.default_rng([SEED, 100 + speakers, index]))
            started = time.perf_counter()
            feeder = WindowFeeder(window_seconds(nemo_diarizer), SAMPLE_RATE,
                                  lambda samples: diarize_window(nemo_diarizer, samples, SAMPLE_RATE))
            feeder.feed(0.0, conv.samples)
            hypothesis = feeder.finish()
            diarize_s += time.perf_counter() - started
            e, s = der(conv.turns, hypothesis, conv.duration)
            errors, scored = errors + e, scored + s
            (result,) = engine.transcribe_files([AudioData(conv.samples, SAMPLE_RATE, f"conv-{index}.wav")],
                                                model=str(model), options=options)
            if not result.ok:
                raise RuntimeError(result.error)
            r, w = word_accuracy(conv, result.transcript.words)
            right, words = right + r, words + w
        figures[speakers] = {"der": 100 * errors / max(scored, 1), "word_accuracy": 100 * right / max(words, 1),
                             "words": words, "diarize_s": diarize_s}
        logger.info("%d speakers: DER %.1f %%, word-speaker accuracy %.1f %% (%d words), diarization %.1f s",
                    speakers, figures[speakers]["der"], figures[speakers]["word_accuracy"], words, diarize_s)
    logger.info("")
    logger.info("| speakers | conversations | words | DER (collar %.2f s) | target | word-speaker accuracy | target |",
                COLLAR_S)
    logger.info("|---|---|---|---|---|---|---|")
    for speakers, row in figures.items():
        der_target, accuracy_target = TARGETS[speakers]
        logger.info("| %d | %d x %.0f s | %d | %.1f %% | <= %.0f %% | %.1f %% | >= %.0f %% |", speakers, count, seconds,
                    row["words"], row["der"], der_target, row["word_accuracy"], accuracy_target)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--diarizer", type=Path, default=DEFAULT_DIARIZER)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the recognizer for word-speaker accuracy")
    parser.add_argument("--count", type=int, default=10, help="conversations per speaker count")
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each conversation")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    report(lambda: evaluate(args.diarizer, args.model, count=args.count, seconds=args.seconds), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
