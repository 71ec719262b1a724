"""Corrections to a transcript that keep its timings: the rules the review view's edits follow.

A transcript is edited as **paragraphs**: its segments (which already break at every speaker change), each with its
words. The rules:

* Words that are unchanged keep their times (matched by :class:`difflib.SequenceMatcher`, so a fix in the middle of
  a paragraph does not move the words around it).
* Words typed in place of others share the span of the words they replace, evenly (one corrected word keeps the
  whole span).
* Words inserted between two words share the gap between them (or a point, where there is no gap).
* Splitting, joining and moving a paragraph to another speaker never change a word's time.

The result is a new :class:`~transcriber.types.Transcript`; subtitles, turns and every export are built from it with
the usual rules. Plain data in, plain data out.
"""

from __future__ import annotations

import bisect
import difflib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .errors import TranscriberError
from .outputs import one_line
from .types import Segment, Transcript, Word

MAX_SPEAKER_CHARS = 100
"""The longest name a speaker may be given."""


class EditError(TranscriberError):
    """An edit that cannot be applied: a paragraph or word that does not exist, an empty speaker name."""


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of the review view: a segment's words and its speaker (``None`` without speakers)."""

    words: tuple[Word, ...]
    speaker: str | None = None
    text: str = ""
    """The text of a paragraph without word timings (a transcript made without timestamps); else ``""``."""

    @property
    def start(self) -> float:
        return self.words[0].start if self.words else 0.0

    @property
    def end(self) -> float:
        return self.words[-1].end if self.words else 0.0

    def joined(self) -> str:
        return " ".join(word.text for word in self.words) if self.words else self.text


def segment_words(transcript: Transcript) -> list[list[Word]]:
    """The words of each segment. Where the segments' texts are the words in order (always, after a correction),
    each segment takes the words its text is made of: times cannot tell which of two paragraphs a word belongs to
    when one ends as the next begins (a word added at the end of a turn that the next follows at once, a split between
    two words typed into no gap). Otherwise a word belongs to the last segment that starts at or before it."""
    return _words_by_text(transcript) or _words_by_start(transcript)


def _words_by_text(transcript: Transcript) -> list[list[Word]] | None:
    """Each segment's run of words, when their texts in order make up the segments' texts; else ``None``."""
    groups: list[list[Word]] = []
    at = 0
    for segment in transcript.segments:
        wanted = segment.text.split()
        taken: list[str] = []
        start = at
        while len(taken) < len(wanted) and at < len(transcript.words):
            taken += transcript.words[at].text.split()
            at += 1
        if taken != wanted:
            return None
        groups.append(list(transcript.words[start:at]))
    return groups if at == len(transcript.words) and groups else None


def _words_by_start(transcript: Transcript) -> list[list[Word]]:
    starts = [segment.start for segment in transcript.segments]
    groups: list[list[Word]] = [[] for _ in starts]
    for word in transcript.words:
        groups[max(0, bisect.bisect_right(starts, word.start) - 1)].append(word)
    return groups


def paragraphs(transcript: Transcript) -> list[Paragraph]:
    """The transcript's paragraphs: one per segment with its words (:func:`segment_words`); one paragraph of plain
    text for a transcript without timings."""
    if not transcript.words:
        return [Paragraph((), None, transcript.text)] if transcript.text else []
    if not transcript.segments:
        return [Paragraph(transcript.words, transcript.words[0].speaker)]
    return [Paragraph(tuple(words), segment.speaker)
            for segment, words in zip(transcript.segments, segment_words(transcript)) if words]


def to_transcript(parts: Sequence[Paragraph], base: Transcript) -> Transcript:
    """A transcript of ``parts`` with the rest of ``base`` (duration, model, language, translation); speakers in
    order of first appearance."""
    parts = [part for part in parts if part.words or part.text]
    words = tuple(replace(word, speaker=part.speaker) for part in parts for word in part.words)
    segments = tuple(Segment(part.joined(), part.start, part.end, part.speaker) for part in parts if part.words)
    speakers = tuple(dict.fromkeys(part.speaker for part in parts if part.speaker))
    return replace(base, text=" ".join(part.joined() for part in parts), words=words, segments=segments,
                   speakers=speakers)


def spread(texts: Sequence[str], start: float, end: float, speaker: str | None) -> list[Word]:
    """Words for ``texts`` sharing ``start``..``end`` evenly."""
    if not texts:
        return []
    step = max(0.0, end - start) / len(texts)
    return [Word(text, start + k * step, start + (k + 1) * step, speaker) for k, text in enumerate(texts)]


def retime(old: Sequence[Word], new_text: str, speaker: str | None = None) -> list[Word]:
    """The words of ``new_text`` with times taken from ``old`` by the module's rules."""
    new = new_text.split()
    before = [word.text for word in old]
    result: list[Word] = []
    matcher = difflib.SequenceMatcher(a=before, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            result += [replace(word, speaker=speaker) for word in old[i1:i2]]
        elif tag == "replace":
            result += spread(new[j1:j2], old[i1].start, old[i2 - 1].end, speaker)
        elif tag == "insert":
            gap_start = old[i1 - 1].end if i1 > 0 else (old[0].start if old else 0.0)
            gap_end = old[i1].start if i1 < len(old) else gap_start
            result += spread(new[j1:j2], gap_start, max(gap_start, gap_end), speaker)
        # "delete": the words are gone
    return result


def _paragraph(parts: Sequence[Paragraph], index: int) -> Paragraph:
    if not 0 <= index < len(parts):
        raise EditError(f"There is no paragraph {index + 1}; the transcript has {len(parts)}.")
    return parts[index]


def edit_text(transcript: Transcript, index: int, text: str) -> Transcript:
    """Paragraph ``index`` now reads ``text`` (empty: the paragraph is removed). A line break in ``text`` starts a
    new paragraph of the same speaker there (where Alt+click is not to be had: a touch screen, a desktop that takes
    Alt+click for moving windows); the words are timed as one text, then shared out line by line. A transcript
    without timings has one paragraph, and its line breaks are spaces."""
    parts = paragraphs(transcript)
    part = _paragraph(parts, index)
    if part.words:
        lines = [line.split() for line in text.splitlines() if line.split()]
        words = retime(part.words, " ".join(" ".join(line) for line in lines), part.speaker)
        ends = list(itertools.accumulate(len(line) for line in lines))
        parts[index:index + 1] = [replace(part, words=tuple(words[end - len(line):end]))
                                  for line, end in zip(lines, ends, strict=True)]
    else:
        parts[index] = replace(part, text=" ".join(text.split()))
    return to_transcript(parts, transcript)


def split(transcript: Transcript, index: int, word: int) -> Transcript:
    """Paragraph ``index`` becomes two, the second starting at its word number ``word`` (from 0)."""
    parts = paragraphs(transcript)
    part = _paragraph(parts, index)
    if not 0 < word < len(part.words):
        raise EditError(f"Paragraph {index + 1} cannot be split before word {word + 1}.")
    parts[index:index + 1] = [replace(part, words=part.words[:word]), replace(part, words=part.words[word:])]
    return to_transcript(parts, transcript)


def join(transcript: Transcript, index: int) -> Transcript:
    """Paragraph ``index`` and the next become one, with the first one's speaker."""
    parts = paragraphs(transcript)
    first, second = _paragraph(parts, index), _paragraph(parts, index + 1)
    words = tuple(replace(word, speaker=first.speaker) for word in (*first.words, *second.words))
    parts[index:index + 2] = [replace(first, words=words, text=" ".join(filter(None, (first.text, second.text))))]
    return to_transcript(parts, transcript)


def assign_speaker(transcript: Transcript, index: int, speaker: str) -> Transcript:
    """Paragraph ``index`` is said by ``speaker``."""
    speaker = _speaker_name(speaker)
    parts = paragraphs(transcript)
    parts[index] = replace(_paragraph(parts, index), speaker=speaker)
    return to_transcript(parts, transcript)


def rename_speaker(transcript: Transcript, old: str, new: str) -> Transcript:
    """Every paragraph of speaker ``old`` is now said by ``new`` (which may be an existing speaker: they merge)."""
    new = _speaker_name(new)
    if old not in transcript.speakers:
        raise EditError(f"There is no speaker {old!r}; the speakers are {', '.join(transcript.speakers) or 'none'}.")
    parts = [replace(part, speaker=new) if part.speaker == old else part for part in paragraphs(transcript)]
    return to_transcript(parts, transcript)


def _speaker_name(name: str) -> str:
    name = one_line(str(name))
    if not name:
        raise EditError("A speaker's name cannot be empty.")
    if len(name) > MAX_SPEAKER_CHARS:  # it heads paragraphs and every subtitle cue: a pasted paragraph is a mistake
        raise EditError(f"A speaker's name can have at most {MAX_SPEAKER_CHARS} characters; this one has {len(name)}.")
    return name
