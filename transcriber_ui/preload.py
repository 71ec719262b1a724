"""Loading the default model in the background as soon as the app starts, so the first request does not wait.

Importing NeMo and restoring a model take from seconds (the demo model) to a minute (parakeet on a slow disk). The
page is usable meanwhile: it shows "Loading model ..." and then "Ready", and a request that comes first simply waits
for the same load (the engine's model cache loads each model once, whoever asks first).
"""

import logging
import threading

from transcriber.engine import Engine
from transcriber.errors import TranscriberError

logger = logging.getLogger(__name__)

READY = "Ready: {model}"
LOADING = "Loading model {model}…"
FAILED = "Could not load {model}: {reason}"


class Preloader:
    """Loads one model on a background thread and says how far it got."""

    def __init__(self, engine: Engine, model: str) -> None:
        self.engine = engine
        self.model = model
        self._status = ""
        self._done = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start loading (once); returns at once."""
        with self._lock:
            if self._status:
                return
            self._status = LOADING.format(model=self.model)
        threading.Thread(target=self._load, name="model-preload", daemon=True).start()

    def _load(self) -> None:
        try:
            self.engine.load(self.model)
        except TranscriberError as exc:
            status = FAILED.format(model=self.model, reason=exc)
            logger.warning("%s", status)
        except Exception as exc:  # noqa: BLE001 - a failed preload must not kill the app; a request will say why
            logger.exception("Loading %s in the background failed", self.model)
            status = FAILED.format(model=self.model, reason=type(exc).__name__)
        else:
            status = READY.format(model=self.model)
            logger.info("Model %s loaded; ready", self.model)
        with self._lock:
            self._status = status
        self._done.set()

    @property
    def status(self) -> str:
        """What the page shows: empty before :meth:`start`, then loading, ready or failed."""
        with self._lock:
            return self._status

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the load has finished (either way); returns whether it has."""
        return self._done.wait(timeout)
