"""Who said each word: a diarizer's speaker turns and a recognizer's words in, words with speakers out.

Plain data in, plain data out (no model, no NeMo), so every rule here is tested on its own:

* A word goes to the speaker whose turns cover most of it; on a tie, to the one whose turn covers its midpoint;
  when no turn touches it (a word in a pause the diarizer heard as silence), to the speaker of the nearest turn.
  In overlapping speech that is the speaker who covers the word most.
* ``num_speakers`` caps the labels: the least active speaker (least talk time) is merged, turn by turn, into the
  speaker of the nearest remaining turn, until the cap holds.
* Labels are ``S1``, ``S2``, ... in order of first appearance in the words, whatever the diarizer called them.
* Segments never span a speaker change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from .types import SpeakerTurn, Transcript, Word
from .windows import segments_from_words

LABEL_PREFIX = "S"


def _distance(word: Word, turn: SpeakerTurn) -> float:
    return max(turn.start - word.end, word.start - turn.end, 0.0)


def assign_word_speakers(words: Sequence[Word], turns: Sequence[SpeakerTurn]) -> list[Word]:
    """``words`` (in time order) with the speaker of each set by the rules in the module docstring.

    With no turns at all (silence, or a diarizer that heard no one), words are returned without speakers.
    """
    if not turns:
        return [replace(word, speaker=None) for word in words]
    ordered = sorted(turns, key=lambda turn: (turn.start, turn.end))
    active: list[SpeakerTurn] = []
    nearest_before: SpeakerTurn | None = None
    upcoming = 0
    labelled = []
    for word in words:
        while upcoming < len(ordered) and ordered[upcoming].start < word.end:
            active.append(ordered[upcoming])
            upcoming += 1
        still = []
        for turn in active:  # words come in time order, so a turn that ended before this word is done with
            if turn.end <= word.start:
                if nearest_before is None or turn.end > nearest_before.end:
                    nearest_before = turn
            else:
                still.append(turn)
        active = still
        cover: dict[str, float] = defaultdict(float)
        middle = (word.start + word.end) / 2
        at_middle = set()
        for turn in active:
            cover[turn.speaker] += min(turn.end, word.end) - max(turn.start, word.start)
            if turn.start <= middle <= turn.end:
                at_middle.add(turn.speaker)
        if cover:
            speaker = max(cover, key=lambda s: (round(cover[s], 6), s in at_middle))
        else:
            candidates = [t for t in (nearest_before, ordered[upcoming] if upcoming < len(ordered) else None) if t]
            speaker = min(candidates, key=lambda turn: _distance(word, turn)).speaker
        labelled.append(replace(word, speaker=speaker))
    return labelled


def talk_time(turns: Sequence[SpeakerTurn]) -> dict[str, float]:
    """Seconds each speaker talks (overlaps counted for each speaker in them)."""
    totals: dict[str, float] = defaultdict(float)
    for turn in turns:
        totals[turn.speaker] += turn.end - turn.start
    return dict(totals)


def cap_speakers(turns: Sequence[SpeakerTurn], limit: int) -> list[SpeakerTurn]:
    """At most ``limit`` speakers: the least active one's turns go, one by one, to the speaker of the nearest turn
    of those that stay; repeated until ``limit`` hold."""
    capped = list(turns)
    while len(totals := talk_time(capped)) > limit:
        quietest = min(totals, key=lambda s: (totals[s], s))
        kept = [turn for turn in capped if turn.speaker != quietest]
        moved = []
        for turn in capped:
            if turn.speaker != quietest:
                continue
            nearest = min(kept, key=lambda other: (max(other.start - turn.end, turn.start - other.end, 0.0), other.start))
            moved.append(replace(turn, speaker=nearest.speaker))
        capped = sorted(kept + moved, key=lambda turn: (turn.start, turn.end))
    return capped


def relabel(words: Sequence[Word]) -> tuple[list[Word], tuple[str, ...]]:
    """Words with speakers renamed ``S1``, ``S2``, ... in order of first appearance; also the new labels in order."""
    names: dict[str, str] = {}
    for word in words:
        if word.speaker is not None and word.speaker not in names:
            names[word.speaker] = f"{LABEL_PREFIX}{len(names) + 1}"
    renamed = [replace(word, speaker=names.get(word.speaker)) if word.speaker else word for word in words]
    return renamed, tuple(names.values())


def with_speakers(transcript: Transcript, turns: Sequence[SpeakerTurn], *, num_speakers: int | None = None) -> Transcript:
    """``transcript`` with a speaker on every word and segment (segments rebuilt so none spans a speaker change),
    and :attr:`~transcriber.types.Transcript.speakers` set. No turns, or no words: no speakers."""
    if num_speakers is not None:
        turns = cap_speakers(turns, num_speakers)
    words, speakers = relabel(assign_word_speakers(transcript.words, turns))
    if not speakers:
        return replace(transcript, words=tuple(words), speakers=())
    return replace(transcript, words=tuple(words), segments=tuple(segments_from_words(words)), speakers=speakers)
