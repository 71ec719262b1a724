"""``python -m transcriber``: transcribe files from the command line with the same engine as the web app."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from .errors import TranscriberError
from .formats import result_to_dict
from .models import DEMO_MODEL, DEFAULT_MODEL, INSTALL_HINT, default_model
from .tempdir import redirect_temp
from .types import FileResult, TranscribeOptions

DEMO_NOTICE = (
    f"Using the built-in demo model: it knows only English digits and a few command words. "
    f"For real speech install a model: {INSTALL_HINT.format(name=DEFAULT_MODEL)}"
)
EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
DEFAULT_BATCH_SIZE = 4


def positive_int(value: str) -> int:
    """argparse type: an integer of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def positive_float(value: str) -> float:
    """argparse type: a number above 0."""
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(
        prog="python -m transcriber",
        description="Transcribe audio or video files with a NeMo speech-recognition model, offline.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio or video files")
    parser.add_argument(
        "--model",
        help=f"pretrained model name or path to a .nemo file (default: {DEFAULT_MODEL} when installed, else the "
        f"installed model, else the built-in demo model)",
    )
    parser.add_argument("--timestamps", action="store_true", help="include word and segment timings")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, help="files per forward pass")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file, one per line")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available, else cpu")
    parser.add_argument(
        "--timeout", type=positive_float, help="seconds before a stuck job is stopped (default: from audio length)"
    )
    parser.add_argument("--temp-dir", help="folder for temporary files (always used on Windows)")
    parser.add_argument("--verbose", action="store_true", help="show NeMo's progress bar and log")
    return parser


def _print_plain(result: FileResult, out: TextIO) -> None:
    print(f"== {result.file}", file=out)
    if result.transcript is None:
        print(f"error: {result.error}", file=out)
        return
    print(result.transcript.text, file=out)
    for word in result.transcript.words:
        print(f"  [{word.start:7.2f} - {word.end:7.2f}] {word.text}", file=out)


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 all succeeded, 1 some failed, 2 usage error)."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    redirect_temp(args.temp_dir)

    from .engine import Engine  # after the temp redirect, which must precede NeMo

    model = args.model or default_model()
    if model == DEMO_MODEL:
        print(DEMO_NOTICE, file=sys.stderr)
    engine = Engine(device=args.device)
    options = TranscribeOptions(
        timestamps=args.timestamps, batch_size=args.batch_size, verbose=args.verbose, timeout=args.timeout
    )
    try:
        results = engine.transcribe_files(args.files, model=model, options=options)
    except TranscriberError as exc:  # the model itself is unusable: every file fails for the same reason
        results = [FileResult(file, error=str(exc)) for file in args.files]
    for result in results:
        if args.json:
            print(json.dumps(result_to_dict(result), ensure_ascii=False), file=out)
        else:
            _print_plain(result, out)
        if result.error:
            print(result.error, file=sys.stderr)
    return EXIT_OK if all(result.ok for result in results) else EXIT_SOME_FAILED
