"""Which models exist and where they live on disk (the cache that loads each one once is :mod:`.model_cache`).

A model is named either by a path to a ``.nemo`` file or by a pretrained name such as ``nvidia/parakeet-tdt-0.6b-v2``.
Names are looked up locally first (the app's model folder, then the Hugging Face cache that NeMo's own
``from_pretrained`` fills), so a model fetched once loads with no network call: NeMo's ``from_pretrained`` asks the
hub even for a cached model, so a local file is always loaded with ``restore_from`` instead. Only a name found nowhere
locally is handed to ``from_pretrained``, which downloads it.

The model folder holds ``manifest.json``, which records each installed model's name, file, size and SHA-256; a model
is checked against it when it is first loaded. A small English demo model ships inside the package, so the app works
end to end on a machine with no model installed.

This module never imports NeMo: the loader that does is passed in by :mod:`transcriber.engine`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelLoadError, ModelNotAvailableError
from .folders import is_file, make_folder, new_file
from .outputs import atomic_write_text, fitted_stem, numbered
from .tempdir import APP_NAME, is_windows

logger = logging.getLogger(__name__)

MODEL_DIR_ENV = "TRANSCRIBER_MODEL_DIR"
NEMO_SUFFIX = ".nemo"
DEFAULT_MODEL = "nvidia/parakeet-tdt-0.6b-v2"
INSTALL_HINT = "python setup_local_models.py --download {name}"
INSTALLED_HINT = "python setup_local_models.py --installed"
KNOWN_HINT = "python setup_local_models.py --list"
MANIFEST_NAME = "manifest.json"
HASH_CHUNK_BYTES = 1 << 20
MODEL_STEM_MAX_BYTES = 200
"""Most UTF-8 bytes of an installed model's file name before ``.nemo``: a name is 255 bytes at most, and the file is
copied in under ``.NAME.<8 random>.part`` first."""
FALLBACK_MODEL_STEM = "model"
DEMO_MODEL = "demo-en-commands"
"""The model inside the package: English digits and command words only, trained on synthetic speech."""
DEMO_MODEL_PATH = Path(__file__).resolve().parent / "assets" / f"{DEMO_MODEL}.nemo"
DEMO_DIARIZER = "demo-diarizer"
"""The diarizer inside the package: a small Sortformer trained on synthetic conversations of 2-4 voices."""
DEMO_DIARIZER_PATH = DEMO_MODEL_PATH.parent / f"{DEMO_DIARIZER}.nemo"
DEMO_FILES = {DEMO_MODEL: DEMO_MODEL_PATH, DEMO_DIARIZER: DEMO_DIARIZER_PATH}
DEFAULT_DIARIZER = "nvidia/diar_streaming_sortformer_4spk-v2"
ASR = "asr"
DIARIZER = "diarizer"


@dataclass(frozen=True)
class ModelInfo:
    """A pretrained model the app knows how to fetch."""

    name: str
    description: str
    languages: str
    size_mb: int
    licence: str = ""


KNOWN_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("nvidia/parakeet-tdt-0.6b-v2", "FastConformer-TDT, punctuation and capitals", "en", 2400),
    ModelInfo("nvidia/parakeet-tdt-0.6b-v3", "FastConformer-TDT, 25 European languages", "multilingual (25)", 2500),
    ModelInfo("nvidia/parakeet-ctc-0.6b", "FastConformer-CTC, lower case", "en", 2400),
    ModelInfo("nvidia/canary-1b-v2", "Canary encoder-decoder, 25 European languages, translates to and from English",
              "multilingual (25)", 3900),
    ModelInfo("nvidia/canary-1b-flash", "Canary encoder-decoder, also translates", "en, de, es, fr", 3600),
    ModelInfo("nvidia/canary-180m-flash", "small Canary encoder-decoder, also translates", "en, de, es, fr", 740),
    ModelInfo("nvidia/stt_en_fastconformer_ctc_large", "FastConformer-CTC large, 115M parameters", "en", 460),
)


@dataclass(frozen=True)
class ModelSource:
    """Where a model will be loaded from: a local ``.nemo`` file (``path``) or a download by ``name``."""

    name: str
    path: Path | None = None
    sha256: str | None = None

    @property
    def is_local(self) -> bool:
        """True when the model loads from a file on disk."""
        return self.path is not None


KNOWN_DIARIZERS: tuple[ModelInfo, ...] = (
    ModelInfo(DEFAULT_DIARIZER, "Streaming Sortformer, up to 4 speakers (recommended)", "any", 470, "CC-BY-4.0"),
    ModelInfo(
        "nvidia/diar_sortformer_4spk-v1", "Sortformer, up to 4 speakers", "any", 470,
        "CC-BY-NC-4.0: non-commercial use only",
    ),
)


def user_data_dir() -> Path:
    """The per-user data folder of the app."""
    home = Path.home()
    if is_windows():
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / APP_NAME
    return Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / APP_NAME


def model_dir() -> Path:
    """The folder installed models live in: ``TRANSCRIBER_MODEL_DIR`` or ``<user data dir>/models``."""
    return Path(os.environ.get(MODEL_DIR_ENV) or user_data_dir() / "models").expanduser()


def model_file_name(name: str) -> str:
    """The file name an installed model gets: ``nvidia/parakeet-tdt-0.6b-v2`` -> ``nvidia--parakeet-tdt-0.6b-v2.nemo``.

    Letters of any script stay (``会議`` -> ``会議.nemo``; only ASCII ones did, and every such name made the one
    hidden file ``.nemo``); at most :data:`MODEL_STEM_MAX_BYTES` bytes before the suffix; a name Windows reserves
    gets a ``_`` first. :func:`install_file` makes it unique among the installed models.
    """
    stem = re.sub(r"[^\w.-]+", "--", name).strip("-.")  # \w takes no surrogate: whole UTF-8 is left
    return fitted_stem(stem, edges="-.", max_bytes=MODEL_STEM_MAX_BYTES, fallback=FALLBACK_MODEL_STEM) + NEMO_SUFFIX


def looks_like_path(name: str) -> bool:
    """Whether ``name`` names a file or a folder rather than a pretrained model (``org/name``): it ends in ``.nemo``,
    is a file, or starts as only a path can (``/``, ``./``, ``../``, ``~``, a Windows drive or ``\\``). A folder
    ``org/name`` in the working directory does not make a pretrained name a path."""
    path = Path(name).expanduser()
    return (name.lower().endswith(NEMO_SUFFIX) or is_file(path) or path.is_absolute()
            or name.startswith((".", "~", "\\")) or bool(re.match(r"[A-Za-z]:[\\/]", name)))


def _hf_cached_file(name: str) -> Path | None:
    """The ``.nemo`` file NeMo's ``from_pretrained`` left in the Hugging Face cache, if any (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # huggingface_hub comes with NeMo; without it there is no cache to look in
        return None
    try:
        cached = try_to_load_from_cache(repo_id=name, filename=name.rsplit("/", 1)[-1] + NEMO_SUFFIX)
    except ValueError:  # not a valid repository name, so nothing of that name can be cached
        return None
    return Path(cached) if isinstance(cached, str) else None


def hears_its_training_length(source: ModelSource) -> bool:
    """Whether a model should get at most the length of its training clips at once (``windows.limits_for``): the
    built-in demo model, trained on clips of at most 12 s, heard 70 s of talk in one pass, or in 30 s windows, with
    8.1 % of its words wrong where the same clips one by one lost 2.6 % (in 10 s windows: 3.4 %). NVIDIA's models
    are trained for long input, so they keep the default windows."""
    return source.path is not None and source.path == DEMO_MODEL_PATH


def resolve_model(name: str) -> ModelSource:
    """Find where ``name`` loads from, looking only at local files.

    Raises:
        ModelNotAvailableError: ``name`` is a path to a file that does not exist, or to a folder.
    """
    if name in DEMO_FILES and DEMO_FILES[name].is_file():
        return ModelSource(name=name, path=DEMO_FILES[name])
    if looks_like_path(name):
        path = Path(name).expanduser()
        try:
            if path.is_dir():
                raise ModelNotAvailableError(f"{name} is a folder, not a model: give the {NEMO_SUFFIX} file in it.")
            found = path.is_file()
        except OSError as exc:  # a path longer than a name may be
            raise ModelNotAvailableError(f"Model file {name} cannot be looked up: {exc.strerror or exc}.") from exc
        if not found:
            raise ModelNotAvailableError(f"Model file {name} does not exist.")
        return ModelSource(name=str(path), path=path.resolve())
    entry = read_manifest().get(name)
    if entry is not None and entry.path.is_file():
        return ModelSource(name=name, path=entry.path, sha256=entry.sha256)
    installed = model_dir() / model_file_name(name)
    if installed.is_file():
        return ModelSource(name=name, path=installed)
    cached = _hf_cached_file(name)
    if cached is not None:
        return ModelSource(name=name, path=cached)
    return ModelSource(name=name)


@dataclass(frozen=True)
class InstalledModel:
    """A model in the model folder, as recorded in its manifest."""

    name: str
    path: Path
    size: int
    sha256: str
    kind: str = ASR


def manifest_path() -> Path:
    """Where the model folder's manifest lives."""
    return model_dir() / MANIFEST_NAME


def read_manifest() -> dict[str, InstalledModel]:
    """The installed models by name; empty when nothing is installed. A list that cannot be read (left empty by a
    power cut, garbled) is made again from the model files (:func:`_manifest_from_files`)."""
    path = manifest_path()
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["models"]
        return {
            name: InstalledModel(
                name, path.parent / entry["file"], int(entry["size"]), str(entry["sha256"]), entry.get("kind", ASR)
            )
            for name, entry in entries.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return _manifest_from_files(path, exc)


def _manifest_from_files(path: Path, damage: Exception) -> dict[str, InstalledModel]:
    """The model list at ``path``, which cannot be read because of ``damage``, made again from the ``.nemo`` files
    beside it (the models are all there; installing them again would mean downloading gigabytes): each under the
    name its file was made from (``nvidia--parakeet-tdt-0.6b-v2.nemo`` is ``nvidia/parakeet-tdt-0.6b-v2``), a
    diarizer or a recognizer as its own config says, its checksum taken now. The damaged list is kept beside it as
    ``manifest.json.damaged-<time>``.

    Raises:
        ModelLoadError: The list cannot be written again (a read-only model folder).
    """
    from .nemo_models import read_model_config  # reads the config without NeMo

    logger.warning("The model list %s cannot be read (%s); making it again from the model files beside it.", path,
                   damage)
    models: dict[str, InstalledModel] = {}
    for file in sorted(path.parent.glob(f"*{NEMO_SUFFIX}")):
        if file.name.startswith("."):
            continue
        try:
            target = str(read_model_config(file).get("target", ""))
            size = file.stat().st_size
        except (OSError, ValueError) as exc:
            logger.warning("Left out of the model list: %s (%s).", file.name, exc)
            continue
        name = _name_of_file(file.name)
        kind = DIARIZER if "SortformerEncLabelModel" in target or known_diarizer(name) else ASR
        models[name] = InstalledModel(name, file, size, file_sha256(file), kind)
    try:  # the damaged list is copied aside first, and replaced only by a whole new one
        shutil.copyfile(path, path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"))
        _write_manifest(models)
    except OSError as exc:
        raise ModelLoadError(f"The model list {path} is damaged ({damage}) and cannot be made again ({exc}); delete it "
                             f"and install the models again.") from exc
    logger.warning("The model list %s holds %d model(s) again: %s.", path, len(models), ", ".join(models) or "none")
    return models


def _name_of_file(file_name: str) -> str:
    """The model name an installed file was made from, as far as it can be told: a known model's whose file it is;
    ``org--name.nemo`` (one ``--``, which :func:`model_file_name` makes of ``/``) is ``org/name``; else its stem."""
    for info in (*KNOWN_MODELS, *KNOWN_DIARIZERS):
        if model_file_name(info.name) == file_name:
            return info.name
    stem = file_name.removesuffix(NEMO_SUFFIX)
    return stem.replace("--", "/") if stem.count("--") == 1 else stem


def _write_manifest(models: dict[str, InstalledModel]) -> None:
    data = {
        "models": {
            m.name: {"file": m.path.name, "size": m.size, "sha256": m.sha256, "kind": m.kind}
            for m in sorted(models.values(), key=lambda m: m.name)
        }
    }
    path = manifest_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def install_file(source: Path, name: str, kind: str = ASR) -> InstalledModel:
    """Copy a ``.nemo`` file into the model folder under ``name`` and record it in the manifest.

    The copy goes to a temporary name first and is renamed when complete, so an interrupted install leaves no
    half-written model behind.
    """
    models = read_manifest()
    target = make_folder(model_dir(), "models") / _file_name_for(name, models)
    handle, temporary = new_file(target.parent, f".{target.name}.", ".part")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    installed = InstalledModel(name, target, target.stat().st_size, file_sha256(target), kind)
    models[name] = installed
    _write_manifest(models)
    return installed


def _file_name_for(name: str, models: dict[str, InstalledModel]) -> str:
    """The file ``name`` is installed as: its own if it is installed, else :func:`model_file_name` made unique among
    the other installed models' files (``acme/tiny`` and ``acme--tiny`` would share one: the second gets
    ``acme--tiny-2.nemo``), so an import never overwrites another model."""
    if name in models:
        return models[name].path.name
    taken = {entry.path.name.lower() for entry in models.values()}
    stem, _ = numbered(model_file_name(name).removesuffix(NEMO_SUFFIX),
                       lambda candidate: f"{candidate}{NEMO_SUFFIX}".lower() in taken)
    return stem + NEMO_SUFFIX


def remove_model(name: str) -> bool:
    """Delete an installed model and its manifest entry; False when it was not installed."""
    models = read_manifest()
    entry = models.pop(name, None)
    if entry is None:
        return False
    entry.path.unlink(missing_ok=True)
    _write_manifest(models)
    return True


def verify(source: ModelSource) -> None:
    """Check an installed model's file against the SHA-256 in the manifest.

    Raises:
        ModelLoadError: The file changed since it was installed (damaged or replaced).
    """
    if source.path is None or source.sha256 is None:
        return
    if file_sha256(source.path) != source.sha256:
        raise ModelLoadError(
            f"Model {source.name} ({source.path.name}) does not match the checksum recorded when it was installed; "
            f"install it again with: {INSTALL_HINT.format(name=source.name)}"
        )


def is_installed(name: str) -> bool:
    """Whether ``name`` loads from a local file (installed, cached by NeMo, the demo model, or a path)."""
    try:
        return resolve_model(name).is_local
    except ModelNotAvailableError:
        return False


def default_model() -> str:
    """The model to use when none is named: the preferred pretrained model if it is installed, else any installed
    model (known ones first), else the demo model that ships with the package."""
    installed = sorted(installed_names(ASR), key=lambda name: (known_model(name) is None, name))
    for name in (DEFAULT_MODEL, *installed):
        if is_installed(name):
            return name
    return DEMO_MODEL if DEMO_MODEL_PATH.is_file() else DEFAULT_MODEL


def installed_names(kind: str) -> list[str]:
    """Names of the installed models of one kind (speech recognizers or diarizers)."""
    return [entry.name for entry in read_manifest().values() if model_kind(entry.name, entry.kind) == kind]


def model_kind(name: str, recorded: str | None = None) -> str:
    """``"diarizer"`` for a known or demo diarizer, else what the manifest recorded, else ``"asr"``."""
    if name == DEMO_DIARIZER or known_diarizer(name) is not None:
        return DIARIZER
    if recorded is None:
        entry = read_manifest().get(name)
        recorded = entry.kind if entry is not None else ASR
    return recorded


def default_diarizer() -> str:
    """The diarizer to use when none is named: the recommended one if installed, else any installed diarizer
    (known ones first), else the demo diarizer that ships with the package."""
    installed = sorted(installed_names(DIARIZER), key=lambda name: (known_diarizer(name) is None, name))
    for name in (DEFAULT_DIARIZER, *installed):
        if is_installed(name):
            return name
    return DEMO_DIARIZER if DEMO_DIARIZER_PATH.is_file() else DEFAULT_DIARIZER


def unknown_pretrained_name(name: str, cause: BaseException | None) -> bool:
    """Whether ``cause``, raised by NeMo's ``from_pretrained(name)``, says NeMo has no pretrained model of that name:
    it looks a name without a "/" up in its own list, and raises ``FileNotFoundError`` when the list lacks it (a name
    with one is a Hugging Face repository, which needs the network to be found or not)."""
    return isinstance(cause, FileNotFoundError) and "/" not in name


def not_available_message(name: str, cause: BaseException | None = None) -> str:
    """One sentence saying that ``name`` is not installed and how to install it (or, where NeMo knows no pretrained
    model of that name, how to see the installed ones)."""
    if unknown_pretrained_name(name, cause):
        return (
            f"Model {name} is not installed, and NeMo has no pretrained model of that name. "
            f"See the installed ones with: {INSTALLED_HINT}, or give a .nemo file by its path."
        )
    reason = f" ({type(cause).__name__}: {cause})" if cause else ""
    return (
        f"Model {name} is not installed and could not be downloaded{reason}. "
        f"On a machine with internet access run: {INSTALL_HINT.format(name=name)}"
    )


def known_model(name: str) -> ModelInfo | None:
    """The registry entry for ``name``, if it is a known pretrained speech recognizer."""
    return next((info for info in KNOWN_MODELS if info.name == name), None)


def known_diarizer(name: str) -> ModelInfo | None:
    """The registry entry for ``name``, if it is a known pretrained diarizer."""
    return next((info for info in KNOWN_DIARIZERS if info.name == name), None)


