"""The folder batch of ``python -m transcriber DIR --out OUT``, as the command line runs it: a progress bar in a
terminal and a line per file in a log, the count at the end, and how a stopped or interrupted run ends."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import command
from .batch import (
    STATUS_COMPLETED, STATUS_COPIED, STATUS_DONE, STATUS_FAILED, STATUS_SKIPPED, BatchRow, Destination, run_batch,
)
from .batch_state import SUMMARY_NAME
from .engine import Engine
from .errors import OutputWriteError, TranscriberError
from .formats import counted
from .types import FileResult, Progress, TranscribeOptions

RAY_BACKEND = "ray"
PART_LINE_EVERY_S = 60.0
"""In a log, how often at most a long file's progress is a line ("Transcribing talk.wav (part 40 of 360)")."""


def run_folder_batch(
    engine: Engine, inputs: list[str], model: str, options: TranscribeOptions, args: argparse.Namespace,
    destination: Destination | None = None,
) -> int:
    """Transcribe ``inputs`` into ``args.out`` (on Ray with ``--backend ray``), showing the progress, and return the
    exit status; stopped or interrupted, say how to resume. Each file done is also kept in ``destination`` (a
    library), and so is each done before that it does not have yet: the count of those is said at the end."""
    from tqdm import tqdm  # comes with NeMo; only the folder batch shows a bar

    out_dir = Path(args.out)
    kept: set[str] = set()
    if destination is not None:
        destination = _noting(destination, kept)
    seen = 0
    said_at = -PART_LINE_EVERY_S
    with tqdm(total=len(inputs), unit="file", file=sys.stderr, disable=None) as bar:
        # Into a log (a cluster job, nohup, a service) tqdm draws no bar: a line per file finished shows the progress.
        lines = bool(bar.disable)

        def on_progress(report: Progress) -> None:
            """Where a long file is (its part of all): beside the bar, or in a log a line a minute at most."""
            nonlocal said_at
            if " (part " not in report.description:
                return
            if not lines:
                bar.set_postfix_str(report.description)
            elif time.monotonic() - said_at >= PART_LINE_EVERY_S:
                said_at = time.monotonic()
                bar.write(report.description, file=sys.stderr)
                sys.stderr.flush()

        def on_file(row: BatchRow) -> None:
            nonlocal seen
            seen += 1
            if not lines:
                bar.set_postfix_str("", refresh=False)  # the part of a file now done
            bar.update(1)
            counted = f"[{seen}/{len(inputs)}] " if lines else ""
            if row.status == STATUS_FAILED:
                bar.write(counted + command.file_line(row.file, row.error), file=sys.stderr)
            elif lines and row.status == STATUS_DONE:
                said = f"{row.duration or 0:.1f} s of audio in {row.seconds:.1f} s"
                bar.write(counted + command.file_line(row.file, said), file=sys.stderr)
            elif row.status == STATUS_COPIED:  # not transcribed, though it was not done: said even beside the bar
                said = f"the same audio as {command.shown_path(row.same_as)}; its outputs come from that transcript"
                bar.write(counted + command.file_line(row.file, said), file=sys.stderr)
            sys.stderr.flush()

        try:
            if args.backend == RAY_BACKEND:
                rows = _run_ray_batch(inputs, out_dir, model, options, args, on_file, destination)
            else:
                rows = run_batch(
                    engine, [Path(p) for p in inputs], out_dir, model=model, formats=args.formats, options=options,
                    on_file=on_file, destination=destination, progress=on_progress,
                )
        except KeyboardInterrupt as exc:
            bar.write(f"Interrupted; finished files are in {out_dir}. Run the same command again to resume.",
                      file=sys.stderr)
            return command.interrupted_status(exc)
        except OutputWriteError as exc:
            bar.write(f"error: {exc} The batch stopped; the files finished before it are in {out_dir}. Once the "
                      "folder can take files again, run the same command again to go on.", file=sys.stderr)
            return command.EXIT_SOME_FAILED
        except TranscriberError as exc:
            bar.write(str(exc), file=sys.stderr)
            return command.EXIT_SOME_FAILED
    counts = {status: sum(row.status == status for row in rows)
              for status in (STATUS_DONE, STATUS_SKIPPED, STATUS_COMPLETED, STATUS_COPIED, STATUS_FAILED)}
    completed = (f" ({counts[STATUS_COMPLETED]} of them given their missing outputs from their done markers)"
                 if counts[STATUS_COMPLETED] else "")
    copies = f", {counts[STATUS_COPIED]} the same audio as another file" if counts[STATUS_COPIED] else ""
    earlier = sum(row.status in (STATUS_SKIPPED, STATUS_COMPLETED) and row.file in kept for row in rows)
    if earlier:
        print(f"{counted(earlier, 'file')} done before {'were' if earlier != 1 else 'was'} saved to "
              "the library now.", file=sys.stderr)
    print(
        f"{counts[STATUS_DONE]} transcribed, {counts[STATUS_SKIPPED] + counts[STATUS_COMPLETED]} already done"
        f"{completed}{copies}, {counts[STATUS_FAILED]} failed; summary in {out_dir / SUMMARY_NAME}",
        file=sys.stderr,
    )
    return command.EXIT_SOME_FAILED if counts[STATUS_FAILED] or not rows else command.EXIT_OK


def _run_ray_batch(
    inputs: list[str], out_dir: Path, model: str, options: TranscribeOptions, args: argparse.Namespace,
    on_file: Callable[[BatchRow], None], destination: Destination | None,
) -> list[BatchRow]:
    from .ray_batch import EngineSettings, RaySettings, run_batch_ray  # Ray is imported only for --backend ray

    settings = RaySettings(
        address=args.ray_address, workers=args.workers, cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker, verbose=args.verbose,
    )
    return run_batch_ray(
        [Path(p) for p in inputs], out_dir, model=model, formats=args.formats, options=options,
        engine=EngineSettings(int8=args.int8, precision=args.precision), ray_settings=settings,
        on_file=on_file, destination=destination,
    )


def _noting(destination: Destination, kept: set[str]) -> Destination:
    """``destination``, noting in ``kept`` each file it keeps."""

    def keep(result: FileResult) -> dict[str, object] | None:
        record = destination.keep(result)
        if record is not None:
            kept.add(result.file)
        return record

    return Destination(destination.place, keep)
