"""Stitching the words of overlapping windows (no model needed)."""

from itertools import pairwise

import numpy as np
import pytest

from transcriber.windows import (
    LONG_AUDIO_S,
    OVERLAP_S,
    WINDOW_S,
    segments_from_words,
    split_windows,
    stitch_words,
    stream_windows,
    window_count,
)
from transcriber.types import AudioData, Word


def test_short_audio_is_one_window():
    audio = AudioData(np.zeros(16000 * 70, dtype=np.float32), 16000)
    assert len(split_windows(audio)) == 1 and LONG_AUDIO_S > 70


def test_long_audio_windows_overlap_and_cover_everything():
    audio = AudioData(np.arange(16000 * 200, dtype=np.float32), 16000)
    windows = split_windows(audio)
    hop = WINDOW_S - OVERLAP_S
    assert [offset for offset, _ in windows] == [i * hop for i in range(len(windows))]
    assert len(windows) == window_count(200.0) > 2
    assert all(w.duration == WINDOW_S for _, w in windows[:-1])
    for (offset, window), (next_offset, _) in zip(windows, windows[1:]):
        assert offset + window.duration - next_offset == pytest.approx(OVERLAP_S)
    last_offset, last = windows[-1]
    assert last.samples[-1] == audio.samples[-1] and last_offset + last.duration == pytest.approx(200.0)
    assert np.shares_memory(windows[1][1].samples, audio.samples)  # views, not copies


@pytest.mark.parametrize("seconds", [75.5, 116.0, 116.0 + 1 / 16000, 200.0, 600.0, 601.3])
@pytest.mark.parametrize("read_size", [1000, 16000 * 7 + 3])
def test_windows_taken_from_a_stream_are_the_windows_of_the_whole(seconds, read_size):
    samples = np.arange(round(seconds * 16000), dtype=np.float32)
    position = 0

    def read(count):  # hands out at most read_size samples per call
        nonlocal position
        pieces = []
        while count > 0 and position < len(samples):
            size = min(count, read_size, len(samples) - position)
            pieces.append(samples[position : position + size])
            position += size
            count -= size
        return np.concatenate(pieces) if pieces else samples[:0]

    streamed = list(stream_windows(read, 16000, "stream"))
    whole = split_windows(AudioData(samples, 16000))
    assert [offset for offset, _ in streamed] == [offset for offset, _ in whole]
    for (_, a), (_, b) in zip(streamed, whole):
        np.testing.assert_array_equal(a.samples, b.samples)
    assert window_count(seconds) == len(whole)


def words(*spec):
    return [Word(text, start, end) for text, start, end in spec]


def test_words_heard_by_both_windows_are_kept_once():
    first = words(("one", 50.0, 50.4), ("two", 55.0, 55.4), ("three", 57.0, 57.3), ("four", 58.5, 58.9))
    # The second window starts at 56 s; its times are relative to that.
    second = words(("three", 1.02, 1.3), ("four", 2.48, 2.9), ("five", 10.0, 10.4))
    stitched = stitch_words([(0.0, 60.0, first), (56.0, 60.0, second)])
    assert [w.text for w in stitched] == ["one", "two", "three", "four", "five"]
    assert stitched[-1].start == pytest.approx(66.0)


def test_the_cut_goes_into_the_widest_pause_of_the_overlap():
    # A word cut in half at the first window's end is misheard there ("fi"); the cut must fall before it. The
    # windows disagree slightly about "c", which straddles the overlap's middle (58 s): a cut there would lose it.
    first = words(("a", 56.2, 56.6), ("b", 56.7, 57.0), ("c", 57.7, 58.5), ("fi", 59.8, 60.0))
    second = words(("a", 0.2, 0.6), ("b", 0.7, 1.0), ("c", 1.5, 2.3), ("five", 3.8, 4.3))
    stitched = stitch_words([(0.0, 60.0, first), (56.0, 60.0, second)])
    assert [w.text for w in stitched] == ["a", "b", "c", "five"]


def test_segments_end_at_sentences_and_pauses():
    ws = words(("Hello", 0, 0.4), ("there.", 0.5, 0.9), ("How", 1.0, 1.2), ("are", 1.3, 1.5), ("you", 3.0, 3.3))
    assert [(s.text, s.start, s.end) for s in segments_from_words(ws)] == [
        ("Hello there.", 0, 0.9), ("How are", 1.0, 1.5), ("you", 3.0, 3.3)
    ]


@pytest.mark.parametrize(
    "texts, expected",
    [
        (["the budget is late", "is late, said Anna"], "the budget is late, said Anna"),
        (["one two three", "four five"], "one two three four five"),  # nothing shared: nothing dropped
        (["Yes. Yes.", "yes, yes we can"], "yes, yes we can"),
        (["", "hello there"], "hello there"),
    ],
)
def test_windows_without_word_timings_share_their_seam_words_once(texts, expected):
    from transcriber.windows import merge_texts

    assert merge_texts(texts) == expected


def test_windows_without_word_timings_become_segments_of_their_share_of_the_audio():
    from transcriber.types import Transcript
    from transcriber.windows import OVERLAP_S, merge_windows

    parts = [(0.0, 30.0, Transcript("the budget is late")), (28.0, 30.0, Transcript("is late, said Anna")),
             (56.0, 10.0, Transcript("then she left"))]
    merged = merge_windows(parts, 66.0, "m", timestamps=True)
    assert merged.text == "the budget is late, said Anna then she left" and merged.words == ()
    assert [(s.text, s.start, s.end) for s in merged.segments] == [
        ("the budget", 0.0, 30.0 - OVERLAP_S / 2), ("is late, said Anna", 28.0 + OVERLAP_S / 2, 58.0 - OVERLAP_S / 2),
        ("then she left", 56.0 + OVERLAP_S / 2, 66.0)]


def test_words_two_windows_place_apart_are_kept_once():
    # The first window, near its end, times "go left right" 0.85 s earlier than the second, which heard them with
    # more context: a cut by time alone kept "go left" from the first and "go left right" from the second.
    first = words(("seven", 25.84, 26.9), ("three", 27.28, 27.9), ("go", 28.03, 28.2), ("left", 28.24, 28.5),
                  ("right", 28.56, 29.0))
    second = words(("go", 0.88, 1.2), ("left", 1.24, 1.5), ("right", 1.52, 1.9), ("stop", 2.0, 2.5),
                    ("seven", 2.77, 3.2))
    stitched = stitch_words([(0.0, 30.0, first), (28.0, 30.0, second)])
    assert [w.text for w in stitched] == ["seven", "three", "go", "left", "right", "stop", "seven"]


def test_a_word_repeated_at_the_seam_stays_repeated():
    first = words(("no", 57.1, 57.4), ("no", 57.6, 57.9), ("stop", 59.5, 60.0))
    second = words(("no", 1.2, 1.5), ("no", 1.7, 2.0), ("stop", 3.4, 3.8))
    stitched = stitch_words([(0.0, 60.0, first), (56.0, 60.0, second)])
    assert [w.text for w in stitched] == ["no", "no", "stop"]


def test_words_at_a_seam_never_overlap_in_time():
    # Each window times its edge word from half of it: the first's last word runs to its end (170 s), past the start
    # of the word the second window heard next. Subtitle cues built from them showed both at once.
    first = words(("right", 165.0, 165.4), ("three", 167.68, 169.98))
    second = words(("four", 0.4, 2.44), ("start", 3.0, 3.3))
    stitched = stitch_words([(0.0, 170.0, first), (168.0, 30.0, second)])
    assert [w.text for w in stitched] == ["right", "three", "four", "start"]
    for earlier, later in pairwise(stitched):
        assert earlier.start <= earlier.end <= later.start <= later.end
    assert stitched[1].end == stitched[2].start and 168.4 <= stitched[2].start <= 169.98
