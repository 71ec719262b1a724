#!/usr/bin/env python3
"""Install NeMo speech models and speaker diarizers once, so the app and the command line run offline afterwards.

    python setup_local_models.py --list                      known models, their size and languages
    python setup_local_models.py --download nvidia/parakeet-tdt-0.6b-v2
    python setup_local_models.py --download nvidia/diar_streaming_sortformer_4spk-v2
    python setup_local_models.py --import my-model.nemo [--name my/model] [--diarizer]
    python setup_local_models.py --installed
    python setup_local_models.py --remove nvidia/parakeet-tdt-0.6b-v2

Models go to the app's model folder (``--model-dir``, or ``TRANSCRIBER_MODEL_DIR``, or the per-user default), with a
manifest of name, file, size and SHA-256. Every model is loaded once after installing, to prove it works.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from transcriber.errors import TranscriberError
from transcriber.folders import is_file, is_folder, make_folder
from transcriber.models import (
    ASR,
    DEMO_DIARIZER,
    DEMO_FILES,
    DEMO_MODEL,
    DIARIZER,
    KNOWN_DIARIZERS,
    KNOWN_MODELS,
    MODEL_DIR_ENV,
    NEMO_SUFFIX,
    ModelSource,
    install_file,
    is_installed,
    model_dir,
    read_manifest,
    model_kind,
    remove_model,
    verify,
)

EXIT_OK = 0
EXIT_FAILED = 1
BYTES_PER_MB = 1_000_000


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    actions = parser.add_mutually_exclusive_group(required=True)
    actions.add_argument("--list", action="store_true", help="list the models this app knows")
    actions.add_argument("--download", nargs="+", metavar="NAME", help="download and install pretrained models")
    actions.add_argument("--import", dest="import_path", metavar="PATH", help="install a local .nemo file")
    actions.add_argument("--installed", action="store_true", help="list installed models")
    actions.add_argument("--remove", nargs="+", metavar="NAME", help="delete installed models")
    parser.add_argument("--name", help="with --import: the name to install it under (default: the file's stem)")
    parser.add_argument("--diarizer", action="store_true", help="with --import: the file is a speaker diarizer")
    parser.add_argument("--model-dir", help=f"model folder (default: ${MODEL_DIR_ENV} or {model_dir()})")
    return parser


def _check_loads(source: ModelSource, kind: str) -> None:
    """Load the model once, as the app will, so a broken or wrong file is refused before it is installed."""
    if kind == DIARIZER:
        from transcriber.diarization import load_diarizer  # NeMo is heavy: only when something is installed

        load_diarizer(source, "cpu")
    else:
        from transcriber.nemo_models import load_nemo_model

        load_nemo_model(source, "cpu")


def list_known() -> int:
    print(f"{'model':<40}{'size':>9}  {'languages':<20}description")
    for info in KNOWN_MODELS:
        mark = " (installed)" if is_installed(info.name) else ""
        print(f"{info.name:<40}{info.size_mb:>6} MB  {info.languages:<20}{info.description}{mark}")
    print(f"{DEMO_MODEL:<40}{'built in':>9}  {'en':<20}small demo: digits and command words only")
    print()
    print(f"{'speaker diarizer':<40}{'size':>9}  {'licence':<20}description")
    for info in KNOWN_DIARIZERS:
        mark = " (installed)" if is_installed(info.name) else ""
        print(f"{info.name:<40}{info.size_mb:>6} MB  {info.licence.split(':')[0]:<20}{info.description}"
              f"{'; ' + info.licence.split(': ', 1)[1] if ': ' in info.licence else ''}{mark}")
    print(f"{DEMO_DIARIZER:<40}{'built in':>9}  {'':<20}small demo: trained on synthetic voices, up to 4 speakers")
    return EXIT_OK


def list_installed() -> int:
    models = read_manifest()
    if not models:
        print(f"No models installed in {model_dir()}.")
    for entry in models.values():
        print(f"{entry.name:<40}{entry.size / BYTES_PER_MB:>9.1f} MB  {entry.path}")
    return EXIT_OK


def download(names: Sequence[str]) -> int:
    from transcriber.nemo_models import fetch_pretrained_file

    status = EXIT_OK
    for name in names:
        if name in DEMO_FILES:
            print(f"{name}: built in, nothing to download (used when no other model is installed, or when named).")
            continue
        try:
            entry = read_manifest().get(name)
            if entry is not None and entry.path.is_file():
                verify(ModelSource(name, entry.path, entry.sha256))
                print(f"{name}: already installed in {entry.path}")
                continue
            cached = fetch_pretrained_file(name)
            kind = model_kind(name)
            _check_loads(ModelSource(name, cached), kind)
            entry = install_file(cached, name, kind)
            print(f"{name}: installed in {entry.path} ({entry.size / BYTES_PER_MB:.1f} MB)")
        except TranscriberError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_FAILED
    return status


def import_file(path_text: str, name: str | None, kind: str = ASR) -> int:
    path = Path(path_text).expanduser()
    problem = (
        "is a folder; give the .nemo file in it" if is_folder(path)
        else "does not exist" if not is_file(path)
        else f"is not a model file: NeMo models end in {NEMO_SUFFIX}" if path.suffix.lower() != NEMO_SUFFIX
        else None
    )
    if problem:
        print(f"error: {path} {problem}.", file=sys.stderr)
        return EXIT_FAILED
    name = name or path.stem
    if name in DEMO_FILES:
        print(f"error: {name} is the name of a built-in model; install this file under another (--name).",
              file=sys.stderr)
        return EXIT_FAILED
    try:
        _check_loads(ModelSource(name, path), kind)
    except TranscriberError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    entry = install_file(path, name, kind)
    print(f"{name}: installed in {entry.path} ({entry.size / BYTES_PER_MB:.1f} MB)")
    return EXIT_OK


def remove(names: Sequence[str]) -> int:
    status = EXIT_OK
    for name in names:
        if name in DEMO_FILES:
            print(f"error: {name} is built in (part of the app) and cannot be removed.", file=sys.stderr)
            status = EXIT_FAILED
        elif remove_model(name):
            print(f"{name}: removed")
        else:
            print(f"error: {name} is not installed.", file=sys.stderr)
            status = EXIT_FAILED
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.name or args.diarizer) and not args.import_path:
        parser.error("--name and --diarizer go with --import PATH")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if args.model_dir:
        os.environ[MODEL_DIR_ENV] = str(Path(args.model_dir).expanduser().resolve())
    try:
        if args.download or args.import_path:  # before a model is fetched or loaded
            make_folder(model_dir(), "models")
        if args.list:
            return list_known()
        if args.installed:
            return list_installed()
        if args.download:
            return download(args.download)
        if args.import_path:
            return import_file(args.import_path, args.name, DIARIZER if args.diarizer else ASR)
        return remove(args.remove)
    except (TranscriberError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
