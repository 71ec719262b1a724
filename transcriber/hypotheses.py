"""NeMo's hypotheses as plain transcripts: every output shape ``transcribe()`` has, timings in seconds.

Also the padding rule for clips under :data:`MIN_INPUT_S`: NeMo pads them on both sides, which shifts every
timestamp, so they are padded at the end here and words heard in the padding are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from .types import AudioData, Segment, Transcript, Word

MIN_INPUT_S = 1.0
"""NeMo pads arrays shorter than this on both sides, which shifts every timestamp; we pad at the end instead."""


def _best(hypothesis: Any) -> Any:
    """The best hypothesis out of an n-best list or an ``NBestHypotheses`` holder."""
    if isinstance(hypothesis, (list, tuple)):
        return _best(hypothesis[0]) if hypothesis else ""
    n_best = getattr(hypothesis, "n_best_hypotheses", None)
    if n_best:
        return n_best[0]
    return hypothesis


def normalise_output(output: Any) -> list[Any]:
    """Flatten every shape ``transcribe()`` returns into one best hypothesis per input.

    NeMo returns a list of hypotheses, a ``(best, all)`` tuple (older RNNT models), or a list of n-best lists.
    """
    if isinstance(output, tuple):
        output = output[0]
    return [_best(item) for item in output]


def _seconds(entry: dict[str, Any], key: str, frame_s: float) -> float:
    value = entry.get(key)
    if value is None:
        value = float(entry.get(f"{key}_offset", 0)) * frame_s
    return float(value)  # CTC gives numpy scalars, RNNT Python numbers, some versions 0-d tensors


def _timed_items(entries: Iterable[dict[str, Any]], text_key: str, duration: float, frame_s: float) -> list[Word]:
    items = []
    for entry in entries:
        text = str(entry.get(text_key, "")).strip()
        if not text:
            continue
        start = max(_seconds(entry, "start", frame_s), 0.0)
        if start >= duration > 0:  # heard in the silence that pads short clips, or past the end by a frame
            continue
        end = min(max(_seconds(entry, "end", frame_s), start), duration)
        items.append(Word(text, start, end))
    return items


def hypothesis_to_transcript(
    hypothesis: Any, *, duration: float, model_name: str, timestamps: bool, frame_s: float = 0.08
) -> Transcript:
    """Turn one NeMo hypothesis (or plain string) into a :class:`Transcript` of plain Python values.

    Args:
        hypothesis: A NeMo ``Hypothesis`` or a string.
        duration: Length of the audio in seconds; times are clipped to it.
        model_name: Recorded in the transcript.
        timestamps: Whether word and segment timings were asked for. NeMo keeps its timestamp setting between
            calls, so a hypothesis may carry timings that were not asked for this time; they are dropped.
        frame_s: Seconds per encoder frame, for timings NeMo gives only as frame offsets.
    """
    text = hypothesis if isinstance(hypothesis, str) else getattr(hypothesis, "text", "")
    text = " ".join(str(text or "").split())
    if not timestamps:
        return Transcript(text=text, duration=duration, model=model_name)
    stamps = getattr(hypothesis, "timestamp", None)
    stamps = stamps if isinstance(stamps, dict) else {}
    words = _timed_items(stamps.get("word", ()), "word", duration, frame_s)
    segments = [Segment(w.text, w.start, w.end) for w in _timed_items(stamps.get("segment", ()), "segment", duration, frame_s)]
    if words and not segments:
        segments = [Segment(" ".join(w.text for w in words), words[0].start, words[-1].end)]
    return Transcript(text=text, words=tuple(words), segments=tuple(segments), duration=duration, model=model_name)


def is_padded(audio: AudioData) -> bool:
    return len(audio.samples) < round(MIN_INPUT_S * audio.sample_rate)


def text_from_words(transcript: Transcript, *, keep_timings: bool) -> Transcript:
    """The transcript's text made from its words alone (after words outside the audio were dropped)."""
    text = " ".join(word.text for word in transcript.words)
    if keep_timings:
        return replace(transcript, text=text)
    return Transcript(text=text, duration=transcript.duration, model=transcript.model)


def pad_short(audio: AudioData) -> np.ndarray:
    """The samples, with silence appended up to :data:`MIN_INPUT_S` so that times keep their origin."""
    missing = round(MIN_INPUT_S * audio.sample_rate) - len(audio.samples)
    return np.pad(audio.samples, (0, missing)) if missing > 0 else audio.samples
