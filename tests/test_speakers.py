"""Giving words their speakers (``transcriber/speakers.py``) and joining diarization windows
(``transcriber/diarization.py``): plain data, no model."""

from __future__ import annotations

import numpy as np
import pytest

from transcriber.diarization import SpeakerTracker, WindowFeeder, parse_segments
from transcriber.speakers import assign_word_speakers, cap_speakers, relabel, with_speakers
from transcriber.types import SpeakerTurn, Transcript, Word


def words(*spans: tuple[float, float]) -> list[Word]:
    return [Word(f"w{i}", start, end) for i, (start, end) in enumerate(spans)]


def test_a_word_goes_to_the_turn_that_covers_most_of_it():
    turns = [SpeakerTurn(0.0, 1.0, "a"), SpeakerTurn(0.9, 3.0, "b")]
    labelled = assign_word_speakers(words((0.1, 0.5), (0.8, 1.3), (0.95, 1.05), (2.0, 2.5)), turns)
    assert [w.speaker for w in labelled] == ["a", "b", "b", "b"]  # (0.8, 1.3): 0.2 s of a, 0.4 s of b


def test_a_tie_goes_to_the_turn_at_the_words_midpoint():
    turns = [SpeakerTurn(0.0, 1.0, "a"), SpeakerTurn(1.0, 2.0, "b"), SpeakerTurn(0.0, 0.2, "c")]
    # (0.9, 1.1) is covered 0.1 s by a and 0.1 s by b; its midpoint 1.0 lies on both edges, so a (and b) cover it;
    # a word wholly inside two overlapping speakers' turns goes to the one covering it most.
    (word,) = assign_word_speakers(words((0.8, 1.1)), turns)
    assert word.speaker == "a"
    (inside,) = assign_word_speakers(words((0.05, 0.15)), turns)
    assert inside.speaker in {"a", "c"}


def test_a_word_in_a_pause_goes_to_the_nearest_turn():
    turns = [SpeakerTurn(0.0, 1.0, "a"), SpeakerTurn(3.0, 4.0, "b")]
    labelled = assign_word_speakers(words((1.2, 1.4), (2.5, 2.8), (5.0, 5.2)), turns)
    assert [w.speaker for w in labelled] == ["a", "b", "b"]


def test_no_turns_means_no_speakers():
    assert all(w.speaker is None for w in assign_word_speakers(words((0, 1)), []))
    transcript = Transcript("w0", tuple(words((0, 1))), duration=1.0)
    assert with_speakers(transcript, []).speakers == ()


def test_labels_follow_the_order_of_first_appearance():
    labelled, names = relabel([Word("x", 0, 1, "spk3"), Word("y", 1, 2, "spk0"), Word("z", 2, 3, "spk3")])
    assert names == ("S1", "S2")
    assert [w.speaker for w in labelled] == ["S1", "S2", "S1"]


def test_num_speakers_merges_the_least_active_speaker_into_its_neighbours():
    turns = [SpeakerTurn(0, 10, "a"), SpeakerTurn(10, 10.5, "c"), SpeakerTurn(11, 20, "b"), SpeakerTurn(20, 21, "c")]
    capped = cap_speakers(turns, 2)
    assert {t.speaker for t in capped} == {"a", "b"}
    assert [t.speaker for t in capped] == ["a", "a", "b", "b"]  # each of c's turns went to the nearest turn's speaker
    assert cap_speakers(turns, 3) == turns


def test_segments_end_at_every_speaker_change():
    transcript = Transcript("a b c d", tuple(words((0, 0.4), (0.5, 0.9), (1.0, 1.4), (1.5, 1.9))), duration=2.0)
    turns = [SpeakerTurn(0, 0.95, "x"), SpeakerTurn(0.95, 2.0, "y")]
    labelled = with_speakers(transcript, turns)
    assert labelled.speakers == ("S1", "S2")
    assert [(s.speaker, s.start, s.end) for s in labelled.segments] == [("S1", 0, 0.9), ("S2", 1.0, 1.9)]


def test_nemo_segment_strings_are_parsed_into_turns_in_time_order():
    turns = parse_segments(["2.000 3.500 speaker_1", "0.240 1.920 speaker_0", "4.000 4.000 speaker_0"])
    assert turns == [SpeakerTurn(0.24, 1.92, "speaker_0"), SpeakerTurn(2.0, 3.5, "speaker_1")]
    with pytest.raises(ValueError, match="unexpected diarizer output"):
        parse_segments(["0.1 speaker_0"])


RATE = 16_000


def buzz(seconds: float, pitch_hz: float, brightness: float) -> np.ndarray:
    """A voiced-sounding buzz: harmonics of ``pitch_hz`` falling off by ``brightness`` per harmonic."""
    t = np.arange(round(seconds * RATE)) / RATE
    return sum(brightness**k * np.sin(2 * np.pi * pitch_hz * (k + 1) * t) for k in range(12)).astype(np.float32) * 0.1


def window_audio(seconds: float, parts: list[tuple[float, float, np.ndarray]]) -> np.ndarray:
    samples = np.zeros(round(seconds * RATE), dtype=np.float32)
    for start, end, voice in parts:
        a, b = round(start * RATE), round(end * RATE)
        samples[a:b] = voice[: b - a]
    return samples


VOICE_A, VOICE_B, VOICE_C = buzz(30, 110, 0.9), buzz(30, 220, 0.5), buzz(30, 330, 0.2)


def test_the_tracker_keeps_a_speaker_across_windows_by_the_overlap():
    tracker = SpeakerTracker()
    # Window 1 (0-30 s): A then B. Window 2 (15-45 s) numbers them the other way round: its "speaker_0" is B, and
    # its "speaker_1" is a third voice C, who first speaks after the overlap.
    first = window_audio(30, [(0, 10, VOICE_A), (12, 30, VOICE_B)])
    second = window_audio(30, [(0, 10, VOICE_B), (11, 30, VOICE_C)])
    tracker.add(0.0, [SpeakerTurn(0, 10, "speaker_0"), SpeakerTurn(12, 30, "speaker_1")], first, RATE)
    tracker.add(15.0, [SpeakerTurn(0, 10, "speaker_0"), SpeakerTurn(11, 30, "speaker_1")], second, RATE)
    by_time = [(round(t.start, 1), round(t.end, 1), t.speaker) for t in tracker.turns]
    assert by_time == [(0, 10, "spk0"), (12, 22.5, "spk1"), (22.5, 25, "spk1"), (26, 45, "spk2")]


def test_a_speaker_silent_in_the_overlap_is_recognised_by_voice():
    tracker = SpeakerTracker()
    first = window_audio(30, [(0, 10, VOICE_A), (12, 30, VOICE_B)])
    second = window_audio(30, [(0, 10, VOICE_B), (11, 30, VOICE_A)])  # A comes back after the overlap
    tracker.add(0.0, [SpeakerTurn(0, 10, "speaker_0"), SpeakerTurn(12, 30, "speaker_1")], first, RATE)
    tracker.add(15.0, [SpeakerTurn(0, 10, "speaker_0"), SpeakerTurn(11, 30, "speaker_1")], second, RATE)
    assert [t.speaker for t in tracker.turns if t.start >= 26] == ["spk0"]


def test_the_feeder_diarizes_overlapping_windows_of_pieces_handed_over_with_repeats():
    rate = 8_000
    seen = []

    def diarize(samples):
        seen.append(len(samples) / rate)
        return [SpeakerTurn(0.0, len(samples) / rate, "speaker_0")]

    feeder = WindowFeeder(30.0, rate, diarize)
    signal = np.arange(100 * rate, dtype=np.float32)
    for offset in range(0, 100, 28):  # 30 s pieces every 28 s, like the recognizer's windows
        feeder.feed(offset, signal[offset * rate : (offset + 30) * rate])
    turns = feeder.finish()
    assert seen == [30.0] * len(seen)
    assert turns[0].start == 0 and turns[-1].end == pytest.approx(100.0)
    assert {t.speaker for t in turns} == {"spk0"}  # one voice throughout keeps one label


def test_the_last_window_is_a_full_window_that_ends_with_the_recording():
    # A short tail window hears too little to tell voices apart; the last window starts a full window before the end.
    rate = 1_000
    windows = []

    def diarize(samples):
        windows.append((samples[0] / rate, len(samples) / rate))
        return []

    feeder = WindowFeeder(20.0, rate, diarize)
    signal = np.arange(41 * rate, dtype=np.float32)  # each sample says where it is
    for offset in range(0, 41, 7):
        feeder.feed(offset, signal[offset * rate : (offset + 9) * rate])
    feeder.finish()
    assert windows == [(0.0, 20.0), (10.0, 20.0), (20.0, 20.0), (21.0, 20.0)]


def test_a_recording_shorter_than_a_window_is_diarized_once_whole():
    windows = []
    feeder = WindowFeeder(20.0, 1_000, lambda samples: windows.append(len(samples)) or [])
    feeder.feed(0.0, np.zeros(12_500, dtype=np.float32))
    assert feeder.finish() == [] and windows == [12_500]
