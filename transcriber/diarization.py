"""Who speaks when, with NVIDIA's Sortformer diarizers (NeMo ``SortformerEncLabelModel``).

The diarizer gets the same decoded audio as the recognizer, as arrays with ``sample_rate`` (never a path), and is
called as ``diarize(audio, sample_rate=..., batch_size=1, ...)`` with direct keyword arguments, never
``override_config``. Batch size 1: offline Sortformers scale a batch by its loudest item, which would let one
window's level change another's.

Long audio is diarized in windows of the model's own session length (``session_len_sec`` in its config, 90 s for
NVIDIA's models, which were trained on 90 s sessions; ``diarization_window_sec`` where a model works better in
shorter ones) overlapping by :data:`OVERLAP_S`. A diarizer numbers speakers
per window, so :class:`SpeakerTracker` matches each window's speakers to the speakers heard so far: first by their
agreement on the overlap (who is talking there in both windows), then, for a speaker silent in the overlap, by a
voice profile (the mean MFCCs of the frames where that speaker alone talks) against the profiles of everyone heard
so far. The feeder holds about two windows of audio (and the piece being handed over), so memory stays flat
however long the recording.

A diarizer whose config asks for it (``diarization_voice_clusters``; the demo diarizer) also has its labels named
again by voice over the whole recording once every window is done (:mod:`.voice_clusters`).

The streaming model (``diar_streaming_sortformer_4spk-v2``) runs in its streaming mode inside each window with the
settings its model card gives for the best accuracy (:data:`STREAMING_SETTINGS`); its speaker cache keeps labels
consistent inside a window, the tracker across windows.

The encoder's self-attention runs as one fused PyTorch call (:func:`set_fused_attention`): the same results, and about
a tenth less time on a CPU in a diarizer's long windows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ModelLoadError
from .models import ModelSource
from .nemo_models import prepare_nemo_import, quiet_restore, restore_or_download
from .types import SpeakerTurn
from .voice_clusters import (
    COEFFICIENTS,
    FRAME_S,
    Describer,
    MfccPitch,
    VoiceStats,
    mfcc_frames,
    regroup,
    regroup_counting,
    solo_spans,
)

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 90.0
"""Session length of a diarizer whose config does not give one (NVIDIA's Sortformers train on 90 s)."""
OVERLAP_S = 15.0
"""Audio shared by neighbouring diarization windows: where their speakers are matched and the seam is cut."""
MIN_AGREEMENT_S = 0.5
"""Two windows' speakers are the same person when they talk together in the overlap for at least this long."""
PROFILE_MATCH = 0.9
"""A speaker silent in the overlap is someone heard before when their voice profiles' cosine similarity reaches
this; otherwise a new speaker."""
MIN_PROFILE_S = 1.0
"""A voice profile needs at least this much solo speech."""
STREAMING_SETTINGS = {
    "chunk_len": 340,
    "chunk_right_context": 40,
    "chunk_left_context": 1,
    "fifo_len": 40,
    "spkcache_update_period": 300,
    "spkcache_len": 188,
}
"""The streaming diarizer's settings for its highest-accuracy operating point (its model card's 30.4 s latency)."""
SEGMENT_LINE = re.compile(r"^\s*([0-9.]+)\s+([0-9.]+)\s+(\S+)\s*$")


def load_diarizer(source: ModelSource, device: str) -> Any:
    """Load a NeMo Sortformer diarizer: ``restore_from`` for a local file, ``from_pretrained`` otherwise.

    Raises:
        ModelNotAvailableError: The diarizer is not local and could not be downloaded.
        ModelLoadError: The file is not a NeMo diarizer NeMo can load.
    """
    prepare_nemo_import()
    from nemo.collections.asr.models import SortformerEncLabelModel
    from nemo.core.classes.modelPT import ModelPT

    label = source.path.name if source.path is not None else source.name
    # restore_from of ModelPT builds whatever class the file holds, so a file of another kind is named below.
    with quiet_restore():
        model = restore_or_download(source, device, ModelPT.restore_from, SortformerEncLabelModel.from_pretrained,
                                    what="Diarizer file")
    if not isinstance(model, SortformerEncLabelModel):
        raise ModelLoadError(
            f"{label} is not a speaker diarization model (its class is {type(model).__name__}); "
            f"choose a Sortformer diarizer such as nvidia/diar_streaming_sortformer_4spk-v2."
        )
    _check_voices(model, label)
    if model.cfg.get("streaming_mode", False):
        for name, value in STREAMING_SETTINGS.items():
            setattr(model.sortformer_modules, name, value)
    set_fused_attention(model, True)
    model.eval()
    return model


def set_fused_attention(model: Any, fused: bool) -> int:
    """Run the FastConformer encoder's self-attention as PyTorch's fused ``scaled_dot_product_attention`` (NeMo's own
    ``use_pytorch_sdpa`` encoder option, set on the loaded layers) or as NeMo's step-by-step attention; returns how
    many attention layers were set.

    Both compute the same thing (outputs agree to about 1e-6). The fused call does not hold the scores and
    probabilities of every pair of frames in memory one after the other, which is what a diarizer's window of up to
    90 s (over 1,100 frames) spends much of its time on: a Sortformer of the released size takes about a tenth
    less time per 90 s window on this CPU (3.9 s against 4.4 s; ``bench/README.md``). Recognizers keep NeMo's default:
    in their 30 s windows it made no difference.
    """
    from nemo.collections.asr.parts.submodules.multi_head_attention import (
        MultiHeadAttention,
        RelPositionMultiHeadAttention,
    )

    layers = [m for m in model.modules() if type(m) in (MultiHeadAttention, RelPositionMultiHeadAttention)]
    for layer in layers:
        layer.use_pytorch_sdpa = fused
    encoder = getattr(model, "encoder", None)
    if encoder is not None and hasattr(encoder, "use_pytorch_sdpa"):
        encoder.use_pytorch_sdpa = fused  # what layers it builds later (change_attention_model) use
    return len(layers)


def capacity(model: Any) -> int:
    """How many speakers the diarizer can tell apart (its number of outputs)."""
    return int(model.sortformer_modules.n_spk)


def window_seconds(model: Any) -> float:
    """The length of audio the diarizer takes at once: the window its config names (``diarization_window_sec``, for a
    model measured to label speakers better in shorter windows than it trained on), else its training session
    length."""
    cfg = model.cfg
    train_ds = cfg.get("train_ds") or {}
    for value in (cfg.get("diarization_window_sec"), cfg.get("session_len_sec"), train_ds.get("session_len_sec")):
        if value:
            return float(value)
    return DEFAULT_WINDOW_S


def voice_clustering(model: Any) -> bool:
    """Whether the diarizer's config asks for its labels to be regrouped by voice over the whole recording
    (``diarization_voice_clusters``; :mod:`.voice_clusters`), an option measured for the model that sets it."""
    return bool(model.cfg.get("diarization_voice_clusters", False))


def voice_projection(model: Any) -> np.ndarray | None:
    """The map of voice features the regrouping clusters in, where the diarizer's config has one
    (``diarization_voice_projection``, fitted on its training voices: :func:`~.voice_clusters.fit_projection`)."""
    rows = model.cfg.get("diarization_voice_projection")
    return None if rows is None else np.array([list(row) for row in rows], dtype=np.float64)


def voice_describer(model: Any) -> Describer:
    """How the regrouping describes voices: by the learnt embedding in the diarizer's config
    (``diarization_voice_embedding``, :mod:`.voice_embedding`), else by MFCCs and pitch.

    Raises:
        ValueError: The config's embedding is not one.
    """
    text = model.cfg.get("diarization_voice_embedding")
    if not text:
        return MfccPitch()
    if not isinstance(text, str):
        raise ValueError(f"a {type(text).__name__}, not text")
    from .voice_embedding import LearntVoices

    return LearntVoices(text)


def _check_voices(model: Any, label: str) -> None:
    try:
        describer = voice_describer(model)
    except ValueError as error:
        raise ModelLoadError(f"{label}: its diarization_voice_embedding cannot be used: {error}.") from error
    try:
        projection = voice_projection(model)
    except (TypeError, ValueError) as error:
        raise ModelLoadError(
            f"{label}: its diarization_voice_projection is not a table of numbers ({error})."
        ) from error
    if projection is not None and (projection.ndim != 2 or projection.shape[0] != describer.dims
                                   or not np.isfinite(projection).all()):
        raise ModelLoadError(
            f"{label}: its diarization_voice_projection must be {describer.dims} rows of finite numbers (one per "
            f"number that describes a voice); it has shape {projection.shape}."
        )


def parse_segments(lines: Sequence[str]) -> list[SpeakerTurn]:
    """NeMo's ``"start end speaker_N"`` strings (grouped by speaker) as turns in time order.

    Raises:
        ValueError: A line is not of that shape.
    """
    turns = []
    for line in lines:
        match = SEGMENT_LINE.match(str(line))
        if match is None:
            raise ValueError(f"unexpected diarizer output line {line!r}")
        start, end = float(match[1]), float(match[2])
        if end > start:
            turns.append(SpeakerTurn(start, end, match[3]))
    return sorted(turns, key=lambda turn: (turn.start, turn.end, turn.speaker))


def diarize_window(model: Any, samples: np.ndarray, sample_rate: int) -> list[SpeakerTurn]:
    """One window through ``model.diarize()``: its turns, times relative to the window."""
    output = model.diarize(
        audio=[samples],
        sample_rate=sample_rate,
        batch_size=1,
        include_tensor_outputs=False,
        num_workers=0,
        verbose=False,
    )
    return parse_segments(output[0])


def voice_profile(samples: np.ndarray, sample_rate: int, spans: Sequence[tuple[float, float]]) -> np.ndarray | None:
    """Mean MFCCs (without the energy coefficient, so level does not count) over ``spans`` of ``samples``."""
    pieces = [samples[round(a * sample_rate) : round(b * sample_rate)] for a, b in spans]
    pieces = [p for p in pieces if len(p) >= FRAME_S * sample_rate * 4]
    if sum(len(p) for p in pieces) < MIN_PROFILE_S * sample_rate:
        return None
    profile = np.concatenate([mfcc_frames(piece, sample_rate) for piece in pieces]).mean(axis=0)
    return profile / (np.linalg.norm(profile) + 1e-9)


def _overlap(a: SpeakerTurn, b: SpeakerTurn, start: float, end: float) -> float:
    return max(0.0, min(a.end, b.end, end) - max(a.start, b.start, start))


@dataclass
class SpeakerTracker:
    """Joins the turns of consecutive, overlapping diarization windows under one set of labels.

    Windows must come in time order. Labels are ``spk0``, ``spk1``, ... in order of appearance (the engine renames
    them ``S1``, ``S2``, ... by the words later).
    """

    turns: list[SpeakerTurn] = field(default_factory=list)
    profiles: dict[str, tuple[np.ndarray, float]] = field(default_factory=dict)
    _previous: list[SpeakerTurn] = field(default_factory=list)
    _previous_end: float = 0.0
    _labels: int = 0

    def add(self, offset: float, local: Sequence[SpeakerTurn], samples: np.ndarray, sample_rate: int) -> None:
        """Add one window's turns (relative to ``offset``), heard in ``samples``."""
        local = [SpeakerTurn(t.start + offset, t.end + offset, t.speaker) for t in local]
        names = self._match(offset, local, samples, sample_rate)
        labelled = [SpeakerTurn(t.start, t.end, names[t.speaker]) for t in local]
        cut = (offset + self._previous_end) / 2 if self._previous and offset < self._previous_end else offset
        kept = [t for t in self.turns if t.start < cut]
        self.turns = [SpeakerTurn(t.start, min(t.end, cut), t.speaker) for t in kept]
        self.turns += [SpeakerTurn(max(t.start, cut), t.end, t.speaker) for t in labelled if t.end > cut]
        self._update_profiles(offset, labelled, samples, sample_rate)
        self._previous, self._previous_end = labelled, offset + len(samples) / sample_rate

    def _match(self, offset: float, local: list[SpeakerTurn], samples: np.ndarray, rate: int) -> dict[str, str]:
        from scipy.optimize import linear_sum_assignment

        speakers = sorted({t.speaker for t in local}, key=lambda s: min(t.start for t in local if t.speaker == s))
        names: dict[str, str] = {}
        if self._previous and offset < self._previous_end:
            before = sorted({t.speaker for t in self._previous})
            agreement = np.array([
                [sum(_overlap(a, b, offset, self._previous_end) for a in local if a.speaker == new
                     for b in self._previous if b.speaker == old) for old in before]
                for new in speakers
            ])
            if agreement.size:
                rows, cols = linear_sum_assignment(-agreement)
                for row, col in zip(rows, cols, strict=True):
                    if agreement[row, col] >= MIN_AGREEMENT_S:
                        names[speakers[row]] = before[col]
        taken = set(names.values())
        for speaker in speakers:
            if speaker in names:
                continue
            profile = voice_profile(samples, rate, [(a - offset, b - offset) for a, b in solo_spans(local, speaker)])
            best, similarity = None, PROFILE_MATCH
            if profile is not None:
                for label, (known, _) in self.profiles.items():
                    score = float(known @ profile / (np.linalg.norm(known) + 1e-9))
                    if label not in taken and score >= similarity:
                        best, similarity = label, score
            if best is None:
                best, self._labels = f"spk{self._labels}", self._labels + 1
            names[speaker] = best
            taken.add(best)
        return names

    def _update_profiles(self, offset: float, labelled: list[SpeakerTurn], samples: np.ndarray, rate: int) -> None:
        for label in {t.speaker for t in labelled}:
            spans = [(a - offset, b - offset) for a, b in solo_spans(labelled, label)]
            profile = voice_profile(samples, rate, spans)
            if profile is None:
                self.profiles.setdefault(label, (np.zeros(COEFFICIENTS), 0.0))
                continue
            weight = sum(b - a for a, b in spans)
            known, known_weight = self.profiles.get(label, (np.zeros_like(profile), 0.0))
            self.profiles[label] = ((known * known_weight + profile * weight) / (known_weight + weight),
                                    known_weight + weight)


class WindowFeeder:
    """Diarizes audio handed over in pieces (the recognizer's overlapping windows, in order) in windows of
    ``window_s`` overlapping by :data:`OVERLAP_S`, holding only about two windows of audio at a time.

    Every window is a full one: the last ends with the recording and starts a full window before it (it overlaps its
    neighbour by more than :data:`OVERLAP_S`), because a short tail window hears too little to tell voices apart.

    Args:
        window_s: The diarizer's window (:func:`window_seconds`).
        sample_rate: Of the audio fed.
        diarize: Turns of one window's samples (relative times); the engine's guarded model call.
        regroup_voices: Also keep the voice features of the whole recording, and name the speakers again by voice
            when it is done (:func:`voice_clustering`; :mod:`.voice_clusters`).
        projection: The space the voices are grouped in (:func:`voice_projection`).
        describer: How voices are described (:func:`voice_describer`); MFCCs and pitch by default.
    """

    def __init__(self, window_s: float, sample_rate: int, diarize: Callable[[np.ndarray], list[SpeakerTurn]], *,
                 regroup_voices: bool = False, projection: np.ndarray | None = None,
                 describer: Describer | None = None):
        self.window = round(window_s * sample_rate)
        self.hop = round((window_s - min(OVERLAP_S, window_s / 2)) * sample_rate)
        self.rate = sample_rate
        self.diarize = diarize
        self.tracker = SpeakerTracker()
        self.voices = VoiceStats(sample_rate, describer) if regroup_voices else None
        self.projection = projection
        self._audio = np.zeros(0, dtype=np.float32)
        self._audio_start = 0  # sample index of _audio[0]: the start of the last window diarized, or 0
        self._next = 0  # sample index where the next full window starts
        self._covered = 0  # samples fed so far
        self._last_end = 0  # end of the last window diarized, in samples

    def feed(self, offset_s: float, samples: np.ndarray) -> None:
        """Hand over audio that starts ``offset_s`` into the recording (it may repeat the end of the last piece)."""
        start = round(offset_s * self.rate)
        fresh = samples[max(0, self._covered - start) :]
        if start > self._covered:  # a gap (not expected from the engine): silence keeps times in place
            fresh = np.concatenate((np.zeros(start - self._covered, dtype=np.float32), fresh))
        if self.voices is not None:
            self.voices.add(fresh)
        self._audio = np.concatenate((self._audio, fresh))
        self._covered += len(fresh)
        while self._covered > self._next + self.window:  # a full window, and more audio after it
            self._run(self._next)
            self._next += self.hop
            # The last window run is kept: the final window may start anywhere after it.
            self._audio = self._audio[self._next - self.hop - self._audio_start :]
            self._audio_start = self._next - self.hop

    def finish(self, num_speakers: int | None = None) -> list[SpeakerTurn]:
        """Diarize what is left; the turns of the whole recording under one set of labels.

        Args:
            num_speakers: How many speakers there are, where the user said so: the voices are regrouped into that
                many (else into as many as the voices show in the fitted space, :func:`.regroup_counting`, or without
                one as many as the windows found). Only with ``regroup_voices``.
        """
        if self._covered > self._last_end:
            self._run(max(0, self._covered - self.window))
        turns = self.tracker.turns
        if self.voices is None:
            return turns
        if num_speakers is None and self.projection is not None:
            return regroup_counting(turns, self.voices, self.projection)
        return regroup(turns, self.voices, num_speakers or len({turn.speaker for turn in turns}),
                       projection=self.projection)

    @classmethod
    def for_model(cls, model: Any, sample_rate: int, diarize: Callable[[np.ndarray], list[SpeakerTurn]], *,
                  window_s: float | None = None) -> WindowFeeder:
        """A feeder as the diarizer's config asks: its window (unless ``window_s`` is given, to try another), and
        whether (how described, and in what space) voices are regrouped."""
        regroup_voices = voice_clustering(model)
        return cls(window_s or window_seconds(model), sample_rate, diarize, regroup_voices=regroup_voices,
                   projection=voice_projection(model), describer=voice_describer(model) if regroup_voices else None)

    def _run(self, start: int) -> None:
        end = min(start + self.window, self._covered)
        samples = self._audio[start - self._audio_start : end - self._audio_start]
        self.tracker.add(start / self.rate, self.diarize(samples), samples, self.rate)
        self._last_end = end
