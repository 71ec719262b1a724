"""One :meth:`Engine.transcribe_files <transcriber.engine.Engine.transcribe_files>` job: files decoded one after
another, short ones gathered into batches, long ones streamed window by window, a result per file in input order, and
progress as a fraction of the files done.

Kept apart from the engine because it is bookkeeping (which file is where, what to report), not a step of the
pipeline: the engine's own methods do the transcribing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .audio import AudioReader, header_duration
from .errors import (
    AudioError, EmptyAudioError, TranscriptionCancelledError, TranscriptionFailedError, TranscriptionTimeoutError,
)
from .model_cache import pick_device
from .types import AudioData, FileResult, Progress, TranscribeOptions, Transcript

if TYPE_CHECKING:
    from .engine import Engine


FILES_DONE_PREFIX = "Transcribed "
"""How a report that counts the files done begins ("Transcribed 3 of 4")."""


def file_label(item: str | Path | AudioData) -> str:
    """What a result calls its input: the path, or the decoded audio's source."""
    return item.source if isinstance(item, AudioData) else str(item)


class FileJob:
    """The state of one job over ``files``; :meth:`run` does it.

    Args:
        engine: Does the transcribing (and holds the model).
        batch_limit: Gathered files at most before a batch goes to the model.
        call_max_audio_s: Seconds of gathered audio at most before a batch goes to the model.
        on_result: Called with each input's index and result as soon as it is known: in input order, but for a file
            that cannot be read, whose result is known before the short files gathered ahead of it are done.
        share_of_audio: Give each progress report the share of the inputs' audio done (:attr:`lengths`).
    """

    def __init__(
        self, engine: Engine, files: Sequence[str | Path | AudioData], *, model: str, options: TranscribeOptions,
        progress: Callable[[Progress], None] | None, cancel: threading.Event | None, batch_limit: int,
        call_max_audio_s: float, on_result: Callable[[int, FileResult], None] | None = None,
        share_of_audio: bool = False,
    ) -> None:
        self.engine = engine
        self.files = files
        self.model = model
        self.options = options
        self.progress = progress
        self.cancel = cancel
        self.batch_limit = batch_limit
        self.call_max_audio_s = call_max_audio_s
        self.on_result = on_result
        self.share_of_audio = share_of_audio
        self.results: list[FileResult | None] = [None] * len(files)
        self.done = 0
        self.pending: list[tuple[int, AudioData, float]] = []
        """Decoded short files waiting for their batch: (input index, audio, seconds its decoding took)."""
        self.lengths: list[float] = []
        """With ``share_of_audio``, each input's length in seconds as its header states it (for one without, the mean
        of the others'), so that progress is the share of the job's audio done: a three-hour recording after thirty
        voice memos is most of the work, not one file in thirty-one."""
        self.whole_s = 0.0
        """The sum of :attr:`lengths`."""
        self.done_s = 0.0
        """Of :attr:`lengths`, the seconds of the inputs finished."""
        self.loading_s = 0.0
        """Seconds spent loading the model: no file's time (:meth:`_spent`)."""

    def run(self) -> list[FileResult]:
        """Every file's result, in input order; after a cancel, the unfinished ones say "cancelled"."""
        if self.progress is not None and self.share_of_audio:
            self.lengths = input_lengths(self.files)
            self.whole_s = sum(self.lengths)
        try:
            for index, item in enumerate(self.files):
                if self.cancel is not None and self.cancel.is_set():
                    raise TranscriptionCancelledError("Cancelled.")
                self._take(index, item)
            self._flush()
        except TranscriptionCancelledError:
            for index, item in enumerate(self.files):
                if self.results[index] is None:
                    label = file_label(item)
                    self._finish(index, FileResult(label, error=f"{Path(label).name}: cancelled."))
        return [result for result in self.results if result is not None]

    def _take(self, index: int, item: str | Path | AudioData) -> None:
        """Decode one input: a long file is transcribed at once as it is decoded (after the batch gathered before it),
        a short one joins the batch."""
        started, loaded = time.perf_counter(), self.loading_s
        if isinstance(item, AudioData):
            audio = item
        else:
            try:
                with AudioReader(item) as reader:
                    long_audio_s = self._long_audio_s()
                    head = reader.read(round(long_audio_s * reader.sample_rate) + 1)
                    if not len(head):
                        raise EmptyAudioError(reader.source)
                    if len(head) / reader.sample_rate > long_audio_s:
                        self._flush()  # the files before it first: in order, and not held up by it
                        transcript = self._long_file(index, reader, head)
                        del head
                        self._finish(index, FileResult(str(item), transcript=transcript,
                                                       seconds=self._spent(started, loaded)))
                        self._report(f"{FILES_DONE_PREFIX}{self.done} of {len(self.files)}")
                        return
            except (AudioError, TranscriptionTimeoutError, TranscriptionFailedError) as exc:
                self._finish(index, FileResult(str(item), error=str(exc), seconds=self._spent(started, loaded)))
                return
            audio = AudioData(head, reader.sample_rate, reader.source)
        self.pending.append((index, audio, self._spent(started, loaded)))
        if (len(self.pending) >= self.batch_limit
                or sum(audio.duration for _, audio, _ in self.pending) >= self.call_max_audio_s):
            self._flush()

    def _finish(self, index: int, result: FileResult) -> None:
        self.results[index] = result
        self.done += 1
        self.done_s += self._length(index)
        if self.on_result is not None:
            self.on_result(index, result)

    def _flush(self) -> None:
        """Transcribe the gathered short files as one batch."""
        if not self.pending:
            return
        self._ensure_loaded()
        audios = [audio for _, audio, _ in self.pending]
        start_done = self.done
        lengths = [self._length(index) for index, _, _ in self.pending]

        def on_piece(item: int, part: int, parts: int) -> None:
            self._report_piece(start_done + item, Path(audios[item].source).name, part, parts,
                               sum(lengths[:item]), lengths[item])

        def on_speakers(item: int) -> None:
            self._report_at(start_done + item + 0.9, f"Identifying speakers in {Path(audios[item].source).name}",
                            sum(lengths[:item]) + 0.9 * lengths[item])

        outcomes = self.engine.transcribe_isolated(audios, self.model, self.options, self.cancel, on_piece,
                                                    on_speakers)
        for (index, _, decode_s), (outcome, seconds) in zip(self.pending, outcomes, strict=True):
            label = file_label(self.files[index])
            if isinstance(outcome, Transcript):
                self._finish(index, FileResult(label, transcript=outcome, seconds=decode_s + seconds))
            else:
                self._finish(index, FileResult(label, error=outcome, seconds=decode_s + seconds))
        self.pending.clear()
        self._report(f"{FILES_DONE_PREFIX}{self.done} of {len(self.files)}")

    def _long_audio_s(self) -> float:
        """Above this a file goes in windows: the model's own limit (its model is loaded to ask it)."""
        self._ensure_loaded()
        return self.engine.limits(self.model, cancel=self.cancel).resolved()[0]

    def _long_file(self, index: int, reader: AudioReader, head: np.ndarray) -> Transcript:
        self._ensure_loaded()
        start_done, name, length = self.done, Path(reader.source).name, self._length(index)
        return self.engine.transcribe_stream(
            reader, head, model=self.model, options=self.options, cancel=self.cancel,
            on_piece=lambda _item, part, parts: self._report_piece(start_done, name, part, parts, 0.0, length),
            on_speakers=lambda: self._report_at(start_done + 0.95, f"Identifying speakers in {name}", 0.95 * length),
        )

    def _ensure_loaded(self) -> None:
        if self.engine.cache.is_loaded(self.model, pick_device(self.engine.device)):
            self.engine.load(self.model, cancel=self.cancel)
            return
        self._report(f"Loading model {self.model}")
        started = time.perf_counter()
        try:
            self.engine.load(self.model, cancel=self.cancel)
        finally:
            self.loading_s += time.perf_counter() - started

    def _spent(self, started: float, loaded: float) -> float:
        """Seconds since ``started`` (when :attr:`loading_s` was ``loaded``) less the model's loading meanwhile: a
        folder batch's first file took 2 s, not the 30 s a large model may take to load on a CPU."""
        return time.perf_counter() - started - (self.loading_s - loaded)

    def _length(self, index: int) -> float:
        return self.lengths[index] if self.lengths else 0.0

    def _report_at(self, position: float, description: str, under_way_s: float = 0.0) -> None:
        """Report ``position`` files done, ``under_way_s`` seconds of the unfinished ones' audio done besides."""
        if self.progress is not None:
            total = len(self.files)
            share = min(1.0, (self.done_s + under_way_s) / self.whole_s) if self.whole_s > 0 else None
            self.progress(Progress(min(position, total), total, description, share))

    def _report(self, description: str) -> None:
        self._report_at(self.done, description)

    def _report_piece(
        self, start_done: int, name: str, part: int, parts: int, before_s: float, length_s: float
    ) -> None:
        """Report that part ``part`` (from 0) of ``parts`` of a file begins, ``before_s`` seconds of the audio in its
        batch being done before it."""
        where = f" (part {part + 1} of {parts})" if parts > 1 else ""
        self._report_at(start_done + part / parts, f"Transcribing {name}{where}", before_s + part / parts * length_s)


def input_lengths(files: Sequence[str | Path | AudioData]) -> list[float]:
    """Each input's length in seconds: decoded audio's own, a file's as its header states it (without decoding);
    for a file whose header says none, or that cannot be read, the mean of the others' (one second if none says)."""
    stated = [item.duration if isinstance(item, AudioData) else header_duration(item) for item in files]
    known = [seconds for seconds in stated if seconds is not None and seconds > 0]
    usual = sum(known) / len(known) if known else 1.0
    return [seconds if seconds is not None and seconds > 0 else usual for seconds in stated]
