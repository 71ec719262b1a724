"""Every output format with speakers: golden files for a fixed two-speaker interview, and nothing changes without."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from transcriber.formats import FORMATS, reading_text, render, speaker_turns
from transcriber.speakers import with_speakers
from transcriber.types import SpeakerTurn, Transcript, Word

GOLDEN = Path(__file__).parent / "golden"
LINES = [
    ("anna", "Thanks for coming in today. How long have you worked on the project?"),
    ("ben", "About three years now, since the first prototype."),
    ("anna", "And what changed most in that time?"),
    ("ben", "The speed. The first version took an hour for a ten minute file, which nobody wanted to wait for."),
]


def interview() -> Transcript:
    """Words spoken at a steady pace, 0.8 s between speakers, and the diarizer's turns over them."""
    words, turns, clock = [], [], 0.4
    for speaker, line in LINES:
        start = clock
        for token in line.split():
            words.append(Word(token, round(clock, 3), round(clock + 0.3, 3)))
            clock += 0.35
        turns.append(SpeakerTurn(start - 0.1, clock, speaker))
        clock += 0.8
    plain = Transcript(" ".join(line for _, line in LINES), tuple(words), duration=round(clock, 3), model="m")
    return with_speakers(plain, turns)


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden_files_with_speakers(fmt):
    assert render(interview(), fmt) == (GOLDEN / f"interview.{fmt}").read_text(encoding="utf-8")


def test_speakers_are_numbered_in_order_of_appearance_and_turns_read_as_paragraphs():
    transcript = interview()
    assert transcript.speakers == ("S1", "S2")
    assert [turn.speaker for turn in speaker_turns(transcript)] == ["S1", "S2", "S1", "S2"]
    assert reading_text(transcript).splitlines()[0] == f"S1  00:00:00  {LINES[0][1]}"
    assert render(transcript, "txt").startswith(f"S1: {LINES[0][1]}\n\nS2: {LINES[1][1]}\n")


def test_a_speaker_change_always_ends_a_cue_and_a_segment():
    transcript = interview()
    for cue in render(transcript, "srt").split("\n\n"):
        first_line = cue.splitlines()[2]
        assert first_line.startswith(("[S1] ", "[S2] "))
    for segment in transcript.segments:
        inside = {w.speaker for w in transcript.words if segment.start <= w.start and w.end <= segment.end}
        assert inside == {segment.speaker}


def test_without_speakers_no_format_mentions_them():
    plain = Transcript("hello there", (Word("hello", 0.0, 0.4), Word("there", 0.5, 0.9)), duration=1.0)
    data = json.loads(render(plain, "json"))
    assert "speakers" not in data and all("speaker" not in w for w in data["words"])
    assert render(plain, "csv").splitlines()[0] == "start,end,text"
    assert render(plain, "txt") == "hello there\n"
    assert "<v " not in render(plain, "vtt") and "[S" not in render(plain, "srt")
