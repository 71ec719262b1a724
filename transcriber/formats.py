"""Turn a :class:`~transcriber.types.Transcript` into text: plain text, SRT, VTT, JSON, CSV and the UI's word list.

Pure functions of their inputs, no I/O. Times are rounded to whole milliseconds once, then split into fields with
integer arithmetic, so 2.3 s prints as ``00:00:02,300`` (not ``,299``) and hours above 99 still print.

Subtitle cues are built from word timings, not from the model's segments: a segment is often a whole sentence, too
long to read on screen. Cues break at speaker changes, pauses and sentence ends first, then at commas, and only then
where the lines are full; a word is never split and cues never overlap.

When speakers were identified every format says who speaks: TXT is written as turns (``S1: ...`` paragraphs), SRT
cues start with ``[S1] ``, VTT cues carry voice tags (``<v S1>``), JSON and CSV have a speaker field. Without
speakers nothing changes, field for field.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from .types import CREATED_FORMAT, FileResult, Segment, SubtitleOptions, Transcript, Word

MS_PER_SECOND = 1000
MS_PER_MINUTE = 60 * MS_PER_SECOND
MS_PER_HOUR = 60 * MS_PER_MINUTE
WORD_LIST_LIMIT = 50
FORMATS = ("txt", "srt", "vtt", "json", "csv")
SENTENCE_END = (".", "?", "!", "…")
CLAUSE_END = (",", ";", ":")
NO_SPEECH = "No speech was recognised."
"""What the page and the command line say where a file's transcript is empty (silence, a muted microphone)."""
LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M"
"""How a person reads when a transcript was made (the page, the documents, ``library list``): local, to the minute."""


@dataclass(frozen=True)
class Cue:
    """One subtitle: its lines of text, when it is shown, and who speaks (``None`` without speakers)."""

    lines: tuple[str, ...]
    start: float
    end: float
    speaker: str | None = None

    @property
    def text(self) -> str:
        """The cue's lines joined by newlines."""
        return "\n".join(self.lines)


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


@dataclass(frozen=True)
class Turn:
    """What one speaker says before another speaks."""

    speaker: str
    start: float
    end: float
    text: str


def counted(number: float, unit: str) -> str:
    """``number`` of ``unit`` as a sentence says it: ``1 file``, ``0 transcripts``, ``0.5 CPUs``."""
    return f"{number:g} {unit}{'' if number == 1 else 's'}"


def clock_time(seconds: float) -> str:
    """``HH:MM:SS`` for a reader (the page's turns, the Word document): whole seconds, as a player's clock shows."""
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def created_time(created: str) -> datetime | None:
    """``created`` as the library writes it (UTC, ``2026-12-06T12:49:24Z``) as a time; ``None`` if it is not one."""
    try:
        return datetime.strptime(created, CREATED_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def local_time(created: str) -> str:
    """``created`` (UTC, as the library writes it) in this computer's time zone, to the minute: ``2026-12-06 13:49``
    in Berlin. Anything that is not such a time is returned as it is."""
    when = created_time(created)
    return created if when is None else when.astimezone().strftime(LOCAL_TIME_FORMAT)


def speaker_turns(transcript: Transcript) -> list[Turn]:
    """The transcript as turns: runs of words of one speaker (empty without speakers)."""
    turns: list[Turn] = []
    run: list[Word] = []
    for word in (*transcript.words, None):
        if run and (word is None or word.speaker != run[-1].speaker):
            turns.append(Turn(run[0].speaker or "", run[0].start, run[-1].end, " ".join(w.text for w in run)))
            run = []
        if word is not None:
            run.append(word)
    return turns if transcript.has_speakers else []


def to_text(transcript: Transcript) -> str:
    """The recognised text with a final newline (empty string for silence): one line per segment (a sentence, or a
    run of words between pauses, as whisper writes it), so an hour's talk is not one line; with speakers, one
    ``S1: ...`` paragraph per turn; without timings (no segments), one line."""
    if transcript.has_speakers:
        return "\n\n".join(f"{turn.speaker}: {turn.text}" for turn in speaker_turns(transcript)) + "\n"
    lines = [segment.text.strip() for segment in transcript.segments if segment.text.strip()]
    if not lines:
        return f"{transcript.text}\n" if transcript.text else ""
    return "\n".join(lines) + "\n"


def reading_text(transcript: Transcript) -> str:
    """The page's reading of a transcript: its text, or with speakers one paragraph per turn,
    ``S1  00:00:03  Hello there...``."""
    if not transcript.has_speakers:
        return transcript.text
    return "\n\n".join(
        f"{turn.speaker}  {clock_time(turn.start)}  {turn.text}" for turn in speaker_turns(transcript)
    )


def wrap_lines(words: Sequence[str], max_line_chars: int) -> list[str]:
    """Fill lines of at most ``max_line_chars`` characters with whole words (a longer word gets its own line)."""
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= max_line_chars:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _balanced_lines(words: Sequence[str], options: SubtitleOptions) -> tuple[str, ...]:
    """Lines for one cue; two lines are balanced in length where the limit allows, as subtitle guides advise."""
    lines = wrap_lines(words, options.max_line_chars)
    if len(lines) != 2:
        return tuple(lines)
    best = lines
    for split in range(1, len(words)):
        first, second = " ".join(words[:split]), " ".join(words[split:])
        if max(len(first), len(second)) <= options.max_line_chars and abs(len(first) - len(second)) < abs(
            len(best[0]) - len(best[1])
        ):
            best = [first, second]
    return tuple(best)


def _fits(words: Sequence[Word], options: SubtitleOptions) -> bool:
    return (
        len(wrap_lines([w.text for w in words], options.max_line_chars)) <= options.max_lines
        and words[-1].end - words[0].start <= options.max_cue_s
    )


def _split_point(words: Sequence[Word]) -> int:
    """Where to end a full cue: after its last clause or sentence end in the second half, else after all words."""
    for index in range(len(words) - 1, len(words) // 2 - 1, -1):
        if words[index].text.endswith(SENTENCE_END + CLAUSE_END):
            return index + 1
    return len(words)


def group_words(words: Sequence[Word], options: SubtitleOptions = SubtitleOptions()) -> list[list[Word]]:
    """Split words into runs that each make one cue, in order, every word in exactly one run."""
    if options.one_word_per_cue:
        return [[word] for word in words]
    groups: list[list[Word]] = []
    current: list[Word] = []
    for word in words:
        if current:
            previous = current[-1]
            if (
                word.speaker != previous.speaker
                or word.start - previous.end >= options.pause_s
                or previous.text.endswith(SENTENCE_END)
            ):
                groups.append(current)
                current = []
            elif not _fits([*current, word], options):
                split = _split_point(current)
                groups.append(current[:split])
                current = current[split:]
                if current and not _fits([*current, word], options):
                    groups.append(current)
                    current = []
        current.append(word)
    if current:
        groups.append(current)
    return groups


def build_cues(transcript: Transcript, options: SubtitleOptions = SubtitleOptions()) -> list[Cue]:
    """Subtitle cues for ``transcript``.

    From word timings when there are any; otherwise one cue per segment, or one cue over the whole audio. Cues
    shorter than ``min_cue_s`` stay up longer where the next cue (and the audio) leaves room.
    """
    if transcript.words:
        spans = [
            ([w.text for w in group], group[0].start, group[-1].end, group[0].speaker)
            for group in group_words(transcript.words, options)
        ]
    elif transcript.segments:
        spans = [(s.text.split(), s.start, s.end, s.speaker) for s in transcript.segments if s.text.strip()]
    elif transcript.text:
        spans = [(transcript.text.split(), 0.0, transcript.duration, None)]
    else:
        spans = []
    cues = []
    for index, (texts, start, end, speaker) in enumerate(spans):
        limit = spans[index + 1][1] if index + 1 < len(spans) else max(transcript.duration, end)
        end = max(end, min(start + options.min_cue_s, limit))
        cues.append(Cue(_balanced_lines(texts, options), start, end, speaker))
    return cues


def to_srt(transcript: Transcript, options: SubtitleOptions = SubtitleOptions()) -> str:
    """SubRip subtitles: numbered cues built by :func:`build_cues`."""
    blocks = [
        f"{index}\n{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}\n"
        f"{f'[{cue.speaker}] ' if cue.speaker else ''}{cue.text}\n"
        for index, cue in enumerate(build_cues(transcript, options), start=1)
    ]
    return "\n".join(blocks)


def vtt_escape(text: str) -> str:
    """``text`` as WebVTT cue text or voice name: ``&``, ``<`` and ``>`` as character references, so a player shows
    "x<y" or "AT&T" as typed (a bare ``<`` starts a tag that hides the rest, and "-->" would end the cue)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(transcript: Transcript, options: SubtitleOptions = SubtitleOptions()) -> str:
    """WebVTT subtitles: cues built by :func:`build_cues`."""
    blocks = ["WEBVTT\n"]
    blocks += [
        f"{format_timestamp(cue.start, decimal_marker='.')} --> {format_timestamp(cue.end, decimal_marker='.')}\n"
        f"{f'<v {vtt_escape(cue.speaker)}>' if cue.speaker else ''}{vtt_escape(cue.text)}\n"
        for cue in build_cues(transcript, options)
    ]
    return "\n".join(blocks)


def milliseconds(seconds: float) -> float:
    """``seconds`` to the millisecond, as JSON shows it: 4.6, not the 4.6000000000000005 that frame sums give."""
    return round(seconds * MS_PER_SECOND) / MS_PER_SECOND


def _timed(items: Iterable[Word | Segment], key: str, *, speakers: bool) -> list[dict[str, object]]:
    return [{key: item.text, "start": milliseconds(item.start), "end": milliseconds(item.end)}
            | ({"speaker": item.speaker} if speakers else {}) for item in items]


def result_to_dict(result: FileResult) -> dict[str, object]:
    """The JSON shape of one file's result: file, text, duration, words, segments, language (chosen, or ``"auto"``),
    task (``"transcribe"`` or ``"translate"``, then also ``translated_to``), error; with speakers also ``speakers``
    and a ``speaker`` on every word and segment."""
    transcript = result.transcript or Transcript(text="")
    speakers = transcript.has_speakers
    data: dict[str, object] = {
        "file": result.file,
        "text": transcript.text,
        "duration": milliseconds(transcript.duration),
        "words": _timed(transcript.words, "word", speakers=speakers),
        "segments": _timed(transcript.segments, "text", speakers=speakers),
    }
    if speakers:
        data["speakers"] = list(transcript.speakers)
    if result.transcript is not None:  # a failed file has no language or task
        data["language"] = transcript.language
        data["task"] = transcript.task
        if transcript.translated_to:
            data["translated_to"] = transcript.translated_to
    data["error"] = result.error
    return data


def to_json(transcript: Transcript, *, file: str = "", indent: int | None = 2) -> str:
    """JSON with the text, all words and segments, the duration and the model."""
    data = result_to_dict(FileResult(file=file, transcript=transcript))
    del data["error"]
    data["model"] = transcript.model
    return json.dumps(data, ensure_ascii=False, indent=indent) + "\n"


def to_csv(transcript: Transcript) -> str:
    """CSV of segments (start, end, text, and speaker when speakers were identified); one row for the whole text
    when there are no timings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    speakers = transcript.has_speakers
    writer.writerow(["start", "end", "text", *(["speaker"] if speakers else [])])
    rows = transcript.segments or ([Segment(transcript.text, 0.0, transcript.duration)] if transcript.text else [])
    for segment in rows:
        writer.writerow([f"{segment.start:.3f}", f"{segment.end:.3f}", segment.text.strip(),
                         *([segment.speaker or ""] if speakers else [])])
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
