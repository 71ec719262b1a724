"""Evaluate the demo model through the app's own engine, on splits of voices it never trained on.

Prints one table of WER per split (see ``make_data.py``):

* ``test``: unseen voices of each synthesizer that training used (espeak-ng, flite, festival), clear speech; also per
  synthesizer, and per voice where a synthesizer has a few (flite's kal and kal16, festival's kal and pc). Target
  <= 3 %.
* ``held_out``: a whole synthesizer that training never heard (pico). Target <= 15 %.
* ``noisy``: unseen voices at 0-10 dB SNR (noise or babble), also per synthesizer and voice as ``test``, and under
  babble and under steady noise apart where the manifest has each clip's ``noise``. Target <= 8 %.
* ``noise``: clips without speech; the figure is how many of them get any word (and how many of each kind of noise,
  where the manifest says). Target 0.
* ``continuous``: unseen voices saying 3-7 phrases in a row with short pauses, one voice or two taking turns, as in
  a recording of talk. No target of its own: it should stay close to ``test``, and a model that learnt to drop
  continuous speech (as one trained on wider babble did, ``README.md``) shows here first. Also the same clips joined
  by :data:`JOINED_CLIPS` (with :data:`JOINED_GAP_S` of silence between) into recordings of about 70 s, which the
  engine hears as it hears a user's long recording: in windows of the model's training length.

Then word START time errors on the ``spaced`` test clips, whose true word positions are known because each word was
synthesised on its own and placed after a known silence (only clips transcribed exactly, so words pair up one to
one), from ``Engine.transcribe_files(..., TranscribeOptions(timestamps=True))``: what users get. Target: median
error of words after a pause <= 0.1 s. And the CPU speed (RTFx: seconds of audio per second of compute).

Usage::

    python -m demo_model.evaluate --data /tmp/demo-data --model transcriber/assets/demo-en-commands.nemo
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path("transcriber/assets/demo-en-commands.nemo")
BATCH_SIZE = 16
PERCENTILE = 90
VOICE_ROWS = 4


@dataclass(frozen=True)
class Clip:
    path: Path
    text: str
    kind: str
    voice: str
    synthesizer: str
    duration: float
    words: tuple[tuple[str, float], ...]  # (word, true start) for spaced clips
    noise: str | None = None  # "babble" or "steady" where the manifest says (make_data's since --train-babble)
    snr_db: float | None = None  # the SNR of the noise under the speech, if any


def load_manifest(path: Path) -> list[Clip]:
    clips = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        words = tuple((w["word"], float(w["start"])) for w in entry.get("words", ()))
        clips.append(Clip(Path(entry["audio_filepath"]), entry["text"], entry["kind"], entry["voice"],
                          entry.get("synthesizer", ""), float(entry["duration"]), words, entry.get("noise"),
                          entry.get("snr_db")))
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


EVALUATED_SPLITS = ("test", "held_out", "noisy", "noise", "continuous")
JOINED_CLIPS = 8
JOINED_GAP_S = 0.5
TARGETS = {"test": "<= 3 %", "held_out": "<= 15 %", "noisy": "<= 8 %", "noise": "0 clips"}


def transcribe_split(engine, clips: list[Clip], model_path: Path, batch_size: int) -> tuple[list, float]:
    from transcriber.types import TranscribeOptions

    started = time.perf_counter()
    results = engine.transcribe_files(
        [c.path for c in clips],
        model=str(model_path),
        options=TranscribeOptions(timestamps=True, batch_size=batch_size),
    )
    seconds = time.perf_counter() - started
    failed = [r for r in results if r.transcript is None]
    if failed:
        raise RuntimeError(f"{len(failed)} clips failed, e.g. {failed[0].error}")
    return results, seconds


def joined_recordings(clips: list[Clip]) -> tuple[list, list[str]]:
    """The clips joined by :data:`JOINED_CLIPS` into longer recordings (decoded audio), and what each says."""
    from transcriber.audio import load_audio
    from transcriber.types import AudioData

    recordings, texts = [], []
    for first in range(0, len(clips), JOINED_CLIPS):
        group = clips[first:first + JOINED_CLIPS]
        decoded = [load_audio(clip.path) for clip in group]
        gap = np.zeros(round(JOINED_GAP_S * decoded[0].sample_rate), np.float32)
        samples = np.concatenate([part for audio in decoded for part in (audio.samples, gap)])
        recordings.append(AudioData(samples, decoded[0].sample_rate, f"joined-{first // JOINED_CLIPS}.wav"))
        texts.append(" ".join(clip.text for clip in group))
    return recordings, texts


def start_errors(clips: list[Clip], results: list) -> tuple[list[float], list[float]]:
    """Word start errors (reported - true) of exactly transcribed spaced clips: first words, words after a pause."""
    first, later = [], []
    for clip, result in zip(clips, results, strict=True):
        words = result.transcript.words
        if clip.kind != "spaced" or clip.text != result.transcript.text or len(words) != len(clip.words):
            continue
        for i, (word, (_, start)) in enumerate(zip(words, clip.words, strict=True)):
            (first if i == 0 else later).append(word.start - start)
    return first, later


def groups(split: str, clips: list[Clip]) -> dict[str, list[int]]:
    """The rows of one split: all its clips; for the speech splits of unseen voices (test, noisy) also each
    synthesizer, and each voice of a synthesizer with at most :data:`VOICE_ROWS` voices in the split (flite's and
    festival's speakers, not espeak-ng's hundreds). Names are indented by depth."""
    rows = {split: list(range(len(clips)))}
    if split not in ("test", "noisy"):
        return rows
    for synthesizer in sorted({c.synthesizer for c in clips}):
        own = [i for i, c in enumerate(clips) if c.synthesizer == synthesizer]
        rows[f"  {split} {synthesizer}"] = own
        voices = sorted({clips[i].voice for i in own})
        if 1 < len(voices) <= VOICE_ROWS:
            rows |= {f"    {split} {voice}": [i for i in own if clips[i].voice == voice] for voice in voices}
    for noise, words in (("babble", "babble"), ("steady", "steady noise")):
        if split == "noisy" and (under := [i for i, c in enumerate(clips) if c.noise == noise]):
            rows[f"  {split} under {words}"] = under
    return rows


def evaluate(data: Path, model_path: Path, *, batch_size: int, spikes: bool = False) -> dict[str, float]:
    """Log the table described in the module docstring; returns {row name: figure}."""
    from transcriber.engine import Engine
    from transcriber.types import TranscribeOptions

    engine = Engine(device="cpu")
    engine.load(str(model_path))  # so the first split's time is transcription, not loading
    figures: dict[str, float] = {}
    rows = []
    audio_s = compute_s = 0.0
    test_clips, test_results = [], []
    for split in EVALUATED_SPLITS:
        manifest = data / f"{split}.json"
        if not manifest.exists():
            continue
        clips = load_manifest(manifest)
        results, seconds = transcribe_split(engine, clips, model_path, batch_size)
        audio_s += sum(c.duration for c in clips)
        compute_s += seconds
        hypotheses = [r.transcript.text for r in results]
        if split == "noise":
            heard = sum(bool(h) for h in hypotheses)
            figures[split] = heard
            figure = f"{heard} of {len(clips)} clips with a word"
            if kinds := sorted({c.noise for c in clips if c.noise}):
                figure += " (" + ", ".join(
                    f"{sum(bool(h) for c, h in zip(clips, hypotheses, strict=True) if c.noise == kind)} of "
                    f"{sum(c.noise == kind for c in clips)} {kind}" for kind in kinds) + ")"
            rows.append((split, len(clips), 0, figure, TARGETS[split]))
            continue
        if split == "test":
            test_clips, test_results = clips, results
        for name, indices in groups(split, clips).items():
            refs = [clips[i].text for i in indices]
            hyps = [hypotheses[i] for i in indices]
            figures[name.strip()] = 100 * wer(refs, hyps)
            rows.append((name, len(indices), sum(len(r.split()) for r in refs), f"{100 * wer(refs, hyps):.2f} %",
                         TARGETS.get(name.split()[0], "")))
        if split == "continuous":
            recordings, texts = joined_recordings(clips)
            joined = engine.transcribe_files(recordings, model=str(model_path),
                                             options=TranscribeOptions(batch_size=batch_size))
            figure = 100 * wer(texts, [r.transcript.text for r in joined])
            figures["continuous joined"] = figure
            rows.append((f"  continuous joined by {JOINED_CLIPS}", len(recordings), sum(len(t.split()) for t in texts),
                         f"{figure:.2f} %", ""))
        wrong = [(c, h) for c, h in zip(clips, hypotheses, strict=True) if c.text != h]
        for clip, hypothesis in wrong[:5]:
            logger.info("  %s %s (%s): %r -> %r", split, clip.path.name, clip.voice, clip.text, hypothesis)

    logger.info("")
    logger.info("| split | clips | words | WER | target |")
    logger.info("|---|---|---|---|---|")
    for name, n_clips, n_words, figure, target in rows:
        depth = (len(name) - len(name.lstrip())) // 2
        logger.info("| %s | %d | %d | %s | %s |", "- " * depth + name.strip(), n_clips, n_words, figure, target)
    if compute_s:
        figures["rtfx"] = audio_s / compute_s
        logger.info("CPU speed: %.0f s of audio in %.1f s, RTFx %.0f", audio_s, compute_s, audio_s / compute_s)

    if test_clips:
        first, later = start_errors(test_clips, test_results)
        logger.info("word start times from the engine (timestamps=True), exactly transcribed spaced test clips:")
        summarise("  first word of a clip", np.array(first))
        summarise("  words after a pause", np.array(later))
        if later:
            figures["start_after_pause_median_s"] = float(np.median(np.abs(later)))
        if spikes:
            exact = [c for c, r in zip(test_clips, test_results, strict=True)
                     if c.kind == "spaced" and c.text == r.transcript.text]
            spike_diagnostic(model_path, exact)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder written by make_data.py")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--spikes", action="store_true", help="also the per-frame CTC spike diagnostic")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    report(lambda: evaluate(args.data, args.model, batch_size=args.batch_size, spikes=args.spikes), args.json)
    return 0


def report(evaluation: Callable[[], dict], json_path: Path | None) -> None:
    """Run an evaluation with logging to the terminal, log its wall time, and write its figures to ``json_path``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    figures = evaluation()
    logger.info("wall time %.1f s", time.perf_counter() - started)
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
