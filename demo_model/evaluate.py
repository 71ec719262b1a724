"""Evaluate the demo model on the held-out test split, through the app's own engine.

Prints:

* WER (and the share of clips with any error) over every test clip. The test clips use voices, voice variants and
  speeds that no training clip uses (see ``make_data.py``).
* Word START time errors on the ``spaced`` test clips, whose true word positions are known because each word was
  synthesised on its own and placed after a known silence. Only clips transcribed exactly are used, so that words
  pair up one to one. Times come from ``Engine.transcribe_files(..., TranscribeOptions(timestamps=True))``: what
  users get.
* A per-frame diagnostic for a timing correction step: on the same clips, the time of each word's CTC spike (the
  first frame whose arg-max is the word's token) against the true start, and how far the frame's blank probability
  falls there. NeMo's raw CTC word start is the previous token's spike, so it lands early after a pause; the spike
  is where the model "hears" the word.

Usage::

    python -m demo_model.evaluate --data /tmp/demo-data --model transcriber/assets/demo-en-commands.nemo
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path("transcriber/assets/demo-en-commands.nemo")
BATCH_SIZE = 16
PERCENTILE = 90


@dataclass(frozen=True)
class Clip:
    path: Path
    text: str
    kind: str
    voice: str
    speed: int
    words: tuple[tuple[str, float], ...]  # (word, true start) for spaced clips


def load_manifest(path: Path) -> list[Clip]:
    clips = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        words = tuple((w["word"], float(w["start"])) for w in entry.get("words", ()))
        clips.append(Clip(Path(entry["audio_filepath"]), entry["text"], entry["kind"], entry["voice"], entry["speed"], words))
    return clips


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions, insertions and deletions all count 1)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def wer(references: list[str], hypotheses: list[str]) -> float:
    errors = sum(edit_distance(r.split(), h.split()) for r, h in zip(references, hypotheses, strict=True))
    return errors / max(1, sum(len(r.split()) for r in references))


def summarise(name: str, errors: np.ndarray) -> None:
    """Log median and 90th percentile of absolute errors, and the median signed error."""
    if errors.size == 0:
        logger.info("%s: no words", name)
        return
    magnitude = np.abs(errors)
    logger.info(
        "%s: %d words, |error| median %.3f s, p%d %.3f s; signed median %+.3f s",
        name,
        errors.size,
        np.median(magnitude),
        PERCENTILE,
        np.percentile(magnitude, PERCENTILE),
        np.median(errors),
    )


def spike_diagnostic(model_path: Path, clips: list[Clip]) -> None:
    """Compare each word's CTC spike time with its true start (see the module docstring)."""
    import torch
    from nemo.collections.asr.models import ASRModel

    from transcriber.audio import load_audio

    model = ASRModel.restore_from(str(model_path), map_location="cpu")
    model.eval()
    frame_s = model.cfg.preprocessor.window_stride * model.encoder.subsampling_factor
    blank = model.decoder.num_classes_with_blank - 1
    spike_errors, first_errors, later_errors, blank_at_spike, blank_before = [], [], [], [], []
    for clip in clips:
        samples = torch.from_numpy(load_audio(clip.path).samples)[None]
        with torch.no_grad():
            log_probs, lengths, _ = model.forward(input_signal=samples, input_signal_length=torch.tensor([samples.shape[1]]))
        probs = log_probs[0, : int(lengths[0])].exp().numpy()
        best = probs.argmax(axis=1)
        spikes = [t for t in range(len(best)) if best[t] != blank and (t == 0 or best[t - 1] != best[t])]
        if len(spikes) != len(clip.words):
            continue
        for i, (t, (_, start)) in enumerate(zip(spikes, clip.words, strict=True)):
            error = t * frame_s - start
            spike_errors.append(error)
            (first_errors if i == 0 else later_errors).append(error)
            blank_at_spike.append(probs[t, blank])
            blank_before.append(probs[max(0, t - 1), blank])
    logger.info("per-frame diagnostic (model log-probs, frame %.3f s):", frame_s)
    summarise("  spike time - true start, all words", np.array(spike_errors))
    summarise("  spike time - true start, first word", np.array(first_errors))
    summarise("  spike time - true start, after a pause", np.array(later_errors))
    if blank_at_spike:
        logger.info(
            "  P(blank) at the spike frame: median %.3f; one frame earlier: median %.3f",
            np.median(blank_at_spike),
            np.median(blank_before),
        )


def evaluate(data: Path, model_path: Path, *, batch_size: int) -> None:
    from transcriber.engine import Engine
    from transcriber.types import TranscribeOptions

    clips = load_manifest(data / "test.json")
    engine = Engine(device="cpu")
    started = time.perf_counter()
    results = engine.transcribe_files(
        [c.path for c in clips],
        model=str(model_path),
        options=TranscribeOptions(timestamps=True, batch_size=batch_size),
    )
    logger.info("transcribed %d clips in %.1f s", len(clips), time.perf_counter() - started)
    failed = [r for r in results if r.transcript is None]
    if failed:
        raise RuntimeError(f"{len(failed)} clips failed, e.g. {failed[0].error}")
    hypotheses = [r.transcript.text for r in results]
    references = [c.text for c in clips]

    logger.info("test clips: %d (voices %s)", len(clips), sorted({c.voice.split("+")[0] for c in clips}))
    logger.info("WER %.2f %%", 100 * wer(references, hypotheses))
    for kind in ("phrase", "spaced"):
        refs = [c.text for c in clips if c.kind == kind]
        hyps = [h for c, h in zip(clips, hypotheses, strict=True) if c.kind == kind]
        logger.info("  %s clips: %d, WER %.2f %%", kind, len(refs), 100 * wer(refs, hyps))
    noise = [h for c, h in zip(clips, hypotheses, strict=True) if c.kind == "noise"]
    if noise:
        logger.info("  noise clips (no speech): %d, with any word heard: %d", len(noise), sum(bool(h) for h in noise))
    wrong = [(c, h) for c, h in zip(clips, hypotheses, strict=True) if c.text != h]
    logger.info("clips with any error: %d of %d", len(wrong), len(clips))
    for clip, hypothesis in wrong[:15]:
        logger.info("  %s (%s, -s %d): %r -> %r", clip.path.name, clip.voice, clip.speed, clip.text, hypothesis)

    spaced = [(c, r.transcript) for c, r in zip(clips, results, strict=True) if c.kind == "spaced" and c.text == r.transcript.text]
    start_errors, first_errors, later_errors = [], [], []
    for clip, transcript in spaced:
        if len(transcript.words) != len(clip.words):
            continue
        for i, (word, (_, start)) in enumerate(zip(transcript.words, clip.words, strict=True)):
            start_errors.append(word.start - start)
            (first_errors if i == 0 else later_errors).append(word.start - start)
    logger.info("word start times from the engine (timestamps=True), %d exactly transcribed spaced clips:", len(spaced))
    summarise("  all words", np.array(start_errors))
    summarise("  first word of a clip", np.array(first_errors))
    summarise("  words after a pause", np.array(later_errors))
    spike_diagnostic(model_path, [clip for clip, _ in spaced])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder written by make_data.py")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    evaluate(args.data, args.model, batch_size=args.batch_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
