"""The browser app: ``python transcribe_ui.py`` serves a local page that transcribes uploaded or recorded audio.

The page is a thin layer over :mod:`transcriber`: each handler turns widget values into one
:meth:`~transcriber.engine.Engine.transcribe_files` call and the results back into widget values. Four decisions:

* Gradio is imported inside :func:`build_demo`, never at the top of this module, so that :func:`main` can redirect
  the temporary folder first (Gradio picks its upload folder when it is imported) and tests can import this module
  without side effects.
* Every request writes its downloads into a folder of its own, named by :func:`tempfile.mkdtemp`, so two users never
  overwrite each other's files. Folders older than :data:`OUTPUT_MAX_AGE_S` are removed when a new request starts;
  by then Gradio has copied the files into its own cache.
* Stop sets a cancel flag that only the requests of the same browser session (Gradio's ``session_hash``) are
  watching; the engine checks it several times a second, so the job ends within a second or two.
* Both transcribe events share one queue slot (:data:`TRANSCRIBE_CONCURRENCY`). The engine lets one job at a time
  use a model anyway; waiting in Gradio's queue shows a user their place in line, where waiting on the engine's model
  lock would be silent and would count against the job's time limit.
"""

import argparse
import logging
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transcriber.engine import Engine, default_engine
from transcriber.errors import TranscriberError
from transcriber.formats import word_list_markdown
from transcriber.models import DEFAULT_MODEL, KNOWN_MODELS, NEMO_SUFFIX, model_dir, model_file_name, resolve_model
from transcriber.outputs import safe_stem, write_transcript
from transcriber.tempdir import redirect_temp
from transcriber.types import FileResult, Progress, TranscribeOptions, Transcript, Word

if TYPE_CHECKING:
    import gradio as gr

logger = logging.getLogger(__name__)

TITLE = "Transcriber"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_BATCH_SIZE = 4
MAX_BATCH_SIZE = 32
TRANSCRIBE_CONCURRENCY = 1
"""Transcriptions that run at once, across all users; the others wait in the queue and see their place."""
QUEUE_MAX_SIZE = 64
"""Requests that may wait in the queue; more are refused with a "queue is full" message."""
OUTPUT_MAX_AGE_S = 3600.0
"""Request folders older than this are deleted when a new request starts."""
GRADIO_CACHE_CLEANUP = (3600, 24 * 3600)
"""Every hour, Gradio deletes uploads and copied downloads older than a day."""
ZIP_NAME = "transcripts.zip"
WORD_HEADERS = ["word", "start (s)", "end (s)"]
STATUS_HEADERS = ["file", "duration (s)", "status", "seconds"]
STATUS_COLUMN_WIDTHS = ["25%", "15%", "45%", "15%"]
STATUS_DONE = "done"
WORD_LIST_HEIGHT_PX = 320
"""The word list scrolls beyond this height."""
UNEXPECTED_ERROR = "Something went wrong while transcribing; the details are in the terminal log."


# --- Plain helpers: no Gradio, testable on their own ------------------------------------------------------------------


def model_choices(default_model: str, models: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """The model dropdown's (label, value) pairs.

    Args:
        default_model: Offered first.
        models: The names or ``.nemo`` paths to offer; default: the known models plus any ``.nemo`` file in the
            model folder that is not one of them.
    """
    if models is None:
        known_files = {model_file_name(info.name) for info in KNOWN_MODELS}
        custom = sorted(str(path) for path in model_dir().glob(f"*{NEMO_SUFFIX}") if path.name not in known_files)
        models = [info.name for info in KNOWN_MODELS] + custom
    names = dict.fromkeys([default_model, *models])  # the default first, no name twice
    return [(_model_label(name), name) for name in names]


def _model_label(name: str) -> str:
    info = next((info for info in KNOWN_MODELS if info.name == name), None)
    if info is None:
        return name
    installed = "installed" if resolve_model(name).is_local else f"download {info.size_mb} MB"
    return f"{name} ({info.description}; {installed})"


def word_rows(words: Sequence[Word]) -> list[list[Any]]:
    """The full word table: word, start and end in seconds."""
    return [[word.text, round(word.start, 3), round(word.end, 3)] for word in words]


def status_rows(results: Sequence[FileResult]) -> list[list[str]]:
    """The batch table: file, duration, status (or the error message), seconds taken."""
    return [
        [
            Path(result.file).name,
            f"{result.transcript.duration:.1f}" if result.transcript else "",
            STATUS_DONE if result.ok else _without_file_name(str(result.error), result.file),
            f"{result.seconds:.2f}",
        ]
        for result in results
    ]


def _without_file_name(message: str, file: str) -> str:
    """The error message without its leading "<file name>: ", which the table's first column already shows."""
    return message.removeprefix(f"{Path(file).name}: ")


def batch_text(results: Sequence[FileResult]) -> str:
    """Each transcribed file's text under its name, in input order."""
    return "\n\n".join(f"[{Path(r.file).name}]\n{r.transcript.text}" for r in results if r.transcript is not None)


class RequestFolder:
    """The download folder of one request: file names derived from the inputs, never reused within it.

    Args:
        root: The folder that holds every request's folder.
    """

    def __init__(self, root: Path) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="request-", dir=root))
        self._stems: set[str] = set()

    def _unique_stem(self, source: str) -> str:
        base = stem = safe_stem(source)
        number = 2
        while stem in self._stems:
            stem = f"{base}-{number}"
            number += 1
        self._stems.add(stem)
        return stem

    def write(self, source: str, transcript: Transcript) -> list[Path]:
        """Write ``transcript`` in every format of :data:`~transcriber.formats.FORMATS`; returns the paths."""
        return write_transcript(transcript, self.path, self._unique_stem(source), source_name=Path(source).name)

    def write_batch(self, results: Sequence[FileResult]) -> list[Path]:
        """Write every transcribed file's downloads and a zip of them all; returns the zip first."""
        paths = [path for r in results if r.transcript is not None for path in self.write(r.file, r.transcript)]
        archive = self.path / ZIP_NAME
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for path in paths:
                bundle.write(path, arcname=path.name)
        return [archive, *paths]


class OutputFolders:
    """Hands out a fresh :class:`RequestFolder` per request, removes old ones, and removes them all at exit."""

    def __init__(self, max_age_s: float = OUTPUT_MAX_AGE_S) -> None:
        self.max_age_s = max_age_s
        self._root: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()

    def new(self) -> RequestFolder:
        """A new, empty folder for one request (the shared root is created on first use, in the temp folder)."""
        with self._lock:
            if self._root is None:
                self._root = tempfile.TemporaryDirectory(prefix="transcriber-ui-", ignore_cleanup_errors=True)
            root = Path(self._root.name)
        self._prune(root)
        return RequestFolder(root)

    def _prune(self, root: Path) -> None:
        cutoff = time.time() - self.max_age_s
        for folder in root.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder)
            except OSError as exc:  # a file still open elsewhere (Windows); the next request tries again
                logger.warning("Could not remove old download folder %s: %s", folder, exc)


class CancelFlags:
    """The cancel flags of running requests, by browser session, so Stop ends only its own session's jobs."""

    def __init__(self) -> None:
        self._flags: dict[str, set[threading.Event]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def running(self, session: str) -> Iterator[threading.Event]:
        """Register a request of ``session`` for as long as the block runs; yields its cancel flag."""
        flag = threading.Event()
        with self._lock:
            self._flags.setdefault(session, set()).add(flag)
        try:
            yield flag
        finally:
            with self._lock:
                flags = self._flags[session]
                flags.discard(flag)
                if not flags:
                    del self._flags[session]

    def cancel(self, session: str) -> int:
        """Set the flags of ``session``'s running requests; returns how many there were."""
        with self._lock:
            flags = list(self._flags.get(session, ()))
        for flag in flags:
            flag.set()
        return len(flags)


def options_from(batch_size: float, timestamps: bool) -> TranscribeOptions:
    """Engine options from widget values; NeMo's own progress bar stays on for the terminal log."""
    return TranscribeOptions(timestamps=bool(timestamps), batch_size=max(1, int(batch_size)), verbose=True)


# --- The page ---------------------------------------------------------------------------------------------------------


def build_demo(
    *,
    engine: Engine | None = None,
    default_model: str = DEFAULT_MODEL,
    models: Sequence[str] | None = None,
) -> "gr.Blocks":
    """Build the page without launching it.

    Args:
        engine: Runs the transcriptions; default: the process-wide :func:`~transcriber.engine.default_engine`.
        default_model: The model selected when the page opens (a pretrained name or a ``.nemo`` path).
        models: The models offered in the dropdown; see :func:`model_choices`.
    """
    import gradio as gr

    engine = engine or default_engine()
    cancel_flags = CancelFlags()
    outputs = OutputFolders()

    @contextmanager
    def user_errors() -> Iterator[None]:
        """Show errors as one sentence in the page, never as a traceback."""
        try:
            yield
        except gr.Error:
            raise
        except TranscriberError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc
        except Exception as exc:
            logger.exception("Transcription request failed")
            raise gr.Error(UNEXPECTED_ERROR, print_exception=False) from exc

    def run(files: list[str], model: str, batch_size: float, timestamps: bool, request: gr.Request, progress):
        if not model:
            raise gr.Error("Choose a model first.", print_exception=False)
        session = request.session_hash or uuid.uuid4().hex
        with user_errors(), cancel_flags.running(session) as cancel:
            return engine.transcribe_files(
                files,
                model=model,
                options=options_from(batch_size, timestamps),
                progress=progress_reporter(progress),
                cancel=cancel,
            )

    def transcribe(
        audio: str | None, model: str, batch_size: float, timestamps: bool, request: gr.Request, progress=gr.Progress()
    ):
        if not audio:
            raise gr.Error("Upload or record an audio file first.", print_exception=False)
        (result,) = run([audio], model, batch_size, timestamps, request, progress)
        if result.transcript is None:
            raise gr.Error(str(result.error), print_exception=False)
        if not result.transcript.text:
            gr.Warning("No speech was recognised.")
        downloads = outputs.new().write(audio, result.transcript)
        words = result.transcript.words
        return (
            result.transcript.text,
            gr.Markdown(f"**Word timings**\n\n{word_list_markdown(words)}", visible=bool(timestamps)),
            gr.Dataframe(word_rows(words), visible=bool(timestamps)),
            [str(path) for path in downloads],
        )

    def transcribe_batch(
        files: list[str] | None,
        model: str,
        batch_size: float,
        timestamps: bool,
        request: gr.Request,
        progress=gr.Progress(),
    ):
        if not files:
            raise gr.Error("Add one or more files first.", print_exception=False)
        results = run(list(files), model, batch_size, timestamps, request, progress)
        downloads = outputs.new().write_batch(results)
        return status_rows(results), batch_text(results), [str(path) for path in downloads]

    def stop(request: gr.Request) -> None:
        if cancel_flags.cancel(request.session_hash or ""):
            gr.Info("Stopping…")

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=GRADIO_CACHE_CLEANUP) as demo:
        gr.Markdown(f"# {TITLE}\nSpeech to text on this computer with NVIDIA NeMo. Nothing leaves your machine.")
        with gr.Row():
            model = gr.Dropdown(
                model_choices(default_model, models),
                value=default_model,
                allow_custom_value=True,
                label="Model",
                info="A model from the list, or the path of a .nemo file",
                scale=3,
            )
            batch_size = gr.Slider(1, MAX_BATCH_SIZE, value=DEFAULT_BATCH_SIZE, step=1, label="Batch size", scale=1)
            timestamps = gr.Checkbox(label="Include word timestamps", scale=1)

        with gr.Tabs():
            with gr.Tab("One file", elem_id="single-tab"):
                with gr.Row():
                    with gr.Column():
                        audio = gr.Audio(
                            sources=["upload", "microphone"], type="filepath", label="Audio", elem_id="single-audio"
                        )
                        gr.Markdown("Video, or many files at once? Use the **Several files** tab.")
                        with gr.Row():
                            run_one = gr.Button("Transcribe", variant="primary")
                            stop_one = gr.Button("Stop", variant="stop")
                    with gr.Column():
                        text = gr.Textbox(label="Transcription Text", lines=8, elem_id="single-text")
                        words_md = gr.Markdown(
                            label="Word timings",
                            visible=False,
                            container=True,
                            padding=True,
                            max_height=WORD_LIST_HEIGHT_PX,
                            elem_id="word-list",
                        )
                        words_table = gr.Dataframe(
                            headers=WORD_HEADERS, label="All word timings", visible=False, elem_id="word-table"
                        )
                        downloads = gr.File(label="Downloads", file_count="multiple", elem_id="single-downloads")
            with gr.Tab("Several files", elem_id="batch-tab"):
                with gr.Row():
                    with gr.Column():
                        files = gr.File(
                            file_count="multiple", type="filepath", label="Audio or video files", elem_id="batch-files"
                        )
                        with gr.Row():
                            run_batch = gr.Button("Transcribe", variant="primary")
                            stop_batch = gr.Button("Stop", variant="stop")
                    with gr.Column():
                        status = gr.Dataframe(
                            headers=STATUS_HEADERS,
                            label="Files",
                            wrap=True,
                            column_widths=STATUS_COLUMN_WIDTHS,
                            elem_id="batch-status",
                        )
                        batch_texts = gr.Textbox(label="Transcription Text", lines=8, elem_id="batch-text")
                        batch_downloads = gr.File(
                            label="Downloads (zip first)", file_count="multiple", elem_id="batch-downloads"
                        )

        settings = [model, batch_size, timestamps]
        one = run_one.click(
            transcribe,
            [audio, *settings],
            [text, words_md, words_table, downloads],
            api_name="transcribe",
            show_progress_on=text,
            concurrency_id="transcription",
            concurrency_limit=TRANSCRIBE_CONCURRENCY,
        )
        many = run_batch.click(
            transcribe_batch,
            [files, *settings],
            [status, batch_texts, batch_downloads],
            api_name="transcribe_batch",
            show_progress_on=status,
            concurrency_id="transcription",
            concurrency_limit=TRANSCRIBE_CONCURRENCY,
        )
        gr.on([stop_one.click, stop_batch.click], stop, api_name="stop", concurrency_limit=None, cancels=[one, many])
    return demo


def progress_reporter(progress: Callable[..., Any]) -> Callable[[Progress], None]:
    """Adapt a ``gr.Progress`` to the engine's progress callback."""

    def report(update: Progress) -> None:
        progress((update.done, update.total), desc=update.description, unit="files")

    return report


# --- Command line -----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The app's command-line parser."""
    parser = argparse.ArgumentParser(description="Serve the transcription page in your browser.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s, this PC)")
    parser.add_argument("--port", type=int, help="port to listen on (default: 7860, or the next free one)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model selected at start: a name or a .nemo path")
    parser.add_argument("--share", action="store_true", help="also publish a public gradio.live link (needs internet)")
    parser.add_argument("--temp-dir", help="folder for temporary files (always used on Windows)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available, else cpu")
    return parser


def serve(
    demo: "gr.Blocks",
    *,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    share: bool = False,
    block: bool = True,
    quiet: bool = False,
) -> str:
    """Put ``demo`` behind the queue and serve it.

    Args:
        demo: The page from :func:`build_demo`.
        host: Address to listen on.
        port: Port to listen on; ``None`` takes 7860 or the next free port.
        share: Also publish a public link through Gradio's share servers.
        block: Serve until interrupted; with ``False`` return at once and serve from a background thread (tests).
        quiet: Print nothing about the server.

    Returns:
        The local URL of the page (once serving stops, when ``block`` is true).
    """
    demo.queue(default_concurrency_limit=TRANSCRIBE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    _, local_url, _ = demo.launch(
        server_name=host, server_port=port, share=share, prevent_thread_lock=not block, quiet=quiet
    )
    return local_url


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags, redirect the temporary folder, then build and serve the page until interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's start-up self-checks, one line per request
    redirect_temp(args.temp_dir)  # before Gradio and NeMo are imported: both pick their temporary folder then
    demo = build_demo(engine=Engine(device=args.device), default_model=args.model)
    serve(demo, host=args.host, port=args.port, share=args.share)


if __name__ == "__main__":
    main()
