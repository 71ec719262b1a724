import os
import tempfile

import pytest

from transcriber import tempdir


@pytest.fixture
def clean_temp_env(monkeypatch):
    """Start each test with no redirect and restore everything afterwards."""
    for name in (*tempdir.TEMP_ENV_VARS, tempdir.GRADIO_TEMP_ENV, tempdir.TEMP_DIR_ENV):
        # set first, so that monkeypatch notes the variable and removes what the test sets: deleting one that is not
        # there notes nothing, and TMPDIR stayed pointed at a test's folder for every later test in the process (a
        # Ray instance started there by a later test failed on its over-long socket paths)
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setenv("LOCALAPPDATA", "")


def test_off_by_default_outside_windows(clean_temp_env):
    assert tempdir.redirect_temp(os_name="posix") is None
    assert "TMPDIR" not in os.environ
    assert tempfile.tempdir is None


def test_always_on_under_windows(clean_temp_env, tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "AppData" / "Local"))
    target = tempdir.redirect_temp(os_name="nt")
    assert target == (tmp_path / "AppData" / "Local" / "transcriber" / "tmp").resolve()
    assert target.is_dir()
    for name in tempdir.TEMP_ENV_VARS:
        assert os.environ[name] == str(target)
    assert os.environ["GRADIO_TEMP_DIR"] == str(target / "gradio")
    assert tempfile.gettempdir() == str(target)
    with tempfile.NamedTemporaryFile() as handle:
        assert os.path.dirname(handle.name) == str(target)


def test_named_folder_wins_and_is_created(clean_temp_env, tmp_path):
    target = tempdir.redirect_temp(tmp_path / "mine" / "tmp", os_name="posix")
    assert target == (tmp_path / "mine" / "tmp").resolve()
    assert target.is_dir()
    assert tempfile.gettempdir() == str(target)


def test_environment_variable_turns_it_on(clean_temp_env, tmp_path, monkeypatch):
    monkeypatch.setenv(tempdir.TEMP_DIR_ENV, str(tmp_path / "from-env"))
    assert tempdir.redirect_temp(os_name="posix") == (tmp_path / "from-env").resolve()
    assert os.environ["TMP"] == str((tmp_path / "from-env").resolve())


def test_enable_uses_the_user_cache_folder(clean_temp_env, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    target = tempdir.redirect_temp(enable=True, os_name="posix")
    if tempdir.sys.platform.startswith("linux"):
        assert target == (tmp_path / "cache" / "transcriber" / "tmp").resolve()


def test_is_idempotent(clean_temp_env, tmp_path):
    first = tempdir.redirect_temp(tmp_path / "t", os_name="nt")
    snapshot = {name: os.environ[name] for name in (*tempdir.TEMP_ENV_VARS, tempdir.GRADIO_TEMP_ENV)}
    second = tempdir.redirect_temp(tmp_path / "t", os_name="nt")
    assert first == second
    assert snapshot == {name: os.environ[name] for name in snapshot}
    assert tempfile.gettempdir() == str(first)
