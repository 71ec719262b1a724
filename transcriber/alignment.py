"""Move word boundaries onto the speech they belong to.

Models place word boundaries by their own token emissions, which drift at pauses: NeMo's CTC word timestamps give a
word the blank frames before it, so after a one-second pause "three" was reported from 0.72 s while speech resumed at
2.07 s, and the word before the pause ended 0.35 s early. Subtitles built on such times linger over silence. Transducer
(RNNT/TDT) emissions come late instead. This module corrects all of them the same way, from the audio itself:

* a short-time energy track separates speech from pauses (threshold relative to the recording's own noise floor, so
  it works for quiet and loud recordings alike);
* a word that starts inside a pause starts at the next speech onset instead, and a word that ends inside a pause ends
  at the last speech before it;
* a word reported to start a little after the onset of speech that began after the previous word (a model that
  emits a word late, inside its sound) starts at that onset, at most :data:`MAX_ONSET_SHIFT_S` earlier;
* a word whose speech runs on past its end ends where that speech ends: at the pause that follows, or where the next
  word starts.

Boundaries only move within pauses or across speech the word is attached to, so on audio with no pauses (music, steady
noise) nothing moves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .types import AudioData, Segment, Word

HOP_S = 0.01
"""Resolution of the energy track."""
WINDOW_S = 0.025
"""Analysis window of the energy track."""
NOISE_PERCENTILE = 10
"""The noise floor is this percentile of frame energies."""
SPEECH_ABOVE_NOISE_DB = 15.0
"""A frame is speech when it is this much louder than the noise floor..."""
SPEECH_BELOW_PEAK_DB = 45.0
"""...and no more than this below the loudest frames (so a silent recording with digital noise stays silent)."""
MIN_PAUSE_S = 0.15
"""Quieter stretches shorter than this (stop consonants, the gap inside "it's") are still speech."""
MIN_SPEECH_S = 0.05
"""Louder blips shorter than this (clicks) are not speech."""
EPS_DB = 1e-10
MAX_ONSET_SHIFT_S = 0.3
"""A start inside speech moves back to the onset of that speech by at most this much (a word is rarely longer before
the frame where a model emits it)."""


def speech_mask(audio: AudioData) -> np.ndarray:
    """One bool per :data:`HOP_S` frame: speech (True) or pause."""
    hop = max(1, round(HOP_S * audio.sample_rate))
    window = max(hop, round(WINDOW_S * audio.sample_rate))
    samples = audio.samples
    frames = max(0, (len(samples) - window) // hop + 1)
    if frames == 0:
        return np.zeros(0, dtype=bool)
    # Each frame's mean square, straight from a strided view of the samples: no copy of the audio is made.
    view = np.lib.stride_tricks.sliding_window_view(samples, window)[: frames * hop : hop]
    energy = np.einsum("ij,ij->i", view, view).astype(np.float64) / window
    db = 10 * np.log10(energy + EPS_DB)
    threshold = max(np.percentile(db, NOISE_PERCENTILE) + SPEECH_ABOVE_NOISE_DB, db.max() - SPEECH_BELOW_PEAK_DB)
    mask = db > threshold
    _fill_runs(mask, value=False, shorter_than=round(MIN_PAUSE_S / HOP_S))
    _fill_runs(mask, value=True, shorter_than=round(MIN_SPEECH_S / HOP_S))
    return mask


def _fill_runs(mask: np.ndarray, *, value: bool, shorter_than: int) -> None:
    """Flip inner runs of ``value`` shorter than ``shorter_than`` frames (runs touching either end stay)."""
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [len(mask)]))
    for start, end in zip(bounds[:-1], bounds[1:]):
        if mask[start] == value and end - start < shorter_than and start > 0 and end < len(mask):
            mask[start:end] = not value


def refine_words(words: Sequence[Word], audio: AudioData) -> list[Word]:
    """Word boundaries snapped to speech onsets and offsets of ``audio`` (see the module notes)."""
    if not words:
        return []
    mask = speech_mask(audio)
    if not mask.any() or mask.all():
        return list(words)
    frames = len(mask)

    def frame(t: float) -> int:
        return min(max(int(t / HOP_S), 0), frames - 1)

    spans = [(frame(w.start), max(frame(w.start), frame(w.end - HOP_S))) for w in words]
    # Starts: a word whose reported span crosses a pause begins with the speech after the last such pause.
    firsts = []
    max_shift = round(MAX_ONSET_SHIFT_S / HOP_S)
    for index, (first, last) in enumerate(spans):
        pauses = np.flatnonzero(~mask[first : last + 1])
        if len(pauses) and first + int(pauses[-1]) < last:
            first += int(pauses[-1]) + 1
        elif mask[first]:  # starts inside speech: back to that speech's onset if it began after the previous word
            floor = spans[index - 1][1] if index else -1
            onset = first
            while onset > 0 and mask[onset - 1] and first - onset < max_shift:
                onset -= 1
            if onset > floor and (onset == 0 or not mask[onset - 1]):
                first = onset
        firsts.append(max(first, firsts[-1] if firsts else 0))
    refined = []
    for index, ((_, last), first) in enumerate(zip(spans, firsts)):
        ceiling = firsts[index + 1] if index + 1 < len(firsts) else frames
        last = max(last, first)
        if not mask[last]:  # ends in a pause: pull back to the word's last speech
            speech = np.flatnonzero(mask[first : last + 1])
            if len(speech):
                last = first + int(speech[-1])
        else:  # its speech runs on: to the pause that follows, or to the next word
            pause = np.flatnonzero(~mask[last + 1 : ceiling])
            last = last + int(pause[0]) if len(pause) else max(last, ceiling - 1)
        start = first * HOP_S
        end = min(max((last + 1) * HOP_S, start), audio.duration, max(ceiling * HOP_S, start))
        refined.append(Word(words[index].text, start, end))
    return refined


def refine_segments(segments: Sequence[Segment], old: Sequence[Word], new: Sequence[Word]) -> list[Segment]:
    """Segment bounds moved with the words they hold (a word belongs to the segment its old start fell in)."""
    result = []
    for segment in segments:
        inside = [n for o, n in zip(old, new) if segment.start - HOP_S <= o.start <= segment.end]
        if inside:
            result.append(Segment(segment.text, inside[0].start, max(inside[-1].end, inside[0].start)))
        else:
            result.append(segment)
    return result
