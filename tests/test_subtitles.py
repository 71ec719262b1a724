"""Subtitle cues built from word timings: rules as properties, plus golden files for a fixed input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transcriber.formats import build_cues, group_words, to_srt, to_vtt
from transcriber.types import SubtitleOptions, Transcript, Word

GOLDEN = Path(__file__).parent / "golden"
TEXT = (
    "Good morning, everyone. Today we look at how speech recognition turns sound into text, "
    "and why word timings matter for subtitles. First, the audio is cut into frames; then the model "
    "predicts tokens. Questions? Please wait until the end."
)


def timed_words(text: str, *, pause_after: dict[int, float] | None = None) -> tuple[Word, ...]:
    """Words spoken at a steady pace (0.3 s each, 0.05 s apart), with extra pauses after some indexes."""
    words, clock = [], 0.5
    for index, token in enumerate(text.split()):
        words.append(Word(token, round(clock, 3), round(clock + 0.3, 3)))
        clock += 0.35 + (pause_after or {}).get(index, 0.0)
    return tuple(words)


LECTURE = Transcript(text=TEXT, words=timed_words(TEXT, pause_after={12: 1.2}), duration=40.0)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_golden_subtitles(fmt):
    rendered = {"srt": to_srt, "vtt": to_vtt}[fmt](LECTURE)
    assert rendered == (GOLDEN / f"lecture.{fmt}").read_text(encoding="utf-8")


def test_sentence_ends_and_pauses_start_new_cues():
    cues = build_cues(LECTURE)
    texts = [cue.text.replace("\n", " ") for cue in cues]
    assert texts[0] == "Good morning, everyone."
    assert any(text.startswith("Questions?") for text in texts)
    assert all(not text.startswith(("timings", "matter")) for text in texts)


def test_one_word_per_cue_mode():
    cues = build_cues(LECTURE, SubtitleOptions(one_word_per_cue=True))
    assert [cue.text for cue in cues] == TEXT.split()


def test_short_cues_are_held_but_never_overlap_the_next():
    words = (Word("Yes.", 0.0, 0.2), Word("No.", 0.5, 0.7), Word("Maybe.", 3.0, 3.4))
    cues = build_cues(Transcript("Yes. No. Maybe.", words=words, duration=3.6))
    assert [(c.start, c.end) for c in cues] == [(0.0, 0.5), (0.5, 1.5), (3.0, 3.6)]


word_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz,.?'", min_size=1, max_size=16)


@st.composite
def transcripts(draw):
    count = draw(st.integers(0, 80))
    words, clock = [], draw(st.floats(0, 5))
    for _ in range(count):
        clock += draw(st.floats(0, 2.5))
        length = draw(st.floats(0, 1.5))
        words.append(Word(draw(word_text), round(clock, 3), round(clock + length, 3)))
        clock += length
    duration = clock + draw(st.floats(0, 3))
    return Transcript(" ".join(w.text for w in words), words=tuple(words), duration=duration)


options_strategy = st.builds(
    SubtitleOptions,
    max_line_chars=st.integers(16, 60),
    max_lines=st.integers(1, 3),
    max_cue_s=st.floats(2, 10),
    min_cue_s=st.floats(0, 2),
    pause_s=st.floats(0.2, 2),
)


@settings(max_examples=300, deadline=None)
@given(transcripts(), options_strategy)
def test_cue_rules_hold_for_any_words(transcript, options):
    groups = group_words(transcript.words, options)
    assert [w for group in groups for w in group] == list(transcript.words)  # every word once, in order
    cues = build_cues(transcript, options)
    assert len(cues) == len(groups)
    for cue, group in zip(cues, groups):
        assert cue.text.split() == [w.text for w in group]  # no word split or lost
        assert len(cue.lines) <= options.max_lines or len(group) == 1
        for line in cue.lines:
            assert len(line) <= options.max_line_chars or " " not in line
        spoken = group[-1].end - group[0].start
        assert spoken <= options.max_cue_s + 1e-9 or len(group) == 1
        assert cue.start == group[0].start and cue.end >= group[-1].end
    for earlier, later in zip(cues, cues[1:]):
        assert earlier.start <= later.start
        assert earlier.end <= later.start + 1e-9  # never overlapping


def test_a_tail_moved_to_the_next_cue_still_respects_the_limits():
    words = (Word("a", 0.0, 0.1), Word("b", 0.2, 0.3), Word("c,", 0.4, 0.5), Word("d", 0.6, 0.7), Word("e", 2.5, 2.7))
    groups = group_words(words, SubtitleOptions(max_cue_s=2.0, pause_s=5.0))
    assert [[w.text for w in group] for group in groups] == [["a", "b", "c,"], ["d"], ["e"]]
