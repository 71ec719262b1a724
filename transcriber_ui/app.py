"""The page as a whole: :func:`build_demo` puts the tabs together, :func:`serve` runs it, :func:`main` is the
command line of ``python transcribe_ui.py``.

Gradio is imported inside :func:`build_demo`, never at the top of a module, so that :func:`main` can redirect the
temporary folder first (Gradio picks its upload folder when it is imported) and tests can import the package without
side effects.
"""

from __future__ import annotations

import argparse
import errno
import getpass
import logging
import re
import socket
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Callable

from transcriber import models
from transcriber.engine import Engine, default_engine
from transcriber.cli import add_engine_arguments, check_engine_arguments, engine_from_args, timeout_seconds
from transcriber.command import stop_on_signals
from transcriber.errors import FolderError, TranscriberError
from transcriber.library import Library, default_library_path, open_library
from transcriber.models import DEFAULT_MODEL, DEMO_MODEL
from transcriber.tempdir import is_windows, redirect_temp
from transcriber.watchdog import stop_model_calls

from . import auth as logins
from .account import account_line
from . import media_route
from .preload import Preloader
from .library_tab import build_library_tab
from .transcribe_tab import TRANSCRIBE_CONCURRENCY, build_settings, build_tabs
from .widgets import AppContext

if TYPE_CHECKING:
    import gradio as gr

logger = logging.getLogger(__name__)

TITLE = "Transcriber"
DEFAULT_HOST = "127.0.0.1"
QUEUE_MAX_SIZE = 64
"""Requests that may wait in the queue; more are refused with a "queue is full" message."""
MAX_PORT = 65535
DEFAULT_MAX_FILE_SIZE = 2 * 1024**3
"""Largest upload, in bytes (2 GB: three hours of 48 kHz stereo WAV); a larger one is refused with a message."""
FILE_SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
"""Units ``--max-file-size`` accepts; binary multiples, as Gradio counts them."""
STATUS_POLL_S = 1.0
"""How often the page asks whether the model has loaded, until it has."""
BLOCK_POLL_S = 0.1
"""How often a served app looks whether it still runs (Ctrl-C ends the wait at once)."""
GRADIO_CACHE_CLEANUP = (3600, 24 * 3600)
"""Every hour, Gradio deletes uploads and copied downloads older than a day."""


def build_demo(
    *,
    engine: Engine | None = None,
    default_model: str | None = None,
    timeout: float | None = None,
    diarizer: str | None = None,
    library: Library | None = None,
    library_notice: str = "",
    logins: bool = False,
    preload: bool = False,
) -> "gr.Blocks":
    """Build the page without launching it.

    Args:
        engine: Runs the transcriptions; default: the process-wide :func:`~transcriber.engine.default_engine`.
        default_model: The model selected when the page opens (a pretrained name or a ``.nemo`` path); default:
            :func:`~transcriber.models.default_model`. A page remembers its user's last choice instead.
        timeout: Seconds after which a job is stopped with an error; default: derived from the audio's length.
        diarizer: The diarizer "Identify speakers" uses (a name or a ``.nemo`` path); default:
            :func:`~transcriber.models.default_diarizer`.
        library: Where transcripts are saved; ``None``: nowhere (the Library tab says so).
        library_notice: A sentence the Library tab shows (the library was moved aside, cannot be written, ...).
        logins: Users log in (:func:`serve` with ``auth``): each sees only their own transcripts.
        preload: Start loading ``default_model`` in the background now, and show its progress on the page.
    """
    import gradio as gr

    default_model = default_model or models.default_model()
    context = AppContext(
        engine=engine or default_engine(),
        default_model=default_model,
        trusted_models=frozenset({default_model}),
        timeout=timeout,
        diarizer=diarizer,
        library=library,
        library_notice=library_notice,
        logins=logins,
    )
    preloader = Preloader(context.engine, default_model) if preload else None
    if preloader is not None:
        preloader.start()
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=GRADIO_CACHE_CLEANUP) as demo:
        gr.Markdown(f"# {TITLE}\nSpeech to text on this computer with NVIDIA NeMo. Nothing leaves your machine.")
        if logins:
            account_line(demo)
        settings = build_settings(context, demo)
        if preloader is not None:
            model_status(preloader)
        with gr.Tabs() as tabs:
            audio = build_tabs(context, settings)
            build_library_tab(context, tabs=tabs, single_audio=audio)
    return demo


def model_status(preloader: Preloader) -> None:
    """A line under the settings that says "Loading model ..." until the model is loaded, then "Ready"."""
    import gradio as gr

    status = gr.Markdown(preloader.status, elem_id="model-status")
    timer = gr.Timer(STATUS_POLL_S)

    def poll():
        return preloader.status, gr.Timer(active=not preloader.finished)

    timer.tick(poll, None, [status, timer], queue=False, api_visibility="private", show_progress="hidden")


def serve(
    demo: "gr.Blocks",
    *,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    share: bool = False,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    block: bool = True,
    quiet: bool = False,
    auth: Callable[[str, str], bool] | None = None,
    library: Library | None = None,
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
        auth: Checks a login (see :func:`transcriber_ui.auth.checker`); ``None``: no logins.
        library: The page's library: its files are never served by URL, only copies of a user's own audio.

    Returns:
        The local URL of the page (once serving stops, when ``block`` is true).
    """
    demo.queue(default_concurrency_limit=TRANSCRIBE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    blocked = None
    if library is not None:
        blocked = [str(library.media_dir), *(str(library.path.with_name(library.path.name + end)) for end in ("", "-wal", "-shm"))]
    _, local_url, _ = demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=max_file_size,
        # Gradio's run history keeps every transcript in the browser and offers to copy it to a cloud bucket.
        run_history=False,
        ssr_mode=False,
        prevent_thread_lock=True,  # the media route goes in once the server runs, and before anyone waits on it
        quiet=quiet,
        auth=auth,
        blocked_paths=blocked,
    )
    if library is not None:
        media_route.install(demo, library)
    if block:
        serve_until_interrupted(demo)
    return local_url


def serve_until_interrupted(demo: "gr.Blocks") -> None:
    """Serve until Ctrl-C (or a request to end, :func:`stop_on_signals`), then stop: the jobs still running are
    cancelled at their next batch (the pages they were for are going away; a job left running would hold the exit
    up, and the exit could then abort the process inside PyTorch), and the server, its queue and any share link are
    closed. Gradio's ``block_thread`` closes the server only, waiting for running jobs to finish."""
    from gradio.tunneling import CURRENT_TUNNELS

    try:
        stop_on_signals()
        while demo.is_running:
            time.sleep(BLOCK_POLL_S)
    except KeyboardInterrupt:
        logger.info("Stopping: jobs still running are cancelled.")
        stop_model_calls(wait=0.0)
        demo.close(verbose=False)
        for tunnel in CURRENT_TUNNELS:
            tunnel.kill()


# --- Command line -----------------------------------------------------------------------------------------------------


def address_problem(host: str, port: int | None) -> str | None:
    """Why the page could not be served at ``host`` and ``port`` (``None``: any free port), in a sentence; ``None``
    when it can. Asked before the model loads: Gradio would end in a traceback about free ports."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        return f"--host {host}: no such address or name."
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        if not is_windows():  # as the server binds: the connections of an app just stopped do not hold its port
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (on Windows it would take a used one)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"--port {port}: another program listens there; choose another port, or leave --port out "
                        "to take the next free one.")
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"--host {host}: not an address of this computer."
            return f"Cannot listen at {host}:{port}: {exc.strerror or exc}."
    return None


def parse_file_size(text: str) -> int:
    """Bytes from a size such as ``2GB``, ``500 MB`` or ``1048576`` (binary units: 1 KB = 1024 bytes).

    Raises:
        ValueError: ``text`` is not a positive whole number with an optional unit b, kb, mb, gb or tb.
    """
    match = re.fullmatch(r"\s*(\d+)\s*([a-z]*)\s*", text.lower())
    if match is None or match.group(2) not in FILE_SIZE_UNITS or int(match.group(1)) < 1:
        raise ValueError(f"expected a size such as 2GB, 500MB or 1048576 (bytes), got {text!r}")
    return int(match.group(1)) * FILE_SIZE_UNITS[match.group(2)]


def file_size(value: str) -> int:
    """argparse type: a size such as ``2GB`` (see :func:`parse_file_size`)."""
    try:
        return parse_file_size(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def port_number(value: str) -> int:
    """argparse type: a TCP port, 1 to 65535."""
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to {MAX_PORT}, got {value!r}")
    return port


def build_parser() -> argparse.ArgumentParser:
    """The app's command-line parser."""
    parser = argparse.ArgumentParser(description="Serve the transcription page in your browser.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s, this PC)")
    parser.add_argument("--port", type=port_number, help="port to listen on (default: 7860, or the next free one)")
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
    parser.add_argument(
        "--library", metavar="PATH",
        help=f"the transcript library, an SQLite file (default: $TRANSCRIBER_LIBRARY, else {default_library_path()})",
    )
    parser.add_argument("--no-keep-audio", action="store_true", help="keep transcripts' text only, not their audio")
    parser.add_argument(
        "--auth", action="append", default=[], metavar="USER:PASSWORD",
        help="require a login (repeat for more users); each user sees only their own transcripts",
    )
    parser.add_argument("--auth-file", metavar="FILE", help="logins, one user:password per line (hashed allowed)")
    parser.add_argument(
        "--hash-password", action="store_true", help="print a hashed password for --auth-file, then exit"
    )
    parser.add_argument("--share", action="store_true", help="also publish a public gradio.live link (needs internet)")
    parser.add_argument("--temp-dir", help="folder for temporary files (always used on Windows)")
    add_engine_arguments(parser)
    parser.add_argument(
        "--timeout", type=timeout_seconds, help="seconds before a stuck job is stopped (default: from audio length)"
    )
    parser.add_argument(
        "--max-file-size",
        type=file_size,
        default=DEFAULT_MAX_FILE_SIZE,
        metavar="SIZE",
        help="largest upload, e.g. 500MB or 4GB (default: 2GB)",
    )
    return parser


def print_password_hash() -> None:
    """Ask for a password (twice, not echoed) and print its hash for an auth file."""
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if sys.stdin.isatty() and getpass.getpass("Again: ") != password:
        sys.exit("The passwords differ.")
    if not password:
        sys.exit("The password is empty.")
    print(logins.hash_password(password))


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags, redirect the temporary folder, then build and serve the page until interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.hash_password:
        print_password_hash()
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's start-up self-checks, one line per request
    logging.getLogger("torch").setLevel(logging.WARNING)  # its cache statistics at exit ("Failed to register ...")
    try:
        users = logins.collect_logins(args.auth, args.auth_file)
    except TranscriberError as exc:
        parser.error(str(exc))
    try:
        redirect_temp(args.temp_dir)  # before Gradio and NeMo are imported: both pick their temporary folder then
    except FolderError as exc:
        parser.error(str(exc))
    problem = address_problem(args.host, args.port)
    if problem:
        parser.error(problem)
    check_engine_arguments(parser, args)
    model = args.model or models.default_model()
    if model == DEMO_MODEL:
        logger.warning("No speech model is installed; the page starts with the small built-in demo model.")
    library, notice = open_library(args.library, keep_audio=not args.no_keep_audio)
    exposed = logins.exposure_warning(args.host, bool(users), share=args.share)
    if exposed:
        logger.warning("%s", exposed)
        notice = f"{notice}\n\n**{exposed}**".strip()
    if library is not None:
        logger.info("Library: %s", library.path)
    demo = build_demo(
        engine=engine_from_args(args), default_model=model, timeout=args.timeout,
        diarizer=args.diarizer, library=library, library_notice=notice, logins=bool(users), preload=True,
    )
    serve(demo, host=args.host, port=args.port, share=args.share, max_file_size=args.max_file_size,
          auth=logins.checker(users) if users else None, library=library)
