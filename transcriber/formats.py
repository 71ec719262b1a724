"""Turn a :class:`~transcriber.types.Transcript` into text: plain text, SRT, VTT, JSON, CSV and the UI's word list.

Pure functions of their inputs, no I/O. Times are rounded to whole milliseconds once, then split into fields with
integer arithmetic, so 2.3 s prints as ``00:00:02,300`` (not ``,299``) and hours above 99 still print.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence

from .types import FileResult, Segment, Transcript, Word

MS_PER_SECOND = 1000
MS_PER_MINUTE = 60 * MS_PER_SECOND
MS_PER_HOUR = 60 * MS_PER_MINUTE
WORD_LIST_LIMIT = 50
FORMATS = ("txt", "srt", "vtt", "json", "csv")


def format_timestamp(seconds: float, *, decimal_marker: str = ",", always_include_hours: bool = True) -> str:
    """Format seconds as ``HH:MM:SS,mmm`` (SRT) or, with ``decimal_marker="."``, ``HH:MM:SS.mmm`` (VTT).

    Args:
        seconds: A non-negative time.
        decimal_marker: What separates seconds from milliseconds.
        always_include_hours: Print ``00:`` hours even when the time is under an hour.
    """
    if seconds < 0:
        raise ValueError(f"timestamp must be non-negative, got {seconds}")
    ms = round(seconds * MS_PER_SECOND)
    hours, ms = divmod(ms, MS_PER_HOUR)
    minutes, ms = divmod(ms, MS_PER_MINUTE)
    secs, ms = divmod(ms, MS_PER_SECOND)
    hours_part = f"{hours:02d}:" if always_include_hours or hours else ""
    return f"{hours_part}{minutes:02d}:{secs:02d}{decimal_marker}{ms:03d}"


def to_text(transcript: Transcript) -> str:
    """The recognised text with a final newline (empty string for silence)."""
    return f"{transcript.text}\n" if transcript.text else ""


def _cues(transcript: Transcript) -> list[Segment]:
    """Subtitle cues: the segments, or one cue over the whole audio when there are no timings."""
    if transcript.segments:
        return [segment for segment in transcript.segments if segment.text.strip()]
    if transcript.text:
        return [Segment(transcript.text, 0.0, transcript.duration)]
    return []


def to_srt(transcript: Transcript) -> str:
    """SubRip subtitles, one numbered cue per segment."""
    blocks = [
        f"{index}\n{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}\n{cue.text.strip()}\n"
        for index, cue in enumerate(_cues(transcript), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    """WebVTT subtitles, one cue per segment."""
    blocks = ["WEBVTT\n"]
    blocks += [
        f"{format_timestamp(cue.start, decimal_marker='.')} --> {format_timestamp(cue.end, decimal_marker='.')}\n"
        f"{cue.text.strip()}\n"
        for cue in _cues(transcript)
    ]
    return "\n".join(blocks)


def _timed(items: Iterable[Word | Segment], key: str) -> list[dict[str, object]]:
    return [{key: item.text, "start": item.start, "end": item.end} for item in items]


def result_to_dict(result: FileResult) -> dict[str, object]:
    """The JSON shape of one file's result: file, text, duration, words, segments, error."""
    transcript = result.transcript or Transcript(text="")
    return {
        "file": result.file,
        "text": transcript.text,
        "duration": transcript.duration,
        "words": _timed(transcript.words, "word"),
        "segments": _timed(transcript.segments, "text"),
        "error": result.error,
    }


def to_json(transcript: Transcript, *, file: str = "", indent: int | None = 2) -> str:
    """JSON with the text, all words and segments, the duration and the model."""
    data = result_to_dict(FileResult(file=file, transcript=transcript))
    del data["error"]
    data["model"] = transcript.model
    return json.dumps(data, ensure_ascii=False, indent=indent) + "\n"


def to_csv(transcript: Transcript) -> str:
    """CSV of segments (start, end, text); one row for the whole text when there are no timings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["start", "end", "text"])
    for cue in _cues(transcript):
        writer.writerow([f"{cue.start:.3f}", f"{cue.end:.3f}", cue.text.strip()])
    return buffer.getvalue()


WRITERS = {"txt": to_text, "srt": to_srt, "vtt": to_vtt, "json": to_json, "csv": to_csv}


def render(transcript: Transcript, fmt: str) -> str:
    """Render ``transcript`` in one of :data:`FORMATS`."""
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}") from None
    return writer(transcript)


def word_list_markdown(words: Sequence[Word], *, limit: int = WORD_LIST_LIMIT) -> str:
    """The UI's word list: one line per word, `` `0.00s - 0.48s` → **word** ``, first ``limit`` words."""
    lines = [f"`{word.start:.2f}s - {word.end:.2f}s` → **{word.text}**" for word in words[:limit]]
    if len(words) > limit:
        lines.append(f"… and {len(words) - limit} more words")
    return "\n\n".join(lines)
