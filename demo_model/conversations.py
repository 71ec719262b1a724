"""Synthetic conversations of 2-4 voices from the voice pool (or talk by one voice alone), with the truth of who
speaks when.

A conversation is assembled from an *utterance bank*: phrases of vocabulary words that each voice has spoken once
(synthesis is the slow part; mixing arrays is fast, so training draws new conversations without end from a bank).
Turns last 0.5 to 15 s (several phrases of one speaker with short gaps), pauses between turns vary, and some turns
start before the previous one ends (overlap, interruptions). Speakers talk at different levels; some conversations
get background noise and a room.

Speakers are numbered in order of first appearance (index 0 speaks first), which is the order a Sortformer's
outputs take.

Usage (a folder of WAVs and reference turns, for listening or other tools)::

    python -m demo_model.conversations --out /tmp/conv --count 10 --speakers 3 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from demo_model.make_data import (
    CONVERSATION_TALK,
    coloured_noise,
    phrase_words,
    reverberate,
    trim,
)
from demo_model.voices import SAMPLE_RATE, Voice, split_voices

SEED = 20261202
TURN_S = (0.5, 15.0)
PHRASE_GAP_S = (0.08, 0.35)
TURN_GAP_S = (0.15, 1.5)
OVERLAP_PROB = 0.15
OVERLAP_S = (0.2, 1.0)
SPEAKER_GAIN_DB = (-8.0, 0.0)
NOISE_PROB = 0.5
SNR_DB = (10.0, 30.0)
REVERB_PROB = 0.3
PEAK_DBFS = (-20.0, -3.0)
RATE = (0.85, 1.2)


@dataclass(frozen=True)
class Turn:
    """One stretch of speech of one speaker (index in order of first appearance), in seconds."""

    start: float
    end: float
    speaker: int


@dataclass(frozen=True)
class Conversation:
    samples: np.ndarray
    turns: tuple[Turn, ...]
    voices: tuple[str, ...]  # voice id per speaker index

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def utterance_bank(voices: tuple[Voice, ...], per_voice: int, rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    """``per_voice`` trimmed phrases of each voice (vocabulary phrases, and now and then a sentence)."""
    bank = {}
    for voice in voices:
        phrases = []
        for _ in range(per_voice):
            text = str(rng.choice(CONVERSATION_TALK)) if rng.random() < 0.15 else " ".join(phrase_words(rng))
            phrases.append(trim(voice.speak(text, rate=float(rng.uniform(*RATE)), pitch=float(rng.uniform(0.2, 0.8)))))
        bank[voice.id] = phrases
    return bank


def pick_speakers(voices: tuple[Voice, ...], count: int, rng: np.random.Generator) -> list[Voice]:
    """``count`` voices of different families (different timbres), accents mixed."""
    chosen: list[Voice] = []
    if count <= 0:
        return chosen
    for index in rng.permutation(len(voices)):
        voice = voices[int(index)]
        if all(voice.family != other.family for other in chosen):
            chosen.append(voice)
        if len(chosen) == count:
            return chosen
    raise ValueError(f"only {len(chosen)} voice families available, {count} speakers asked for")


def assemble(
    phrases: list[list[np.ndarray]], seconds: float, rng: np.random.Generator, *, clean: bool = False
) -> tuple[np.ndarray, list[Turn]]:
    """Mix a conversation of about ``seconds`` from each speaker's phrases; returns samples and speech turns.

    Every speaker talks at least once; the first turns go through the speakers in order, so index = arrival order.
    ``clean``: no noise and no room (the speakers still differ in level).
    """
    n = len(phrases)
    gains = [10 ** (rng.uniform(*SPEAKER_GAIN_DB) / 20) for _ in range(n)]
    total = round(seconds * SAMPLE_RATE)
    pieces: list[tuple[int, np.ndarray, int]] = []  # (start sample, audio, speaker)
    position = round(rng.uniform(0.1, 0.8) * SAMPLE_RATE)
    speaker, turn_index = 0, 0
    while position < total or turn_index < n:
        if turn_index < n:
            speaker = turn_index
        elif n > 1:
            speaker = int(rng.choice([s for s in range(n) if s != speaker]))
        target = rng.uniform(*TURN_S)
        spoken = 0.0
        while True:
            audio = phrases[speaker][int(rng.integers(len(phrases[speaker])))] * gains[speaker]
            pieces.append((position, audio, speaker))
            position += len(audio)
            spoken += len(audio) / SAMPLE_RATE
            if spoken >= target or position >= total:
                break
            position += round(rng.uniform(*PHRASE_GAP_S) * SAMPLE_RATE)
        if rng.random() < OVERLAP_PROB and turn_index >= 1 and n > 1:  # one voice does not talk over itself
            position -= round(min(rng.uniform(*OVERLAP_S), 0.8 * len(audio) / SAMPLE_RATE) * SAMPLE_RATE)
        else:
            position += round(rng.uniform(*TURN_GAP_S) * SAMPLE_RATE)
        turn_index += 1
    length = max(start + len(audio) for start, audio, _ in pieces) + round(rng.uniform(0.1, 0.6) * SAMPLE_RATE)
    mix = np.zeros(length, dtype=np.float32)
    for start, audio, _ in pieces:
        mix[start : start + len(audio)] += audio
    if not clean:
        if rng.random() < REVERB_PROB:
            mix = reverberate(mix, rng)
        if rng.random() < NOISE_PROB:
            rms = np.sqrt(np.mean(mix**2)) + 1e-12
            mix = mix + coloured_noise(len(mix), rng) * rms / 10 ** (rng.uniform(*SNR_DB) / 20)
    mix = (mix * 10 ** (rng.uniform(*PEAK_DBFS) / 20) / (np.abs(mix).max() + 1e-12)).astype(np.float32)
    turns = [Turn(start / SAMPLE_RATE, (start + len(audio)) / SAMPLE_RATE, s) for start, audio, s in pieces]
    return mix, merge_turns(turns)


def merge_turns(turns: list[Turn], gap_s: float = PHRASE_GAP_S[1]) -> list[Turn]:
    """One speaker's phrases closer than ``gap_s`` as one turn; sorted by start."""
    merged: list[Turn] = []
    for turn in sorted(turns, key=lambda t: (t.speaker, t.start)):
        if merged and merged[-1].speaker == turn.speaker and turn.start - merged[-1].end <= gap_s + 1e-6:
            merged[-1] = Turn(merged[-1].start, max(merged[-1].end, turn.end), turn.speaker)
        else:
            merged.append(turn)
    return sorted(merged, key=lambda t: (t.start, t.speaker))


def conversation(
    voices: tuple[Voice, ...], speakers: int, seconds: float, rng: np.random.Generator, *,
    per_voice: int = 8, clean: bool = False,
) -> Conversation:
    """A new conversation of ``speakers`` voices drawn from ``voices`` (synthesises their phrases first)."""
    chosen = pick_speakers(voices, speakers, rng)
    bank = utterance_bank(tuple(chosen), per_voice, rng)
    samples, turns = assemble([bank[v.id] for v in chosen], seconds, rng, clean=clean)
    return Conversation(samples, tuple(turns), tuple(v.id for v in chosen))


def frame_targets(turns: list[Turn] | tuple[Turn, ...], frames: int, frame_s: float, max_speakers: int) -> np.ndarray:
    """(frames, max_speakers) 0/1 activity: a speaker is active in a frame when a turn covers the frame's centre."""
    targets = np.zeros((frames, max_speakers), dtype=np.float32)
    centres = (np.arange(frames) + 0.5) * frame_s
    for turn in turns:
        if turn.speaker < max_speakers:
            targets[(centres >= turn.start) & (centres < turn.end), turn.speaker] = 1.0
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--speakers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--split", default="test", choices=("train", "validation", "test", "held_out"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    voices = split_voices()[args.split]
    for index in range(args.count):
        rng = np.random.default_rng([SEED, args.speakers, index])
        conv = conversation(voices, args.speakers, args.seconds, rng)
        path = args.out / f"conversation-{index:03d}.wav"
        sf.write(path, conv.samples, SAMPLE_RATE, subtype="PCM_16")
        turns = [{"start": round(t.start, 3), "end": round(t.end, 3), "speaker": t.speaker} for t in conv.turns]
        path.with_suffix(".json").write_text(json.dumps({"voices": conv.voices, "turns": turns}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
