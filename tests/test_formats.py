import csv
import io
import json

import pytest

from transcriber.formats import (
    format_timestamp,
    local_time,
    render,
    result_to_dict,
    to_csv,
    to_json,
    to_srt,
    to_text,
    to_vtt,
    word_list_markdown,
)
from transcriber.types import FileResult, Segment, Transcript, Word

WORDS = (Word("hello", 0.0, 0.48), Word("world", 0.5, 1.02), Word("again", 2.3, 2.9))
TRANSCRIPT = Transcript(
    text="hello world again",
    words=WORDS,
    segments=(Segment("hello world", 0.0, 1.02), Segment("again", 2.3, 2.9)),
    duration=3.0,
    model="tiny",
)


@pytest.mark.parametrize(
    ("seconds", "srt", "vtt"),
    [
        (0.0, "00:00:00,000", "00:00:00.000"),
        (2.3, "00:00:02,300", "00:00:02.300"),  # int((2.3 % 1) * 1000) would give 299
        (0.0006, "00:00:00,001", "00:00:00.001"),
        (59.9996, "00:01:00,000", "00:01:00.000"),  # rounding carries into the minutes
        (3661.007, "01:01:01,007", "01:01:01.007"),
        (100 * 3600 + 1.5, "100:00:01,500", "100:00:01.500"),
    ],
)
def test_format_timestamp(seconds, srt, vtt):
    assert format_timestamp(seconds) == srt
    assert format_timestamp(seconds, decimal_marker=".") == vtt


def test_format_timestamp_can_omit_hours():
    assert format_timestamp(65.25, always_include_hours=False) == "01:05,250"
    assert format_timestamp(3665.25, always_include_hours=False) == "01:01:05,250"


def test_format_timestamp_rejects_negative():
    with pytest.raises(ValueError):
        format_timestamp(-0.1)


def test_srt_has_numbered_cues_from_words_split_at_pauses():
    # "again" follows a 1.3 s pause, so it starts a cue of its own, held for the minimum second (up to the end).
    assert to_srt(TRANSCRIPT) == (
        "1\n00:00:00,000 --> 00:00:01,020\nhello world\n\n2\n00:00:02,300 --> 00:00:03,000\nagain\n"
    )


def test_vtt_has_header_and_dotted_times():
    text = to_vtt(TRANSCRIPT)
    assert text.startswith("WEBVTT\n\n")
    assert "00:00:02.300 --> 00:00:03.000\nagain\n" in text


def test_subtitles_without_timings_cover_the_whole_audio():
    plain = Transcript(text="no timings here", duration=4.25)
    assert to_srt(plain) == "1\n00:00:00,000 --> 00:00:04,250\nno timings here\n"


def test_silence_gives_empty_outputs():
    silent = Transcript(text="", duration=2.0)
    assert to_text(silent) == ""
    assert to_srt(silent) == ""
    assert to_vtt(silent) == "WEBVTT\n"
    assert to_csv(silent) == "start,end,text\n"


def test_json_round_trips_words_segments_and_model():
    data = json.loads(to_json(TRANSCRIPT, file="a.wav"))
    assert data["file"] == "a.wav"
    assert data["text"] == "hello world again"
    assert data["model"] == "tiny"
    assert data["words"][2] == {"word": "again", "start": 2.3, "end": 2.9}
    assert data["segments"][0] == {"text": "hello world", "start": 0.0, "end": 1.02}


def test_json_times_read_to_the_millisecond_as_subtitles_do():
    # Times that are sums of model frames, as the engine computes them: 57 frames of 0.08 s is 4.5600000000000005.
    frame = 0.08
    words = (Word("stop", 0.1 + 0.2, 57 * frame), Word("go", 57 * frame, 4.6000000000000005, "S1"))
    transcript = Transcript("stop go", words=words, segments=(Segment("stop go", 0.1 + 0.2, 4.6000000000000005),),
                            duration=1 / 3 + 4.3)
    text = to_json(transcript)
    assert "0000000" not in text and "9999999" not in text and "6666666" not in text
    data = json.loads(text)
    assert [(w["start"], w["end"]) for w in data["words"]] == [(0.3, 4.56), (4.56, 4.6)]
    assert data["duration"] == 4.633 and data["segments"][0]["end"] == 4.6


def test_result_to_dict_for_a_failed_file():
    data = result_to_dict(FileResult("bad.wav", error="bad.wav: file not found"))
    assert data == {
        "file": "bad.wav",
        "text": "",
        "duration": 0.0,
        "words": [],
        "segments": [],
        "error": "bad.wav: file not found",
    }


def test_csv_rows_are_segments_and_quote_commas():
    transcript = Transcript(text="yes, no", segments=(Segment("yes, no", 1.0, 2.5),), duration=3.0)
    rows = list(csv.reader(io.StringIO(to_csv(transcript))))
    assert rows == [["start", "end", "text"], ["1.000", "2.500", "yes, no"]]


def test_render_dispatches_and_rejects_unknown_formats():
    assert render(TRANSCRIPT, "txt") == "hello world\nagain\n"
    with pytest.raises(ValueError, match="unknown format"):
        render(TRANSCRIPT, "docx")


def test_word_list_markdown_shows_first_fifty_words():
    words = [Word(f"w{i}", i * 0.5, i * 0.5 + 0.25) for i in range(60)]
    text = word_list_markdown(words)
    lines = text.split("\n\n")
    assert lines[0] == "`0.00s - 0.25s` → **w0**"
    assert lines[49] == "`24.50s - 24.75s` → **w49**"
    assert "w50" not in text
    assert lines[50] == "… and 10 more words"


def test_when_a_transcript_was_made_reads_in_this_computers_time_zone(new_york_clock):
    """At 21:49 on 5 December in New York the library and its documents said 2026-12-06T02:49:24Z: the next day."""
    import docx

    from transcriber.docx_format import to_docx

    assert local_time("2026-12-06T02:49:24Z") == "2026-12-05 21:49"
    assert local_time("2026-07-01T12:00:00Z") == "2026-07-01 08:00"  # summer time
    assert local_time("yesterday") == "yesterday"  # not a time the library writes: left as it is
    document = docx.Document(io.BytesIO(to_docx(TRANSCRIPT, title="call", created="2026-12-06T02:49:24Z")))
    assert "Date: 2026-12-05 21:49" in document.paragraphs[1].text
    assert f"{document.core_properties.created:%Y-%m-%dT%H:%M:%SZ}" == "2026-12-06T02:49:24Z"  # properties: UTC


def test_a_word_documents_paragraphs_start_at_the_second_as_the_page_says_not_the_millisecond():
    """The document's paragraphs began "01:02:05.610  S2" where the page says "S2  01:02:05"."""
    import docx

    from transcriber.docx_format import to_docx
    from transcriber.formats import reading_text

    words = (Word("good", 0.2, 0.5, "S1"), Word("morning", 3725.61, 3726.0, "S2"), Word("bye", 360000.4, 360001, "S1"))
    transcript = Transcript("good morning bye", words, duration=360002.0, speakers=("S1", "S2"))
    document = docx.Document(io.BytesIO(to_docx(transcript, title="call")))
    assert [p.text.split("\n")[0] for p in document.paragraphs[2:]] == ["00:00:00  S1", "01:02:05  S2", "100:00:00  S1"]
    assert reading_text(transcript).split("\n\n") == ["S1  00:00:00  good", "S2  01:02:05  morning",
                                                      "S1  100:00:00  bye"]


def test_text_is_a_line_per_segment_so_a_long_talk_is_not_one_line():
    """The TXT of an hour's talk was one line of 50,000 characters; whisper writes a line per segment."""
    sentences = [f"This is sentence number {n}." for n in range(600)]
    segments = tuple(Segment(text, n * 6.0, n * 6.0 + 5.0) for n, text in enumerate(sentences))
    talk = Transcript(" ".join(sentences), segments=segments, duration=3600.0)
    assert to_text(talk).splitlines() == sentences
    assert to_text(Transcript("no timings asked for. one line")) == "no timings asked for. one line\n"
