"""How a transcript is stored: the exact JSON of its row, the passages search indexes, and where in a passage a
search matched. Plain functions of plain data."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from ..editing import segment_words
from ..types import AUTO_LANGUAGE, CREATED_FORMAT, Segment, Transcript, Word
from . import query as search_query


def transcript_to_json(transcript: Transcript) -> str:
    """The stored form of a transcript: compact JSON that :func:`transcript_from_json` reads back equal."""
    return json.dumps(
        {
            "text": transcript.text,
            "duration": transcript.duration,
            "model": transcript.model,
            "speakers": list(transcript.speakers),
            "words": [[w.text, w.start, w.end, w.speaker] for w in transcript.words],
            "segments": [[s.text, s.start, s.end, s.speaker] for s in transcript.segments],
            "language": transcript.language,
            "translated_to": transcript.translated_to,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def transcript_from_json(body: str) -> Transcript:
    """The transcript stored by :func:`transcript_to_json`."""
    data = json.loads(body)
    return Transcript(
        text=data["text"],
        words=tuple(Word(*item) for item in data["words"]),
        segments=tuple(Segment(*item) for item in data["segments"]),
        duration=data["duration"],
        model=data["model"],
        speakers=tuple(data["speakers"]),
        language=data.get("language", AUTO_LANGUAGE),  # stored before languages were recorded: the model's own
        translated_to=data.get("translated_to"),
    )


def passages(transcript: Transcript) -> list[tuple[float | None, str, str]]:
    """What search indexes: (start, text, words JSON) per segment, or the whole text when there are no segments."""
    if not transcript.segments:
        return [(None, transcript.text, "[]")] if transcript.text else []
    return [
        (segment.start, segment.text,
         json.dumps([[word.text, word.start] for word in words], ensure_ascii=False, separators=(",", ":")))
        for segment, words in zip(transcript.segments, segment_words(transcript))
    ]


def utc_now() -> str:
    """The current time as the library stores it."""
    return datetime.now(timezone.utc).strftime(CREATED_FORMAT)


def hit_time(terms: list[search_query.Term], start: float | None, words: list[list]) -> float | None:
    """When the first word of a passage that matches a term is spoken; the passage's start if none is found."""
    found = next(search_query.word_matches(terms, (word for word, _ in words)), None)
    return words[found[0]][1] if found is not None else start


def turn_starts(transcript: Transcript, speakers: set[str]) -> list[float]:
    """When each turn of ``speakers`` begins: their words that follow another speaker's (or come first); the segments
    of a transcript without word timings."""
    items: tuple[Word, ...] | tuple[Segment, ...] = transcript.words or transcript.segments
    return [item.start for index, item in enumerate(items)
            if item.speaker in speakers and (index == 0 or items[index - 1].speaker != item.speaker)]
