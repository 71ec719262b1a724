"""Load NeMo speech-recognition models, and what the pipeline needs to know about one.

With :mod:`transcriber.diarization`, the only modules that import NeMo, lazily, inside functions, so that
``import transcriber`` stays fast and the temporary-folder redirect can run first.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ModelLoadError, ModelNotAvailableError
from .models import DEFAULT_MODEL, KNOWN_HINT, ModelSource, not_available_message, unknown_pretrained_name

logger = logging.getLogger(__name__)

NEMO_LOGS_TO_STDERR_ENV = "NEMO_REDIRECT_LOGS_TO_STDERR"
TELEMETRY_LOGGER = "nv_one_logger"
"""NeMo's telemetry library, which says at NeMo's import, in three lines, that it is off and collects nothing: nothing
for a user to act on, and alarming in the terminal of an app that keeps everything on the computer."""
_nemo_log = {"verbose": False}


def set_nemo_verbose(verbose: bool) -> None:
    """Show NeMo's INFO log (config dumps at load, a line per ``transcribe()`` call) or only its warnings and
    errors (the default). Applies to models loaded from now on."""
    _nemo_log["verbose"] = verbose


NEMO_LOGGER = "nemo_logger"
HYDRA_LOGGER = "hydra.utils"
CPU_NOISE = "No conditional node support for Cuda"
"""NeMo warns on every decoding set-up on a machine without CUDA that CUDA graphs are off: true and useless there."""
AED_CHUNKING_NOISE = "Chunking is disabled. Please pass a single audio file"
"""NeMo warns on every Canary ``transcribe()`` of more than one array that its own chunking is off; the engine
windows long audio itself, so there is nothing for a user to do."""
HYDRA_NOISE = "Error getting class at nemo.collections.asr.modules.transformer.get_nemo_transformer"
"""Hydra logs as an error, at every Canary load, that the decoder's ``_target_`` is a function, then calls it."""
NOISE = {NEMO_LOGGER: (CPU_NOISE, AED_CHUNKING_NOISE), HYDRA_LOGGER: (HYDRA_NOISE,)}
RESTORE_LOCK = threading.Lock()
"""Model loads take turns: NeMo's ``restore_from`` keeps the archive it unpacks in process-wide state (the folder in
its ``AppState``, and the working directory, which it changes), so two loads at once read each other's files. Seen in
the app: the speech model, loading in the background, looked for its tokenizer among the diarizer's files that a
first request was loading ("Artifact not found ... Files in nemo_file_folder: ['model_weights.ckpt',
'model_config.yaml']"), and the page said the model could not be loaded."""


class _Noise(logging.Filter):
    """Drops the lines of :data:`NOISE` unless :func:`set_nemo_verbose` asked for everything."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return _nemo_log["verbose"] or not str(record.getMessage()).startswith(self.prefixes)


def prepare_nemo_import() -> None:
    """Call before importing NeMo: its INFO log goes to stderr, not stdout (which belongs to results: the CLI prints
    JSON there), and its telemetry library's notice at import shows only when :func:`set_nemo_verbose` asked."""
    os.environ.setdefault(NEMO_LOGS_TO_STDERR_ENV, "1")
    logging.getLogger(TELEMETRY_LOGGER).setLevel(logging.NOTSET if _nemo_log["verbose"] else logging.ERROR)


def _filter_noise() -> None:
    for name, prefixes in NOISE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Noise) for f in logger.filters):
            logger.addFilter(_Noise(prefixes))


@contextmanager
def quiet_restore():
    """While a model is restored, NeMo warns about training and validation data it was not given, dumping whole
    configs; those say nothing to someone transcribing, so unless :func:`set_nemo_verbose` asked for everything,
    only errors show while loading and warnings afterwards."""
    from nemo.utils import logging as nemo_logging

    _filter_noise()
    if _nemo_log["verbose"]:
        nemo_logging.set_verbosity(logging.INFO)
        yield
        return
    nemo_logging.set_verbosity(logging.ERROR)
    try:
        yield
    finally:
        nemo_logging.set_verbosity(logging.WARNING)


def load_nemo_model(source: ModelSource, device: str) -> Any:
    """Load a NeMo ASR model: ``restore_from`` for a local file, ``from_pretrained`` otherwise.

    Raises:
        ModelNotAvailableError: The model is not local and could not be downloaded.
        ModelLoadError: The file exists but is not a NeMo ASR model NeMo can load.
    """
    prepare_nemo_import()
    from nemo.collections.asr.models import ASRModel, SortformerEncLabelModel

    with quiet_restore():
        model = restore_or_download(source, device, ASRModel.restore_from, ASRModel.from_pretrained,
                                    what="Model file")
    if isinstance(model, SortformerEncLabelModel):
        raise ModelLoadError(
            f"{source.name} is a speaker diarizer, not a speech-recognition model: give it as the diarizer "
            f"(--diarizer; to install it: setup_local_models.py --import FILE --diarizer)."
        )
    if not callable(getattr(model, "transcribe", None)):
        raise ModelLoadError(f"Model {source.name} is not a speech-recognition model (its class is "
                             f"{type(model).__name__}).")
    model.eval()
    return model


def restore_or_download(
    source: ModelSource, device: str, restore: Callable[..., Any], download: Callable[..., Any], *, what: str
) -> Any:
    """``restore(path)`` for a local file, ``download(name)`` otherwise, onto ``device``.

    Raises:
        ModelNotAvailableError: The model is not local and could not be downloaded.
        ModelLoadError: The file exists but NeMo could not load it (``what`` names it in the message).
    """
    try:
        with RESTORE_LOCK:
            if source.path is not None:
                return restore(str(source.path), map_location=device)
            return download(source.name, map_location=device)
    except Exception as exc:  # NeMo, Hugging Face and tarfile raise many unrelated types; all mean "cannot load"
        if source.path is None:
            raise ModelNotAvailableError(not_available_message(source.name, exc)) from exc
        if no_space(exc):
            raise ModelLoadError(no_space_message(what, source.path)) from exc
        # A .nemo is a tar archive; one cut short (an interrupted copy or download) or not one at all fails to open
        cut_short = isinstance(exc, tarfile.ReadError)
        again = " It is not a whole .nemo archive: copy or download it again." if cut_short else ""
        raise ModelLoadError(
            f"{what} {source.path.name} could not be loaded ({type(exc).__name__}: {exc}).{again}"
        ) from exc


def no_space(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is a disk with no room left (``ENOSPC``)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def no_space_message(what: str, path: Path) -> str:
    """Why a model could not be unpacked: NeMo unpacks a ``.nemo`` into the temporary folder before loading it, and
    that folder's disk is full (a small ``/tmp``; a large model needs gigabytes)."""
    folder = tempfile.gettempdir()
    size = f"about {path.stat().st_size / 1e6:,.0f} MB" if path.is_file() else "as much as its file"
    free = f"{shutil.disk_usage(folder).free / 1e6:,.0f} MB"
    return (f"{what} {path.name} could not be unpacked: the temporary folder {folder} has no room left (it needs "
            f"{size}; {free} free). Free some space there, or give a folder on a larger disk with --temp-dir.")


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
    prepare_nemo_import()
    from nemo.collections.asr.models import ASRModel

    try:
        path = ASRModel.from_pretrained(name, return_model_file=True)
    except Exception as exc:  # network, hub and NeMo errors all mean "cannot fetch"
        if unknown_pretrained_name(name, exc):
            raise ModelNotAvailableError(
                f"NeMo has no pretrained model named {name}; {KNOWN_HINT} lists the models this app knows "
                f"(a Hugging Face model is named with its owner, as in {DEFAULT_MODEL})."
            ) from exc
        raise ModelNotAvailableError(
            f"Model {name} could not be downloaded ({type(exc).__name__}: {exc}); "
            f"check the name and the internet connection."
        ) from exc
    path = Path(path)
    if not path.is_file():
        raise ModelNotAvailableError(f"Model {name} is not published as a single .nemo file; it cannot be installed.")
    return path


def frame_seconds(model: Any) -> float:
    """Duration of one encoder output frame: window stride times the encoder's subsampling factor."""
    stride = float(model.cfg.preprocessor.get("window_stride", 0.01))
    factor = getattr(model.encoder, "subsampling_factor", None) or model.cfg.encoder.get("subsampling_factor", 1)
    return stride * int(factor)


MODEL_CONFIG_NAME = "model_config.yaml"


def read_model_config(path: Path) -> dict[str, Any]:
    """The config inside a ``.nemo`` file (a tar archive), read without loading the model.

    Raises:
        ValueError: The file is not a ``.nemo`` archive or holds no config.
    """
    import tarfile

    import yaml

    try:
        with tarfile.open(path, "r:*") as archive:
            member = next((m for m in archive.getmembers() if m.name.endswith(MODEL_CONFIG_NAME)), None)
            if member is None:
                raise ValueError(f"{Path(path).name} holds no {MODEL_CONFIG_NAME}")
            data = yaml.safe_load(archive.extractfile(member).read())
    except tarfile.TarError as exc:
        raise ValueError(f"{Path(path).name} is not a .nemo archive: {exc}") from exc
    return data if isinstance(data, dict) else {}
