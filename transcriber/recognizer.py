"""One guarded ``model.transcribe()`` call over pieces of audio: the only place the recognizer's NeMo call is made.

A piece is a whole short file or one window of a long one. The call gets direct keyword arguments (``batch_size``,
``num_workers=0``, ``return_hypotheses=True``, ``timestamps``, ``verbose``, and a Canary model's prompt slots), never
``override_config``: with that NeMo ignores every other argument and timestamps silently vanish. It runs under the
model's lock and the watchdog (:func:`~transcriber.guarded.call_guarded`), in the engine's precision, with the GPU
fallbacks of :mod:`.gpu`; its hypotheses become transcripts in the piece's own time (the engine stitches windows).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import gpu, windows
from .alignment import refine_segments, refine_words
from .gpu import autocast
from .guarded import call_guarded
from .hypotheses import hypothesis_to_transcript, is_padded, normalise_output, pad_short, text_from_words
from .languages import abilities, prompt_arguments
from .model_cache import LoadedModel, ModelCache
from .nemo_models import frame_seconds
from .types import AudioData, TranscribeOptions, Transcript
from .watchdog import Guard, time_bound


@dataclass(frozen=True)
class Piece:
    """What one ``transcribe()`` input is: which input of the job, where in it (seconds), which window of about how
    many, and whether it is a window of a longer recording at all."""

    item: int
    offset: float
    part: int
    parts: int
    windowed: bool
    audio: AudioData


def refined(transcript: Transcript, audio: AudioData) -> Transcript:
    """``transcript`` with word and segment boundaries snapped to the speech in ``audio``."""
    words = refine_words(transcript.words, audio)
    segments = refine_segments(transcript.segments, transcript.words, words)
    return replace(transcript, words=tuple(words), segments=tuple(segments))


def transcribe_pieces(
    cache: ModelCache[Any],
    loaded: LoadedModel[Any],
    pieces: Sequence[Piece],
    *,
    model: str,
    options: TranscribeOptions,
    precision: str | None,
    cancel: threading.Event | None,
    on_piece: Callable[[int, int, int], None] | None,
) -> list[Transcript]:
    """One guarded ``model.transcribe()`` call of ``loaded`` (model ``model`` of ``cache``): a transcript of each
    piece, in its own time.

    Args:
        precision: The engine's CUDA precision (:func:`~transcriber.gpu.autocast`).
        on_piece: Called before each batch with (input index, window number, windows of that input).

    Raises:
        TranscriptionTimeoutError, TranscriptionCancelledError, TranscriptionFailedError: From the guarded call.
    """
    # Windows are stitched by word timings, and words heard in the padding of short clips are dropped by their
    # timings, so both need timestamps even when the caller does not.
    timestamps = options.timestamps or any(p.windowed or is_padded(p.audio) for p in pieces)
    bound = time_bound(sum(p.audio.duration for p in pieces), options)
    guard = Guard(on_batch=_batch_reporter(pieces, on_piece), batch_size=options.batch_size)
    prompt = prompt_arguments(abilities(loaded.model), model, language=options.language,
                              translate_to=options.translate_to)

    def call(nemo_model: Any, arrays: list[np.ndarray], batch_size: int) -> list[Any]:
        with autocast(loaded.device, precision):
            return normalise_output(
                nemo_model.transcribe(
                    arrays,
                    batch_size=batch_size,
                    num_workers=0,
                    return_hypotheses=True,
                    timestamps=timestamps,
                    verbose=options.verbose,
                    **prompt,  # the language and task, for models that take them (Canary): never override_config
                )
            )

    def work(nemo_model: Any) -> list[list[gpu.Part]]:
        return gpu.transcribe_with_fallbacks(
            nemo_model, [pad_short(piece.audio) for piece in pieces], call=call, batch_size=options.batch_size,
            sample_rate=pieces[0].audio.sample_rate, device=loaded.device, model_name=model,
            sources=[piece.audio.source for piece in pieces],
        )

    results = call_guarded(cache, model, loaded, work, bound=bound, cancel=cancel, what=_names(pieces), guard=guard,
                           failure="transcription")
    return _transcripts(pieces, results, model=model, options=options, timestamps=timestamps,
                        frame_s=frame_seconds(loaded.model))


def _names(pieces: Sequence[Piece]) -> str:
    """The files a call transcribes, as its watchdog names them: the first three, then "and more"."""
    names = list(dict.fromkeys(Path(p.audio.source).name for p in pieces))
    return ", ".join(names[:3]) + (" and more" if len(names) > 3 else "")


def _batch_reporter(pieces: Sequence[Piece], on_piece: Callable[[int, int, int], None] | None) -> Callable[[int], None]:
    """The guard's hook before each batch: ``on_piece`` with the input, window and windows of its first piece."""

    def on_batch(first: int) -> None:
        if on_piece is not None:
            piece = pieces[min(first, len(pieces) - 1)]
            on_piece(piece.item, piece.part, piece.parts)

    return on_batch


def _transcripts(
    pieces: Sequence[Piece], results: list[list[gpu.Part]], *, model: str, options: TranscribeOptions,
    timestamps: bool, frame_s: float,
) -> list[Transcript]:
    """Each piece's hypotheses as its transcript: halves (from the GPU fallbacks) stitched, words heard in a short
    clip's padding dropped, boundaries snapped to the speech when asked."""
    transcripts = []
    for piece, parts in zip(pieces, results, strict=True):
        padded = is_padded(piece.audio)
        wanted = timestamps if piece.windowed or padded else options.timestamps
        if len(parts) == 1:
            transcript = hypothesis_to_transcript(parts[0][2], duration=piece.audio.duration, model_name=model,
                                                  timestamps=wanted, frame_s=frame_s)
        else:  # transcribed in halves to fit the GPU: stitched like windows
            halves = [(offset, length, hypothesis_to_transcript(hypothesis, duration=length, model_name=model,
                                                                timestamps=True, frame_s=frame_s))
                      for offset, length, hypothesis in parts]
            transcript = windows.merge_windows(halves, piece.audio.duration, model, wanted)
        if padded:
            transcript = text_from_words(transcript, keep_timings=options.timestamps)
        if options.timestamps and options.refine_timestamps:
            transcript = refined(transcript, piece.audio)
        transcripts.append(transcript)
    return transcripts

