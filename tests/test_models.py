import threading
import time

import pytest

from transcriber import model_cache, models
from transcriber.errors import ModelNotAvailableError


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(folder))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    return folder


def test_a_nemo_path_loads_from_that_file(tmp_path, model_dir):
    file = tmp_path / "my model.nemo"
    file.write_bytes(b"x")
    source = models.resolve_model(str(file))
    assert source.is_local and source.path == file.resolve()


def test_a_missing_nemo_path_names_the_file(tmp_path, model_dir):
    with pytest.raises(ModelNotAvailableError, match="gone.nemo does not exist"):
        models.resolve_model(str(tmp_path / "gone.nemo"))


@pytest.mark.parametrize("given", ["{tmp}/models/parakeet", "./no-such-model", "~/no-such-model-here"])
def test_a_path_without_nemo_is_a_missing_file_not_a_download(given, tmp_path, model_dir):
    """Without .nemo, a path used to go to the model hub, which answered about repository ids or the network."""
    name = given.format(tmp=tmp_path)
    with pytest.raises(ModelNotAvailableError, match=f"^Model file {name} does not exist.$"):
        models.resolve_model(name)


def test_a_folder_as_the_model_says_to_give_the_nemo_file_in_it(tmp_path, model_dir):
    with pytest.raises(ModelNotAvailableError, match="is a folder, not a model: give the .nemo file in it"):
        models.resolve_model(str(tmp_path))


def test_a_folder_named_like_a_pretrained_model_leaves_the_name_pretrained(tmp_path, model_dir, monkeypatch):
    (tmp_path / "nvidia" / "parakeet-ctc-0.6b").mkdir(parents=True)  # a download's folder, say
    monkeypatch.chdir(tmp_path)
    assert models.resolve_model("nvidia/parakeet-ctc-0.6b").name == "nvidia/parakeet-ctc-0.6b"


def test_an_installed_model_is_found_in_the_model_folder(model_dir):
    installed = model_dir / models.model_file_name("nvidia/parakeet-tdt-0.6b-v2")
    installed.write_bytes(b"x")
    assert installed.name == "nvidia--parakeet-tdt-0.6b-v2.nemo"
    assert models.resolve_model("nvidia/parakeet-tdt-0.6b-v2").path == installed


def test_a_model_found_nowhere_is_left_to_download(model_dir):
    source = models.resolve_model("nvidia/parakeet-ctc-0.6b")
    assert not source.is_local and source.name == "nvidia/parakeet-ctc-0.6b"


def test_not_available_message_names_model_and_install_command():
    message = models.not_available_message("nvidia/parakeet-tdt-0.6b-v2", OSError("no network"))
    assert "nvidia/parakeet-tdt-0.6b-v2" in message
    assert "setup_local_models.py --download nvidia/parakeet-tdt-0.6b-v2" in message
    assert "no network" in message


def test_cache_loads_once_under_concurrent_first_requests(model_dir):
    calls = []

    def slow_loader(source, device):
        calls.append((source.name, device))
        time.sleep(0.3)
        return object()

    cache = model_cache.ModelCache(slow_loader)
    barrier = threading.Barrier(4)
    got = []

    def ask():
        barrier.wait()
        got.append(cache.get("some/model", "cpu").model)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [("some/model", "cpu")]
    assert cache.loads == 1
    assert len({id(model) for model in got}) == 1


def test_cache_keys_on_model_and_device(model_dir):
    cache = model_cache.ModelCache(lambda source, device: object())
    a = cache.get("m", "cpu").model
    assert cache.get("m", "cpu").model is a
    assert cache.get("m", "cuda").model is not a
    assert cache.get("n", "cpu").model is not a
    assert cache.loads == 3


def test_a_slow_load_does_not_block_other_models(model_dir):
    release = threading.Event()

    def loader(source, device):
        if source.name == "slow":
            release.wait(5)
        return source.name

    cache = model_cache.ModelCache(loader)
    slow = threading.Thread(target=cache.get, args=("slow", "cpu"))
    slow.start()
    started = time.monotonic()
    assert cache.get("fast", "cpu").model == "fast"
    assert time.monotonic() - started < 1
    release.set()
    slow.join()


def test_evict_makes_the_next_request_load_again(model_dir):
    cache = model_cache.ModelCache(lambda source, device: object())
    first = cache.get("m", "cpu").model
    cache.evict("m", "cpu")
    assert cache.get("m", "cpu").model is not first
    assert cache.loads == 2


def test_a_failed_load_is_not_cached(model_dir):
    attempts = []

    def flaky(source, device):
        attempts.append(1)
        if len(attempts) == 1:
            raise ModelNotAvailableError("offline")
        return "ok"

    cache = model_cache.ModelCache(flaky)
    with pytest.raises(ModelNotAvailableError):
        cache.get("m", "cpu")
    assert cache.get("m", "cpu").model == "ok"


def test_a_name_that_cannot_be_a_repository_is_simply_not_local(model_dir):
    assert not models.resolve_model("my model (best)!").is_local


def test_a_model_that_cannot_be_unpacked_for_lack_of_room_says_where_and_how_much(tmp_path, monkeypatch):
    """NeMo unpacks a .nemo into the temporary folder first; on a full disk that said only "could not be loaded
    (OSError: [Errno 28] No space left on device)", as if the model file were at fault."""
    import errno
    import tempfile

    from transcriber.errors import ModelLoadError
    from transcriber.nemo_models import restore_or_download

    model = tmp_path / "big.nemo"
    model.write_bytes(bytes(3_000_000))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def restore(path, map_location):  # as the archive's extraction fails, wrapped as NeMo re-raises it
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("Failed to restore the model") from exc

    with pytest.raises(ModelLoadError) as raised:
        restore_or_download(models.ModelSource("big", model), "cpu", restore, None, what="Model file")
    assert str(raised.value).startswith(
        f"Model file big.nemo could not be unpacked: the temporary folder {tmp_path} has no room left (it needs about "
        "3 MB; ")
    assert str(raised.value).endswith("Free some space there, or give a folder on a larger disk with --temp-dir.")
