"""The rules of corrections: unchanged words keep their times, corrections take the span of what they replace."""

from __future__ import annotations

import dataclasses

import pytest

from transcriber import editing
from transcriber.editing import EditError
from transcriber.formats import to_srt
from transcriber.types import Segment, Transcript, Word


def talk() -> Transcript:
    words = (
        Word("hello", 0.0, 0.4, "S1"), Word("there", 0.5, 0.9, "S1"), Word("my", 1.0, 1.2, "S1"),
        Word("friend", 1.3, 1.8, "S1"),
        Word("the", 3.0, 3.2, "S2"), Word("budget", 3.3, 3.9, "S2"), Word("is", 4.0, 4.1, "S2"),
        Word("late", 4.2, 4.6, "S2"),
    )
    segments = (Segment("hello there my friend", 0.0, 1.8, "S1"), Segment("the budget is late", 3.0, 4.6, "S2"))
    return Transcript("hello there my friend the budget is late", words, segments, 5.0, "m", ("S1", "S2"))


def spans(transcript: Transcript) -> list[tuple[str, float, float, str | None]]:
    return [(w.text, round(w.start, 3), round(w.end, 3), w.speaker) for w in transcript.words]


def test_a_corrected_word_keeps_its_span_and_the_others_keep_theirs():
    edited = editing.edit_text(talk(), 1, "the budgie is late")
    assert spans(edited)[4:] == [("the", 3.0, 3.2, "S2"), ("budgie", 3.3, 3.9, "S2"), ("is", 4.0, 4.1, "S2"),
                                 ("late", 4.2, 4.6, "S2")]
    assert spans(edited)[:4] == spans(talk())[:4]
    assert edited.text == "hello there my friend the budgie is late"


def test_words_typed_in_place_of_others_share_their_span_evenly():
    edited = editing.edit_text(talk(), 0, "hello there Mister Fred Friend")  # "my friend" (1.0-1.8) -> three words
    assert spans(edited)[2:5] == [("Mister", 1.0, 1.267, "S1"), ("Fred", 1.267, 1.533, "S1"),
                                  ("Friend", 1.533, 1.8, "S1")]


def test_inserted_words_share_the_gap_between_their_neighbours():
    edited = editing.edit_text(talk(), 0, "hello out there my friend")
    assert spans(edited)[1] == ("out", 0.4, 0.5, "S1")
    assert [w[0] for w in spans(edited)] == ["hello", "out", "there", "my", "friend", "the", "budget", "is", "late"]


def test_deleted_words_are_gone_and_an_emptied_paragraph_is_removed():
    assert [w.text for w in editing.edit_text(talk(), 1, "budget late").words][4:] == ["budget", "late"]
    emptied = editing.edit_text(talk(), 0, "   ")
    assert emptied.speakers == ("S2",) and len(emptied.segments) == 1 and emptied.words[0].text == "the"


def test_split_join_and_speakers_never_move_a_word():
    split = editing.split(talk(), 0, 2)
    assert [s.text for s in split.segments] == ["hello there", "my friend", "the budget is late"]
    assert [w[1:3] for w in spans(split)] == [w[1:3] for w in spans(talk())]
    joined = editing.join(split, 0)
    assert [s.text for s in joined.segments] == ["hello there my friend", "the budget is late"]
    moved = editing.assign_speaker(talk(), 1, "S1")
    assert moved.speakers == ("S1",) and {w.speaker for w in moved.words} == {"S1"}
    assert [w[1:3] for w in spans(moved)] == [w[1:3] for w in spans(talk())]


def test_a_line_break_typed_in_a_correction_starts_a_new_paragraph_there():
    """For whoever cannot Alt+click a word (a touch screen; a desktop that moves windows on Alt+click)."""
    edited = editing.edit_text(talk(), 0, "hello there\nmy dear friend\n\n")
    assert [(s.text, s.speaker) for s in edited.segments] == [("hello there", "S1"), ("my dear friend", "S1"),
                                                               ("the budget is late", "S2")]
    assert spans(edited)[:2] == spans(talk())[:2] and spans(edited)[4] == ("friend", 1.3, 1.8, "S1")
    assert [p.joined() for p in editing.paragraphs(edited)] == ["hello there", "my dear friend", "the budget is late"]
    unchanged = editing.edit_text(talk(), 0, "  hello there my friend ")
    assert unchanged.segments == talk().segments


def test_renaming_a_speaker_renames_it_everywhere_including_subtitles():
    renamed = editing.rename_speaker(talk(), "S1", "Anna")
    assert renamed.speakers == ("Anna", "S2")
    assert {w.speaker for w in renamed.words[:4]} == {"Anna"} and renamed.segments[0].speaker == "Anna"
    srt = to_srt(renamed)
    assert "[Anna] hello there my friend" in srt and "[S1]" not in srt
    merged = editing.rename_speaker(renamed, "S2", "Anna")
    assert merged.speakers == ("Anna",)


def test_a_speaker_name_is_one_line_of_at_most_100_characters():
    assert editing.rename_speaker(talk(), "S1", "  Dr.\n Anna   Lee ").speakers == ("Dr. Anna Lee", "S2")
    assert editing.assign_speaker(talk(), 0, "x" * 100).speakers == ("x" * 100, "S2")
    pasted = "the whole paragraph pasted into the name box by mistake " * 3
    with pytest.raises(EditError, match="A speaker's name can have at most 100 characters; this one has 167"):
        editing.rename_speaker(talk(), "S1", pasted)
    with pytest.raises(EditError, match="at most 100 characters"):
        editing.assign_speaker(talk(), 0, pasted)


def test_edited_subtitles_follow_the_cue_rules():
    edited = editing.edit_text(talk(), 1, "the budget is very late")
    srt = to_srt(edited)
    assert "00:00:03,000 --> " in srt and "very late" in srt  # a new cue at the speaker change, as before


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: editing.edit_text(t, 5, "x"), "no paragraph 6"),
        (lambda t: editing.split(t, 0, 0), "cannot be split"),
        (lambda t: editing.join(t, 1), "no paragraph 3"),
        (lambda t: editing.rename_speaker(t, "S9", "Anna"), "no speaker 'S9'"),
        (lambda t: editing.assign_speaker(t, 0, "  "), "cannot be empty"),
    ],
)
def test_impossible_edits_say_why(edit, message):
    with pytest.raises(EditError, match=message):
        edit(talk())


def test_a_transcript_without_timings_is_one_paragraph_of_text():
    plain = Transcript("hello there", duration=2.0, model="m")
    (part,) = editing.paragraphs(plain)
    assert part.joined() == "hello there"
    assert editing.edit_text(plain, 0, "hello  where").text == "hello where"


def test_a_word_added_at_the_end_of_a_paragraph_stays_in_it():
    edited = editing.edit_text(talk(), 0, "hello there my friend indeed")
    first, second = editing.paragraphs(edited)
    assert [w.text for w in first.words][-1] == "indeed" and second.words[0].text == "the"
    assert edited.words[4].start == edited.words[4].end == 1.8  # no gap after "friend": a point at its end


def quick_turns() -> Transcript:
    """Two speakers with no pause between them: the second's first word starts as the first's last word ends."""
    words = (Word("hello", 0.0, 0.4, "S1"), Word("there", 0.4, 1.0, "S1"),
             Word("good", 1.0, 1.4, "S2"), Word("morning", 1.4, 2.0, "S2"))
    segments = (Segment("hello there", 0.0, 1.0, "S1"), Segment("good morning", 1.0, 2.0, "S2"))
    return Transcript("hello there good morning", words, segments, 2.0, "m", ("S1", "S2"))


def test_a_word_added_at_the_end_of_a_turn_stays_in_it_when_the_next_turn_follows_at_once():
    edited = editing.edit_text(quick_turns(), 0, "hello there friend")
    assert [(p.speaker, p.joined()) for p in editing.paragraphs(edited)] == [("S1", "hello there friend"),
                                                                            ("S2", "good morning")]
    again = editing.edit_text(edited, 1, "good evening")  # the next correction starts from what the view shows
    assert [(p.speaker, p.joined()) for p in editing.paragraphs(again)] == [("S1", "hello there friend"),
                                                                           ("S2", "good evening")]
    assert [(s.text, s.speaker) for s in again.segments] == [("hello there friend", "S1"), ("good evening", "S2")]


def test_a_split_between_words_of_one_instant_keeps_each_paragraph_its_words():
    """Words typed into no gap share one instant; a paragraph split between two of them stays split as it was."""
    squeezed = editing.edit_text(quick_turns(), 0, "hello there you all")  # "you all" both at 1.0
    split = editing.split(squeezed, 0, 3)
    assert [p.joined() for p in editing.paragraphs(split)] == ["hello there you", "all", "good morning"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: editing.edit_text(t, 1, "the budgie is late"),
        lambda t: editing.split(t, 0, 2),
        lambda t: editing.join(t, 0),
        lambda t: editing.assign_speaker(t, 1, "Anna"),
        lambda t: editing.rename_speaker(t, "S1", "Ben"),
    ],
)
def test_a_correction_keeps_the_spoken_language_and_the_translation(edit):
    """A German talk translated to English stays that after a correction: its exports still say so."""
    translated = dataclasses.replace(talk(), language="de", translated_to="en")
    edited = edit(translated)
    assert (edited.language, edited.translated_to, edited.task) == ("de", "en", "translate")
