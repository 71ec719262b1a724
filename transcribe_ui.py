"""The browser app: ``python transcribe_ui.py`` serves a local page that transcribes uploaded or recorded audio.

The page is a thin layer over :mod:`transcriber`: each handler turns widget values into one
:meth:`~transcriber.engine.Engine.transcribe_files` call and the results back into widget values. Five decisions:

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
* A model typed into the page is refused unless it is one the app lists (registry, installed, the built-in demo, or
  the one named at start) or a path ending in ``.nemo``. The check looks only at the text, so typing ``/etc/passwd``
  or ``../../secret.txt`` never makes the server open that file.
"""

import argparse
import logging
import re
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transcriber import models
from transcriber.engine import Engine, default_engine
from transcriber.errors import ModelLoadError, TranscriberError
from transcriber.formats import reading_text, word_list_markdown
from transcriber.models import DEFAULT_MODEL, DEMO_MODEL, INSTALL_HINT, KNOWN_MODELS, NEMO_SUFFIX, model_file_name
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
DEFAULT_MAX_FILE_SIZE = 2 * 1024**3
"""Largest upload, in bytes (2 GB: three hours of 48 kHz stereo WAV); a larger one is refused with a message."""
FILE_SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
"""Units ``--max-file-size`` accepts; binary multiples, as Gradio counts them."""
OUTPUT_MAX_AGE_S = 3600.0
"""Request folders older than this are deleted when a new request starts."""
GRADIO_CACHE_CLEANUP = (3600, 24 * 3600)
"""Every hour, Gradio deletes uploads and copied downloads older than a day."""
ZIP_NAME = "transcripts.zip"
WORD_HEADERS = ["word", "start (s)", "end (s)"]
AUTO_SPEAKERS = "auto"
SPEAKER_CHOICES = [AUTO_SPEAKERS, "2", "3", "4"]
STATUS_HEADERS = ["file", "duration (s)", "status", "seconds"]
STATUS_COLUMN_WIDTHS = ["25%", "15%", "45%", "15%"]
STATUS_DONE = "done"
WORD_LIST_HEIGHT_PX = 320
"""The word list scrolls beyond this height."""
MODEL_FILE_HEIGHT_PX = 140
QUOTE_IN_UPLOAD_NAME = "%22"
"""How a double quote in a file name arrives in an upload (see :func:`display_name`)."""
UNEXPECTED_ERROR = "Something went wrong while transcribing; the details are in the terminal log."
BROWSE_CHOICE = "<browse for a .nemo file>"
"""The dropdown value of its "Browse" entry: not a model name, and no path ends like it."""
BROWSE_LABEL = "Browse for a .nemo file…"
MODEL_STORAGE_KEY = "transcriber-model"
"""Where the browser keeps the last chosen model (localStorage), so a reload selects it again."""
DEMO_NOTICE = (
    "**This is the small built-in demo model.** It knows only English digits (zero to nine) and a few command words "
    "(yes, no, stop, go, left, right, up, down, on, off, start, open, close, play, pause, next, back, hello, please, "
    "help); other speech comes out as those words or nothing. For real speech install a model once, on a machine "
    f"with internet access:\n\n    {INSTALL_HINT.format(name=DEFAULT_MODEL)}\n\n"
    "then restart the app, or reload this page and pick the model from the list."
)


class ModelRefusedError(TranscriberError):
    """A model typed into the page is neither one the app offers nor the path of a ``.nemo`` file."""


# --- Plain helpers: no Gradio, testable on their own ------------------------------------------------------------------


def model_choices(selected: str | None = None) -> list[tuple[str, str]]:
    """The model dropdown's (label, value) pairs, looked up afresh on every call.

    Installed models come first (known ones in registry order, then other names in the manifest, then loose ``.nemo``
    files in the model folder, then the built-in demo model), then the known models that are not installed, labelled
    with the command that installs them, then the "Browse for a .nemo file…" entry.

    Args:
        selected: A model to offer even if it is none of these (a ``.nemo`` path, say); it is then listed first.
    """
    listed = offered_models()
    if selected and selected != BROWSE_CHOICE and selected not in {value for _, value in listed}:
        listed.insert(0, (selected, selected))
    return [*listed, (BROWSE_LABEL, BROWSE_CHOICE)]


def offered_models() -> list[tuple[str, str]]:
    """The (label, value) pairs of the models the dropdown lists, installed ones first; see :func:`model_choices`."""
    try:
        manifest = models.read_manifest()
        installed = [info for info in KNOWN_MODELS if models.is_installed(info.name)]
    except ModelLoadError as exc:  # a damaged manifest must not keep the page from opening; using a model says why
        logger.warning("%s", exc)
        manifest, installed = {}, []
    known_names = {info.name for info in KNOWN_MODELS}
    choices = [(f"{info.name} — {info.description}", info.name) for info in installed]
    choices += [
        (name, name) for name in sorted(manifest) if name not in known_names and models.model_kind(name) == models.ASR
    ]
    taken_files = {entry.path.name for entry in manifest.values()} | {model_file_name(name) for name in known_names}
    loose = sorted(path for path in models.model_dir().glob(f"*{NEMO_SUFFIX}") if path.name not in taken_files)
    choices += [(f"{path.name} — in the model folder", str(path)) for path in loose]
    if models.DEMO_MODEL_PATH.is_file():
        choices.append((f"{DEMO_MODEL} — built-in demo: English digits and command words only", DEMO_MODEL))
    installed_names = {info.name for info in installed}
    choices += [
        (f"{info.name} — not installed: {INSTALL_HINT.format(name=info.name)}", info.name)
        for info in KNOWN_MODELS
        if info.name not in installed_names
    ]
    return choices


def is_nemo_path(name: str) -> bool:
    """Whether ``name`` names a ``.nemo`` file (by its text alone; nothing is opened)."""
    return name.lower().endswith(NEMO_SUFFIX)


def check_model_choice(name: str | None, trusted: Collection[str] = ()) -> str:
    """The model a page request may use, from the dropdown's value; raises when it may use none.

    Accepted: the known models, the installed ones (the manifest), the built-in demo model, any name in ``trusted``
    (the model named when the app was started), and any path ending in ``.nemo``. Everything else is refused by its
    text alone, so no file named here is opened unless it is a ``.nemo`` file.

    Raises:
        ModelRefusedError: No model is chosen, "Browse" is chosen without a file, or ``name`` is not accepted.
        ModelLoadError: The manifest of installed models is damaged.
    """
    name = (name or "").strip()
    if not name:
        raise ModelRefusedError("Choose a model first.")
    if name == BROWSE_CHOICE:
        raise ModelRefusedError("Choose a .nemo file first, or pick a model from the list.")
    if is_nemo_path(name) or name == DEMO_MODEL or name in trusted or models.known_model(name) is not None:
        return name
    if name in models.read_manifest():
        return name
    raise ModelRefusedError(
        f"{name!r} is not a model this app offers: pick one from the list, or give the path of a .nemo file."
    )


def parse_file_size(text: str) -> int:
    """Bytes from a size such as ``2GB``, ``500 MB`` or ``1048576`` (binary units: 1 KB = 1024 bytes).

    Raises:
        ValueError: ``text`` is not a positive whole number with an optional unit b, kb, mb, gb or tb.
    """
    match = re.fullmatch(r"\s*(\d+)\s*([a-z]*)\s*", text.lower())
    if match is None or match.group(2) not in FILE_SIZE_UNITS or int(match.group(1)) < 1:
        raise ValueError(f"expected a size such as 2GB, 500MB or 1048576 (bytes), got {text!r}")
    return int(match.group(1)) * FILE_SIZE_UNITS[match.group(2)]


def word_rows(words: Sequence[Word]) -> list[list[Any]]:
    """The full word table: word, start and end in seconds, and the speaker when speakers were identified."""
    if any(word.speaker for word in words):
        return [[word.text, round(word.start, 3), round(word.end, 3), word.speaker] for word in words]
    return [[word.text, round(word.start, 3), round(word.end, 3)] for word in words]


def display_name(path: str) -> str:
    """An uploaded file's name as its user knows it.

    Browsers send a double quote in a file name as ``%22`` (the HTML standard's multipart encoding) and Gradio stores
    the upload under that name, so ``say "hi".wav`` arrives as ``say %22hi%22.wav``.
    """
    return Path(path).name.replace(QUOTE_IN_UPLOAD_NAME, '"')


def status_rows(results: Sequence[FileResult]) -> list[list[str]]:
    """The batch table: file, duration, status (or the error message), seconds taken."""
    return [
        [
            display_name(result.file),
            f"{result.transcript.duration:.1f}" if result.transcript else "",
            STATUS_DONE if result.ok else error_reason(result),
            f"{result.seconds:.2f}",
        ]
        for result in results
    ]


def error_reason(result: FileResult) -> str:
    """A failed file's error message without its leading "<file name>: ", which the table's first column shows."""
    return str(result.error).removeprefix(f"{Path(result.file).name}: ")


def batch_text(results: Sequence[FileResult]) -> str:
    """Each transcribed file's text under its name, in input order."""
    return "\n\n".join(
        f"[{display_name(r.file)}]\n{reading_text(r.transcript)}" for r in results if r.transcript is not None
    )


class RequestFolder:
    """The download folder of one request: file names derived from the inputs, never reused within it.

    Args:
        root: The folder that holds every request's folder.
    """

    def __init__(self, root: Path) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="request-", dir=root))
        self._stems: set[str] = set()

    def _unique_stem(self, name: str) -> str:
        base = stem = safe_stem(name)
        number = 2
        while stem in self._stems:
            stem = f"{base}-{number}"
            number += 1
        self._stems.add(stem)
        return stem

    def write(self, source: str, transcript: Transcript) -> list[Path]:
        """Write ``transcript`` in every format of :data:`~transcriber.formats.FORMATS`; returns the paths."""
        name = display_name(source)
        return write_transcript(transcript, self.path, self._unique_stem(name), source_name=name)

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


def speaker_count(choice: str | int | None) -> int | None:
    """The "Speakers" choice as a number, ``None`` for "auto"."""
    if choice in (None, "", AUTO_SPEAKERS):
        return None
    try:
        return int(choice)
    except (TypeError, ValueError):
        raise TranscriberError(f"Speakers must be {AUTO_SPEAKERS} or a number; got {choice!r}.") from None


def options_from(
    batch_size: float, timestamps: bool, speakers: bool = False, num_speakers: str | int | None = None, *,
    timeout: float | None = None,
) -> TranscribeOptions:
    """Engine options from widget values; NeMo's own progress bar stays on for the terminal log.

    Args:
        timeout: Seconds after which a job is stopped with an error; ``None`` lets the engine derive it from the
            audio's length.
        speakers: Identify speakers (the "Identify speakers" box).
        num_speakers: The "Speakers" choice: "auto" or a number.
    """
    return TranscribeOptions(
        timestamps=bool(timestamps), batch_size=max(1, int(batch_size)), verbose=True, timeout=timeout,
        speakers=bool(speakers), num_speakers=speaker_count(num_speakers) if speakers else None,
    )


# --- The page ---------------------------------------------------------------------------------------------------------


def build_demo(
    *,
    engine: Engine | None = None,
    default_model: str | None = None,
    timeout: float | None = None,
    diarizer: str | None = None,
) -> "gr.Blocks":
    """Build the page without launching it.

    Args:
        engine: Runs the transcriptions; default: the process-wide :func:`~transcriber.engine.default_engine`.
        default_model: The model selected when the page opens (a pretrained name or a ``.nemo`` path); default:
            :func:`~transcriber.models.default_model`. A page remembers its user's last choice instead.
        timeout: Seconds after which a job is stopped with an error; default: derived from the audio's length.
        diarizer: The diarizer "Identify speakers" uses (a name or a ``.nemo`` path); default:
            :func:`~transcriber.models.default_diarizer`.
    """
    import gradio as gr

    engine = engine or default_engine()
    default_model = default_model or models.default_model()
    trusted_models = {default_model}
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

    def run(files: list[str], model: str, settings: tuple, request: gr.Request, progress):
        session = request.session_hash or uuid.uuid4().hex
        with user_errors(), cancel_flags.running(session) as cancel:
            return engine.transcribe_files(
                files,
                model=check_model_choice(model, trusted_models),
                options=replace(options_from(*settings, timeout=timeout), diarizer=diarizer),
                progress=progress_reporter(progress),
                cancel=cancel,
            )

    def transcribe(
        audio: str | None,
        model: str,
        batch_size: float,
        timestamps: bool,
        speakers: bool = False,
        num_speakers: str = AUTO_SPEAKERS,
        request: gr.Request = None,
        progress=gr.Progress(),
    ):
        if not audio:
            raise gr.Error("Upload or record an audio file first.", print_exception=False)
        (result,) = run([audio], model, (batch_size, timestamps, speakers, num_speakers), request, progress)
        if result.transcript is None:
            raise gr.Error(f"{display_name(audio)}: {error_reason(result)}", print_exception=False)
        if not result.transcript.text:
            gr.Warning("No speech was recognised.")
        downloads = outputs.new().write(audio, result.transcript)
        words = result.transcript.words
        timed = bool(timestamps or speakers)
        headers = WORD_HEADERS + (["speaker"] if result.transcript.has_speakers else [])
        return (
            reading_text(result.transcript),
            gr.Markdown(f"**Word timings**\n\n{word_list_markdown(words)}", visible=timed),
            gr.Dataframe(word_rows(words), headers=headers, visible=timed),
            [str(path) for path in downloads],
        )

    def transcribe_batch(
        files: list[str] | None,
        model: str,
        batch_size: float,
        timestamps: bool,
        speakers: bool = False,
        num_speakers: str = AUTO_SPEAKERS,
        request: gr.Request = None,
        progress=gr.Progress(),
    ):
        if not files:
            raise gr.Error("Add one or more files first.", print_exception=False)
        results = run(list(files), model, (batch_size, timestamps, speakers, num_speakers), request, progress)
        downloads = outputs.new().write_batch(results)
        return status_rows(results), batch_text(results), [str(path) for path in downloads]

    def stop(request: gr.Request) -> None:
        if cancel_flags.cancel(request.session_hash or ""):
            gr.Info("Stopping…")

    def restore_model(saved: str | None, current: str):
        """On page load: the choices as they are now, and the model this browser chose last if it is still there.

        The value is set only when it changes, so a model typed in while the page loads stays.
        """
        offered = {value for _, value in offered_models()}
        if saved and saved != current and (saved in offered or (is_nemo_path(saved) and Path(saved).is_file())):
            return gr.Dropdown(choices=model_choices(saved), value=saved)
        return gr.Dropdown(choices=model_choices(current))

    def model_changed(name: str | None):
        """Show the demo notice for the demo model and the file box for "Browse"; remember any other choice."""
        remember = gr.skip() if not name or name == BROWSE_CHOICE else name
        return gr.Markdown(visible=name == DEMO_MODEL), gr.File(visible=name == BROWSE_CHOICE), remember

    def use_model_file(path: str | None):
        if not path:
            return gr.skip()
        return gr.Dropdown(choices=[(f"{Path(path).name} (uploaded)", path), *model_choices()], value=path)

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=GRADIO_CACHE_CLEANUP) as demo:
        gr.Markdown(f"# {TITLE}\nSpeech to text on this computer with NVIDIA NeMo. Nothing leaves your machine.")
        with gr.Row():
            model = gr.Dropdown(
                model_choices(default_model),
                value=default_model,
                allow_custom_value=True,
                label="Model",
                info="Installed models first. Or type the path of a .nemo file on this computer.",
                scale=3,
                elem_id="model",
            )
            batch_size = gr.Slider(1, MAX_BATCH_SIZE, value=DEFAULT_BATCH_SIZE, step=1, label="Batch size", scale=1)
            timestamps = gr.Checkbox(label="Include word timestamps", scale=1)
            with gr.Column(scale=1, min_width=160):
                speakers = gr.Checkbox(label="Identify speakers", elem_id="speakers")
                num_speakers = gr.Dropdown(
                    SPEAKER_CHOICES, value=AUTO_SPEAKERS, label="Speakers", elem_id="num-speakers", min_width=120
                )
        model_file = gr.File(
            label="Model file (.nemo)",
            file_types=[NEMO_SUFFIX],
            type="filepath",
            height=MODEL_FILE_HEIGHT_PX,
            visible=False,
            elem_id="model-file",
        )
        demo_notice = gr.Markdown(DEMO_NOTICE, visible=default_model == DEMO_MODEL, elem_id="demo-notice")
        saved_model = gr.BrowserState(None, storage_key=MODEL_STORAGE_KEY)

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

        # Page-only events: never queued behind a transcription, and not part of the API.
        page_only = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
        demo.load(restore_model, [saved_model, model], model, **page_only)
        model.change(model_changed, model, [demo_notice, model_file, saved_model], **page_only)
        model_file.upload(use_model_file, model_file, model, **page_only)

        settings = [model, batch_size, timestamps, speakers, num_speakers]
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
        if float(update.done).is_integer():
            progress((int(update.done), update.total), desc=update.description, unit="files")
        else:  # part-way through a long file: a fraction, since "2.5/4 files" reads oddly
            progress(update.done / update.total, desc=update.description)

    return report


# --- Command line -----------------------------------------------------------------------------------------------------


def file_size(value: str) -> int:
    """argparse type: a size such as ``2GB`` (see :func:`parse_file_size`)."""
    try:
        return parse_file_size(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def positive_seconds(value: str) -> float:
    """argparse type: a number of seconds above 0."""
    seconds = float(value)
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    """The app's command-line parser."""
    parser = argparse.ArgumentParser(description="Serve the transcription page in your browser.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s, this PC)")
    parser.add_argument("--port", type=int, help="port to listen on (default: 7860, or the next free one)")
    parser.add_argument(
        "--model",
        help=f"model selected at start: a name or a .nemo path (default: {DEFAULT_MODEL} when installed, else an "
        f"installed model, else the built-in demo model)",
    )
    parser.add_argument(
        "--diarizer",
        metavar="NAME_OR_PATH",
        help="diarizer for Identify speakers (default: nvidia/diar_streaming_sortformer_4spk-v2 when installed, else "
        "an installed one, else the built-in demo diarizer)",
    )
    parser.add_argument("--share", action="store_true", help="also publish a public gradio.live link (needs internet)")
    parser.add_argument("--temp-dir", help="folder for temporary files (always used on Windows)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available, else cpu")
    parser.add_argument(
        "--int8",
        action="store_true",
        help="on the CPU, quantise the model to int8: faster for large models such as parakeet, no gain for small ones",
    )
    parser.add_argument(
        "--timeout", type=positive_seconds, help="seconds before a stuck job is stopped (default: from audio length)"
    )
    parser.add_argument(
        "--max-file-size",
        type=file_size,
        default=DEFAULT_MAX_FILE_SIZE,
        metavar="SIZE",
        help="largest upload, e.g. 500MB or 4GB (default: 2GB)",
    )
    return parser


def serve(
    demo: "gr.Blocks",
    *,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    share: bool = False,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    block: bool = True,
    quiet: bool = False,
) -> str:
    """Put ``demo`` behind the queue and serve it.

    Every setting that matters for safety is passed explicitly, so Gradio's environment variables
    (``GRADIO_SERVER_NAME``, ``GRADIO_SHARE``, ``GRADIO_SSR_MODE``, ``GRADIO_RUN_HISTORY``) cannot change it.

    Args:
        demo: The page from :func:`build_demo`.
        host: Address to listen on.
        port: Port to listen on; ``None`` takes 7860 or the next free port.
        share: Also publish a public link through Gradio's share servers.
        max_file_size: Largest upload in bytes; larger ones are refused with a message saying so.
        block: Serve until interrupted; with ``False`` return at once and serve from a background thread (tests).
        quiet: Print nothing about the server.

    Returns:
        The local URL of the page (once serving stops, when ``block`` is true).
    """
    demo.queue(default_concurrency_limit=TRANSCRIBE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    _, local_url, _ = demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=max_file_size,
        # Gradio's run history keeps every transcript in the browser and offers to copy it to a cloud bucket.
        run_history=False,
        ssr_mode=False,
        prevent_thread_lock=not block,
        quiet=quiet,
    )
    return local_url


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags, redirect the temporary folder, then build and serve the page until interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's start-up self-checks, one line per request
    redirect_temp(args.temp_dir)  # before Gradio and NeMo are imported: both pick their temporary folder then
    model = args.model or models.default_model()
    if model == DEMO_MODEL:
        logger.warning("No speech model is installed; the page starts with the small built-in demo model.")
    demo = build_demo(
        engine=Engine(device=args.device, int8=args.int8), default_model=model, timeout=args.timeout,
        diarizer=args.diarizer,
    )
    serve(demo, host=args.host, port=args.port, share=args.share, max_file_size=args.max_file_size)


if __name__ == "__main__":
    main()
