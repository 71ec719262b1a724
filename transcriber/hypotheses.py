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
    words = attach_punctuation(_timed_items(stamps.get("word", ()), "word", duration, frame_s), duration)
    segments = [Segment(w.text, w.start, w.end) for w in _timed_items(stamps.get("segment", ()), "segment", duration, frame_s)]
    if words and not segments:
        segments = [Segment(" ".join(w.text for w in words), words[0].start, words[-1].end)]
    if text and not words and not segments:  # a model that gives no timings: the whole clip is one segment
        segments = [Segment(text, 0.0, duration)]
    return Transcript(text=text, words=tuple(words), segments=tuple(segments), duration=duration, model=model_name)


OPENING_PUNCTUATION = "¿¡([{«“‘\"'"
"""Marks that open what follows (Spanish ``¿`` and ``¡``, brackets, opening quotes): they join the next word."""
MIN_WORD_S = 0.02
"""The shortest a word may last: models with punctuation sometimes give a word no time of its own."""


def is_punctuation(text: str) -> bool:
    """Whether ``text`` holds no letter or digit (``","``, ``"¿"``, ``"..."``)."""
    return not any(char.isalnum() for char in text)


def attach_punctuation(words: list[Word], duration: float) -> list[Word]:
    """Words as a reader sees them: a punctuation-only "word" joins its neighbour (an opening mark the next word,
    anything else the previous one, keeping that word's times), and no word lasts less than :data:`MIN_WORD_S`
    (it is stretched into the pause after it, as far as the next word or the end of the audio)."""
    joined: list[Word] = []
    opening = ""
    for word in words:
        if is_punctuation(word.text):
            if all(char in OPENING_PUNCTUATION for char in word.text) or not joined:
                opening += word.text
            else:
                last = joined[-1]
                joined[-1] = replace(last, text=last.text + word.text, end=max(last.end, word.end))
            continue
        joined.append(replace(word, text=opening + word.text) if opening else word)
        opening = ""
    if opening and joined:
        last = joined[-1]
        joined[-1] = replace(last, text=last.text + opening)
    stretched = []
    for index, word in enumerate(joined):
        if word.end - word.start < MIN_WORD_S:
            limit = joined[index + 1].start if index + 1 < len(joined) else duration
            word = replace(word, end=max(word.end, min(word.start + MIN_WORD_S, max(limit, word.start))))
        stretched.append(word)
    return stretched


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
