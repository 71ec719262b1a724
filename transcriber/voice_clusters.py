"""Who is who across a whole recording: the diarizer's speech, cut into pieces of a few seconds and grouped by voice.

A diarizer that labels speakers window by window can hear two similar voices as one inside a window, or carry a wrong
label from one window into the next; its speech activity (who talks when, and where the turns change) is usually
better than its naming. :func:`regroup` keeps the activity and redoes the naming for the whole recording at once:
the solo speech of every label is cut into pieces of about :data:`PIECE_S`, each piece is described by its voice,
and the pieces are grouped into as many speakers as the user asked for, or else as many as the voices show
(:func:`count_speakers`), with Ward's agglomerative clustering. A voice is what a :class:`Describer` makes of the
piece's frames: a learnt embedding where the diarizer has one (:mod:`.voice_embedding`), else mean MFCCs without the
energy coefficient, so level does not count, and log pitch (:class:`MfccPitch`); either way each frame is weighted
by its loudness, so pauses and noise count little. The voices, less the recording's mean, are taken into a space
fitted on training voices (:func:`fit_projection`: the directions in which one recording's speakers differ most
against how much each speaker's own pieces vary), or else standardised within the recording. In the fitted space
each grouped piece is then checked again in parts of about :data:`SUB_PIECE_S`: a part whose voice is clearly
nearer another group goes there, which splits a piece that straddles a change of speaker the diarizer missed.

It is an option of a diarizer, stored in its config (``diarization_voice_clusters``, the embedding's weights as
``diarization_voice_embedding`` and the fitted map as ``diarization_voice_projection``), because it was measured for
one: the demo diarizer (``demo_model/README.md``). NVIDIA's diarizers, trained on real voices, are left as they are.

:class:`VoiceStats` keeps, for every :data:`BLOCK_S` of the recording, the loudness-weighted sums of the describer's
frame features (22 numbers for MFCCs and pitch, 129 for the demo diarizer's embedding), so a three-hour recording
needs about 9 MB or 56 MB (``bench/bench_voice_clusters.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Protocol

import numpy as np

from .speakers import cap_speakers, talk_time
from .types import SpeakerTurn

BLOCK_S = 0.1
"""Resolution of :class:`VoiceStats`: piece boundaries are rounded to it."""
PIECE_S = 2.5
"""Solo speech is cut into pieces of about this length: long enough to carry a voice, short enough that one
piece rarely holds two speakers."""
SUB_PIECE_S = 1.0
"""With a fitted space (:func:`fit_projection`), each grouped piece is checked again in parts of about this length."""
MOVE_MARGIN = 4.0
"""A part goes to another group when its voice is nearer that group's centre by more than this, in the fitted space
(where one speaker's pieces vary by one in each of its directions). Chosen on the demo diarizer's validation
conversations."""
COUNT_TWO_FROM = 5.0
"""Without a number of speakers from the user, in the fitted space: the pieces are two speakers rather than one when
splitting them into two groups (Ward) spreads them this much less (:func:`count_speakers`). One voice's pieces split
by up to about 5 (its phrases differ in pitch and pace); two voices' mostly by 6-15. Chosen on the demo diarizer's
validation conversations, in its embedding's space."""
COUNT_MORE_FROM = 4.0
"""... and one more speaker, up to :data:`COUNT_LIMIT`, while one group more spreads them at least this much less."""
COUNT_LIMIT = 4
"""Speakers are counted only up to this (the diarizers' outputs)."""
COUNT_MIN_SHARE = 0.05
"""A group left with less than this share of the talk once the parts are checked again is not a speaker of its own
(down to one): in long recordings a few odd pieces otherwise make one. Chosen on validation conversations."""
MIN_PIECE_S = 0.3
"""A shorter piece is not described on its own; it keeps the speaker its diarizer label mostly became."""
BUFFER_S = 10.0
"""Audio is described in stretches of at least this much (fewer, larger feature calls)."""
FRAME_S = 0.025
HOP_S = 0.01
COEFFICIENTS = 20
MELS = 40
PITCH_HZ = (65.0, 420.0)
PITCH_FRAME_S = 0.064
PITCH_WEIGHT = 4.0
"""Log pitch counts about as much as four MFCCs before standardising (it varies little within a voice)."""


def mfcc_frames(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, :data:`COEFFICIENTS`) MFCCs every :data:`HOP_S`, the energy coefficient left out (level does not
    count)."""
    import librosa  # only here: slow to import, and only speaker identification needs it

    return librosa.feature.mfcc(
        y=samples.astype(np.float32), sr=sample_rate, n_mfcc=COEFFICIENTS + 1, n_fft=round(FRAME_S * sample_rate),
        hop_length=round(HOP_S * sample_rate), n_mels=MELS,
    )[1:].T


class Describer(Protocol):
    """How :class:`VoiceStats` describes audio: features every :data:`HOP_S` that are summed (weighted by
    loudness) per block, and a span's voice read from their weighted means."""

    size: int
    """Features per frame."""
    dims: int
    """Numbers per voice."""

    def frames(self, samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """(frames, :attr:`size`) features and (frames,) loudness weights of ``samples``, every :data:`HOP_S`."""

    def voice(self, means: np.ndarray) -> np.ndarray:
        """(:attr:`dims`,) the voice of a span from the loudness-weighted means of its frames' features."""


class MfccPitch:
    """Voices as mean MFCCs without the energy coefficient (level does not count) and log pitch, frames weighted
    by their loudness: what tells the clean, distinct voices of synthetic speech apart, with nothing to train."""

    size = dims = COEFFICIENTS + 1

    def frames(self, samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        import librosa

        hop = round(HOP_S * sample_rate)
        mfcc = mfcc_frames(samples, sample_rate)
        pitch = librosa.yin(samples, fmin=PITCH_HZ[0], fmax=PITCH_HZ[1], sr=sample_rate,
                            frame_length=max(round(PITCH_FRAME_S * sample_rate), 4 * hop), hop_length=hop)
        loudness = librosa.feature.rms(y=samples, frame_length=round(FRAME_S * sample_rate), hop_length=hop)[0]
        n = min(len(mfcc), len(pitch), len(loudness))
        return np.column_stack([mfcc[:n], PITCH_WEIGHT * np.log(pitch[:n])]), loudness[:n]

    def voice(self, means: np.ndarray) -> np.ndarray:
        return means


class VoiceStats:
    """Loudness-weighted voice features of a recording fed in order, summed per :data:`BLOCK_S`.

    Args:
        sample_rate: Of the audio fed.
        describer: What a frame's features are and how a span's voice is read from their means: the
            loudness-weighted MFCCs and pitch of :class:`MfccPitch` (the default), or a learnt embedding
            (:class:`~.voice_embedding.LearntVoices`).
    """

    def __init__(self, sample_rate: int, describer: Describer | None = None):
        self.rate = sample_rate
        self.describer = describer or MfccPitch()
        self.block = round(BLOCK_S * sample_rate)
        self._pending: list[np.ndarray] = []
        self._pending_len = 0
        self._sums: list[np.ndarray] = []  # (blocks, features) loudness-weighted feature sums
        self._weights: list[np.ndarray] = []  # (blocks,) loudness sums
        self._joined: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, samples: np.ndarray) -> None:
        """The next audio of the recording (right after the last audio added).

        Raises:
            RuntimeError: Voices were read already (the recording's last block is closed then).
        """
        if self._joined is not None:
            raise RuntimeError("audio added to a recording whose voices were already read")
        self._pending.append(samples)
        self._pending_len += len(samples)
        if self._pending_len >= BUFFER_S * self.rate:
            self._describe(final=False)

    def span(self, start: float, end: float) -> np.ndarray | None:
        """The voice of ``start``..``end`` seconds (rounded to blocks); None where that is silent or empty. The
        first call ends the recording: no audio can be added after it."""
        sums, weights = self.blocks()
        a, b = round(start / BLOCK_S), min(round(end / BLOCK_S), len(weights))
        weight = weights[a:b].sum() if b > a else 0.0
        if weight <= 0:
            return None
        return self.describer.voice(sums[a:b].sum(axis=0, dtype=np.float64) / weight)

    def blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """Per :data:`BLOCK_S` of the recording: the loudness-weighted sums of the describer's frame features
        (blocks, ``describer.size``) and the loudness sums (blocks,). Ends the recording, as :meth:`span` does."""
        if self._pending_len:
            self._describe(final=True)
        if self._joined is None:
            sums = (np.concatenate(self._sums) if self._sums
                    else np.zeros((0, self.describer.size), dtype=np.float32))
            weights = np.concatenate(self._weights) if self._weights else np.zeros(0, dtype=np.float32)
            self._joined = (sums, weights)
            self._sums, self._weights = [sums], [weights]
        return self._joined

    def _describe(self, *, final: bool) -> None:
        audio = np.concatenate(self._pending).astype(np.float32)
        blocks = -(-len(audio) // self.block) if final else len(audio) // self.block
        audio, rest = audio[: blocks * self.block], audio[blocks * self.block :]
        self._pending, self._pending_len = ([rest], len(rest)) if len(rest) else ([], 0)
        if blocks == 0:
            return
        # The recording's last block is filled up with silence, which weighs nothing.
        audio = np.pad(audio, (0, blocks * self.block - len(audio)))
        per_block = self.block // round(HOP_S * self.rate)
        described, loudness = self.describer.frames(audio, self.rate)
        frames = blocks * per_block
        features = np.zeros((frames, self.describer.size))
        weights = np.zeros(frames)
        n = min(frames, len(loudness))
        features[:n] = described[:n]
        weights[:n] = loudness[:n]
        weighted = (features * weights[:, None]).reshape(blocks, per_block, -1)
        self._sums.append(weighted.sum(axis=1).astype(np.float32))
        self._weights.append(weights.reshape(blocks, per_block).sum(axis=1).astype(np.float32))


def solo_spans(turns: Sequence[SpeakerTurn], speaker: str) -> list[tuple[float, float]]:
    """The parts of ``speaker``'s turns where nobody else talks."""
    others = [t for t in turns if t.speaker != speaker]
    spans = []
    for turn in turns:
        if turn.speaker != speaker:
            continue
        pieces = [(turn.start, turn.end)]
        for other in others:
            pieces = [
                part
                for a, b in pieces
                for part in ((a, min(b, other.start)), (max(a, other.end), b))
                if part[1] - part[0] > 0
            ] if other.start < turn.end and other.end > turn.start else pieces
        spans += pieces
    return spans


def cut_pieces(turns: Sequence[SpeakerTurn]) -> list[SpeakerTurn]:
    """Every label's solo speech cut into about :data:`PIECE_S` pieces of equal length, in time order."""
    pieces = []
    for label in sorted({t.speaker for t in turns}):
        for a, b in solo_spans(turns, label):
            count = max(1, round((b - a) / PIECE_S))
            pieces += [SpeakerTurn(a + (b - a) * i / count, a + (b - a) * (i + 1) / count, label) for i in range(count)]
    return sorted(pieces, key=lambda t: (t.start, t.end))


def described_pieces(pieces: Sequence[SpeakerTurn], stats: VoiceStats) -> list[tuple[SpeakerTurn, np.ndarray]]:
    """The pieces long enough to describe (:data:`MIN_PIECE_S`) and not silent, each with its voice."""
    described = [(piece, stats.span(piece.start, piece.end)) for piece in pieces
                 if piece.end - piece.start >= MIN_PIECE_S]
    return [(piece, voice) for piece, voice in described if voice is not None]


class _Pieces:
    """The pieces of ``turns`` (:func:`cut_pieces`), those that can be described with their voices in the space they
    are clustered in (:func:`fit_projection`'s, else standardised within the recording), and Ward's tree over them:
    built once, whatever number of groups is then asked for."""

    def __init__(self, turns: Sequence[SpeakerTurn], stats: VoiceStats, projection: np.ndarray | None):
        self.all = cut_pieces(turns)
        self.described = described_pieces(self.all, stats)
        self.durations = np.array([piece.end - piece.start for piece, _ in self.described])
        self._projection = projection

    @property
    def fitted(self) -> bool:
        """Whether the voices are clustered in a fitted space (where parts are checked again)."""
        return self._projection is not None

    @cached_property
    def _space(self) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        raw = np.array([voice for _, voice in self.described])
        mean = raw.mean(axis=0)
        projection = self._projection
        if projection is not None:
            return (raw - mean) @ projection, lambda voice: (voice - mean) @ projection
        scale = raw.std(axis=0) + 1e-9
        return (raw - mean) / scale, lambda voice: (voice - mean) / scale

    @property
    def voices(self) -> np.ndarray:
        """The described pieces' voices in the clustering space, one row each."""
        return self._space[0]

    def place(self, voice: np.ndarray) -> np.ndarray:
        """Any voice (a span's features) in the clustering space."""
        return self._space[1](voice)

    @cached_property
    def _tree(self) -> np.ndarray:
        from scipy.cluster.hierarchy import linkage

        return linkage(self.voices, "ward")

    def groups(self, count: int) -> np.ndarray:
        """Each described piece's group (1, 2, ...) when Ward's tree is cut into ``count`` groups."""
        from scipy.cluster.hierarchy import fcluster

        return fcluster(self._tree, count, "maxclust")

    def cheapest_merge(self, count: int) -> float:
        """Of ``count`` groups, the least that merging two of them raises the spread of the voices (per second of
        speech, squared distances to the group's centre), square-rooted (:func:`count_speakers`)."""
        groups = self.groups(count)
        centres = self.centres(groups)
        share = {group: self.durations[groups == group].sum() / self.durations.sum() for group in centres}
        # Voices all alike leave Ward's tree fewer groups than asked for: nothing to merge, no speaker more.
        costs = [np.sqrt(share[a] * share[b] / (share[a] + share[b])) * np.linalg.norm(centres[a] - centres[b])
                 for i, a in enumerate(centres) for b in list(centres)[i + 1 :]]
        return float(min(costs, default=0.0))

    def centres(self, groups: np.ndarray) -> dict[int, np.ndarray]:
        """Each group's centre: its pieces' voices averaged, weighted by their durations."""
        return {group: np.average(self.voices[groups == group], axis=0, weights=self.durations[groups == group])
                for group in sorted(set(groups))}


def count_speakers(turns: Sequence[SpeakerTurn], stats: VoiceStats, projection: np.ndarray) -> int:
    """How many speakers the voices of ``turns`` show (the windows' labels count only for which speech is solo).

    Windows of a few seconds often carry one voice under two labels, or two similar voices under one; the whole
    recording's voices settle it. The pieces :func:`regroup` clusters are grouped by Ward's tree into 1, 2, 3, ...
    groups, in the fitted space (where one speaker's pieces vary by about one in each direction). Going from ``k`` to
    ``k + 1`` groups splits one group in two; how much that lowers the spread of the voices (the squared distances
    to their group's centre, per second of speech) is Ward's cost of merging the two back,
    ``share_a * share_b / (share_a + share_b) * distance(centre_a, centre_b) ** 2`` for the cheapest pair of the
    ``k + 1`` groups. Its square root, which does not grow with the length of the recording, must reach
    :data:`COUNT_TWO_FROM` for two speakers rather than one and :data:`COUNT_MORE_FROM` for each one more, up to
    :data:`COUNT_LIMIT`. A small group of a voice far from the rest thus counts as a speaker, and so do two large
    groups of voices somewhat closer together; a recording of one voice, whose pieces vary in pitch and pace, stays
    one speaker.
    """
    return _count(turns, _Pieces(turns, stats, projection))


def _count(turns: Sequence[SpeakerTurn], pieces: _Pieces) -> int:
    found = len({t.speaker for t in turns})
    if found < 1 or len(pieces.described) <= 2:
        return found
    speakers = 1
    while (speakers < min(COUNT_LIMIT, len(pieces.described) - 1)
           and pieces.cheapest_merge(speakers + 1) >= (COUNT_TWO_FROM if speakers == 1 else COUNT_MORE_FROM)):
        speakers += 1
    return speakers


def regroup_counting(turns: Sequence[SpeakerTurn], stats: VoiceStats, projection: np.ndarray) -> list[SpeakerTurn]:
    """:func:`regroup` into as many speakers as :func:`count_speakers` finds; where fewer than that many are left
    with :data:`COUNT_MIN_SHARE` of the talk once the parts are checked again, into one fewer (down to one). Scraps
    of a few tenths of a second that keep a label of their own (a label none of whose pieces could be described)
    then go to the speaker of the nearest turn, as when the user gives the number. The pieces are described, and
    Ward's tree built, once for all of it."""
    pieces = _Pieces(turns, stats, projection)
    speakers = _count(turns, pieces)
    while True:
        named = _regroup(turns, stats, pieces, speakers)
        talk = talk_time(named)
        substantial = sum(time >= COUNT_MIN_SHARE * sum(talk.values()) for time in talk.values())
        if speakers <= 1 or substantial >= speakers:
            return cap_speakers(named, speakers)
        speakers -= 1


def regroup(turns: Sequence[SpeakerTurn], stats: VoiceStats, speakers: int, *,
            projection: np.ndarray | None = None) -> list[SpeakerTurn]:
    """``turns`` with their speakers named again by voice, as ``speakers`` groups over the whole recording.

    Solo speech is cut into pieces and clustered (module docstring); speech where labels overlap, and pieces too
    short to describe, go to the group most of their label's pieces went to. With one label or one speaker asked
    for, or too few pieces to group, ``turns`` come back unchanged. Labels are ``spk0``, ``spk1``, ... in order of
    first appearance.

    Args:
        projection: (features, dims) from :func:`fit_projection`: the pieces' features, less the recording's mean,
            are clustered in its space. Without one, each feature is standardised within the recording.
    """
    return _regroup(turns, stats, _Pieces(turns, stats, projection), speakers)


def _regroup(turns: Sequence[SpeakerTurn], stats: VoiceStats, pieces: _Pieces, speakers: int) -> list[SpeakerTurn]:
    described = pieces.described
    if speakers < 2 or len({t.speaker for t in turns}) < 2 or len(described) <= speakers:
        return list(turns)
    members = pieces.groups(speakers)
    groups = [f"group{g}" for g in members]
    time_in_group: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (piece, _), group, duration in zip(described, groups, pieces.durations, strict=True):
        time_in_group[piece.speaker][group] += duration
    # A label none of whose pieces could be described stays a speaker of its own.
    became = {label: max(sorted(counts), key=counts.__getitem__) for label, counts in time_in_group.items()}
    placed = {(piece.start, piece.end): group for (piece, _), group in zip(described, groups, strict=True)}
    named = [SpeakerTurn(p.start, p.end, placed.get((p.start, p.end)) or became.get(p.speaker, p.speaker))
             for p in pieces.all]
    if pieces.fitted:
        centres = {f"group{group}": centre for group, centre in pieces.centres(members).items()}
        named = _moved_to_nearer_voices(named, stats, pieces.place, centres)
    for turn in turns:  # speech where labels overlap: each label's part goes to the group that label became
        named += [SpeakerTurn(a, b, became.get(turn.speaker, turn.speaker)) for a, b in _shared_parts(turn, turns)]
    return _named_in_order(named)


def _moved_to_nearer_voices(named: list[SpeakerTurn], stats: VoiceStats, place: Callable[[np.ndarray], np.ndarray],
                            centres: dict[str, np.ndarray]) -> list[SpeakerTurn]:
    """Each piece cut again into about :data:`SUB_PIECE_S`; a part whose voice is nearer another group's centre by
    more than :data:`MOVE_MARGIN` goes to that group (a piece that straddles a change of speaker the diarizer
    missed is split at about the change)."""
    moved = []
    for piece in named:
        count = max(1, round((piece.end - piece.start) / SUB_PIECE_S))
        for i in range(count):
            part = SpeakerTurn(piece.start + (piece.end - piece.start) * i / count,
                               piece.start + (piece.end - piece.start) * (i + 1) / count, piece.speaker)
            voice = stats.span(part.start, part.end) if part.end - part.start >= MIN_PIECE_S else None
            if voice is None or part.speaker not in centres:
                moved.append(part)
                continue
            distance = {group: float(np.linalg.norm(place(voice) - centre)) for group, centre in centres.items()}
            nearest = min(sorted(distance), key=distance.__getitem__)
            better = distance[nearest] + MOVE_MARGIN < distance[part.speaker]
            moved.append(SpeakerTurn(part.start, part.end, nearest) if better else part)
    return moved


def _shared_parts(turn: SpeakerTurn, turns: Sequence[SpeakerTurn]) -> list[tuple[float, float]]:
    """The parts of ``turn`` where another label talks too."""
    return [(max(turn.start, other.start), min(turn.end, other.end)) for other in turns
            if other.speaker != turn.speaker and other.start < turn.end and other.end > turn.start]


def _named_in_order(turns: list[SpeakerTurn]) -> list[SpeakerTurn]:
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    names: dict[str, str] = {}
    for turn in ordered:
        names.setdefault(turn.speaker, f"spk{len(names)}")
    return [SpeakerTurn(t.start, t.end, names[t.speaker]) for t in ordered]


def fit_projection(recordings: Sequence[tuple[np.ndarray, Sequence[str]]], dims: int) -> np.ndarray:
    """A linear map of voice features under which the speakers of one recording lie far apart and each speaker's
    pieces close together (linear discriminant analysis within recordings).

    Args:
        recordings: Per recording, its pieces' features (pieces, features) and each piece's speaker.
        dims: How many directions to keep, the most telling first.

    Returns:
        (features, dims): the pieces' features, less their recording's mean, times this matrix have a within-speaker
        covariance of one in every direction, so distances mean the same in every recording.
    """
    from scipy.linalg import eigh

    size = recordings[0][0].shape[1]
    within, between, count = np.zeros((size, size)), np.zeros((size, size)), 0
    for features, speakers in recordings:
        centred = features - features.mean(axis=0)
        labels = np.asarray(speakers)
        for speaker in sorted(set(speakers)):
            own = centred[labels == speaker]
            mean = own.mean(axis=0)
            within += (own - mean).T @ (own - mean)
            between += len(own) * np.outer(mean, mean)
        count += len(features)
    ridge = 1e-6 * np.trace(within) / size * np.eye(size)
    values, vectors = eigh(between / count, within / count + ridge)
    return vectors[:, np.argsort(values)[::-1][:dims]]
