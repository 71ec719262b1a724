"""What naming speakers again by voice (``transcriber/voice_clusters.py``) costs: time per hour of audio and the
memory its features take, by length.

    python bench/bench_voice_clusters.py [--minutes 5 20 60 180]

The audio is speech-like noise (``_common.speechlike``) fed to :class:`VoiceStats` in the 30 s pieces the engine's
recognizer windows hand over; the turns are the kind a diarizer gives: two labels taking turns of 2-12 s with short
pauses. Printed per length: the time to describe the audio (done while the windows pass) by MFCCs and pitch and by the
demo diarizer's learnt embedding, and the size of each one's stored features; the time to regroup the turns at the
end with standardised MFCCs and in the demo diarizer's fitted space of its embedding (where each piece is also
checked again in parts); the time on *auto* (the same turns under six labels, the speakers counted by
voice first: ``regroup_counting``) and the number of pieces. Timings are for this
machine (2 CPU cores); no goal is attached.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from _common import SAMPLE_RATE, speechlike

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transcriber.types import SpeakerTurn
from transcriber.voice_clusters import Describer, MfccPitch, VoiceStats, regroup, regroup_counting

PIECE_S = 30.0
TURN_S = (2.0, 12.0)
PAUSE_S = (0.2, 1.0)


def turns_for(seconds: float, rng: np.random.Generator) -> list[SpeakerTurn]:
    turns, now, speaker = [], 0.0, 0
    while now < seconds:
        end = min(seconds, now + rng.uniform(*TURN_S))
        turns.append(SpeakerTurn(now, end, f"spk{speaker}"))
        now, speaker = end + rng.uniform(*PAUSE_S), 1 - speaker
    return turns


def demo_voices() -> tuple[Describer, np.ndarray]:
    """How the demo diarizer describes voices (its learnt embedding) and its fitted space."""
    from transcriber.diarization import load_diarizer, voice_describer, voice_projection
    from transcriber.models import DEMO_DIARIZER_PATH, ModelSource

    model = load_diarizer(ModelSource(str(DEMO_DIARIZER_PATH), DEMO_DIARIZER_PATH), "cpu")
    return voice_describer(model), voice_projection(model)


def describe(audio: np.ndarray, describer: Describer) -> tuple[VoiceStats, float, float]:
    """The audio fed in the recognizer's pieces: the stats, the seconds it took and the MB they hold."""
    stats = VoiceStats(SAMPLE_RATE, describer)
    step = round(PIECE_S * SAMPLE_RATE)
    started = time.perf_counter()
    for start in range(0, len(audio), step):
        stats.add(audio[start : start + step])
    sums, weights = stats.blocks()
    return stats, time.perf_counter() - started, (sums.nbytes + weights.nbytes) / 2**20


def measure(minutes: float, demo: tuple[Describer, np.ndarray]) -> dict[str, float]:
    seconds = minutes * 60
    audio = speechlike(seconds, seed=3)
    mfcc, mfcc_s, mfcc_mb = describe(audio, MfccPitch())
    learnt, learnt_s, learnt_mb = describe(audio, demo[0])
    turns = turns_for(seconds, np.random.default_rng(7))
    started = time.perf_counter()
    regrouped = regroup(turns, mfcc, 2)
    regroup_s = time.perf_counter() - started
    started = time.perf_counter()
    regroup(turns, learnt, 2, projection=demo[1])
    fitted_s = time.perf_counter() - started
    # On auto: the speakers counted by voice first, from six labels (windows that named two voices six ways).
    many = [SpeakerTurn(t.start, t.end, f"{t.speaker}-{int(t.start // 600) % 3}") for t in turns]
    started = time.perf_counter()
    regroup_counting(many, learnt, demo[1])
    counting_s = time.perf_counter() - started
    return {"minutes": minutes, "mfcc_s": mfcc_s, "learnt_s": learnt_s, "regroup_s": regroup_s,
            "fitted_s": fitted_s, "counting_s": counting_s, "turns": len(turns), "pieces": len(regrouped),
            "mfcc_mb": mfcc_mb, "learnt_mb": learnt_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[5.0, 20.0, 60.0, 180.0])
    args = parser.parse_args()
    demo = demo_voices()
    for minutes in args.minutes:
        row = measure(minutes, demo)
        per_hour = 60 / minutes
        print(f"{minutes:5.0f} min: describing {row['mfcc_s']:6.1f} s by MFCCs and pitch "
              f"({row['mfcc_s'] * per_hour:.0f} s per hour, {row['mfcc_mb']:.1f} MB), "
              f"{row['learnt_s']:6.1f} s by the demo diarizer's embedding "
              f"({row['learnt_s'] * per_hour:.0f} s per hour, {row['learnt_mb']:.1f} MB); regrouping "
              f"{row['regroup_s']:5.2f} s standardised (MFCCs), {row['fitted_s']:5.2f} s in the fitted space "
              f"(embedding), {row['counting_s']:5.2f} s counting the speakers first (auto) "
              f"({row['turns']} turns, {row['pieces']} after)", flush=True)


if __name__ == "__main__":
    main()
