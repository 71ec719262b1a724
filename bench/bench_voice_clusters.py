"""What naming speakers again by voice (``transcriber/voice_clusters.py``) costs: time per hour of audio and the
memory its features take, by length.

    python bench/bench_voice_clusters.py [--minutes 5 20 60 180]

The audio is speech-like noise (``_common.speechlike``) fed to :class:`VoiceStats` in the 30 s pieces the engine's
recognizer windows hand over; the turns are the kind a diarizer gives: two labels taking turns of 2-12 s with short
pauses. Printed per length: the time to describe the audio (MFCCs and pitch, done while the windows pass), the time
to regroup the turns at the end with standardised features and in the demo diarizer's fitted space (where each piece
is also checked again in parts), the time on *auto* (the same turns under six labels, the speakers counted by
voice first: ``regroup_counting``), the number of pieces, and the size of the stored features. Timings are for this
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
from transcriber.voice_clusters import VoiceStats, regroup, regroup_counting

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


def demo_projection() -> np.ndarray:
    from transcriber.diarization import load_diarizer, voice_projection
    from transcriber.models import DEMO_DIARIZER_PATH, ModelSource

    return voice_projection(load_diarizer(ModelSource(str(DEMO_DIARIZER_PATH), DEMO_DIARIZER_PATH), "cpu"))


def measure(minutes: float, projection: np.ndarray) -> dict[str, float]:
    seconds = minutes * 60
    audio = speechlike(seconds, seed=3)
    stats = VoiceStats(SAMPLE_RATE)
    step = round(PIECE_S * SAMPLE_RATE)
    started = time.perf_counter()
    for start in range(0, len(audio), step):
        stats.add(audio[start : start + step])
    sums, weights = stats.blocks()
    describe_s = time.perf_counter() - started
    turns = turns_for(seconds, np.random.default_rng(7))
    started = time.perf_counter()
    regrouped = regroup(turns, stats, 2)
    regroup_s = time.perf_counter() - started
    started = time.perf_counter()
    regroup(turns, stats, 2, projection=projection)
    fitted_s = time.perf_counter() - started
    # On auto: the speakers counted by voice first, from six labels (windows that named two voices six ways).
    many = [SpeakerTurn(t.start, t.end, f"{t.speaker}-{int(t.start // 600) % 3}") for t in turns]
    started = time.perf_counter()
    regroup_counting(many, stats, projection)
    counting_s = time.perf_counter() - started
    return {"minutes": minutes, "describe_s": describe_s, "regroup_s": regroup_s, "fitted_s": fitted_s,
            "counting_s": counting_s,
            "turns": len(turns), "pieces": len(regrouped), "features_mb": (sums.nbytes + weights.nbytes) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[5.0, 20.0, 60.0, 180.0])
    args = parser.parse_args()
    projection = demo_projection()
    for minutes in args.minutes:
        row = measure(minutes, projection)
        per_hour = 60 / minutes
        print(f"{minutes:5.0f} min: describing {row['describe_s']:6.1f} s ({row['describe_s'] * per_hour:.0f} s per "
              f"hour), regrouping {row['regroup_s']:5.2f} s standardised, {row['fitted_s']:5.2f} s in the fitted "
              f"space, {row['counting_s']:5.2f} s counting the speakers first (auto) "
              f"({row['turns']} turns, {row['pieces']} after), "
              f"features {row['features_mb']:.1f} MB", flush=True)


if __name__ == "__main__":
    main()
