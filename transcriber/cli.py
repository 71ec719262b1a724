"""``python -m transcriber``: transcribe files and folders from the command line with the same engine as the web app.

Without ``--out`` the results are printed; with it, each file's outputs are written into that folder as soon as the
file is done, and a run that was interrupted resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from .batch import MEDIA_SUFFIXES, Destination, collect_inputs
from .batch_cli import RAY_BACKEND, run_folder_batch
from .engine import Engine
from .errors import FolderError, TranscriberError
from .folders import is_file, is_folder, make_folder
from .formats import FORMATS, NO_SPEECH, result_to_dict, to_text
from .outputs import ALL_FORMATS
from .model_cache import pick_device
from .models import (
    DEFAULT_DIARIZER, DEFAULT_MODEL, DEMO_DIARIZER, DEMO_MODEL, INSTALL_HINT, default_diarizer, default_model,
)
from . import command, gpu, windows
from .library import Library, default_library_path
from .nemo_models import set_nemo_verbose
from .ray_batch import DEFAULT_CPUS_PER_WORKER, LOCAL as DEFAULT_RAY_ADDRESS  # the module imports Ray only when run
from .tempdir import redirect_temp
from .types import MAX_SPEAKERS, FileResult, TranscribeOptions

DEMO_NOTICE = (
    f"Using the built-in demo model: it knows only English digits and a few command words. "
    f"For real speech install a model: {INSTALL_HINT.format(name=DEFAULT_MODEL)}"
)
DEMO_DIARIZER_NOTICE = (
    f"Using the built-in demo diarizer, trained on synthetic voices only. "
    f"For real recordings install one: {INSTALL_HINT.format(name=DEFAULT_DIARIZER)}"
)
UNTIMED_SUBTITLES_NOTICE = ("note: without --timestamps there are no word timings: the {formats} files will each hold "
                            "one cue for the whole recording; add --timestamps for timed subtitles.")
logger = logging.getLogger(__name__)

WEB_ADDRESS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
"""A link pasted as a file (``https://...``, ``ftp://...``)."""
EXIT_OK = command.EXIT_OK
EXIT_SOME_FAILED = command.EXIT_SOME_FAILED
EXIT_USAGE = command.EXIT_USAGE
EXIT_INTERRUPTED = command.EXIT_INTERRUPTED
DEFAULT_BATCH_SIZE = 4
LOCAL_BACKEND = "local"


def positive_int(value: str) -> int:
    """argparse type: an integer of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


MAX_BATCH_SIZE = 1024
"""The largest ``--batch-size`` (a GPU's own choice is at most :data:`~transcriber.gpu.MAX_AUTO_BATCH`)."""
MAX_TIMEOUT_S = 100_000_000
"""The longest ``--timeout``: about three years; Python's clocks overflow on the next few powers of ten."""


def batch_size(value: str) -> int:
    """argparse type: files per forward pass, 1 to :data:`MAX_BATCH_SIZE`."""
    number = int(value)
    if not 1 <= number <= MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_BATCH_SIZE}, got {value}")
    return number


def timeout_seconds(value: str) -> float:
    """argparse type: a time limit in seconds, above 0 and at most :data:`MAX_TIMEOUT_S` (``inf`` would be no
    limit, and a job must never hang)."""
    seconds = float(value)
    if not 0 < seconds <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"must be a number of seconds up to {MAX_TIMEOUT_S}, got {value}")
    return seconds


def positive_float(value: str) -> float:
    """argparse type: a number above 0."""
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return number


def speaker_count(value: str) -> int:
    """argparse type: a number of speakers, 1 to MAX_SPEAKERS."""
    number = int(value)
    if not 1 <= number <= MAX_SPEAKERS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_SPEAKERS}, got {value}")
    return number


def format_list(value: str) -> list[str]:
    """argparse type: comma-separated output formats."""
    formats = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = sorted(set(formats) - set(ALL_FORMATS))
    if unknown or not formats:
        raise argparse.ArgumentTypeError(f"choose from {','.join(ALL_FORMATS)}; got {value!r}")
    return list(dict.fromkeys(formats))


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--precision`` and ``--int8``: how the engine runs, the same for the app and the command line."""
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available, else cpu")
    parser.add_argument(
        "--precision", choices=gpu.PRECISIONS,
        help="on CUDA (default bf16, fp16 on GPUs without bf16); the CPU always runs fp32",
    )
    parser.add_argument(
        "--int8",
        action="store_true",
        help="on the CPU, quantise the model to int8: faster for large models such as parakeet, no gain for small ones",
    )


def check_engine_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with a usage error when ``--device cuda`` is asked for where there is no CUDA GPU (the model would
    otherwise fail to load with PyTorch's "Torch not compiled with CUDA enabled", as if the file were at fault), or
    when a flag is given for the device it does nothing on."""
    if args.device == "cpu" and args.precision not in (None, "fp32"):
        parser.error(f"--precision {args.precision} is for CUDA; the CPU always runs fp32")
    if args.device == "cuda" and args.int8:
        parser.error("--int8 quantises for the CPU; on CUDA choose --precision (bf16 by default)")
    if args.device == "cuda" and (missing := gpu.cuda_missing()):
        parser.error(f"--device cuda: {missing}; leave --device out to run on the CPU.")


def engine_from_args(args: argparse.Namespace) -> Engine:
    """The engine :func:`add_engine_arguments`' flags ask for."""
    return Engine(device=args.device, int8=args.int8, precision=args.precision)


def positive_number(value: str) -> float:
    """argparse type: a number of at least 0."""
    number = float(value)
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return number


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend`` and the Ray backend's flags (folder batches with ``--out``)."""
    group = parser.add_argument_group("cluster", "with --out: run the folder batch on Ray (pip install -r requirements-ray.txt)")
    group.add_argument("--backend", choices=(LOCAL_BACKEND, RAY_BACKEND), default=LOCAL_BACKEND,
                       help="local: this process (default); ray: a pool of Ray workers")
    group.add_argument("--ray-address", default=DEFAULT_RAY_ADDRESS, metavar="ADDR",
                       help="local (default): start Ray on this machine; auto or HOST:PORT: join a running cluster")
    group.add_argument("--workers", type=positive_int, metavar="N",
                       help="Ray workers, each loading the model once (default: as many as the cluster's CPUs hold)")
    group.add_argument("--cpus-per-worker", type=positive_float, default=DEFAULT_CPUS_PER_WORKER, metavar="C",
                       help="CPUs per worker, also its thread count (default 1)")
    group.add_argument("--gpus-per-worker", type=positive_number, default=0.0, metavar="G",
                       help="GPUs per worker (fractions share a GPU; default 0: CPU workers)")


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(
        prog="python -m transcriber",
        description="Transcribe audio or video files with a NeMo speech-recognition model, offline.",
    )
    parser.add_argument("files", nargs="+", metavar="PATH", help="audio or video files, or folders to walk")
    parser.add_argument(
        "--model",
        help=f"pretrained model name or path to a .nemo file (default: {DEFAULT_MODEL} when installed, else the "
        f"installed model, else the built-in demo model)",
    )
    parser.add_argument("--timestamps", action="store_true", help="include word and segment timings")
    parser.add_argument(
        "--language", metavar="CODE",
        help="the spoken language, for models that take one (Canary: en, de, es, fr, ...); others refuse it",
    )
    parser.add_argument("--translate-to", metavar="CODE", help="translate into this language (models that translate)")
    parser.add_argument(
        "--speakers", action="store_true", help="identify who speaks when (words and segments get S1, S2, ...)"
    )
    parser.add_argument(
        "--num-speakers", type=speaker_count, metavar="N", help="with --speakers: at most N speakers (default: auto)"
    )
    parser.add_argument(
        "--diarizer",
        metavar="NAME_OR_PATH",
        help=f"with --speakers: diarizer name or .nemo path (default: {DEFAULT_DIARIZER} when installed, else the "
        f"installed one, else the built-in demo diarizer)",
    )
    parser.add_argument(
        "--batch-size", type=batch_size,
        help=f"files per forward pass (default: on a GPU as many as its free memory holds, else {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per file, one per line")
    parser.add_argument("--out", metavar="DIR", help="write each file's outputs into DIR instead of printing; run "
                        "again, it skips the files done, writing from their done markers only what they lack (a "
                        "format added, a --library given)")
    parser.add_argument(
        "--formats", type=format_list, help=f"with --out: any of {','.join(ALL_FORMATS)} (default: {','.join(FORMATS)})"
    )
    parser.add_argument(
        "--library", metavar="PATH",
        help="also save each transcribed file into this transcript library (the app's is at "
        f"{default_library_path()}); read it with python -m transcriber.library",
    )
    parser.add_argument("--no-keep-audio", action="store_true", help="with --library: keep text only, not the audio")
    parser.add_argument("--user", metavar="NAME", default="",
                        help="with --library: save them as this login's transcripts (an app started with --auth shows "
                        "each user their own; default: the app without logins)")
    add_engine_arguments(parser)
    add_backend_arguments(parser)
    parser.add_argument(
        "--timeout", type=timeout_seconds, help="seconds before a stuck job is stopped (default: from audio length)"
    )
    parser.add_argument("--temp-dir", help="folder for temporary files (always used on Windows)")
    parser.add_argument("--verbose", action="store_true", help="show NeMo's progress bar and log")
    return parser


def _print_plain(result: FileResult, out: TextIO) -> None:
    print(f"== {command.shown_path(result.file)}", file=out)
    if result.transcript is None:
        print(f"error: {result.error}", file=out)
        return
    print(to_text(result.transcript).rstrip("\n") or f"({NO_SPEECH})", file=out)
    for word in result.transcript.words:
        speaker = f" {word.speaker}" if word.speaker else ""
        print(f"  [{word.start:7.2f} - {word.end:7.2f}]{speaker} {word.text}", file=out)


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 all succeeded, 1 some failed, 2 usage error)."""
    if out is None:
        out = sys.stdout
        # a file name with a byte that is not UTF-8 prints as its escape (as on stderr) instead of ending the run
        if hasattr(out, "reconfigure"):
            out.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_combinations(parser, args)
    check_engine_arguments(parser, args)
    args.formats = args.formats or list(FORMATS)  # None until here, so that --formats without --out is noticed
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    set_nemo_verbose(args.verbose)
    try:  # before a model is loaded: a folder that cannot be written is a mistake in the command
        redirect_temp(args.temp_dir)
        if args.out:
            make_folder(args.out, "the outputs")
    except FolderError as exc:
        parser.error(str(exc))

    inputs = _inputs(args.files)
    if not inputs:
        print("error: nothing to transcribe.", file=sys.stderr)
        return EXIT_SOME_FAILED
    subtitles = sorted({"srt", "vtt"} & set(args.formats))
    if args.out and subtitles and not (args.timestamps or args.speakers):
        print(UNTIMED_SUBTITLES_NOTICE.format(formats=" and ".join(f.upper() for f in subtitles)), file=sys.stderr)
    model = args.model or default_model()
    if model == DEMO_MODEL:
        print(DEMO_NOTICE, file=sys.stderr)
    engine = engine_from_args(args)
    diarizer = None
    if args.speakers:
        diarizer = args.diarizer or default_diarizer()
        if diarizer == DEMO_DIARIZER:
            print(DEMO_DIARIZER_NOTICE, file=sys.stderr)
    # Ray workers pick no batch size from this machine's GPU: they may run on others
    batch_size = args.batch_size or (DEFAULT_BATCH_SIZE if args.backend == RAY_BACKEND else default_batch_size(engine))
    options = TranscribeOptions(
        timestamps=args.timestamps, batch_size=batch_size, verbose=args.verbose, timeout=args.timeout,
        speakers=args.speakers, num_speakers=args.num_speakers, diarizer=diarizer,
        language=args.language, translate_to=args.translate_to,
    )
    save = library = None
    if args.library:
        try:
            library = Library(args.library, keep_audio=not args.no_keep_audio)
        except TranscriberError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_SOME_FAILED
        save = library_saver(library, owner=args.user, folders=[name for name in args.files if is_folder(name)])
    if args.out:
        destination = None if library is None else library_destination(library, save, owner=args.user)
        return run_folder_batch(engine, inputs, model, options, args, destination)

    def report(result: FileResult) -> None:
        if save is not None and result.ok:
            save(result)
        _report(result, args, out)

    # Each file is shown (and saved) as soon as it and those before it are done: a long run shows its progress, and
    # Ctrl-C keeps what was finished.
    in_order = InputOrder(report)
    try:
        results = engine.transcribe_files(inputs, model=model, options=options, on_result=in_order)
    except TranscriberError as exc:  # the model itself is unusable: every file fails for the same reason
        results = [FileResult(file, error=str(exc)) for file in inputs]
        for index, result in enumerate(results):
            in_order(index, result)
    return EXIT_OK if results and all(result.ok for result in results) else EXIT_SOME_FAILED


class InputOrder:
    """Hands results on in input order, each as soon as it and all those before it are known."""

    def __init__(self, handle: Callable[[FileResult], None]) -> None:
        self.handle = handle
        self.next = 0
        self.waiting: dict[int, FileResult] = {}

    def __call__(self, index: int, result: FileResult) -> None:
        self.waiting[index] = result
        while self.next in self.waiting:
            self.handle(self.waiting.pop(self.next))
            self.next += 1


def _inputs(paths: Sequence[str]) -> list[str]:
    """The files to transcribe, in order and each once; a folder with none in it is said on stderr."""

    def warn(folder: Path) -> None:
        print(f"warning: {folder}: no audio or video files in this folder or below it.", file=sys.stderr)

    return [str(path) for path in collect_inputs(paths, on_empty_folder=warn)]


def _check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with a usage error (status 2) for options that do not go together."""
    if (args.num_speakers or args.diarizer) and not args.speakers:
        parser.error("--num-speakers and --diarizer need --speakers")
    if args.backend == RAY_BACKEND and not args.out:
        parser.error("--backend ray runs folder batches: give --out DIR")
    if args.backend == RAY_BACKEND and args.device:
        parser.error("--device does not apply to --backend ray: workers use a GPU when given --gpus-per-worker")
    if args.library and Path(args.library).suffix.lower() in MEDIA_SUFFIXES:
        parser.error(f"--library {args.library}: that is an audio or video file, not a library (PATH.sqlite)")
    for name in args.files:
        if WEB_ADDRESS.match(name) and not (is_file(name) or is_folder(name)):
            parser.error(f"{name} is a web address; this command transcribes files on this computer: download it "
                         "first")
    # a flag that would do nothing is a mistake in the command, not something to pass over in silence
    if args.formats and not args.out:
        parser.error("--formats chooses the files --out writes: give --out DIR (without it the text is printed)")
    if args.json and args.out:
        parser.error("--json prints to the terminal; with --out DIR the JSON files are written there (--formats json)")
    if args.no_keep_audio and not args.library:
        parser.error("--no-keep-audio needs --library PATH")
    if args.user and not args.library:
        parser.error("--user names whose transcripts --library saves: give --library PATH")
    ray_flags = {"--ray-address": args.ray_address != DEFAULT_RAY_ADDRESS, "--workers": args.workers is not None,
                 "--cpus-per-worker": args.cpus_per_worker != DEFAULT_CPUS_PER_WORKER,
                 "--gpus-per-worker": args.gpus_per_worker != 0}
    given = [flag for flag, changed in ray_flags.items() if changed]
    if given and args.backend != RAY_BACKEND:
        named = given[0] if len(given) == 1 else f"{', '.join(given[:-1])} and {given[-1]}"
        parser.error(f"{named} {'applies' if len(given) == 1 else 'apply'} to --backend ray only")


def _report(result: FileResult, args: argparse.Namespace, out: TextIO) -> None:
    """One file's result on ``out`` (JSON or plain text), its error and notes on stderr."""
    if args.timestamps and result.transcript is not None and result.transcript.text and not result.transcript.words:
        print(command.file_line(result.file, "the model gives no word timings; segments only."), file=sys.stderr)
    if args.json:
        print(json.dumps(result_to_dict(result), ensure_ascii=False), file=out)
    else:
        _print_plain(result, out)
    out.flush()  # each file as it is done, also into a pipe (| tee, a program reading the JSON lines)
    if result.error and (args.json or not _one_terminal(out, sys.stderr)):  # plain text: told once on one screen
        print(command.file_line(result.file, result.error), file=sys.stderr)


def _one_terminal(first: TextIO, second: TextIO) -> bool:
    """Whether both streams are the same terminal, which a person reads as one."""
    try:
        return (first.isatty() and second.isatty()
                and os.path.samestat(os.fstat(first.fileno()), os.fstat(second.fileno())))
    except (AttributeError, OSError, ValueError):  # a stream without a file (io.StringIO), a closed one
        return False


def default_batch_size(engine: Engine) -> int:
    """The batch size without ``--batch-size``: on a GPU as many windows as its free memory holds
    (:func:`~transcriber.gpu.batch_size_for`), on the CPU :data:`DEFAULT_BATCH_SIZE`."""
    found = gpu.free_memory(pick_device(engine.device))
    return DEFAULT_BATCH_SIZE if found is None else gpu.batch_size_for(found[0], windows.WINDOW_S)


def library_saver(
    library: Library, *, owner: str = "", folders: Sequence[str] = ()
) -> Callable[[FileResult], int | None]:
    """Saves a transcribed file into ``library`` as ``owner``'s, named by :func:`library_name`, and returns its id; a
    save that fails is reported, gives ``None``, and the run goes on."""

    def save(result: FileResult) -> int | None:
        try:
            transcript_id = library.save(result.transcript, name=library_name(result.file, folders),
                                         audio=result.file, owner=owner)
        except (TranscriberError, sqlite3.Error, OSError) as exc:
            print(f"warning: {command.shown_path(result.file)} was not saved to the library: {exc}", file=sys.stderr)
            return None
        logger.info("Saved %s to the library as %d", result.file, transcript_id)
        return transcript_id

    return save


def library_destination(library: Library, save: Callable[[FileResult], int | None], *, owner: str = "") -> Destination:
    """A folder batch's library: its done markers record that a file was saved into ``library`` (its whole path)
    for ``owner``, so a later run with the same library saves each file done before that it does not have, once."""
    place: dict[str, object] = {"library": str(library.path.resolve()), "user": owner}

    def keep(result: FileResult) -> dict[str, object] | None:
        transcript_id = save(result)
        return None if transcript_id is None else {**place, "id": transcript_id}

    return Destination(place, keep)


def library_name(file: str, folders: Sequence[str]) -> str:
    """A file's name in the library: its path in the first of ``folders`` (those the command was given) that holds it
    (``monday/memo.wav``: an archive has a ``memo.wav`` in every day's folder), else its file name."""
    path = Path(file).absolute()
    for folder in (Path(name).absolute() for name in folders):
        if path.is_relative_to(folder):
            return str(path.relative_to(folder))
    return path.name
