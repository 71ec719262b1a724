"""The demo model under babble: the noisy split's speakers with babble under every clip, WER per band of SNR.

make_data's noisy split puts babble (3-6 voices talking, :func:`~demo_model.make_data.babble_bank`) under 30 % of
its clips. Here the same speakers, words and SNRs (0-10 dB) have babble under every clip, made twice: from the split's
own test voices, as the noisy split, and from the training voices' tracks that every training run heard. A model that
had learnt those tracks rather than to hear a voice through talk would do better under them. Also how many voices
each bank has talking at once, in shares of time.

Usage::

    python -m demo_model.babble_check --out /tmp/babble-check [--model M] [--count 300]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
from dataclasses import replace
from pathlib import Path

from demo_model import make_data
from demo_model.evaluate import BATCH_SIZE, DEFAULT_MODEL, load_manifest, report, transcribe_split, wer

logger = logging.getLogger(__name__)

SPLIT = "noisy"
SOURCES = {"test voices": "test", "training tracks": "train"}
"""Where the babble comes from: row name -> the voice split whose bank it is."""
BAND_DB = 2.5


def babble_everywhere(babble_voices: str) -> None:
    """In this process, every noisy clip has babble of ``babble_voices``' bank under it (a pool initializer)."""
    conditions = make_data.SPLIT_CONDITIONS[SPLIT]
    make_data.SPLIT_CONDITIONS[SPLIT] = replace(conditions, babble_share=1.0, babble_voices=babble_voices)


def make_clips(out: Path, babble_voices: str, count: int) -> Path:
    """The first ``count`` noisy clips with babble of ``babble_voices`` under each; returns their manifest."""
    with multiprocessing.Pool(initializer=babble_everywhere, initargs=(babble_voices,)) as pool:
        return make_data.write_split(SPLIT, count, out, pool)


def check(out: Path, model_path: Path, count: int) -> dict[str, float]:
    """Log WER under each babble source, overall and per :data:`BAND_DB` band of SNR, and each bank's talkers at
    once; returns {row name: figure}."""
    from transcriber.engine import Engine

    engine = Engine(device="cpu")
    engine.load(str(model_path))
    figures: dict[str, float] = {}
    rows = []
    talkers = {}
    lowest, highest = make_data.SPLIT_CONDITIONS[SPLIT].noise_snr_db
    for name, voices in SOURCES.items():
        # Made here first, so that forked pool processes need not make the bank again.
        _, talkers[name] = make_data.babble_bank_and_talkers(voices)
        clips = load_manifest(make_clips(out / voices, voices, count))
        results, _ = transcribe_split(engine, clips, model_path, BATCH_SIZE)
        hypotheses = [r.transcript.text for r in results]
        bands: dict[str, list[int]] = {f"{lowest:g}-{highest:g} dB": list(range(len(clips)))}
        # The manifest rounds SNRs to 0.1 dB, so the top of the range lands in the top band.
        lows = [min(BAND_DB * (clip.snr_db // BAND_DB), highest - BAND_DB) for clip in clips]
        for low in sorted(set(lows)):
            bands[f"{low:g}-{low + BAND_DB:g} dB"] = [i for i, band in enumerate(lows) if band == low]
        for band, indices in bands.items():
            refs = [clips[i].text for i in indices]
            figure = 100 * wer(refs, [hypotheses[i] for i in indices])
            figures[f"{name} {band}"] = figure
            rows.append((name, band, len(indices), sum(len(r.split()) for r in refs), figure))
    logger.info("")
    logger.info("| babble of | SNR | clips | words | WER |")
    logger.info("|---|---|---|---|---|")
    for name, band, n_clips, n_words, figure in rows:
        logger.info("| %s | %s | %d | %d | %.2f %% |", name, band, n_clips, n_words, figure)
    most = make_data.BABBLE_TALKERS[1]
    logger.info("")
    logger.info("| babble of | %s |", " | ".join(f"{k} talking" for k in range(most + 1)))
    logger.info("|---|%s", "---|" * (most + 1))
    for name, counts in talkers.items():
        shares = 100 * counts / counts.sum()
        figures |= {f"{name} {k} talking": float(share) for k, share in enumerate(shares)}
        logger.info("| %s | %s |", name, " | ".join(f"{share:.0f} %" for share in shares))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the clips (one subfolder per source)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--count", type=int, default=make_data.DEFAULT_COUNTS[SPLIT])
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"--count {args.count}: at least one clip")
    report(lambda: check(args.out, args.model, args.count), None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
