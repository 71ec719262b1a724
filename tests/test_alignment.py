"""Word boundaries snapped to speech, on audio whose words are at known places."""

import numpy as np
import pytest

from transcriber.alignment import refine_segments, refine_words, speech_mask
from transcriber.types import AudioData, Segment, Word

RATE = 16000


def speech_at(spans, duration, noise_db=-60.0, seed=0):
    """Noise at ``noise_db`` with loud voiced bursts (a 150 Hz buzz with harmonics) where ``spans`` say."""
    rng = np.random.default_rng(seed)
    samples = (10 ** (noise_db / 20)) * rng.standard_normal(round(duration * RATE))
    t = np.arange(len(samples)) / RATE
    buzz = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6))
    for start, end in spans:
        a, b = round(start * RATE), round(end * RATE)
        samples[a:b] += 0.2 * buzz[a:b]
    return AudioData(samples.astype(np.float32), RATE, "spans")


# "one two" [pause] "three four": where the words really are.
TRUTH = [("one", 0.30, 0.62), ("two", 0.70, 1.05), ("three", 2.07, 2.45), ("four", 2.52, 2.90)]
AUDIO = speech_at([(s, e) for _, s, e in TRUTH], 3.5)


def test_speech_mask_finds_the_pause():
    mask = speech_mask(AUDIO)
    assert mask[int(0.5 / 0.01)] and mask[int(2.3 / 0.01)]
    assert not mask[int(1.5 / 0.01)] and not mask[int(0.1 / 0.01)]


def test_ctc_style_errors_are_corrected():
    # As reported by a CTC model: "two" ends early, "three" starts in the pause.
    reported = [Word("one", 0.24, 0.56), Word("two", 0.64, 0.70), Word("three", 0.72, 2.24), Word("four", 2.48, 2.80)]
    refined = refine_words(reported, AUDIO)
    # Within a run of speech, 70-80 ms between words is no pause: those boundaries may stay where they were.
    tolerance = {"one": 0.03, "two": 0.08, "three": 0.03, "four": 0.08}
    for word, (text, start, end) in zip(refined, TRUTH):
        assert word.text == text
        assert word.start == pytest.approx(start, abs=tolerance[text])
        assert word.end == pytest.approx(end, abs=0.05)
    assert refined[2].start == pytest.approx(2.07, abs=0.03)
    assert refined[1].end == pytest.approx(1.05, abs=0.03)


def test_late_starts_move_back_to_the_onset_of_their_speech_and_no_further():
    reported = [Word("one", 0.40, 0.64), Word("two", 0.80, 1.10), Word("three", 2.16, 2.48), Word("four", 2.60, 2.96)]
    refined = refine_words(reported, AUDIO)
    # "one" and "three" open a run of speech that began after the word before them: they start at its onset (the
    # truth, 0.30 and 2.07). "two" and "four" follow the previous word without a pause: their starts stay.
    assert [w.start for w in refined] == pytest.approx([0.30, 0.80, 2.07, 2.60], abs=0.03)
    assert refined[1].end == pytest.approx(1.05, abs=0.03)  # ended in the pause: pulled back to the speech


def test_a_start_far_inside_speech_stays():
    long_run = speech_at([(0.2, 2.5)], 3.0)
    # The run began 1.3 s earlier, more than MAX_ONSET_SHIFT_S: that speech is not this word's, so nothing moves.
    assert refine_words([Word("late", 1.5, 2.0)], long_run)[0].start == pytest.approx(1.5, abs=0.011)


def test_words_stay_ordered_and_inside_the_audio():
    reported = [Word("a", 0.0, 3.5), Word("b", 3.4, 3.5)]
    refined = refine_words(reported, AUDIO)
    assert all(0 <= w.start <= w.end <= AUDIO.duration for w in refined)
    assert refined[0].start <= refined[1].start


def test_nothing_moves_without_pauses():
    steady = speech_at([(0.0, 3.0)], 3.0)
    reported = [Word("x", 0.5, 0.9), Word("y", 1.5, 2.0)]
    assert refine_words(reported, steady) == reported


def test_segments_follow_their_words():
    reported = [Word("one", 0.24, 0.56), Word("two", 0.64, 0.70), Word("three", 0.72, 2.24)]
    refined = refine_words(reported, AUDIO)
    (segment,) = refine_segments([Segment("one two three", 0.24, 2.24)], reported, refined)
    assert segment.start == refined[0].start and segment.end == refined[-1].end
