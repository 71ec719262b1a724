"""GPU failures handled on the CPU by fault injection: a double of a real tiny model raises the exceptions CUDA
raises (``torch.OutOfMemoryError`` with CUDA's message, CUDA-graph ``RuntimeError``s) at chosen points, and each
fallback is asserted through the engine."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from transcriber import gpu
from transcriber.engine import Engine
from transcriber.nemo_models import load_nemo_model
from transcriber.types import AudioData, TranscribeOptions

pytestmark = pytest.mark.integration

OOM_MESSAGE = ("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.65 GiB of which "
               "1.19 GiB is free.")
CUDA_GRAPH_MESSAGE = "CUDA failure! 35 (cudaErrorInsufficientDriver) while capturing CUDA graph"
FRAME_S = 0.08


class FaultyGpuModel:
    """A real tiny model that fails like a GPU: out of memory above ``max_batch`` inputs per forward pass or for
    any input over ``max_seconds``; a CUDA-graph failure on its first ``graph_failures`` calls while its decoding
    still uses CUDA graphs."""

    def __init__(self, model, *, max_batch: int = 64, max_seconds: float = 1e9, graph_failures: int = 0):
        self._model = model
        self.max_batch, self.max_seconds, self.graph_failures = max_batch, max_seconds, graph_failures
        self.calls: list[tuple[int, int, float]] = []  # (inputs, batch_size, longest input in seconds)

    def __getattr__(self, name):
        return getattr(self._model, name)

    def transcribe(self, audio, **kwargs):
        longest = max(len(a) for a in audio) / 16_000
        self.calls.append((len(audio), kwargs["batch_size"], longest))
        if self.graph_failures and gpu.uses_cuda_graphs(self._model):
            self.graph_failures -= 1
            raise RuntimeError(CUDA_GRAPH_MESSAGE)
        if min(kwargs["batch_size"], len(audio)) > self.max_batch or longest > self.max_seconds:
            raise torch.OutOfMemoryError(OOM_MESSAGE)
        return self._model.transcribe(audio, **kwargs)


def faulty_engine(**faults) -> tuple[Engine, list[FaultyGpuModel]]:
    made: list[FaultyGpuModel] = []

    def loader(source, device):
        made.append(FaultyGpuModel(load_nemo_model(source, device), **faults))
        return made[-1]

    return Engine(device="cpu", loader=loader), made


def tone(seconds: float, name: str) -> AudioData:
    t = np.arange(round(seconds * 16_000)) / 16_000
    return AudioData((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16_000, name)


def test_a_batch_that_does_not_fit_is_retried_at_half_its_size_down_to_what_fits(tiny_rnnt):
    engine, (made) = faulty_engine(max_batch=2)
    clips = [tone(1.0 + n / 10, f"clip{n}.wav") for n in range(8)]
    results = engine.transcribe_files(clips, model=tiny_rnnt, options=TranscribeOptions(batch_size=8))
    assert all(result.ok for result in results)
    assert [batch for _, batch, _ in made[0].calls] == [8, 4, 2]
    plain = Engine(device="cpu").transcribe_files(clips, model=tiny_rnnt, options=TranscribeOptions(batch_size=8))
    assert [r.transcript.text for r in results] == [r.transcript.text for r in plain]


def test_a_cuda_graph_failure_turns_cuda_graphs_off_for_that_model_once(tiny_rnnt, caplog):
    engine, made = faulty_engine(graph_failures=1)
    with caplog.at_level(logging.WARNING, logger="transcriber.gpu"):
        for _ in range(2):
            (result,) = engine.transcribe_files([tone(1.0, "a.wav")], model=tiny_rnnt)
            assert result.ok and result.transcript.text.startswith("nine")
    assert made[0].cfg.decoding.greedy.use_cuda_graph_decoder is False  # and it stays off
    assert not gpu.uses_cuda_graphs(made[0])
    assert [r.getMessage() for r in caplog.records].count(
        next(r.getMessage() for r in caplog.records if "CUDA-graph decoding failed" in r.getMessage())) == 1
    assert len(made[0].calls) == 3  # the failed call, its repeat, and the second job


def test_a_window_that_does_not_fit_alone_is_transcribed_in_halves_without_doubled_words(tiny_rnnt):
    engine, made = faulty_engine(max_seconds=12.0)
    options = TranscribeOptions(timestamps=True, refine_timestamps=False)
    (result,) = engine.transcribe_files([tone(20.0, "talk.wav")], model=tiny_rnnt, options=options)
    (plain,) = Engine(device="cpu").transcribe_files([tone(20.0, "talk.wav")], model=tiny_rnnt, options=options)
    assert result.ok
    assert max(longest for _, _, longest in made[0].calls[1:]) <= 12.0  # halves of 10.5 s after the 20 s failed
    words, expected = result.transcript.words, plain.transcript.words
    assert abs(len(words) - len(expected)) <= 2
    assert all(b.start >= a.start for a, b in zip(words, words[1:]))  # one ordered run, the seam not doubled


def test_audio_that_never_fits_fails_with_the_file_and_the_free_memory_and_the_others_finish(tiny_rnnt):
    engine, _ = faulty_engine(max_seconds=2.0)
    results = engine.transcribe_files([tone(1.0, "short.wav"), tone(10.0, "long.wav")], model=tiny_rnnt)
    assert results[0].ok
    assert not results[1].ok
    assert "long.wav: the GPU ran out of memory even for" in results[1].error
    assert "(not a GPU)" in results[1].error or "GiB free of" in results[1].error
    assert "Traceback" not in results[1].error


@pytest.mark.parametrize(
    "error, kind",
    [
        (torch.OutOfMemoryError(OOM_MESSAGE), "memory"),
        (RuntimeError("CUDA error: out of memory"), "memory"),
        (RuntimeError(CUDA_GRAPH_MESSAGE), "graph"),
        (RuntimeError("nvrtc: error: invalid value for --gpu-architecture (-arch)"), "graph"),
        (RuntimeError("shape mismatch"), None),
    ],
)
def test_gpu_errors_are_told_apart(error, kind):
    assert gpu.is_out_of_memory(error) == (kind == "memory")
    assert gpu.is_cuda_graph_failure(error) == (kind == "graph")


def test_precision_is_fp32_on_the_cpu_and_checked():
    assert gpu.effective_precision("cpu", "bf16") == "fp32"
    with pytest.raises(ValueError, match="fp32, bf16, fp16"):
        gpu.check_precision("fp8")
    assert gpu.batch_size_for(24 * gpu.GIB, 30.0) == 13 and gpu.batch_size_for(1, 30.0) == 1
