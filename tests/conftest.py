"""Shared fixtures: tiny NeMo models built offline once per session, and a fresh engine per test."""

from __future__ import annotations

import pytest

from tiny_models import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_ctc(tiny_model_dir):
    """A CTC model that says "nine" once for any audio."""
    return str(build_tiny_model("ctc", tiny_model_dir))


@pytest.fixture(scope="session")
def tiny_rnnt(tiny_model_dir):
    """An RNNT model that says "nine" once per 0.08 s frame."""
    return str(build_tiny_model("rnnt", tiny_model_dir))


@pytest.fixture(scope="session")
def tiny_tdt(tiny_model_dir):
    """A TDT model that says "nine" once per 0.08 s frame."""
    return str(build_tiny_model("tdt", tiny_model_dir))


@pytest.fixture(scope="session", params=["ctc", "rnnt", "tdt", "hybrid"])
def tiny_any(request, tiny_model_dir):
    """Each kind of tiny model in turn: (kind, path)."""
    return request.param, str(build_tiny_model(request.param, tiny_model_dir))


@pytest.fixture
def engine():
    """A fresh engine on the CPU with an empty model cache."""
    from transcriber.engine import Engine

    return Engine(device="cpu")
