"""Run NeMo ASR models on audio and turn their hypotheses into :class:`~transcriber.types.Transcript`.

This is the only module that imports NeMo, and it does so lazily, inside functions, so that ``import transcriber``
stays fast and the temporary-folder redirect can run first.

Three decisions shape it:

* ``model.transcribe()`` gets direct keyword arguments (``batch_size``, ``num_workers=0``, ``return_hypotheses=True``,
  ``timestamps``, ``verbose``) and never ``override_config``: when that is given NeMo ignores every other argument,
  so timestamps silently vanish.
* NeMo gets decoded float32 arrays, never paths. Given paths, NeMo writes a manifest into the temporary folder and one
  unreadable file aborts the whole batch; decoding ourselves gives each bad file its own error.
* Audio longer than :data:`LONG_AUDIO_S` is transcribed in windows of :data:`WINDOW_S` that overlap by
  :data:`OVERLAP_S`, batched like separate files. Full attention costs grow with the square of the length, so a
  one-hour file in one piece runs out of memory or takes hours; windows keep memory flat and time linear. The windows
  are stitched at word level: inside each overlap the cut goes into the widest pause between words, and each word is
  kept from the window whose side of the cut its centre lies on, so no word is doubled or lost at a seam.
  A long file is decoded while it is transcribed, about :data:`CALL_MAX_AUDIO_S` of windows per ``transcribe()``
  call, and only the words of the windows already done are kept: memory does not grow with the recording's length.
* Every call runs in a worker thread that the caller watches. A job that passes its time bound, or that the user
  cancels, returns control at once with an error; a forward pre-hook on the encoder stops the worker at its next
  batch, and a model whose worker never comes back is dropped from the cache so the next job gets a fresh one.
"""

from __future__ import annotations

import contextvars
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .alignment import refine_segments, refine_words
from .audio import AudioReader, load_audio
from .errors import (
    AudioError,
    EmptyAudioError,
    ModelLoadError,
    ModelNotAvailableError,
    TranscriberError,
    TranscriptionCancelledError,
    TranscriptionFailedError,
    TranscriptionTimeoutError,
)
from .models import LoadedModel, ModelCache, ModelSource, not_available_message, pick_device
from .types import AudioData, FileResult, Progress, Segment, TranscribeOptions, Transcript, Word

logger = logging.getLogger(__name__)

TIMEOUT_BASE_S = 120.0
"""Fixed part of a job's time bound: first-call warm-up and allocations."""
TIMEOUT_PER_AUDIO_S = 2.0
"""Seconds allowed per second of audio; a 0.6B model on two CPU cores runs about five times faster than real time."""
MODEL_LOAD_TIMEOUT_S = 1800.0
"""A download of a large model over a slow line may take this long."""
CANCEL_GRACE_S = 1.0
"""How long a cancelled or timed-out worker gets to stop at its next batch before it is abandoned."""
POLL_S = 0.1
"""How often a waiting caller looks at the cancel flag."""
GROUP_BATCHES = 8
"""Batches handed to one ``transcribe()`` call: each call has fixed set-up costs, so fewer calls are faster."""
CALL_MAX_AUDIO_S = 600.0
"""Audio handed to one ``transcribe()`` call, rounded up to whole batches. It bounds the decoded audio held at once
and what NeMo holds for it (features, hypotheses), so memory stays flat however long the recording."""
LONG_AUDIO_S = 75.0
"""Audio longer than this is transcribed in overlapping windows."""
WINDOW_S = 30.0
"""Length of one window. Attention grows with the square of the length, so shorter windows cost less per second of
audio, down to where the overlap starts to dominate: with a 0.6B FastConformer-TDT on a CPU (``bench/``), 30 s windows
overlapping by 2 s ran at 1.02x the speed of one full-attention pass over 60 s; 60 s windows overlapping by 4 s at
0.68x (padding of the short last window included), and 300 s of local attention at 0.89x. 30 s is also well inside the
segment lengths speech models are trained on."""
OVERLAP_S = 2.0
"""Audio shared by neighbouring windows; the cut between them lies inside it, away from both windows' edges (words
are kept from the window that heard them whole)."""
SEGMENT_PAUSE_S = 0.8
"""In stitched transcripts, a pause this long between words ends a segment."""
SENTENCE_END = (".", "?", "!")
MIN_INPUT_S = 1.0
"""NeMo pads arrays shorter than this on both sides, which shifts every timestamp; we pad at the end instead."""

NEMO_LOGS_TO_STDERR_ENV = "NEMO_REDIRECT_LOGS_TO_STDERR"

ProgressCallback = Callable[[Progress], None]
T = TypeVar("T")


class _Aborted(Exception):
    """Raised inside NeMo's forward pass to stop a job that was cancelled or ran out of time."""


def load_nemo_model(source: ModelSource, device: str) -> Any:
    """Load a NeMo ASR model: ``restore_from`` for a local file, ``from_pretrained`` otherwise.

    Raises:
        ModelNotAvailableError: The model is not local and could not be downloaded.
        ModelLoadError: The file exists but is not a NeMo ASR model NeMo can load.
    """
    # NeMo logs INFO to stdout unless told otherwise; stdout belongs to our results (the CLI prints JSON there).
    os.environ.setdefault(NEMO_LOGS_TO_STDERR_ENV, "1")
    from nemo.collections.asr.models import ASRModel

    try:
        if source.path is not None:
            model = ASRModel.restore_from(str(source.path), map_location=device)
        else:
            model = ASRModel.from_pretrained(source.name, map_location=device)
    except Exception as exc:  # NeMo, Hugging Face and tarfile raise many unrelated types; all mean "cannot load"
        if source.path is None:
            raise ModelNotAvailableError(not_available_message(source.name, exc)) from exc
        raise ModelLoadError(f"Model file {source.path.name} could not be loaded ({type(exc).__name__}: {exc}).") from exc
    if not callable(getattr(model, "transcribe", None)):
        raise ModelLoadError(f"Model {source.name} is not a speech-recognition model.")
    model.eval()
    return model


def quantize_int8(model: Any) -> Any:
    """Quantise the model's linear layers to int8 in place (dynamic quantisation: weights stored as int8, activations
    quantised on the fly). CPU only. Linear layers carry nearly all of a Conformer's compute, so large models run
    faster; on small ones quantising the activations costs about what it saves (see ``bench/bench_int8.py``)."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return model


def load_nemo_model_int8(source: ModelSource, device: str) -> Any:
    """:func:`load_nemo_model`, then :func:`quantize_int8` on the CPU (on a GPU the model is left as it is)."""
    model = load_nemo_model(source, device)
    if device == "cpu":
        return quantize_int8(model)
    logger.warning("int8 quantisation applies to the CPU only; %s runs unquantised on %s", source.name, device)
    return model


def fetch_pretrained_file(name: str) -> Path:
    """Download a pretrained model's ``.nemo`` file into NeMo's cache (or find it there) without loading it.

    Raises:
        ModelNotAvailableError: The model hub cannot be reached or has no such model.
    """
    os.environ.setdefault(NEMO_LOGS_TO_STDERR_ENV, "1")
    from nemo.collections.asr.models import ASRModel

    try:
        path = ASRModel.from_pretrained(name, return_model_file=True)
    except Exception as exc:  # network, hub and NeMo errors all mean "cannot fetch"
        raise ModelNotAvailableError(
            f"Model {name} could not be downloaded ({type(exc).__name__}: {exc}); "
            f"check the name and the internet connection."
        ) from exc
    path = Path(path)
    if not path.is_file():
        raise ModelNotAvailableError(f"Model {name} is not published as a single .nemo file; it cannot be installed.")
    return path


@dataclass
class _Guard:
    """What the encoder hook consults: stop now?"""

    abort: threading.Event = field(default_factory=threading.Event)
    on_batch: Callable[[int], None] | None = None
    batch_size: int = 1
    batches: int = 0

    def hook(self, _module: Any, _args: Any) -> None:
        if self.abort.is_set():
            raise _Aborted
        if self.on_batch is not None:
            self.on_batch(self.batches * self.batch_size)
        self.batches += 1


def _run_watched(
    work: Callable[[], T],
    *,
    timeout: float,
    cancel: threading.Event | None,
    what: str,
    guard: _Guard | None = None,
    on_exit: Callable[[], None] | None = None,
) -> T:
    """Run ``work`` in a worker thread and wait for it, but never past ``timeout`` or a cancel.

    ``on_exit`` runs in the worker when ``work`` returns or raises, even after the caller stopped waiting.

    Raises:
        TranscriptionTimeoutError: ``work`` ran past ``timeout`` seconds.
        TranscriptionCancelledError: ``cancel`` was set.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the waiting thread, which re-raises it
            outcome["error"] = exc
        finally:
            if on_exit is not None:
                on_exit()

    # The worker runs in a copy of the caller's context, as asyncio.to_thread does: progress callbacks that find
    # their request through context variables (Gradio's gr.Progress) then work from the worker thread too.
    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(target,), name="transcriber-worker", daemon=True)
    deadline = time.monotonic() + timeout
    worker.start()
    while worker.is_alive():
        worker.join(POLL_S)
        if cancel is not None and cancel.is_set() and worker.is_alive():
            _stop(worker, guard)
            raise TranscriptionCancelledError(f"{what}: cancelled.")
        if time.monotonic() > deadline and worker.is_alive():
            _stop(worker, guard)
            raise TranscriptionTimeoutError(
                f"{what}: did not finish within {timeout:.0f} s and was stopped "
                f"(raise the time limit if your computer is slow)."
            )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _stop(worker: threading.Thread, guard: _Guard | None) -> None:
    if guard is not None:
        guard.abort.set()
    worker.join(CANCEL_GRACE_S)


def time_bound(audio_seconds: float, options: TranscribeOptions) -> float:
    """Seconds a transcription of ``audio_seconds`` of audio may take before it is stopped."""
    if options.timeout is not None:
        return options.timeout
    return TIMEOUT_BASE_S + TIMEOUT_PER_AUDIO_S * audio_seconds


def _frame_seconds(model: Any) -> float:
    """Duration of one encoder output frame: window stride times the encoder's subsampling factor."""
    stride = float(model.cfg.preprocessor.get("window_stride", 0.01))
    factor = getattr(model.encoder, "subsampling_factor", None) or model.cfg.encoder.get("subsampling_factor", 1)
    return stride * int(factor)


def _best(hypothesis: Any) -> Any:
    """The best hypothesis out of an n-best list or an ``NBestHypotheses`` holder."""
    if isinstance(hypothesis, (list, tuple)):
        return _best(hypothesis[0]) if hypothesis else ""
    n_best = getattr(hypothesis, "n_best_hypotheses", None)
    if n_best:
        return n_best[0]
    return hypothesis


def normalise_output(output: Any) -> list[Any]:
    """Flatten every shape ``transcribe()`` returns into one best hypothesis per input.

    NeMo returns a list of hypotheses, a ``(best, all)`` tuple (older RNNT models), or a list of n-best lists.
    """
    if isinstance(output, tuple):
        output = output[0]
    return [_best(item) for item in output]


def _seconds(entry: dict[str, Any], key: str, frame_s: float) -> float:
    value = entry.get(key)
    if value is None:
        value = float(entry.get(f"{key}_offset", 0)) * frame_s
    return float(value)  # CTC gives numpy scalars, RNNT Python numbers, some versions 0-d tensors


def _timed_items(entries: Iterable[dict[str, Any]], text_key: str, duration: float, frame_s: float) -> list[Word]:
    items = []
    for entry in entries:
        text = str(entry.get(text_key, "")).strip()
        if not text:
            continue
        start = max(_seconds(entry, "start", frame_s), 0.0)
        if start >= duration > 0:  # heard in the silence that pads short clips, or past the end by a frame
            continue
        end = min(max(_seconds(entry, "end", frame_s), start), duration)
        items.append(Word(text, start, end))
    return items


def hypothesis_to_transcript(
    hypothesis: Any, *, duration: float, model_name: str, timestamps: bool, frame_s: float = 0.08
) -> Transcript:
    """Turn one NeMo hypothesis (or plain string) into a :class:`Transcript` of plain Python values.

    Args:
        hypothesis: A NeMo ``Hypothesis`` or a string.
        duration: Length of the audio in seconds; times are clipped to it.
        model_name: Recorded in the transcript.
        timestamps: Whether word and segment timings were asked for. NeMo keeps its timestamp setting between
            calls, so a hypothesis may carry timings that were not asked for this time; they are dropped.
        frame_s: Seconds per encoder frame, for timings NeMo gives only as frame offsets.
    """
    text = hypothesis if isinstance(hypothesis, str) else getattr(hypothesis, "text", "")
    text = " ".join(str(text or "").split())
    if not timestamps:
        return Transcript(text=text, duration=duration, model=model_name)
    stamps = getattr(hypothesis, "timestamp", None)
    stamps = stamps if isinstance(stamps, dict) else {}
    words = _timed_items(stamps.get("word", ()), "word", duration, frame_s)
    segments = [Segment(w.text, w.start, w.end) for w in _timed_items(stamps.get("segment", ()), "segment", duration, frame_s)]
    if words and not segments:
        segments = [Segment(" ".join(w.text for w in words), words[0].start, words[-1].end)]
    return Transcript(text=text, words=tuple(words), segments=tuple(segments), duration=duration, model=model_name)


def _is_padded(audio: AudioData) -> bool:
    return len(audio.samples) < round(MIN_INPUT_S * audio.sample_rate)


def _text_from_words(transcript: Transcript, *, keep_timings: bool) -> Transcript:
    """The transcript's text made from its words alone (after words outside the audio were dropped)."""
    text = " ".join(word.text for word in transcript.words)
    if keep_timings:
        return replace(transcript, text=text)
    return Transcript(text=text, duration=transcript.duration, model=transcript.model)


def _pad_short(audio: AudioData) -> np.ndarray:
    """The samples, with silence appended up to :data:`MIN_INPUT_S` so that times keep their origin."""
    missing = round(MIN_INPUT_S * audio.sample_rate) - len(audio.samples)
    return np.pad(audio.samples, (0, missing)) if missing > 0 else audio.samples


@dataclass(frozen=True)
class _Piece:
    """What one ``transcribe()`` input is: which input of the job, where in it (seconds), which window of about how
    many, and whether it is a window of a longer recording at all."""

    item: int
    offset: float
    part: int
    parts: int
    windowed: bool
    audio: AudioData


def window_count(seconds: float) -> int:
    """How many windows :func:`split_windows` makes of ``seconds`` of audio."""
    if seconds <= LONG_AUDIO_S:
        return 1
    return 1 + max(0, math.ceil((seconds - WINDOW_S) / (WINDOW_S - OVERLAP_S)))


def split_windows(audio: AudioData) -> list[tuple[float, AudioData]]:
    """``audio`` as (offset in seconds, window) pairs: one pair for short audio, overlapping windows for long."""
    if audio.duration <= LONG_AUDIO_S:
        return [(0.0, audio)]
    rate = audio.sample_rate
    window, hop = round(WINDOW_S * rate), round((WINDOW_S - OVERLAP_S) * rate)
    pieces = []
    for start in range(0, len(audio.samples), hop):
        pieces.append((start / rate, AudioData(audio.samples[start : start + window], rate, audio.source)))
        if start + window >= len(audio.samples):
            break
    return pieces


def stream_windows(read: Callable[[int], np.ndarray], rate: int, source: str) -> Iterator[tuple[float, AudioData]]:
    """The windows :func:`split_windows` makes of a recording longer than :data:`WINDOW_S`, taken from ``read`` (which
    returns the next n samples, fewer only at the end) as they are needed: only one window is held at a time."""
    window, hop = round(WINDOW_S * rate), round((WINDOW_S - OVERLAP_S) * rate)
    buffer = read(window + 1)  # one sample more than a window tells whether another window follows
    start = 0
    while True:
        yield start / rate, AudioData(buffer[:window], rate, source)
        if len(buffer) <= window:
            return
        buffer = np.concatenate((buffer[hop:], read(window + 1 - (len(buffer) - hop))))
        start += hop


def _groups(pieces: Iterable[_Piece], batch_size: int) -> Iterator[list[_Piece]]:
    """``pieces`` in consecutive groups of whole batches holding about :data:`CALL_MAX_AUDIO_S` of audio each, taken
    from ``pieces`` only as each group is needed."""
    group: list[_Piece] = []
    seconds = 0.0
    for piece in pieces:
        group.append(piece)
        seconds += piece.audio.duration
        if seconds >= CALL_MAX_AUDIO_S and len(group) % batch_size == 0:
            yield group
            group, seconds = [], 0.0
    if group:
        yield group


def _prepended(head: np.ndarray, read: Callable[[int], np.ndarray]) -> Callable[[int], np.ndarray]:
    """A ``read`` function that gives ``head`` first, then what ``read`` gives."""
    rest = head

    def read_next(count: int) -> np.ndarray:
        nonlocal rest
        taken, rest = rest[:count], rest[count:]
        if len(taken) < count:
            taken = np.concatenate((taken, read(count - len(taken))))
        return taken

    return read_next


def _cut_time(words: Sequence[Word], start: float, end: float) -> float:
    """Where to cut inside the overlap [start, end]: the middle of the widest pause between words there, nearest
    the overlap's middle on ties; the overlap's middle when no two words lie in it."""
    middle = (start + end) / 2
    gaps = [
        (a.end, b.start) for a, b in zip(words, words[1:]) if start <= a.end and b.start <= end and b.start >= a.end
    ]
    if not gaps:
        return middle
    left, right = max(gaps, key=lambda gap: (round(gap[1] - gap[0], 3), -abs((gap[0] + gap[1]) / 2 - middle)))
    return (left + right) / 2


def stitch_words(windows: Sequence[tuple[float, float, Sequence[Word]]]) -> list[Word]:
    """Join the words of overlapping windows into one list with absolute times.

    Args:
        windows: (offset, duration, words relative to the window) per window, in order.
    """
    words: list[Word] = []
    previous_end = 0.0
    for offset, duration, window_words in windows:
        shifted = [Word(w.text, w.start + offset, w.end + offset) for w in window_words]
        if words:
            cut = _cut_time(words, offset, previous_end)
            words = [w for w in words if (w.start + w.end) / 2 < cut]
            shifted = [w for w in shifted if (w.start + w.end) / 2 >= cut]
        words += shifted
        previous_end = offset + duration
    return words


def segments_from_words(words: Sequence[Word]) -> list[Segment]:
    """Sentences (or, without punctuation, runs between pauses) as segments."""
    segments: list[Segment] = []
    run: list[Word] = []
    for word in words:
        if run and (run[-1].text.endswith(SENTENCE_END) or word.start - run[-1].end >= SEGMENT_PAUSE_S):
            segments.append(Segment(" ".join(w.text for w in run), run[0].start, run[-1].end))
            run = []
        run.append(word)
    if run:
        segments.append(Segment(" ".join(w.text for w in run), run[0].start, run[-1].end))
    return segments


def _merge_windows(
    parts: Sequence[tuple[float, float, Transcript]], duration: float, model: str, timestamps: bool
) -> Transcript:
    """One transcript of ``duration`` seconds from (offset, duration, transcript) of each of its windows."""
    if len(parts) == 1:
        return parts[0][2]
    words = stitch_words([(offset, length, transcript.words) for offset, length, transcript in parts])
    words = [Word(w.text, min(w.start, duration), min(w.end, duration)) for w in words]
    text = " ".join(w.text for w in words)
    if not timestamps:
        return Transcript(text=text, duration=duration, model=model)
    return Transcript(text, tuple(words), tuple(segments_from_words(words)), duration, model)


def _refined(transcript: Transcript, audio: AudioData) -> Transcript:
    """``transcript`` with word and segment boundaries snapped to the speech in ``audio``."""
    words = refine_words(transcript.words, audio)
    segments = refine_segments(transcript.segments, transcript.words, words)
    return replace(transcript, words=tuple(words), segments=tuple(segments))


def _shift_item(on_piece: Callable[[int, int, int], None], item: int, _: int, part: int, parts: int) -> None:
    """Report a window of a file retried on its own under the file's index in the whole batch."""
    on_piece(item, part, parts)


def _file_label(item: str | Path | AudioData) -> str:
    return item.source if isinstance(item, AudioData) else str(item)


class Engine:
    """Transcribes audio with cached NeMo models.

    Args:
        device: ``"cpu"``, ``"cuda"``, or ``None`` for CUDA when available.
        int8: Quantise models to int8 when they run on the CPU (:func:`quantize_int8`).
        loader: Loads a model from a source onto a device; tests may wrap the real NeMo loader. Default:
            :func:`load_nemo_model`, or :func:`load_nemo_model_int8` with ``int8``.
    """

    def __init__(
        self,
        *,
        device: str | None = None,
        int8: bool = False,
        loader: Callable[[ModelSource, str], Any] | None = None,
    ):
        self.device = device
        self.int8 = int8
        self.cache: ModelCache[Any] = ModelCache(loader or (load_nemo_model_int8 if int8 else load_nemo_model))

    def load(
        self, model: str, *, cancel: threading.Event | None = None, progress: ProgressCallback | None = None
    ) -> LoadedModel[Any]:
        """The cached model, loading it first if needed (cancellable; bounded by :data:`MODEL_LOAD_TIMEOUT_S`)."""
        device = pick_device(self.device)
        if self.cache.is_loaded(model, device):
            return self.cache.get(model, device)
        if progress is not None:
            progress(Progress(0, 1, f"Loading model {model}"))
        return _run_watched(
            lambda: self.cache.get(model, device),
            timeout=MODEL_LOAD_TIMEOUT_S,
            cancel=cancel,
            what=f"Loading model {model}",
        )

    def transcribe_arrays(
        self,
        audios: Sequence[AudioData],
        *,
        model: str,
        options: TranscribeOptions = TranscribeOptions(),
        cancel: threading.Event | None = None,
        on_piece: Callable[[int, int, int], None] | None = None,
    ) -> list[Transcript]:
        """Transcribe decoded audio in guarded ``model.transcribe()`` calls; results keep input order.

        Long audio is split into overlapping windows that are batched with the rest and stitched afterwards. Each call
        gets about :data:`CALL_MAX_AUDIO_S` of audio, so a short batch is one call.

        Args:
            on_piece: Called before each batch with (input index, window number from 0, windows of that input).

        Raises:
            TranscriptionTimeoutError: A call ran past its time bound (the model is then reloaded next time).
            TranscriptionCancelledError: ``cancel`` was set.
            TranscriptionFailedError: NeMo raised.
        """
        pieces = []
        for item, audio in enumerate(audios):
            windows = split_windows(audio)
            pieces += [
                _Piece(item, offset, part, len(windows), len(windows) > 1, window)
                for part, (offset, window) in enumerate(windows)
            ]
        parts: list[list[tuple[float, float, Transcript]]] = [[] for _ in audios]
        for piece, transcript in self._transcribe_grouped(pieces, model, options, cancel, on_piece):
            parts[piece.item].append((piece.offset, piece.audio.duration, transcript))
        return [
            _merge_windows(item_parts, audio.duration, model, options.timestamps)
            for item_parts, audio in zip(parts, audios, strict=True)
        ]

    def _transcribe_stream(
        self,
        reader: AudioReader,
        head: np.ndarray,
        *,
        model: str,
        options: TranscribeOptions,
        cancel: threading.Event | None,
        on_piece: Callable[[int, int, int], None],
    ) -> Transcript:
        """Transcribe a long recording window by window as ``reader`` decodes it, ``head`` being what it gave so far.

        Only one group of windows (:data:`CALL_MAX_AUDIO_S`) is in memory at a time, and the words of the windows
        done, so memory does not grow with the length of the recording.

        Raises:
            AudioError: The file breaks part way in a way that loses its audio (NaN samples).
            TranscriptionTimeoutError, TranscriptionCancelledError, TranscriptionFailedError: As in
                :meth:`transcribe_arrays`.
        """
        estimate = window_count(reader.estimated_duration) if reader.estimated_duration else 0
        windows = stream_windows(_prepended(head, reader.read), reader.sample_rate, reader.source)
        del head
        pieces = (
            _Piece(0, offset, part, max(estimate, part + 1), True, window)
            for part, (offset, window) in enumerate(windows)
        )
        parts: list[tuple[float, float, Transcript]] = []
        for piece, transcript in self._transcribe_grouped(pieces, model, options, cancel, on_piece):
            parts.append((piece.offset, piece.audio.duration, transcript))
        return _merge_windows(parts, reader.position / reader.sample_rate, model, options.timestamps)

    def _transcribe_grouped(
        self,
        pieces: Iterable[_Piece],
        model: str,
        options: TranscribeOptions,
        cancel: threading.Event | None,
        on_piece: Callable[[int, int, int], None] | None,
    ) -> Iterator[tuple[_Piece, Transcript]]:
        """Each piece with its transcript, one guarded call per :func:`_groups` group; pieces are taken from
        ``pieces`` only as each group is needed, and a group's audio is let go before the next is read."""
        for group in _groups(pieces, options.batch_size):
            transcripts = self._transcribe_pieces(group, model, options, cancel, on_piece)
            yield from zip(group, transcripts, strict=True)
            group.clear()  # the next group is read while this name still holds the list

    def _transcribe_pieces(
        self,
        pieces: Sequence[_Piece],
        model: str,
        options: TranscribeOptions,
        cancel: threading.Event | None,
        on_piece: Callable[[int, int, int], None] | None,
    ) -> list[Transcript]:
        """One guarded ``model.transcribe()`` call: a transcript of each piece, in its own time (not yet stitched)."""
        # Windows are stitched by word timings, and words heard in the padding of short clips are dropped by their
        # timings, so both need timestamps even when the caller does not.
        timestamps = options.timestamps or any(p.windowed or _is_padded(p.audio) for p in pieces)
        loaded = self.load(model, cancel=cancel)
        names = list(dict.fromkeys(Path(p.audio.source).name for p in pieces))
        what = ", ".join(names[:3]) + (" and more" if len(names) > 3 else "")
        bound = time_bound(sum(p.audio.duration for p in pieces), options)

        def on_batch(first: int) -> None:
            if on_piece is not None:
                piece = pieces[min(first, len(pieces) - 1)]
                on_piece(piece.item, piece.part, piece.parts)

        guard = _Guard(on_batch=on_batch, batch_size=options.batch_size)
        if not loaded.lock.acquire(timeout=bound):
            raise TranscriptionTimeoutError(f"{what}: the model stayed busy with another job for too long.")
        nemo_model = loaded.model
        handle = nemo_model.encoder.register_forward_pre_hook(guard.hook)

        def release() -> None:
            handle.remove()
            loaded.lock.release()

        def work() -> list[Any]:
            return normalise_output(
                nemo_model.transcribe(
                    [_pad_short(piece.audio) for piece in pieces],
                    batch_size=options.batch_size,
                    num_workers=0,
                    return_hypotheses=True,
                    timestamps=timestamps,
                    verbose=options.verbose,
                )
            )

        try:
            hypotheses = _run_watched(work, timeout=bound, cancel=cancel, what=what, guard=guard, on_exit=release)
        except TranscriptionTimeoutError:
            self.cache.evict(model, loaded.device)
            raise
        except TranscriptionCancelledError:
            if loaded.lock.locked():  # the worker did not stop within the grace period: it may never give it back
                self.cache.evict(model, loaded.device)
            raise
        except TranscriberError:
            raise
        except _Aborted as exc:  # the caller stopped waiting in the same instant the hook fired
            raise TranscriptionCancelledError(f"{what}: cancelled.") from exc
        except Exception as exc:
            raise TranscriptionFailedError(f"{what}: transcription failed ({type(exc).__name__}: {exc}).") from exc
        frame_s = _frame_seconds(nemo_model)
        transcripts = []
        for piece, hypothesis in zip(pieces, hypotheses, strict=True):
            padded = _is_padded(piece.audio)
            transcript = hypothesis_to_transcript(
                hypothesis,
                duration=piece.audio.duration,
                model_name=model,
                timestamps=timestamps if piece.windowed or padded else options.timestamps,
                frame_s=frame_s,
            )
            if padded:
                transcript = _text_from_words(transcript, keep_timings=options.timestamps)
            if options.timestamps and options.refine_timestamps:
                transcript = _refined(transcript, piece.audio)
            transcripts.append(transcript)
        return transcripts

    def transcribe_files(
        self,
        files: Sequence[str | Path | AudioData],
        *,
        model: str,
        options: TranscribeOptions = TranscribeOptions(),
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[FileResult]:
        """Transcribe files (or decoded audio) in batches; one result per input, in input order.

        Short files are decoded and batched together. A file longer than :data:`LONG_AUDIO_S` is transcribed window
        by window while it is decoded, so it is never held in memory whole.

        A file that cannot be decoded or transcribed gets an error entry and the others carry on. A cancel stops the
        job: files not finished by then get a "cancelled" error entry. Model problems (not installed, cannot load)
        concern every file and are raised.

        Raises:
            ModelNotAvailableError: The model is not installed and cannot be downloaded.
            ModelLoadError: The model file cannot be loaded.
        """
        total = len(files)
        results: list[FileResult | None] = [None] * total
        done = 0

        def report_at(position: float, description: str) -> None:
            if progress is not None:
                progress(Progress(min(position, total), total, description))

        def report(description: str) -> None:
            report_at(done, description)

        def report_piece(start_done: int, name: str, part: int, parts: int) -> None:
            where = f" (part {part + 1} of {parts})" if parts > 1 else ""
            report_at(start_done + part / parts, f"Transcribing {name}{where}")

        def ensure_loaded() -> None:
            if not self.cache.is_loaded(model, pick_device(self.device)):
                report(f"Loading model {model}")
            self.load(model, cancel=cancel)

        pending: list[tuple[int, AudioData, float]] = []

        def flush() -> None:
            nonlocal done
            if not pending:
                return
            ensure_loaded()
            audios = [audio for _, audio, _ in pending]
            start_done = done

            def on_piece(item: int, part: int, parts: int) -> None:
                report_piece(start_done + item, Path(audios[item].source).name, part, parts)

            outcomes = self._transcribe_isolated(audios, model, options, cancel, on_piece)
            for (index, _, decode_s), (outcome, seconds) in zip(pending, outcomes, strict=True):
                label = _file_label(files[index])
                if isinstance(outcome, Transcript):
                    results[index] = FileResult(label, transcript=outcome, seconds=decode_s + seconds)
                else:
                    results[index] = FileResult(label, error=outcome, seconds=decode_s + seconds)
                done += 1
            pending.clear()
            report(f"Transcribed {done} of {total}")

        def long_file(reader: AudioReader, head: np.ndarray) -> Transcript:
            ensure_loaded()
            start_done, name = done, Path(reader.source).name
            return self._transcribe_stream(
                reader,
                head,
                model=model,
                options=options,
                cancel=cancel,
                on_piece=lambda _item, part, parts: report_piece(start_done, name, part, parts),
            )

        try:
            for index, item in enumerate(files):
                if cancel is not None and cancel.is_set():
                    raise TranscriptionCancelledError("Cancelled.")
                started = time.perf_counter()
                if isinstance(item, AudioData):
                    audio = item
                else:
                    try:
                        with AudioReader(item) as reader:
                            head = reader.read(round(LONG_AUDIO_S * reader.sample_rate) + 1)
                            if not len(head):
                                raise EmptyAudioError(reader.source)
                            if len(head) / reader.sample_rate > LONG_AUDIO_S:
                                transcript = long_file(reader, head)
                                del head
                                results[index] = FileResult(
                                    str(item), transcript=transcript, seconds=time.perf_counter() - started
                                )
                                done += 1
                                report(f"Transcribed {done} of {total}")
                                continue
                    except (AudioError, TranscriptionTimeoutError, TranscriptionFailedError) as exc:
                        results[index] = FileResult(str(item), error=str(exc), seconds=time.perf_counter() - started)
                        done += 1
                        continue
                    audio = AudioData(head, reader.sample_rate, reader.source)
                pending.append((index, audio, time.perf_counter() - started))
                if (
                    len(pending) >= options.batch_size * GROUP_BATCHES
                    or sum(audio.duration for _, audio, _ in pending) >= CALL_MAX_AUDIO_S
                ):
                    flush()
            flush()
        except TranscriptionCancelledError:
            for index, item in enumerate(files):
                if results[index] is None:
                    results[index] = FileResult(_file_label(item), error=f"{Path(_file_label(item)).name}: cancelled.")
        return [result for result in results if result is not None]

    def _transcribe_isolated(
        self,
        audios: list[AudioData],
        model: str,
        options: TranscribeOptions,
        cancel: threading.Event | None,
        on_piece: Callable[[int, int, int], None] | None = None,
    ) -> list[tuple[Transcript | str, float]]:
        """Transcribe a batch; if NeMo fails on it, retry file by file so only the culprit gets the error.

        Returns, per item, its transcript or error message and the seconds spent on it.
        """
        started = time.perf_counter()
        try:
            transcripts = self.transcribe_arrays(
                audios, model=model, options=options, cancel=cancel, on_piece=on_piece
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
                outcomes += self._transcribe_isolated([audio], model, options, cancel, shifted)
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
) -> list[FileResult]:
    """Transcribe files with the default engine; see :meth:`Engine.transcribe_files`."""
    return default_engine().transcribe_files(files, model=model, options=options, progress=progress, cancel=cancel)


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
