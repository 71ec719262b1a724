"""Long audio in overlapping windows, and their words stitched back into one transcript.

Audio longer than :data:`LONG_AUDIO_S` is transcribed in windows of :data:`WINDOW_S` that overlap by
:data:`OVERLAP_S`, batched like separate files. Full attention costs grow with the square of the length, so a
one-hour file in one piece runs out of memory or takes hours; windows keep memory flat and time linear. The windows
are stitched at word level: the words both windows heard in their overlap are paired (the same word at about the same
time) and kept once, joined at the pair nearest the overlap's middle; where they share none, the cut goes into the
widest pause between words and each word is kept from the window whose side of the cut its centre lies on. So no
word is doubled or lost at a seam, also where the windows time a word differently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .types import AudioData, Segment, Transcript, Word

LONG_AUDIO_S = 75.0
"""Audio longer than this is transcribed in overlapping windows."""
WINDOW_S = 30.0
"""Length of one window. Attention grows with the square of the length, so shorter windows cost less per second of
audio, down to where the overlap starts to dominate: with a 0.6B FastConformer-TDT on a CPU (``bench/``), 30 s windows
overlapping by 2 s ran at 1.02x the speed of one full-attention pass over 60 s; 60 s windows overlapping by 4 s at
0.68x (padding of the short last window included), and 300 s of local attention at 0.89x. 30 s is also well inside the
segment lengths speech models are trained on."""
OVERLAP_S = 2.0
"""Audio shared by neighbouring windows; the cut between them lies inside it, away from both windows' edges (words
are kept from the window that heard them whole)."""
AED_MAX_INPUT_S = 40.0
"""Encoder-decoder (Canary) models are trained on utterances up to about this long and cut their output short on
longer input, whatever its length; a model's own ``train_ds.max_duration`` wins where its config has one."""
SEAM_MAX_WORDS = 12
"""Without word timings, the most words two neighbouring windows may share at their seam (2 s of fast speech)."""
SEAM_TOLERANCE_S = 1.0
"""With word timings, how far apart two windows may place the same word and still be taken to mean one word."""
SEGMENT_PAUSE_S = 0.8
"""In stitched transcripts, a pause this long between words ends a segment."""
SENTENCE_END = (".", "?", "!")


@dataclass(frozen=True)
class Limits:
    """How one model takes long audio: above ``long_audio_s`` in windows of ``window_s``; ``None`` fields mean this
    module's constants (read when used, so a benchmark can change them)."""

    long_audio_s: float | None = None
    window_s: float | None = None

    def resolved(self) -> tuple[float, float, float]:
        """(long audio, window, overlap) in seconds."""
        return (LONG_AUDIO_S if self.long_audio_s is None else self.long_audio_s,
                WINDOW_S if self.window_s is None else self.window_s, OVERLAP_S)


def limits_for(model: Any, *, within_training: bool = False) -> Limits:
    """The windows a loaded NeMo model needs: encoder-decoder (Canary) models take at most their training length
    (``train_ds.max_duration``, else :data:`AED_MAX_INPUT_S`) at once, and so does any model with ``within_training``
    (one known to hear longer input worse, such as the built-in demo model: ``models.hears_its_training_length``);
    other transducers and CTC models the defaults."""
    from nemo.collections.asr.models import EncDecMultiTaskModel

    configured = (getattr(model, "cfg", None) or {}).get("train_ds", {}) or {}
    if isinstance(model, EncDecMultiTaskModel):
        longest = float(configured.get("max_duration") or AED_MAX_INPUT_S)
    elif within_training and configured.get("max_duration"):
        longest = float(configured["max_duration"])
    else:
        return Limits()
    return Limits(long_audio_s=longest, window_s=min(WINDOW_S, longest - OVERLAP_S))


def window_count(seconds: float, limits: Limits = Limits()) -> int:
    """How many windows :func:`split_windows` makes of ``seconds`` of audio."""
    long_audio_s, window_s, overlap_s = limits.resolved()
    if seconds <= long_audio_s:
        return 1
    return 1 + max(0, math.ceil((seconds - window_s) / (window_s - overlap_s)))


def split_windows(audio: AudioData, limits: Limits = Limits()) -> list[tuple[float, AudioData]]:
    """``audio`` as (offset in seconds, window) pairs: one pair for short audio, overlapping windows for long."""
    long_audio_s, window_s, overlap_s = limits.resolved()
    if audio.duration <= long_audio_s:
        return [(0.0, audio)]
    rate = audio.sample_rate
    window, hop = round(window_s * rate), round((window_s - overlap_s) * rate)
    pieces = []
    for start in range(0, len(audio.samples), hop):
        pieces.append((start / rate, AudioData(audio.samples[start : start + window], rate, audio.source)))
        if start + window >= len(audio.samples):
            break
    return pieces


def stream_windows(
    read: Callable[[int], np.ndarray], rate: int, source: str, limits: Limits = Limits()
) -> Iterator[tuple[float, AudioData]]:
    """The windows :func:`split_windows` makes of a recording longer than a window, taken from ``read`` (which
    returns the next n samples, fewer only at the end) as they are needed: only one window is held at a time."""
    _, window_s, overlap_s = limits.resolved()
    window, hop = round(window_s * rate), round((window_s - overlap_s) * rate)
    buffer = read(window + 1)  # one sample more than a window tells whether another window follows
    start = 0
    while True:
        yield start / rate, AudioData(buffer[:window], rate, source)
        if len(buffer) <= window:
            return
        buffer = np.concatenate((buffer[hop:], read(window + 1 - (len(buffer) - hop))))
        start += hop


def prepended(head: np.ndarray, read: Callable[[int], np.ndarray]) -> Callable[[int], np.ndarray]:
    """A ``read`` function that gives ``head`` first, then what ``read`` gives."""
    rest = head

    def read_next(count: int) -> np.ndarray:
        nonlocal rest
        taken, rest = rest[:count], rest[count:]
        if len(taken) < count:
            taken = np.concatenate((taken, read(count - len(taken))))
        return taken

    return read_next


def _cut_time(words: Sequence[Word], start: float, end: float) -> float:
    """Where to cut inside the overlap [start, end]: the middle of the widest pause between words there, nearest
    the overlap's middle on ties; the overlap's middle when no two words lie in it."""
    middle = (start + end) / 2
    gaps = [
        (a.end, b.start) for a, b in zip(words, words[1:]) if start <= a.end and b.start <= end and b.start >= a.end
    ]
    if not gaps:
        return middle
    left, right = max(gaps, key=lambda gap: (round(gap[1] - gap[0], 3), -abs((gap[0] + gap[1]) / 2 - middle)))
    return (left + right) / 2


def _agreement(a: Word, b: Word) -> float:
    """How surely two windows' words are one word: 1 for the same text at the same time, falling to 0 as their
    centres lie :data:`SEAM_TOLERANCE_S` apart; 0 for other text."""
    if _bare(a.text) != _bare(b.text):
        return 0.0
    return max(0.0, 1.0 - abs((a.start + a.end) - (b.start + b.end)) / 2 / SEAM_TOLERANCE_S)


def _shared_words(earlier: Sequence[Word], later: Sequence[Word]) -> list[tuple[int, int]]:
    """The (earlier index, later index) pairs, both in order, of words the two windows share: the alignment whose
    pairs agree most in all (:func:`_agreement`). Pairs weigh less the further apart they lie, so a word said again
    and again ("no, no, no") is paired with itself, not with its neighbour, even where that would pair more words."""
    rows, cols = len(earlier), len(later)
    # best[i][j]: the summed agreement of the best alignment of earlier[i:] with later[j:]
    best = [[0.0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            agree = _agreement(earlier[i], later[j])
            best[i][j] = max(best[i + 1][j], best[i][j + 1], best[i + 1][j + 1] + agree if agree else 0.0)
    pairs, i, j = [], 0, 0
    while i < rows and j < cols:
        agree = _agreement(earlier[i], later[j])
        if agree and best[i][j] == best[i + 1][j + 1] + agree:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _seam(words: list[Word], later: list[Word], start: float, end: float) -> tuple[int, int]:
    """Where two windows overlapping in [start, end] join: keep ``words[:i]`` and ``later[j:]``.

    Words both windows heard (the same word at about the same time, :func:`_shared_words`) are kept once, from the
    later window at the shared word nearest the overlap's middle, so neither window's edge decides and no word is
    doubled or lost where the two place a word up to :data:`SEAM_TOLERANCE_S` apart. Without a shared word, the cut
    goes into the widest pause of the overlap (:func:`_cut_time`) and each word is kept from the window whose side of
    the cut its centre lies on.
    """
    tail = len(words)
    while tail and words[tail - 1].end > start - SEAM_TOLERANCE_S:
        tail -= 1
    head = 0
    while head < len(later) and later[head].start < end + SEAM_TOLERANCE_S:
        head += 1
    pairs = _shared_words(words[tail:], later[:head])
    if pairs:
        twice_middle = start + end  # compared with start + end of a word: twice its centre
        i, j = min(pairs, key=lambda pair: abs(words[tail + pair[0]].start + words[tail + pair[0]].end - twice_middle))
        return tail + i, j
    cut = _cut_time(words[tail:], start, end)  # every pause in the overlap follows a word of the tail
    keep = len(words)
    while keep and (words[keep - 1].start + words[keep - 1].end) / 2 >= cut:
        keep -= 1
    return keep, next((j for j, w in enumerate(later) if (w.start + w.end) / 2 >= cut), len(later))


def stitch_words(windows: Sequence[tuple[float, float, Sequence[Word]]]) -> list[Word]:
    """Join the words of overlapping windows into one list with absolute times (each seam: :func:`_seam`).

    Times never overlap: where the word before a seam would end after the word after it starts (each window times
    its edge words from less context), both meet in the middle of the time they share.

    Args:
        windows: (offset, duration, words relative to the window) per window, in order.
    """
    words: list[Word] = []
    previous_end = 0.0
    for offset, duration, window_words in windows:
        shifted = [Word(w.text, w.start + offset, w.end + offset) for w in window_words]
        if words:
            keep, first = _seam(words, shifted, offset, previous_end)
            del words[keep:]
            shifted = shifted[first:]
            if words and shifted and shifted[0].start < words[-1].end:
                before, after = words[-1], shifted[0]
                meet = (max(before.start, after.start) + min(before.end, after.end)) / 2
                words[-1] = Word(before.text, before.start, meet, before.speaker)
                shifted[0] = Word(after.text, meet, after.end, after.speaker)
        words += shifted
        previous_end = offset + duration
    return words


def segments_from_words(words: Sequence[Word]) -> list[Segment]:
    """Sentences (or, without punctuation, runs between pauses) as segments; a speaker change always ends one."""
    segments: list[Segment] = []
    run: list[Word] = []

    def close() -> None:
        segments.append(Segment(" ".join(w.text for w in run), run[0].start, run[-1].end, run[0].speaker))

    for word in words:
        if run and (
            run[-1].text.endswith(SENTENCE_END)
            or word.start - run[-1].end >= SEGMENT_PAUSE_S
            or word.speaker != run[-1].speaker
        ):
            close()
            run = []
        run.append(word)
    if run:
        close()
    return segments


def merge_windows(
    parts: Sequence[tuple[float, float, Transcript]], duration: float, model: str, timestamps: bool
) -> Transcript:
    """One transcript of ``duration`` seconds from (offset, duration, transcript) of each of its windows."""
    if len(parts) == 1:
        return parts[0][2]
    if not any(transcript.words for _, _, transcript in parts) and any(t.text for _, _, t in parts):
        # A model that gives no word timings (Canary v1): the seams are found in the text, and with timestamps
        # each window's text is a segment spanning its share of the audio
        pieces = seam_pieces([transcript.text for _, _, transcript in parts])
        text = _joined(pieces)
        if not timestamps:
            return Transcript(text=text, duration=duration, model=model)
        segments = []
        for number, ((offset, length, _), piece) in enumerate(zip(parts, pieces)):
            start = offset + (OVERLAP_S / 2 if number else 0.0)
            end = min(duration, offset + length - (OVERLAP_S / 2 if number < len(parts) - 1 else 0.0))
            if piece:
                segments.append(Segment(" ".join(piece), start, max(start, end)))
        return Transcript(text, (), tuple(segments), duration, model)
    words = stitch_words([(offset, length, transcript.words) for offset, length, transcript in parts])
    words = [Word(w.text, min(w.start, duration), min(w.end, duration)) for w in words]
    text = " ".join(w.text for w in words)
    if not timestamps:
        return Transcript(text=text, duration=duration, model=model)
    return Transcript(text, tuple(words), tuple(segments_from_words(words)), duration, model)


def _bare(word: str) -> str:
    return re.sub(r"[^\w]", "", word.casefold())


def seam_pieces(texts: Sequence[str], max_shared: int = SEAM_MAX_WORDS) -> list[list[str]]:
    """The words each of the texts of overlapping windows keeps, each seam's shared words kept once: the longest run
    of words (at most ``max_shared``, compared without case and punctuation) that ends one window and starts the
    next, as the next window heard it (it heard what follows, which decides punctuation)."""
    pieces: list[list[str]] = []
    for text in texts:
        words = text.split()
        shared = 0
        tail = [word for piece in pieces for word in piece][-max_shared:]
        for size in range(min(max_shared, len(tail), len(words)), 0, -1):
            if [_bare(w) for w in tail[-size:]] == [_bare(w) for w in words[:size]]:
                shared = size
                break
        while shared and pieces:  # take the shared words back from the pieces before
            drop = min(shared, len(pieces[-1]))
            pieces[-1] = pieces[-1][: len(pieces[-1]) - drop]
            shared -= drop
            if shared:
                pieces.pop()
        pieces.append(words)
    return pieces


def merge_texts(texts: Sequence[str], max_shared: int = SEAM_MAX_WORDS) -> str:
    """The texts of overlapping windows as one (see :func:`seam_pieces`)."""
    return _joined(seam_pieces(texts, max_shared))


def _joined(pieces: Sequence[Sequence[str]]) -> str:
    return " ".join(word for piece in pieces for word in piece)
