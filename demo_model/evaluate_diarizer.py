"""Evaluate the demo diarizer on conversations of voices it never trained on (the voice pool's test split).

For 2, 3 and 4 speakers, and one voice alone, it makes ``--count`` conversations (``conversations.py``, fixed seeds)
and prints:

* **DER** (diarization error rate, collar 0.25 s around every reference boundary, overlapping speech scored): the
  diarizer's turns, as the engine computes them (windows, speaker matching), against the true turns, under the best
  mapping of labels. Targets: <= 10 % / 15 % / 20 %.
* **Word-speaker accuracy through the engine**: the demo recognizer and the diarizer in one
  ``Engine.transcribe_files(..., TranscribeOptions(speakers=True))`` call; each recognised word's true speaker is the
  one whose turn covers the word's midpoint (words in no turn, or in overlapping speech, are not scored); the share of
  words whose label maps to it under the best mapping. Targets: >= 95 % / 90 % / 85 %.
* **Named right**: the conversations in which the engine names as many speakers as there are (on auto, the count it
  finds; one voice must be one speaker, not two).

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
SPEAKER_COUNTS = (1, 2, 3, 4)
SHOWN_CHARACTERS = 80
"""A longer setting (the voice embedding's weights) is logged by its length."""


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


def load(diarizer: Path):
    from transcriber.diarization import load_diarizer
    from transcriber.models import ModelSource

    return load_diarizer(ModelSource(str(diarizer), diarizer), "cpu")


def diarize(nemo_diarizer, conv: Conversation, window_s: float, num_speakers: int | None = None):
    """The turns the engine's windows and speaker matching give for ``conv``, in ``window_s`` windows (and, where
    the diarizer's config asks for it, named again by voice into ``num_speakers`` or as many as the windows found)."""
    from transcriber.diarization import WindowFeeder, diarize_window

    feeder = WindowFeeder.for_model(nemo_diarizer, SAMPLE_RATE,
                                    lambda samples: diarize_window(nemo_diarizer, samples, SAMPLE_RATE),
                                    window_s=window_s)
    feeder.feed(0.0, conv.samples)
    return feeder.finish(num_speakers)


def conversations(split: str, speakers: int, count: int, seconds: float) -> list[Conversation]:
    """The fixed conversations of ``split``'s voices (test and validation draw different ones)."""
    base = {"test": 100, "validation": 300}[split]
    voices = split_voices()[split]
    return [conversation(voices, speakers, seconds, np.random.default_rng([SEED, base + speakers, index]))
            for index in range(count)]


def sweep(diarizer: Path, windows: list[float], *, split: str, count: int, seconds: float) -> dict[float, list[float]]:
    """DER for 2, 3 and 4 speakers with each diarization window: how to choose a model's
    ``diarization_window_sec`` (on the validation split, then confirm on test)."""
    nemo_diarizer = load(diarizer)
    convs = {speakers: conversations(split, speakers, count, seconds) for speakers in (2, 3, 4)}
    table = {}
    for window in windows:
        row = []
        for group in convs.values():
            errors = scored = 0.0
            for conv in group:
                e, s = der(conv.turns, diarize(nemo_diarizer, conv, window), conv.duration)
                errors, scored = errors + e, scored + s
            row.append(100 * errors / max(scored, 1))
        table[window] = row
        logger.info("%s, %d x %.0f s, window %.0f s: DER %s, mean %.1f %%", split, count, seconds, window,
                    " / ".join(f"{x:.1f} %" for x in row), float(np.mean(row)))
    return table


def write_config(diarizer: Path, **settings) -> None:
    """Store settings of how the engine runs the diarizer in its config (``diarization_window_sec``,
    ``diarization_voice_clusters``); the weights are unchanged."""
    from omegaconf import open_dict

    model = load(diarizer)
    with open_dict(model.cfg):
        for key, value in settings.items():
            model.cfg[key] = value
            shown = f"({len(value)} rows)" if isinstance(value, list) else value
            if isinstance(value, str) and len(value) > SHOWN_CHARACTERS:
                shown = f"({len(value)} characters)"
            logger.info("%s: %s %s", diarizer, key, shown)
    model.save_to(str(diarizer))


def evaluate(diarizer: Path, model: Path, *, count: int, seconds: float, split: str = "test",
             known_count: bool = False) -> dict[int, dict[str, float]]:
    """DER, word-speaker accuracy and how often the number of speakers named is right, for one voice alone and 2, 3
    and 4 speakers; with ``known_count``, as a user who sets the number of speakers gets them (the engine's
    ``num_speakers``: the least active labels merged until that many are left)."""
    from transcriber.diarization import window_seconds
    from transcriber.engine import Engine
    from transcriber.speakers import cap_speakers
    from transcriber.types import AudioData, TranscribeOptions

    engine = Engine(device="cpu")
    nemo_diarizer = load(diarizer)
    window_s = window_seconds(nemo_diarizer)
    logger.info("%s voices, diarization windows of %.0f s%s", split, window_s,
                ", number of speakers given" if known_count else "")
    figures = {}
    for speakers in SPEAKER_COUNTS:
        options = TranscribeOptions(speakers=True, diarizer=str(diarizer), batch_size=8,
                                    num_speakers=speakers if known_count else None)
        errors = scored = right = words = named_right = 0.0
        diarize_s = 0.0
        for index, conv in enumerate(conversations(split, speakers, count, seconds)):
            started = time.perf_counter()
            hypothesis = diarize(nemo_diarizer, conv, window_s, speakers if known_count else None)
            diarize_s += time.perf_counter() - started
            if known_count:
                hypothesis = cap_speakers(hypothesis, speakers)
            e, s = der(conv.turns, hypothesis, conv.duration)
            errors, scored = errors + e, scored + s
            (result,) = engine.transcribe_files([AudioData(conv.samples, SAMPLE_RATE, f"conv-{index}.wav")],
                                                model=str(model), options=options)
            if not result.ok:
                raise RuntimeError(result.error)
            r, w = word_accuracy(conv, result.transcript.words)
            right, words = right + r, words + w
            named_right += len(result.transcript.speakers) == speakers
        figures[speakers] = {"der": 100 * errors / max(scored, 1), "word_accuracy": 100 * right / max(words, 1),
                             "words": words, "named_right": named_right, "diarize_s": diarize_s}
        logger.info("%d speaker(s): DER %.1f %%, word-speaker accuracy %.1f %% (%d words), as many speakers named "
                    "in %d of %d, diarization %.1f s", speakers, figures[speakers]["der"],
                    figures[speakers]["word_accuracy"], words, named_right, count, diarize_s)
    logger.info("")
    logger.info("| speakers | conversations | words | DER (collar %.2f s) | target | word-speaker accuracy | target "
                "| named right |", COLLAR_S)
    logger.info("|---|---|---|---|---|---|---|---|")
    for speakers, row in figures.items():
        target = TARGETS.get(speakers)  # none for one voice
        der_target, accuracy_target = (f"<= {target[0]:.0f} %", f">= {target[1]:.0f} %") if target else ("", "")
        logger.info("| %d | %d x %.0f s | %d | %.1f %% | %s | %.1f %% | %s | %d of %d |", speakers, count, seconds,
                    row["words"], row["der"], der_target, row["word_accuracy"], accuracy_target,
                    row["named_right"], count)
    return figures


def evaluate_long(diarizer: Path, model: Path, *, minutes: float, split: str = "test") -> dict[str, dict]:
    """One conversation of ``minutes`` for 2 and 3 voices, on auto and with the number of speakers given: how many
    speakers the engine names and the share of words given the right one (labels kept apart over the whole
    recording, the windows' count of labels grows with length)."""
    from transcriber.engine import Engine
    from transcriber.types import AudioData, TranscribeOptions

    engine = Engine(device="cpu")
    base = {"test": 700, "validation": 900}[split]
    figures = {}
    for speakers in (2, 3):
        rng = np.random.default_rng([SEED, base + speakers])
        conv = conversation(split_voices()[split], speakers, minutes * 60, rng, per_voice=12, clean=True)
        for given in (None, speakers):
            (result,) = engine.transcribe_files(
                [AudioData(conv.samples, SAMPLE_RATE, "long.wav")], model=str(model),
                options=TranscribeOptions(speakers=True, diarizer=str(diarizer), num_speakers=given))
            if not result.ok:
                raise RuntimeError(result.error)
            right, words = word_accuracy(conv, result.transcript.words)
            key = f"{speakers} voices, {'given' if given else 'auto'}"
            figures[key] = {"speakers": len(result.transcript.speakers), "word_accuracy": 100 * right / max(words, 1),
                            "words": words}
            logger.info("%.0f min, %s: %d speakers named, word-speaker accuracy %.1f %% (%d words)", minutes, key,
                        figures[key]["speakers"], figures[key]["word_accuracy"], words)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--diarizer", type=Path, default=DEFAULT_DIARIZER)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the recognizer for word-speaker accuracy")
    parser.add_argument("--count", type=int, default=10, help="conversations per speaker count")
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each conversation")
    parser.add_argument("--split", choices=("test", "validation"), default="test",
                        help="whose voices: the test split (the figures), or validation (for choosing settings)")
    parser.add_argument("--windows", type=float, nargs="+", metavar="S",
                        help="instead: DER only, with each of these diarization windows")
    parser.add_argument("--write-window", type=float, metavar="S",
                        help="first store this diarization window in the diarizer file (diarization_window_sec)")
    parser.add_argument("--write-voice-clusters", choices=("on", "off"),
                        help="first store whether the engine names speakers again by voice over the whole recording "
                             "(diarization_voice_clusters)")
    parser.add_argument("--known-count", action="store_true",
                        help="give the engine each conversation's number of speakers, as a user who sets it does")
    parser.add_argument("--long-minutes", type=float, metavar="M",
                        help="instead: one conversation of M minutes for 2 and 3 voices, on auto and given the count")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    settings = {}
    if args.write_window:
        settings["diarization_window_sec"] = float(args.write_window)
    if args.write_voice_clusters:
        settings["diarization_voice_clusters"] = args.write_voice_clusters == "on"
    if settings:
        report(lambda: write_config(args.diarizer, **settings), None)
    if args.long_minutes:
        report(lambda: evaluate_long(args.diarizer, args.model, minutes=args.long_minutes, split=args.split), args.json)
    elif args.windows:
        report(lambda: sweep(args.diarizer, args.windows, split=args.split, count=args.count, seconds=args.seconds),
               args.json)
    else:
        report(lambda: evaluate(args.diarizer, args.model, count=args.count, seconds=args.seconds, split=args.split,
                                known_count=args.known_count), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
