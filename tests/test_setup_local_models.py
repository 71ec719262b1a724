"""Installing models for offline use, and using them with the network switched off."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import setup_local_models
from transcriber import models
from transcriber.engine import Engine
from transcriber.errors import ModelLoadError, ModelNotAvailableError

pytestmark = pytest.mark.integration


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(folder))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return folder


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to open a network connection fails at the socket level, as on a machine that is offline."""

    def refuse(*args, **kwargs):
        raise OSError("network is switched off for this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_import_records_name_file_size_and_checksum(model_dir, tiny_rnnt, capsys):
    assert setup_local_models.main(["--import", tiny_rnnt, "--name", "acme/tiny-rnnt"]) == 0
    manifest = json.loads((model_dir / "manifest.json").read_text())
    entry = manifest["models"]["acme/tiny-rnnt"]
    installed = model_dir / entry["file"]
    assert entry["file"] == "acme--tiny-rnnt.nemo"
    assert entry["size"] == installed.stat().st_size
    assert entry["sha256"] == models.file_sha256(installed)
    assert setup_local_models.main(["--installed"]) == 0
    assert "acme/tiny-rnnt" in capsys.readouterr().out
    assert not list(model_dir.glob("*.part"))


def test_models_whose_names_make_one_file_name_each_keep_a_file_of_their_own(model_dir, tiny_ctc, tiny_rnnt):
    """Named in Japanese or Russian, every model went to one hidden file, ``.nemo``, each import overwriting the model
    before it; "acme/tiny" and "acme--tiny" shared a file too; a name of 300 letters made no file at all."""
    sources = {"会議": tiny_ctc, "речь": tiny_rnnt, "acme/tiny": tiny_ctc, "acme--tiny": tiny_rnnt, "x" * 300: tiny_ctc}
    for name, source in sources.items():
        assert setup_local_models.main(["--import", source, "--name", name]) == 0
    installed = models.read_manifest()
    paths = {name: entry.path for name, entry in installed.items()}
    assert len(set(paths.values())) == len(sources)
    assert all(not path.name.startswith(".") and len(path.name.encode()) <= 255 for path in paths.values())
    assert paths["会議"].name == "会議.nemo" and paths["acme/tiny"].name == "acme--tiny.nemo"
    for name, source in sources.items():
        assert models.file_sha256(paths[name]) == models.file_sha256(Path(source)), name
        assert models.resolve_model(name).path == paths[name]
    assert setup_local_models.main(["--import", tiny_rnnt, "--name", "会議"]) == 0  # again: into its own file
    assert models.read_manifest()["会議"].path == paths["会議"]
    assert models.file_sha256(paths["会議"]) == models.file_sha256(Path(tiny_rnnt))
    assert models.file_sha256(paths["речь"]) == models.file_sha256(Path(tiny_rnnt))
    assert setup_local_models.main(["--remove", "acme/tiny"]) == 0 and paths["acme--tiny"].is_file()


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_an_installed_model_can_be_read_by_the_other_users_of_a_shared_model_folder(model_dir, tiny_rnnt):
    """An administrator installs models once into a folder every user's app reads ($TRANSCRIBER_MODEL_DIR); the
    model file and the manifest were readable by the administrator only (0600)."""
    old = os.umask(0o022)
    try:
        entry = models.install_file(tiny_rnnt, "acme/tiny-rnnt")
    finally:
        os.umask(old)
    assert oct(stat.S_IMODE(entry.path.stat().st_mode)) == oct(0o644)
    assert oct(stat.S_IMODE(models.manifest_path().stat().st_mode)) == oct(0o644)


def test_an_installed_model_transcribes_with_the_network_switched_off(model_dir, tiny_rnnt, tmp_path, no_network):
    models.install_file(tiny_rnnt, "acme/tiny-rnnt")
    clip = tmp_path / "clip.wav"
    sf.write(clip, np.full(16000, 0.01, dtype=np.float32), 16000)
    (result,) = Engine(device="cpu").transcribe_files([str(clip)], model="acme/tiny-rnnt")
    assert result.ok, result.error
    assert result.transcript.text.startswith("nine")


def test_a_model_that_is_not_installed_says_how_to_install_it_when_offline(model_dir, no_network):
    with pytest.raises(ModelNotAvailableError) as error:
        Engine(device="cpu").load("nvidia/parakeet-tdt-0.6b-v2")
    assert "python setup_local_models.py --download nvidia/parakeet-tdt-0.6b-v2" in str(error.value)


def test_download_without_network_fails_with_one_line_naming_the_model(model_dir, no_network, capsys):
    assert setup_local_models.main(["--download", "nvidia/parakeet-ctc-0.6b"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: Model nvidia/parakeet-ctc-0.6b could not be downloaded")


def test_download_of_a_name_nemo_does_not_know_says_where_the_known_ones_are(model_dir, capsys):
    assert setup_local_models.main(["--download", "parakeet-typo"]) == 1
    err = capsys.readouterr().err
    assert "NeMo has no pretrained model named parakeet-typo" in err and "setup_local_models.py --list" in err
    assert "internet" not in err and "cls.list_available_models" not in err


def test_download_of_an_installed_model_is_a_no_op(model_dir, tiny_ctc, no_network, capsys):
    models.install_file(tiny_ctc, "nvidia/parakeet-ctc-0.6b")
    assert setup_local_models.main(["--download", "nvidia/parakeet-ctc-0.6b"]) == 0
    assert "already installed" in capsys.readouterr().out


def test_a_changed_model_file_is_refused_with_a_clear_message(model_dir, tiny_ctc):
    entry = models.install_file(tiny_ctc, "acme/tiny-ctc")
    with entry.path.open("r+b") as file:
        file.seek(100)
        file.write(b"\0" * 16)
    with pytest.raises(ModelLoadError, match="acme/tiny-ctc.*does not match the checksum"):
        Engine(device="cpu").load("acme/tiny-ctc")


def test_remove_deletes_file_and_entry(model_dir, tiny_ctc, capsys):
    entry = models.install_file(tiny_ctc, "acme/tiny-ctc")
    assert setup_local_models.main(["--remove", "acme/tiny-ctc"]) == 0
    assert not entry.path.exists()
    assert models.read_manifest() == {}
    assert setup_local_models.main(["--remove", "acme/tiny-ctc"]) == 1
    assert "acme/tiny-ctc is not installed" in capsys.readouterr().err


def test_import_of_something_that_is_not_a_model_fails(model_dir, tmp_path, capsys):
    fake = tmp_path / "fake.nemo"
    fake.write_bytes(b"not a model")
    assert setup_local_models.main(["--import", str(fake)]) == 1
    assert "fake.nemo could not be loaded" in capsys.readouterr().err
    assert models.read_manifest() == {}


def test_import_of_a_model_file_cut_short_says_to_copy_it_again(model_dir, tiny_ctc, tmp_path, capsys):
    whole = Path(tiny_ctc).read_bytes()
    cut = tmp_path / "cut.nemo"
    cut.write_bytes(whole[: len(whole) // 2])  # as an interrupted download leaves it
    assert setup_local_models.main(["--import", str(cut)]) == 1
    err = capsys.readouterr().err
    assert "cut.nemo could not be loaded" in err and "not a whole .nemo archive: copy or download it again" in err
    assert models.read_manifest() == {}


@pytest.mark.parametrize("args", [["--installed", "--name", "mine"], ["--list", "--diarizer"]])
def test_name_and_diarizer_without_import_are_a_usage_error(args, capsys):
    with pytest.raises(SystemExit) as exited:
        setup_local_models.main(args)
    assert exited.value.code == 2 and "--name and --diarizer go with --import PATH" in capsys.readouterr().err


def test_the_built_in_models_are_neither_downloaded_nor_removed_nor_shadowed(model_dir, tiny_ctc, capsys):
    assert setup_local_models.main(["--download", models.DEMO_MODEL, models.DEMO_DIARIZER]) == 0
    out = capsys.readouterr().out
    assert f"{models.DEMO_MODEL}: built in, nothing to download" in out and models.DEMO_DIARIZER in out
    assert setup_local_models.main(["--remove", models.DEMO_MODEL]) == 1
    assert f"{models.DEMO_MODEL} is built in (part of the app) and cannot be removed" in capsys.readouterr().err
    assert setup_local_models.main(["--import", tiny_ctc, "--name", models.DEMO_MODEL]) == 1
    assert "is the name of a built-in model; install this file under another" in capsys.readouterr().err
    assert models.read_manifest() == {} and models.DEMO_MODEL_PATH.is_file()


def test_a_diarizer_imported_as_a_speech_model_says_to_add_diarizer(model_dir, tmp_path, capsys):
    copy = tmp_path / "speakers.nemo"
    copy.write_bytes(models.DEMO_DIARIZER_PATH.read_bytes())
    assert setup_local_models.main(["--import", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "is a speaker diarizer, not a speech-recognition model" in err and "--import FILE --diarizer" in err
    assert models.read_manifest() == {}


@pytest.mark.parametrize("damage", [b"", b'{"models": {"acme/tiny": {"file": "acme--ti', b"[]"])
def test_a_damaged_model_list_is_made_again_from_the_model_files(model_dir, tiny_ctc, tmp_path, damage, capsys):
    """The list of installed models, left empty by a power cut or garbled: the app did not start (a traceback), the
    command line failed, and the advice was to install every model again (gigabytes to download) though each file
    was still there. The list is made again from the files, names and kinds and checksums as they were."""
    speakers = tmp_path / "speakers.nemo"
    speakers.write_bytes(models.DEMO_DIARIZER_PATH.read_bytes())
    assert setup_local_models.main(["--import", tiny_ctc, "--name", "acme/tiny"]) == 0
    assert setup_local_models.main(["--import", tiny_ctc, "--name", "mine"]) == 0
    assert setup_local_models.main(["--import", str(speakers), "--name", "acme/speakers", "--diarizer"]) == 0
    before = models.read_manifest()
    manifest = model_dir / "manifest.json"
    manifest.write_bytes(damage)
    after = models.read_manifest()
    assert after == before and len(after) == 3
    assert json.loads(manifest.read_text(encoding="utf-8"))["models"].keys() == after.keys()  # written again
    (aside,) = model_dir.glob("manifest.json.damaged-*")
    assert aside.read_bytes() == damage
    assert models.default_model() == "acme/tiny" and models.default_diarizer() == "acme/speakers"
    capsys.readouterr()
    assert setup_local_models.main(["--installed"]) == 0
    assert "acme/speakers" in capsys.readouterr().out


def test_import_of_a_folder_or_a_recording_says_what_to_give(model_dir, tmp_path, capsys):
    recording = tmp_path / "talk.wav"
    recording.write_bytes(b"RIFF")
    assert setup_local_models.main(["--import", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path} is a folder; give the .nemo file in it.\n"
    assert setup_local_models.main(["--import", str(recording)]) == 1
    assert capsys.readouterr().err == f"error: {recording} is not a model file: NeMo models end in .nemo.\n"
    too_long = tmp_path / ("x" * 300 + ".nemo")  # said as "[Errno 36] File name too long: ..."
    assert setup_local_models.main(["--import", str(too_long)]) == 1
    assert capsys.readouterr().err == f"error: {too_long} does not exist.\n"
    assert models.read_manifest() == {}


def test_a_model_folder_that_is_a_file_is_said_before_anything_loads(model_dir, tiny_ctc, tmp_path, capsys):
    """model_dir: main() sets the model folder's variable, which the fixture restores."""
    blocker = tmp_path / "models"
    blocker.write_text("a file where the model folder should be")
    assert setup_local_models.main(["--model-dir", str(blocker), "--import", tiny_ctc]) == 1
    assert capsys.readouterr().err == f"error: Cannot write models into {blocker}: {blocker} is a file, not a folder.\n"
    assert blocker.read_text() == "a file where the model folder should be"


def test_default_model_prefers_an_installed_real_model(model_dir, tiny_ctc):
    expected_fallback = models.DEMO_MODEL if models.DEMO_MODEL_PATH.is_file() else models.DEFAULT_MODEL
    assert models.default_model() == expected_fallback
    models.install_file(tiny_ctc, "acme/tiny-ctc")
    assert models.default_model() == "acme/tiny-ctc"
    models.install_file(tiny_ctc, models.DEFAULT_MODEL)
    assert models.default_model() == models.DEFAULT_MODEL
