"""Test doubles around real tiny NeMo models, shared by the engine, UI and hardening tests."""

from __future__ import annotations

import threading
import time

from transcriber.engine import Engine
from transcriber.nemo_models import load_nemo_model

STALL_LIMIT_S = 30.0
"""A stalled call goes on after this long even if never released, so a failing test cannot hang the run."""


class StallingModel:
    """A real tiny model whose ``transcribe`` hangs until released, like a stuck GPU driver or a deadlock.

    Args:
        model: The real model; every attribute but ``transcribe`` is the real model's.
        release: Set it to let stalled calls go on.
        started: Set when a call to ``transcribe`` begins (optional).
    """

    def __init__(self, model, release: threading.Event, started: threading.Event | None = None):
        self._model = model
        self._release = release
        self._started = started

    def __getattr__(self, name):
        return getattr(self._model, name)

    def transcribe(self, audio, **kwargs):
        if self._started is not None:
            self._started.set()
        self._release.wait(STALL_LIMIT_S)
        return self._model.transcribe(audio, **kwargs)


def stalling_engine(
    release: threading.Event, stall_first: int = 1, *, started: threading.Event | None = None
) -> Engine:
    """A CPU engine whose first ``stall_first`` model loads give a :class:`StallingModel`; later loads are real."""
    loads = []

    def loader(source, device):
        model = load_nemo_model(source, device)
        loads.append(model)
        return StallingModel(model, release, started) if len(loads) <= stall_first else model

    return Engine(device="cpu", loader=loader)


def slowed_engine(seconds_per_batch: float) -> Engine:
    """A CPU engine whose real models take ``seconds_per_batch`` longer per encoder batch: a tiny model made as slow as
    a real one, so that the progress a user would watch through a transcription is there long enough to be seen
    (Gradio sends the latest progress every 10 ms; a tiny model can finish in less)."""

    def loader(source, device):
        model = load_nemo_model(source, device)
        # After the forward pass: the engine reports a batch's progress just before it (a pre-hook registered later).
        model.encoder.register_forward_hook(lambda *_: time.sleep(seconds_per_batch))
        return model

    return Engine(device="cpu", loader=loader)


class StallingDiarizer:
    """A real tiny diarizer whose ``diarize`` hangs until released (or counts its calls when never stalled)."""

    def __init__(self, model, release: threading.Event | None, started: threading.Event | None = None):
        self._model = model
        self._release = release
        self._started = started
        self.calls: list[float] = []  # seconds of audio per call

    def __getattr__(self, name):
        return getattr(self._model, name)

    def diarize(self, audio, **kwargs):
        self.calls.append(len(audio[0]) / kwargs["sample_rate"])
        if self._started is not None:
            self._started.set()
        if self._release is not None:
            self._release.wait(STALL_LIMIT_S)
        return self._model.diarize(audio, **kwargs)


def diarizer_engine(
    release: threading.Event | None = None, stall_first: int = 1, *, started: threading.Event | None = None
) -> tuple[Engine, list]:
    """A CPU engine whose first ``stall_first`` diarizer loads stall until ``release`` (none with ``release=None``);
    also the list of every diarizer it loaded (:class:`StallingDiarizer`, whose ``calls`` tests can read).
    ``started`` is set when a diarizer begins a call."""
    from transcriber.diarization import load_diarizer

    loads: list[StallingDiarizer] = []

    def loader(source, device):
        stall = release if len(loads) < stall_first else None
        loads.append(StallingDiarizer(load_diarizer(source, device), stall, started))
        return loads[-1]

    return Engine(device="cpu", diarizer_loader=loader), loads
