"""The transcription pipeline: files in, :class:`~transcriber.types.Transcript` out, one step after another.

The steps live in modules of their own, and this one reads as their order: decode (:mod:`.audio`), cut long audio
into windows (:mod:`.windows`), call the model under the watchdog (:mod:`.recognizer`, models from
:mod:`.nemo_models`), turn hypotheses into transcripts (:mod:`.hypotheses`), snap word boundaries to the speech
(:mod:`.alignment`), stitch windows, and, when asked, identify speakers (:mod:`.diarization`, :mod:`.speakers`).

Three decisions shape it:

* ``model.transcribe()`` gets direct keyword arguments (``batch_size``, ``num_workers=0``, ``return_hypotheses=True``,
  ``timestamps``, ``verbose``) and never ``override_config``: when that is given NeMo ignores every other argument,
  so timestamps silently vanish.
* NeMo gets decoded float32 arrays, never paths. Given paths, NeMo writes a manifest into the temporary folder and one
  unreadable file aborts the whole batch; decoding ourselves gives each bad file its own error.
* A long file is decoded while it is transcribed, about :data:`CALL_MAX_AUDIO_S` of windows per ``transcribe()``
  call, and only the words of the windows already done are kept: memory does not grow with the recording's length.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .audio import AudioReader, load_audio
from .diarization import WindowFeeder, capacity, diarize_window, load_diarizer
from .errors import (
    SpeakerOptionsError,
    TranscriptionFailedError,
    TranscriptionTimeoutError,
)
from .model_cache import LoadedModel, ModelCache, pick_device
from .models import ModelSource, default_diarizer, hears_its_training_length
from .speakers import with_speakers
from .nemo_models import load_nemo_model, load_nemo_model_int8
from .types import AUTO_LANGUAGE, MAX_SPEAKERS, AudioData, FileResult, Progress, SpeakerTurn, TranscribeOptions, Transcript
from .file_job import FileJob
from .guarded import call_guarded
from .recognizer import Piece, transcribe_pieces
from .watchdog import Guard, run_watched, time_bound
from . import gpu, windows

logger = logging.getLogger(__name__)

MODEL_LOAD_TIMEOUT_S = 1800.0
"""A download of a large model over a slow line may take this long."""
GROUP_BATCHES = 8
"""Batches handed to one ``transcribe()`` call: each call has fixed set-up costs, so fewer calls are faster."""
CALL_MAX_AUDIO_S = 600.0
"""Audio handed to one ``transcribe()`` call, rounded up to whole batches. It bounds the decoded audio held at once
and what NeMo holds for it (features, hypotheses), so memory stays flat however long the recording."""

ProgressCallback = Callable[[Progress], None]


def _groups(pieces: Iterable[Piece], batch_size: int) -> Iterator[list[Piece]]:
    """``pieces`` in consecutive groups of whole batches holding about :data:`CALL_MAX_AUDIO_S` of audio each, taken
    from ``pieces`` only as each group is needed."""
    group: list[Piece] = []
    seconds = 0.0
    for piece in pieces:
        group.append(piece)
        seconds += piece.audio.duration
        if seconds >= CALL_MAX_AUDIO_S and len(group) % batch_size == 0:
            yield group
            group, seconds = [], 0.0
    if group:
        yield group


def _shift_item(on_piece: Callable[[int, int, int], None], item: int, _: int, part: int, parts: int) -> None:
    """Report a window of a file retried on its own under the file's index in the whole batch."""
    on_piece(item, part, parts)


def _shift_speakers(on_speakers: Callable[[int], None], item: int, _: int) -> None:
    """Report diarizing a file retried on its own under the file's index in the whole batch."""
    on_speakers(item)


def _stamped(transcript: Transcript, options: TranscribeOptions) -> Transcript:
    """``transcript`` with the language and translation it was asked for recorded."""
    return replace(transcript, language=options.language or AUTO_LANGUAGE, translated_to=options.translate_to)


class Engine:
    """Transcribes audio with cached NeMo models.

    Args:
        device: ``"cpu"``, ``"cuda"``, or ``None`` for CUDA when available.
        int8: Quantise models to int8 when they run on the CPU (:func:`quantize_int8`).
        loader: Loads a model from a source onto a device; tests may wrap the real NeMo loader. Default:
            :func:`load_nemo_model`, or :func:`load_nemo_model_int8` with ``int8``.
        diarizer_loader: Loads a diarizer the same way. Default: :func:`~transcriber.diarization.load_diarizer`.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` on CUDA; ``None``: bf16, or fp16 on GPUs without bf16
            (:func:`~transcriber.gpu.effective_precision`). The CPU always runs fp32.
    """

    def __init__(
        self,
        *,
        device: str | None = None,
        int8: bool = False,
        loader: Callable[[ModelSource, str], Any] | None = None,
        diarizer_loader: Callable[[ModelSource, str], Any] | None = None,
        precision: str | None = None,
    ):
        self.device = device
        self.int8 = int8
        self.precision = gpu.check_precision(precision)
        self.cache: ModelCache[Any] = ModelCache(loader or (load_nemo_model_int8 if int8 else load_nemo_model))
        self.diarizers: ModelCache[Any] = ModelCache(diarizer_loader or load_diarizer)

    def load_diarizer(self, name: str, *, cancel: threading.Event | None = None) -> LoadedModel[Any]:
        """The cached diarizer, loading it first if needed (cancellable; bounded by :data:`MODEL_LOAD_TIMEOUT_S`)."""
        device = pick_device(self.device)
        if self.diarizers.is_loaded(name, device):
            return self.diarizers.get(name, device)
        return run_watched(
            lambda: self.diarizers.get(name, device),
            timeout=MODEL_LOAD_TIMEOUT_S,
            cancel=cancel,
            what=f"Loading diarizer {name}",
        )

    def prepare_speakers(self, options: TranscribeOptions, cancel: threading.Event | None = None) -> TranscribeOptions:
        """Check the speaker options and load the diarizer; returns the options with the diarizer named and word
        timings on (speakers are given to words by their times).

        Raises:
            SpeakerOptionsError: ``num_speakers`` is out of range or above what the diarizer can tell apart.
            ModelNotAvailableError, ModelLoadError: The diarizer cannot be had.
        """
        count = options.num_speakers
        if count is not None and not 1 <= count <= MAX_SPEAKERS:
            raise SpeakerOptionsError(f"The number of speakers must be between 1 and {MAX_SPEAKERS}; got {count}.")
        name = options.diarizer or default_diarizer()
        loaded = self.load_diarizer(name, cancel=cancel)
        if count is not None and count > capacity(loaded.model):
            raise SpeakerOptionsError(
                f"Diarizer {name} tells apart at most {capacity(loaded.model)} speakers; {count} were asked for."
            )
        return replace(options, diarizer=name, timestamps=True)

    def _speaker_feeder(
        self, options: TranscribeOptions, source: str, sample_rate: int, cancel: threading.Event | None,
        on_window: Callable[[], None] | None,
    ) -> WindowFeeder:
        """A feeder whose windows go through the diarizer in guarded calls (see :class:`WindowFeeder`)."""
        name = options.diarizer or default_diarizer()
        loaded = self.load_diarizer(name, cancel=cancel)
        what = f"{Path(source).name}: identifying speakers"

        def diarize(samples: np.ndarray) -> list[SpeakerTurn]:
            if on_window is not None:
                on_window()
            return call_guarded(
                self.diarizers, name, loaded, lambda model: diarize_window(model, samples, sample_rate),
                bound=time_bound(len(samples) / sample_rate, options), cancel=cancel, what=what, guard=Guard(),
                failure="identifying speakers",
            )

        return WindowFeeder.for_model(loaded.model, sample_rate, diarize)

    def load(
        self, model: str, *, cancel: threading.Event | None = None, progress: ProgressCallback | None = None
    ) -> LoadedModel[Any]:
        """The cached model, loading it first if needed (cancellable; bounded by :data:`MODEL_LOAD_TIMEOUT_S`)."""
        device = pick_device(self.device)
        if self.cache.is_loaded(model, device):
            return self.cache.get(model, device)
        if progress is not None:
            progress(Progress(0, 1, f"Loading model {model}"))
        return run_watched(
            lambda: self.cache.get(model, device),
            timeout=MODEL_LOAD_TIMEOUT_S,
            cancel=cancel,
            what=f"Loading model {model}",
        )

    def limits(self, model: str, *, cancel: threading.Event | None = None) -> windows.Limits:
        """How ``model`` takes long audio (:func:`windows.limits_for`), loading it first if needed."""
        loaded = self.load(model, cancel=cancel)
        return windows.limits_for(loaded.model, within_training=hears_its_training_length(loaded.source))

    def transcribe_arrays(
        self,
        audios: Sequence[AudioData],
        *,
        model: str,
        options: TranscribeOptions = TranscribeOptions(),
        cancel: threading.Event | None = None,
        on_piece: Callable[[int, int, int], None] | None = None,
        on_speakers: Callable[[int], None] | None = None,
    ) -> list[Transcript]:
        """Transcribe decoded audio in guarded ``model.transcribe()`` calls; results keep input order.

        Long audio is split into overlapping windows that are batched with the rest and stitched afterwards. Each call
        gets about :data:`CALL_MAX_AUDIO_S` of audio, so a short batch is one call.

        With ``options.speakers`` each input is then diarized and its words get their speakers.

        Args:
            on_piece: Called before each batch with (input index, window number from 0, windows of that input).
            on_speakers: Called with the input index before each diarization window of that input.

        Raises:
            TranscriptionTimeoutError: A call ran past its time bound (the model is then reloaded next time).
            TranscriptionCancelledError: ``cancel`` was set.
            TranscriptionFailedError: NeMo raised.
        """
        if options.speakers:
            options = self.prepare_speakers(options, cancel)
        pieces = []
        limits = self.limits(model, cancel=cancel)
        for item, audio in enumerate(audios):
            cut = windows.split_windows(audio, limits)
            pieces += [
                Piece(item, offset, part, len(cut), len(cut) > 1, window)
                for part, (offset, window) in enumerate(cut)
            ]
        parts: list[list[tuple[float, float, Transcript]]] = [[] for _ in audios]
        for piece, transcript in self._transcribe_grouped(pieces, model, options, cancel, on_piece):
            parts[piece.item].append((piece.offset, piece.audio.duration, transcript))
        transcripts = [
            windows.merge_windows(item_parts, audio.duration, model, options.timestamps)
            for item_parts, audio in zip(parts, audios, strict=True)
        ]
        if not options.speakers:
            return [_stamped(transcript, options) for transcript in transcripts]
        labelled = []
        for item, (audio, transcript) in enumerate(zip(audios, transcripts, strict=True)):
            feeder = self._speaker_feeder(options, audio.source, audio.sample_rate, cancel,
                                          None if on_speakers is None else partial(on_speakers, item))
            feeder.feed(0.0, audio.samples)
            turns = feeder.finish(options.num_speakers)
            labelled.append(with_speakers(transcript, turns, num_speakers=options.num_speakers))
        return [_stamped(transcript, options) for transcript in labelled]

    def transcribe_stream(
        self,
        reader: AudioReader,
        head: np.ndarray,
        *,
        model: str,
        options: TranscribeOptions,
        cancel: threading.Event | None,
        on_piece: Callable[[int, int, int], None],
        on_speakers: Callable[[], None] | None = None,
    ) -> Transcript:
        """Transcribe a long recording window by window as ``reader`` decodes it, ``head`` being what it gave so far.

        Only one group of windows (:data:`CALL_MAX_AUDIO_S`) is in memory at a time, and the words of the windows
        done, so memory does not grow with the length of the recording. With ``options.speakers`` the same windows
        are handed to the diarizer as they pass (:class:`~transcriber.diarization.WindowFeeder`).

        Raises:
            AudioError: The file breaks part way in a way that loses its audio (NaN samples).
            TranscriptionTimeoutError, TranscriptionCancelledError, TranscriptionFailedError: As in
                :meth:`transcribe_arrays`.
        """
        limits = self.limits(model, cancel=cancel)
        estimate = windows.window_count(reader.estimated_duration, limits) if reader.estimated_duration else 0
        stream = windows.stream_windows(windows.prepended(head, reader.read), reader.sample_rate, reader.source,
                                        limits)
        del head
        pieces = (
            Piece(0, offset, part, max(estimate, part + 1), True, window)
            for part, (offset, window) in enumerate(stream)
        )
        feeder = None
        if options.speakers:
            feeder = self._speaker_feeder(options, reader.source, reader.sample_rate, cancel, on_speakers)
        parts: list[tuple[float, float, Transcript]] = []
        for piece, transcript in self._transcribe_grouped(pieces, model, options, cancel, on_piece):
            parts.append((piece.offset, piece.audio.duration, transcript))
            if feeder is not None:
                feeder.feed(piece.offset, piece.audio.samples)
        merged = windows.merge_windows(parts, reader.position / reader.sample_rate, model, options.timestamps)
        if feeder is None:
            return _stamped(merged, options)
        turns = feeder.finish(options.num_speakers)
        return _stamped(with_speakers(merged, turns, num_speakers=options.num_speakers), options)

    def _transcribe_grouped(
        self,
        pieces: Iterable[Piece],
        model: str,
        options: TranscribeOptions,
        cancel: threading.Event | None,
        on_piece: Callable[[int, int, int], None] | None,
    ) -> Iterator[tuple[Piece, Transcript]]:
        """Each piece with its transcript, one guarded call per :func:`_groups` group; pieces are taken from
        ``pieces`` only as each group is needed, and a group's audio is let go before the next is read."""
        for group in _groups(pieces, options.batch_size):
            transcripts = self._transcribe_pieces(group, model, options, cancel, on_piece)
            yield from zip(group, transcripts, strict=True)
            group.clear()  # the next group is read while this name still holds the list

    def _transcribe_pieces(
        self,
        pieces: Sequence[Piece],
        model: str,
        options: TranscribeOptions,
        cancel: threading.Event | None,
        on_piece: Callable[[int, int, int], None] | None,
    ) -> list[Transcript]:
        """One guarded ``model.transcribe()`` call: a transcript of each piece, in its own time (not yet stitched)."""
        return transcribe_pieces(self.cache, self.load(model, cancel=cancel), pieces, model=model, options=options,
                                 precision=self.precision, cancel=cancel, on_piece=on_piece)

    def transcribe_files(
        self,
        files: Sequence[str | Path | AudioData],
        *,
        model: str,
        options: TranscribeOptions = TranscribeOptions(),
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        on_result: Callable[[int, FileResult], None] | None = None,
        share_of_audio: bool = False,
    ) -> list[FileResult]:
        """Transcribe files (or decoded audio) in batches; one result per input, in input order.

        Short files are decoded and batched together. A file longer than the model takes at once
        (:meth:`limits`) is transcribed window by window while it is decoded, so it is never held in memory whole.
        With ``share_of_audio``, each progress report also gives the share of the inputs' audio done
        (``Progress.share``), from their lengths as their headers state them, read before the first file.

        A file that cannot be decoded or transcribed gets an error entry and the others carry on. A cancel stops the
        job: files not finished by then get a "cancelled" error entry. Model problems (not installed, cannot load)
        concern every file and are raised. ``on_result(index, result)`` hears of each input as soon as it is done
        (in the order they finish), so a caller can show or keep it before the others are.

        Raises:
            ModelNotAvailableError: The model is not installed and cannot be downloaded.
            ModelLoadError: The model file cannot be loaded.
        """
        if options.speakers:
            options = self.prepare_speakers(options, cancel)
        return FileJob(self, files, model=model, options=options, progress=progress, cancel=cancel,
                       batch_limit=options.batch_size * GROUP_BATCHES, call_max_audio_s=CALL_MAX_AUDIO_S,
                       on_result=on_result, share_of_audio=share_of_audio).run()

    def transcribe_isolated(
        self,
        audios: list[AudioData],
        model: str,
        options: TranscribeOptions,
        cancel: threading.Event | None,
        on_piece: Callable[[int, int, int], None] | None = None,
        on_speakers: Callable[[int], None] | None = None,
    ) -> list[tuple[Transcript | str, float]]:
        """Transcribe a batch; if NeMo fails on it, retry file by file so only the culprit gets the error.

        Returns, per item, its transcript or error message and the seconds spent on it.
        """
        started = time.perf_counter()
        try:
            transcripts = self.transcribe_arrays(
                audios, model=model, options=options, cancel=cancel, on_piece=on_piece, on_speakers=on_speakers
            )
        except TranscriptionTimeoutError as exc:
            return [(str(exc), time.perf_counter() - started) for _ in audios]
        except TranscriptionFailedError as exc:
            if len(audios) == 1:
                return [(str(exc), time.perf_counter() - started)]
            logger.warning("Batch failed (%s); retrying its files one at a time", exc)
            outcomes = []
            for item, audio in enumerate(audios):
                shifted = None if on_piece is None else partial(_shift_item, on_piece, item)
                speakers = None if on_speakers is None else partial(_shift_speakers, on_speakers, item)
                outcomes += self.transcribe_isolated([audio], model, options, cancel, shifted, speakers)
            return outcomes
        share = (time.perf_counter() - started) / len(audios)
        return [(transcript, share) for transcript in transcripts]


_default_engine: Engine | None = None
_default_engine_lock = threading.Lock()


def default_engine() -> Engine:
    """The process-wide engine whose model cache the UI and the CLI share (created on first use)."""
    global _default_engine
    with _default_engine_lock:
        if _default_engine is None:
            _default_engine = Engine()
        return _default_engine


def transcribe_files(
    files: Sequence[str | Path | AudioData],
    *,
    model: str,
    options: TranscribeOptions = TranscribeOptions(),
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    on_result: Callable[[int, FileResult], None] | None = None,
    share_of_audio: bool = False,
) -> list[FileResult]:
    """Transcribe files with the default engine; see :meth:`Engine.transcribe_files`."""
    return default_engine().transcribe_files(files, model=model, options=options, progress=progress, cancel=cancel,
                                             on_result=on_result, share_of_audio=share_of_audio)


def transcribe(
    audio: str | Path | AudioData,
    *,
    model: str,
    options: TranscribeOptions = TranscribeOptions(),
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Transcript:
    """Transcribe one file or decoded audio with the default engine.

    Raises:
        TranscriberError: The file cannot be decoded or transcribed, the model is unavailable, or the job was
            cancelled or timed out; the message says which.
    """
    engine = default_engine()
    decoded = audio if isinstance(audio, AudioData) else load_audio(audio)
    engine.load(model, cancel=cancel, progress=progress)
    (transcript,) = engine.transcribe_arrays([decoded], model=model, options=options, cancel=cancel)
    return transcript
