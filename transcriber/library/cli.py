"""``python -m transcriber.library``: list, search, show, export, rename and delete transcripts in the library.

A module of its own rather than words after ``python -m transcriber``, whose arguments are file names: a file called
``list`` or ``search`` must never be taken for a command. ``python -m transcriber FILES --library PATH`` saves into
the library; this command reads and changes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ..errors import OutputWriteError, TranscriberError, TranscriptNotFoundError
from ..folders import is_file, is_folder, make_folder
from ..formats import clock_time, local_time
from ..outputs import ALL_FORMATS, numbered, safe_stem, write_transcript
from .query import parse as parse_query
from .recovery import default_library_path
from .store import DEFAULT_HIT_LIMIT, Entry, Hit, Library

EXIT_OK = 0
EXIT_FAILED = 1
DESCRIPTION = "List, search, show, export, rename and delete the transcripts in the library."


def add_library_option(parser: argparse.ArgumentParser, *, default: object = None) -> None:
    """``--library PATH`` and ``--user NAME``: before the command (``default`` None and "") and after it, as every
    subcommand takes them (``default`` SUPPRESS, so that one given before the command stands)."""
    parser.add_argument("--library", metavar="PATH", default=default,
                        help=f"the library file (default: {default_library_path()})")
    parser.add_argument("--user", default="" if default is None else default,
                        help="act on this login's transcripts (default: the app without logins)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m transcriber.library``."""
    parser = argparse.ArgumentParser(prog="python -m transcriber.library", description=DESCRIPTION)
    add_library_option(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="every transcript, newest first")
    listing.add_argument("--json", action="store_true", help="one JSON object per transcript")
    search = commands.add_parser(
        "search", help='transcripts whose text, name or speakers hold words, "phrases" or prefixes*'
    )
    search.add_argument("query")
    search.add_argument("--json", action="store_true", help="one JSON object per hit")
    show = commands.add_parser("show", help="one transcript as JSON (as python -m transcriber --json prints it)")
    show.add_argument("id", type=int)
    export = commands.add_parser("export", help="write transcripts (their ids, or --all) in one or more formats")
    export.add_argument("ids", metavar="ID", type=int, nargs="*", help="a transcript's id, as list shows it")
    export.add_argument("--all", action="store_true", help="every transcript (of --user), oldest first")
    export.add_argument("--search", metavar="QUERY", help="every transcript this search finds, oldest first")
    export.add_argument("--formats", default="txt", help=f"comma-separated: {','.join(ALL_FORMATS)} (default: txt)")
    export.add_argument("--out", default=".", metavar="DIR", help="folder to write into (default: here)")
    rename = commands.add_parser("rename", help="give a transcript a new name")
    rename.add_argument("id", type=int)
    rename.add_argument("name")
    delete = commands.add_parser("delete", help="delete a transcript and its audio")
    delete.add_argument("id", type=int)
    for sub in (listing, search, show, export, rename, delete):
        add_library_option(sub, default=argparse.SUPPRESS)
    return parser


def entry_dict(entry: Entry) -> dict[str, object]:
    """An entry as JSON."""
    return {"id": entry.id, "name": entry.name, "created": entry.created, "duration": entry.duration,
            "model": entry.model, "speakers": list(entry.speakers), "edited": entry.edited,
            "has_audio": entry.has_audio}


def hit_line(hit: Hit) -> str:
    """A hit as one line: id, name, time, snippet (none when only the name matched)."""
    when = "" if hit.time is None else f" @{clock_time(hit.time)}"
    return f"{hit.entry.id:>6}  {hit.entry.name}{when}  {hit.snippet}".rstrip()


def entry_line(entry: Entry) -> str:
    """An entry as one line: id, created (local time), duration (a clock's), name, model, speakers."""
    speakers = f"  [{', '.join(entry.speakers)}]" if entry.speakers else ""
    made = local_time(entry.created)
    return f"{entry.id:>6}  {made}  {clock_time(entry.duration):>8}  {entry.name}  ({entry.model}){speakers}"


def run(args: argparse.Namespace, library: Library, out: TextIO) -> int:
    """Carry out one parsed command on ``library``."""
    owner = args.user
    whose = f" of {owner}" if owner else ""
    if args.command == "list":
        entries = library.entries(owner=owner, limit=None)
        for entry in entries:
            print(json.dumps(entry_dict(entry), ensure_ascii=False) if args.json else entry_line(entry), file=out)
        if not entries:  # on stderr: what a script reads stays empty
            print(f"note: the library {library.path} holds no transcripts{whose}.", file=sys.stderr)
    elif args.command == "search":
        hits = library.search(args.query, owner=owner)
        for hit in hits:
            line = {**entry_dict(hit.entry), "snippet": hit.snippet, "time": hit.time}
            print(json.dumps(line, ensure_ascii=False) if args.json else hit_line(hit), file=out)
        if parse_query(args.query) and len(hits) >= DEFAULT_HIT_LIMIT:
            print(f"note: the {len(hits)} best matches are shown: add words to narrow the search.", file=sys.stderr)
        elif not hits:
            print(f"note: no transcript{whose} in {library.path} matches {args.query!r}." if parse_query(args.query)
                  else f"note: the library {library.path} holds no transcripts{whose}.", file=sys.stderr)
    elif args.command == "show":
        entry, transcript = library.get(args.id, owner=owner)
        print(json.dumps(entry.json_object(transcript), ensure_ascii=False, indent=2), file=out)
    elif args.command == "export":
        formats = [part.strip().lower() for part in args.formats.split(",") if part.strip()]
        unknown = sorted(set(formats) - set(ALL_FORMATS)) or ([] if formats else ["(none)"])
        if unknown:
            raise TranscriberError(f"Unknown format {', '.join(unknown)}; choose from {', '.join(ALL_FORMATS)}.")
        if args.search is not None:
            if not parse_query(args.search):
                raise TranscriberError(f"--search {args.search!r} holds no word to search for; to export every "
                                       "transcript, give --all.")
            ids = library.ids(args.search, owner=owner)
            if not ids:
                print(f"note: no transcript{whose} in {library.path} matches {args.search!r}.", file=sys.stderr)
        else:
            ids = args.ids or library.ids(owner=owner)
            if not ids:
                print(f"note: the library {library.path} holds no transcripts{whose}.", file=sys.stderr)
        return export(library, ids, formats, args.out, owner=owner, out=out) if ids else EXIT_OK
    elif args.command == "rename":
        library.rename(args.id, args.name, owner=owner)
    elif args.command == "delete":
        library.delete(args.id, owner=owner)
        print(f"Deleted transcript {args.id}.", file=out)
    return EXIT_OK


def export(
    library: Library, ids: Sequence[int], formats: Sequence[str], out_dir: str, *, owner: str, out: TextIO
) -> int:
    """Write the owner's transcripts ``ids`` into ``out_dir``, each under its name
    (:func:`~transcriber.outputs.safe_stem`) and, where an earlier one of this export has that name (``memo.wav`` of
    every day), the next number (``memo-2``); print each file written. A file of that name already in the folder is
    replaced (exporting again after a correction). An id not found is said and the others are written (status 1)."""
    folder: Path | None = None  # made for the first transcript found
    used: set[str] = set()
    missing = 0
    for transcript_id in dict.fromkeys(ids):
        try:
            entry, transcript = library.get(transcript_id, owner=owner)
        except TranscriptNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            missing += 1
            continue
        folder = folder or make_folder(out_dir, "the exports")
        stem, _ = numbered(safe_stem(entry.name), lambda name: name.lower() in used)
        used.add(stem.lower())
        try:
            paths = write_transcript(transcript, folder, stem, source_name=entry.source_name, formats=formats,
                                     title=entry.name, created=entry.created)
        except OSError as exc:  # a full disk: the next would fail too
            raise OutputWriteError.writing(f"the export of transcript {transcript_id}", folder, exc) from exc
        for path in paths:
            print(path, file=out)
    return EXIT_FAILED if missing else EXIT_OK


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run ``python -m transcriber.library``; returns the exit status (0 done, 1 failed, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "export" and sum((bool(args.ids), args.all, args.search is not None)) != 1:
        parser.error("export takes one of: the ids of the transcripts to write, --all, --search QUERY"
                     if args.ids or args.all or args.search is not None
                     else "export needs the ids of the transcripts to write (see list), --all or --search QUERY")
    path = Path(args.library) if args.library else default_library_path()
    if not (is_file(path) or is_folder(path)):  # a folder: Library says what to give instead
        print(f"error: there is no library at {path}", file=sys.stderr)
        return EXIT_FAILED
    try:
        library = Library(path)
    except TranscriberError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        return run(args, library, out or sys.stdout)
    except TranscriberError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        library.close()
