"""Synthesise the demo model's speech-command data set with espeak-ng.

Every clip says one to eight words of :data:`VOCABULARY`. Two kinds of clip:

* ``phrase``: the whole phrase in one espeak-ng call, so words run into each other as they do in speech;
* ``spaced``: each word synthesised on its own, trimmed, and joined with known silences, so the manifest can record
  where each word starts and ends (``words``), which is what word-timing evaluation needs.

Both kinds get leading and trailing silence, then (at random) reverberation from a synthetic exponential-decay
impulse response, background noise, and a level change. A third kind, ``noise`` (:data:`NOISE_ONLY_SHARE` of the
clips), holds no speech at all: steady noise from faint to loud, with empty text, so that the model learns to say
nothing when nobody speaks (the per-feature normalisation of its input makes faint noise look as loud as speech). Voices, voice variants and speeds are split up front: the
test clips use only ones that no training or validation clip uses, so test figures measure generalisation to new
speakers, not memory. Every random choice comes from a generator seeded by (:data:`SEED`, split, clip index), so a
run reproduces the same files whatever the number of worker processes.

Usage::

    python -m demo_model.make_data --out /tmp/demo-data            # train 4000, validation 200, test 300
    python -m demo_model.make_data --out /tmp/tiny --train 64 --validation 16 --test 16

Writes ``<out>/{train,validation,test}/*.wav`` (16 kHz mono, 16-bit) and ``<out>/{train,validation,test}.json``
manifests (JSON lines ``{"audio_filepath", "duration", "text", "kind", "voice", "speed", "words"?}``).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import multiprocessing
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import fftconvolve

logger = logging.getLogger(__name__)

SEED = 20250101
SAMPLE_RATE = 16_000
ESPEAK = "espeak-ng"
ESPEAK_VARIANT_DIR = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data/voices/!v")

VOCABULARY = tuple(
    "zero one two three four five six seven eight nine "
    "yes no stop go left right up down on off start open close play pause next back hello please help".split()
)
MIN_WORDS, MAX_WORDS = 1, 8

# English espeak-ng voices (the mbrola ones, such as en-uk, need data files Debian does not ship).
TRAIN_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-029")
TEST_VOICES = ("en-gb-x-gbcwmd", "en-us-nyc")
# Variants (voices/!v) kept out of training; every other variant on disk is used for training.
TEST_VARIANTS = ("m4", "f3", "klatt3", "iven2", "Andy", "belinda", "john", "steph2", "robosoft3", "max", "travis", "Gene")
# Words per minute (espeak-ng -s; its default is 175). Test speeds lie between training speeds.
TRAIN_SPEEDS = (100, 120, 140, 160, 180, 200, 230, 260)
TEST_SPEEDS = (130, 170, 215)
PITCH_RANGE = (15, 85)  # espeak-ng -p, 0..99

PLAIN_VOICE_SHARE = 0.2
"""Share of clips spoken by the plain voice, without a variant."""
SPACED_SHARE = 0.5
"""Share of clips built word by word with known silences."""
LEAD_SILENCE_S = (0.05, 1.0)
TRAIL_SILENCE_S = (0.05, 1.0)
WORD_GAP_S = (0.12, 0.9)
PHRASE_GAP_MAX = 25
"""espeak-ng -g: extra pause between words of a phrase clip, in units of 10 ms."""
TRIM_DB = -40.0
"""A word's audio starts and ends where its 5 ms frame energy comes within this many dB of its loudest frame."""
TRIM_FRAME_S = 0.005

REVERB_PROB = 0.35
RT60_S = (0.1, 0.6)
WET_GAIN = (0.1, 0.6)
NOISE_PROB = 0.7
SNR_DB = (5.0, 35.0)
PEAK_DBFS = (-30.0, -1.0)

SPLIT_INDEX = {"train": 0, "validation": 1, "test": 2}
NOISE_ONLY_SHARE = 0.08
"""Share of clips that are noise without speech. Decided by a generator of its own, so the speech clips are the same
files, index for index, as in a data set without noise clips."""
NOISE_ONLY_S = (0.5, 6.0)
NOISE_ONLY_RMS_DBFS = (-75.0, -15.0)


@dataclass(frozen=True)
class Conditions:
    """The voices, variants and speeds one split may use."""

    voices: tuple[str, ...]
    variants: tuple[str, ...]
    speeds: tuple[int, ...]


def espeak_variants() -> tuple[str, ...]:
    """Variant names installed with espeak-ng (names with spaces cannot be passed on the command line)."""
    return tuple(sorted(p.name for p in ESPEAK_VARIANT_DIR.iterdir() if p.is_file() and " " not in p.name))


def split_conditions(split: str) -> Conditions:
    """Training and validation share conditions; test uses held-out voices, variants and speeds only."""
    installed = espeak_variants()
    if split == "test":
        return Conditions(TEST_VOICES, tuple(v for v in TEST_VARIANTS if v in installed), TEST_SPEEDS)
    return Conditions(TRAIN_VOICES, tuple(v for v in installed if v not in TEST_VARIANTS), TRAIN_SPEEDS)


def synthesise(text: str, *, voice: str, speed: int, pitch: int, gap: int = 0) -> np.ndarray:
    """espeak-ng speech for ``text`` as float32 samples at :data:`SAMPLE_RATE`."""
    command = [ESPEAK, "-v", voice, "-s", str(speed), "-p", str(pitch), "-g", str(gap), "--stdout", text]
    wav = subprocess.run(command, check=True, capture_output=True).stdout
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return soxr.resample(samples, rate, SAMPLE_RATE).astype(np.float32)


def speech_bounds(samples: np.ndarray) -> tuple[int, int]:
    """First and one-past-last sample of the audible part (frame energy within :data:`TRIM_DB` of the peak)."""
    frame = round(TRIM_FRAME_S * SAMPLE_RATE)
    n = len(samples) // frame
    if n == 0:
        return 0, len(samples)
    energy = (samples[: n * frame].reshape(n, frame) ** 2).mean(axis=1) + 1e-12
    loud = np.flatnonzero(10 * np.log10(energy / energy.max()) > TRIM_DB)
    return int(loud[0]) * frame, int(loud[-1] + 1) * frame


def trim(samples: np.ndarray) -> np.ndarray:
    start, end = speech_bounds(samples)
    return samples[start:end]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)


def reverberate(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add a synthetic room: decaying noise tail mixed under the direct sound (onsets do not move)."""
    rt60 = rng.uniform(*RT60_S)
    t = np.arange(round(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    tail[: round(0.002 * SAMPLE_RATE)] = 0.0  # the first reflections arrive a little after the direct sound
    tail *= rng.uniform(*WET_GAIN) / np.sqrt((tail**2).sum())
    impulse = np.concatenate(([1.0], tail[1:]))
    return fftconvolve(samples, impulse)[: len(samples)].astype(np.float32)


def coloured_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink or brown noise with unit RMS."""
    exponent = rng.choice((0.0, 1.0, 2.0))
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n)
    return (noise / (np.sqrt((noise**2).mean()) + 1e-12)).astype(np.float32)


def add_noise(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    start, end = speech_bounds(samples)
    speech_rms = np.sqrt((samples[start:end] ** 2).mean()) + 1e-12
    snr = rng.uniform(*SNR_DB)
    return samples + coloured_noise(len(samples), rng) * speech_rms / 10 ** (snr / 20)


def set_level(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    peak = np.abs(samples).max() + 1e-12
    return (samples * 10 ** (rng.uniform(*PEAK_DBFS) / 20) / peak).astype(np.float32)


def make_clip(split: str, index: int, out_dir: Path) -> dict:
    """Synthesise clip ``index`` of ``split`` into ``out_dir``; returns its manifest entry."""
    if np.random.default_rng([SEED, SPLIT_INDEX[split], index, 1]).random() < NOISE_ONLY_SHARE:
        return make_noise_clip(split, index, out_dir)
    rng = np.random.default_rng([SEED, SPLIT_INDEX[split], index])
    conditions = split_conditions(split)
    words = [str(w) for w in rng.choice(VOCABULARY, size=rng.integers(MIN_WORDS, MAX_WORDS + 1))]
    base = str(rng.choice(conditions.voices))
    variant = None if rng.random() < PLAIN_VOICE_SHARE else str(rng.choice(conditions.variants))
    voice = base if variant is None else f"{base}+{variant}"
    speed = int(rng.choice(conditions.speeds))
    pitch = int(rng.integers(*PITCH_RANGE))
    spaced = rng.random() < SPACED_SHARE

    parts = [silence(rng.uniform(*LEAD_SILENCE_S))]
    timings = []
    if spaced:
        position = len(parts[0])
        for i, word in enumerate(words):
            if i:
                gap = silence(rng.uniform(*WORD_GAP_S))
                parts.append(gap)
                position += len(gap)
            audio = trim(synthesise(word, voice=voice, speed=speed, pitch=pitch))
            parts.append(audio)
            timings.append({"word": word, "start": position / SAMPLE_RATE, "end": (position + len(audio)) / SAMPLE_RATE})
            position += len(audio)
    else:
        gap = int(rng.integers(0, PHRASE_GAP_MAX + 1))
        parts.append(trim(synthesise(" ".join(words), voice=voice, speed=speed, pitch=pitch, gap=gap)))
    parts.append(silence(rng.uniform(*TRAIL_SILENCE_S)))
    samples = np.concatenate(parts)

    if rng.random() < REVERB_PROB:
        samples = reverberate(samples, rng)
    if rng.random() < NOISE_PROB:
        samples = add_noise(samples, rng)
    samples = set_level(samples, rng)

    path = out_dir / split / f"{split}-{index:05d}.wav"
    sf.write(path, samples, SAMPLE_RATE, subtype="PCM_16")
    entry = {
        "audio_filepath": str(path.resolve()),
        "duration": round(len(samples) / SAMPLE_RATE, 4),
        "text": " ".join(words),
        "kind": "spaced" if spaced else "phrase",
        "voice": voice,
        "speed": speed,
        "pitch": pitch,
    }
    if spaced:
        entry["words"] = [{**t, "start": round(t["start"], 4), "end": round(t["end"], 4)} for t in timings]
    return entry


def make_noise_clip(split: str, index: int, out_dir: Path) -> dict:
    """Clip ``index`` of ``split`` as steady noise without speech (white, pink or brown, faint to loud)."""
    rng = np.random.default_rng([SEED, SPLIT_INDEX[split], index, 2])
    n = round(rng.uniform(*NOISE_ONLY_S) * SAMPLE_RATE)
    samples = coloured_noise(n, rng) * 10 ** (rng.uniform(*NOISE_ONLY_RMS_DBFS) / 20)
    if rng.random() < REVERB_PROB:
        samples = reverberate(samples.astype(np.float32), rng)
    path = out_dir / split / f"{split}-{index:05d}.wav"
    sf.write(path, np.clip(samples, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16")
    return {
        "audio_filepath": str(path.resolve()),
        "duration": round(n / SAMPLE_RATE, 4),
        "text": "",
        "kind": "noise",
        "voice": "",
        "speed": 0,
        "pitch": 0,
    }


def _make_clip_job(job: tuple[str, int, str]) -> dict:
    split, index, out_dir = job
    return make_clip(split, index, Path(out_dir))


def write_split(split: str, count: int, out_dir: Path, workers: int) -> Path:
    """Synthesise ``count`` clips of ``split`` and write ``<out_dir>/<split>.json``."""
    (out_dir / split).mkdir(parents=True, exist_ok=True)
    jobs = [(split, i, str(out_dir)) for i in range(count)]
    with multiprocessing.Pool(workers) as pool:
        entries = pool.map(_make_clip_job, jobs, chunksize=16)
    manifest = out_dir / f"{split}.json"
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    hours = sum(e["duration"] for e in entries) / 3600
    logger.info("%s: %d clips, %.2f h -> %s", split, len(entries), hours, manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for WAVs and manifests")
    parser.add_argument("--train", type=int, default=4000, help="training clips")
    parser.add_argument("--validation", type=int, default=200, help="validation clips (training conditions)")
    parser.add_argument("--test", type=int, default=300, help="test clips (held-out voices, variants, speeds)")
    parser.add_argument("--workers", type=int, default=2, help="parallel synthesis processes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if shutil.which(ESPEAK) is None:
        parser.error(f"{ESPEAK} is not installed")

    started = time.perf_counter()
    for split, count in (("train", args.train), ("validation", args.validation), ("test", args.test)):
        write_split(split, count, args.out, args.workers)
    logger.info("wall time %.1f s", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
