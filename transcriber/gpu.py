"""What goes wrong on NVIDIA GPUs and how a job still finishes: CUDA-graph decoding that fails, and memory that
runs out.

* **CUDA graphs.** NeMo's greedy transducer decoding captures CUDA graphs for speed; on some driver and PyTorch
  combinations the capture fails ("CUDA failure! 35", nvrtc compile errors: NeMo issues #15145 and #14107). Such a
  failure turns CUDA-graph decoding off for that model (``decoding.greedy.use_cuda_graph_decoder``), logged once, and
  the call is repeated; the model keeps it off for as long as it stays loaded.
* **Out of memory.** A batch that does not fit is retried at half its size, down to one input at a time; a window
  that still does not fit alone is transcribed in halves (see the engine). Only then does the job fail, with a
  sentence naming the file and the GPU's free memory.
* **Batch size from free memory.** With no batch size given, a GPU job batches as many inputs as its free memory
  holds by :data:`BYTES_PER_AUDIO_SECOND`.

Everything here is plain logic over exceptions and numbers; tests raise the real exception types (``torch``'s
``OutOfMemoryError``, NeMo's ``RuntimeError`` messages) from a double of a real tiny model on the CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .errors import TranscriptionFailedError

logger = logging.getLogger(__name__)

CUDA_GRAPH_MARKERS = ("cuda failure", "nvrtc", "cuda graph", "cudagraph", "stream is capturing", "graph capture")
"""Words in the errors CUDA-graph decoding raises when the driver or PyTorch cannot capture or run a graph."""
OUT_OF_MEMORY_MARKERS = ("cuda out of memory", "out of memory", "cudnn_status_alloc_failed", "cublas_status_alloc_failed")
BYTES_PER_AUDIO_SECOND = 60 * 1024**2
"""GPU memory one second of audio takes in a batch of a 0.6B FastConformer at bf16, with room to spare."""
MAX_AUTO_BATCH = 64
PRECISIONS = ("fp32", "bf16", "fp16")
"""``--precision``: on CUDA the default is bf16 where the GPU has it, else fp16; the CPU always runs fp32."""
GIB = 1024**3


def cuda_missing() -> str | None:
    """Why a CUDA device cannot be used here, in words; ``None`` when PyTorch sees a CUDA GPU."""
    import torch  # imported here so that importing this module stays cheap

    if torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return f"this PyTorch ({torch.__version__}) is built without CUDA; install its CUDA build (README: GPU)"
    return "PyTorch finds no CUDA GPU here (the driver, or CUDA_VISIBLE_DEVICES)"


def check_precision(precision: str | None) -> str | None:
    """``precision`` if it is one of :data:`PRECISIONS` (or ``None``: the device's default).

    Raises:
        ValueError: Anything else.
    """
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision


def effective_precision(device: str, precision: str | None) -> str:
    """What a job runs at: fp32 on the CPU; on CUDA the chosen precision, by default bf16 (fp16 without bf16)."""
    if not str(device).startswith("cuda"):
        return "fp32"
    if precision is not None:
        return precision
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


@contextmanager
def autocast(device: str, precision: str | None) -> Iterator[None]:
    """Run the block at the job's precision: ``torch.autocast`` on CUDA for bf16/fp16, so weights stay fp32 and NeMo's
    preprocessor (which turns autocast off for itself) keeps computing features in fp32; nothing on the CPU."""
    chosen = effective_precision(device, precision)
    if chosen == "fp32":
        yield
        return
    import torch

    with torch.autocast(device_type="cuda", dtype=torch.bfloat16 if chosen == "bf16" else torch.float16):
        yield


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says the GPU (or its libraries) ran out of memory."""
    try:
        import torch

        if isinstance(error, torch.OutOfMemoryError):
            return True
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    text = str(error).lower()
    return any(marker in text for marker in OUT_OF_MEMORY_MARKERS)


def is_cuda_graph_failure(error: BaseException) -> bool:
    """Whether ``error`` comes from CUDA-graph capture or replay (and not from running out of memory)."""
    text = str(error).lower()
    return not is_out_of_memory(error) and any(marker in text for marker in CUDA_GRAPH_MARKERS)


def uses_cuda_graphs(model: Any) -> bool:
    """Whether the model's greedy decoding may use CUDA graphs (NeMo's default for transducers)."""
    decoding = getattr(getattr(model, "cfg", None), "decoding", None)
    if decoding is None or not hasattr(model, "change_decoding_strategy"):
        return False
    greedy = decoding.get("greedy") or {}
    return bool(greedy.get("use_cuda_graph_decoder", True)) and "greedy" in str(decoding.get("strategy", ""))


def disable_cuda_graphs(model: Any) -> bool:
    """Turn CUDA-graph decoding off for ``model``; returns whether it was on."""
    if not uses_cuda_graphs(model):
        return False
    from omegaconf import open_dict

    decoding = model.cfg.decoding
    with open_dict(decoding):
        if decoding.get("greedy") is None:
            decoding.greedy = {}
        decoding.greedy.use_cuda_graph_decoder = False
    model.change_decoding_strategy(decoding, verbose=False)
    return True


def free_memory(device: str) -> tuple[int, int] | None:
    """(free, total) bytes of the CUDA device, or ``None`` on the CPU or when it cannot be asked."""
    if not str(device).startswith("cuda"):
        return None
    try:
        import torch

        return torch.cuda.mem_get_info(torch.device(device))
    except (RuntimeError, AssertionError, ValueError):
        return None


def describe_free_memory(device: str) -> str:
    """``"1.2 GiB free of 24.0 GiB"`` for a CUDA device, else ``"not a GPU"``."""
    found = free_memory(device)
    if found is None:
        return "not a GPU"
    free, total = found
    return f"{free / GIB:.1f} GiB free of {total / GIB:.1f} GiB"


def release_cached_memory(device: str) -> None:
    """Give PyTorch's cached blocks back to the driver before a smaller retry."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def batch_size_for(free_bytes: int, seconds_per_input: float) -> int:
    """How many inputs of ``seconds_per_input`` a batch may hold in ``free_bytes`` (1 to :data:`MAX_AUTO_BATCH`)."""
    need = max(1.0, seconds_per_input) * BYTES_PER_AUDIO_SECOND
    return max(1, min(MAX_AUTO_BATCH, int(free_bytes // need)))


class GpuOutOfMemoryError(TranscriptionFailedError):
    """A window of audio does not fit in the GPU's memory even alone and halved (the other files of the batch are
    still transcribed)."""


MIN_SPLIT_S = 4.0
"""Out of memory with one input of at least twice this long: it is transcribed in halves (overlapping by
:data:`SPLIT_OVERLAP_S`); shorter ones are not split further."""
SPLIT_OVERLAP_S = 1.0

Part = tuple[float, float, Any]
"""(offset in seconds within its input, duration in seconds, the NeMo hypothesis of that stretch)."""


def transcribe_with_fallbacks(
    model: Any,
    inputs: list[np.ndarray],
    *,
    call: Callable[[Any, list[np.ndarray], int], list[Any]],
    batch_size: int,
    sample_rate: int,
    device: str,
    model_name: str,
    sources: list[str],
) -> list[list[Part]]:
    """``call(model, inputs, batch_size)`` (one hypothesis per input), made to finish where the GPU lets it: CUDA
    graphs off after a CUDA-graph failure, half the batch after running out of memory, then one input at a time and
    an input in halves (each half's hypothesis a part of its input).

    Raises:
        GpuOutOfMemoryError: An input does not fit even in stretches of :data:`MIN_SPLIT_S`; names the file and the
            free memory.
    """
    batch = max(1, batch_size)
    while True:
        hypotheses = _call_or_none(model, inputs, batch, call, device, model_name)
        if hypotheses is not None:
            return [[(0.0, len(samples) / sample_rate, hypothesis)] for samples, hypothesis in zip(inputs, hypotheses)]
        effective = min(batch, len(inputs))  # a batch larger than the inputs is the same forward pass
        if effective > 1:
            batch = effective // 2
            logger.warning("Out of GPU memory at batch size %d; retrying at %d", effective, batch)
            continue
        if len(inputs) == 1:
            return [_in_halves(model, inputs[0], 0.0, call, sample_rate, device, model_name, sources[0])]
        return [
            _in_halves(model, samples, 0.0, call, sample_rate, device, model_name, source, whole_first=True)
            for samples, source in zip(inputs, sources)
        ]


def _call_or_none(
    model: Any, inputs: list[np.ndarray], batch: int, call: Callable[[Any, list[np.ndarray], int], list[Any]],
    device: str, model_name: str,
) -> list[Any] | None:
    """``call(model, inputs, batch)``, repeated with CUDA graphs off after a CUDA-graph failure; ``None`` when the GPU
    ran out of memory (its cached blocks given back for the smaller retry). Any other error is raised."""
    while True:
        try:
            return call(model, inputs, batch)
        except Exception as exc:  # noqa: BLE001 - only the two kinds below are handled, the rest re-raised
            if _retry_without_cuda_graphs(model, model_name, exc):
                continue
            if not is_out_of_memory(exc):
                raise
            release_cached_memory(device)
            return None


def _retry_without_cuda_graphs(model: Any, model_name: str, error: BaseException) -> bool:
    if is_cuda_graph_failure(error) and disable_cuda_graphs(model):
        logger.warning("CUDA-graph decoding failed for %s (%s); it is off for this model from now on", model_name,
                       error)
        return True
    return False


def _in_halves(
    model: Any, samples: np.ndarray, offset: float, call, sample_rate: int, device: str, model_name: str,
    source: str, *, whole_first: bool = False,
) -> list[Part]:
    """One input as parts: whole if it fits (tried when ``whole_first``), else its two halves, each the same way."""
    seconds = len(samples) / sample_rate
    if whole_first:
        hypotheses = _call_or_none(model, [samples], 1, call, device, model_name)
        if hypotheses is not None:
            return [(offset, seconds, hypotheses[0])]
    if seconds < 2 * MIN_SPLIT_S:
        raise GpuOutOfMemoryError(
            f"{Path(source).name}: the GPU ran out of memory even for {seconds:.0f} s of audio at a time "
            f"({describe_free_memory(device)}); close other programs that use the GPU, or use --device cpu."
        )
    middle = len(samples) // 2
    overlap = round(SPLIT_OVERLAP_S * sample_rate / 2)
    left, right = samples[: middle + overlap], samples[middle - overlap :]
    logger.warning("Out of GPU memory on %.0f s of %s; transcribing it in halves", seconds, Path(source).name)
    return [
        *_in_halves(model, left, offset, call, sample_rate, device, model_name, source, whole_first=True),
        *_in_halves(model, right, offset + (middle - overlap) / sample_rate, call, sample_rate, device, model_name,
                    source, whole_first=True),
    ]
