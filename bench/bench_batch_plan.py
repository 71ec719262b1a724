"""How long a folder batch takes to name its inputs before any is transcribed, at archive size.

    python bench/bench_batch_plan.py [--files 20000]

A recorder names every day's files alike (``REC001.WAV`` in each day's folder), so an archive may hold thousands of
inputs of one name. Prints the planning time of ``--files`` such inputs (small files, nothing is transcribed): new to
an output folder, planned again (a resume), and after the archive moved to another folder (each found done under its
name by its size and SHA-256; each file here is 100 KB). Then the look for copies (``find_copies``) among as many done
markers, each holding the transcript of a five-minute memo with word timings: with one new input of another size (a
resume that has something to do), and with every input renamed since it was done (each found by its bytes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transcriber.batch import transcript_settings  # noqa: E402
from transcriber.batch_state import DONE_DIR, find_copies, plan  # noqa: E402
from transcriber.library.records import transcript_to_json  # noqa: E402
from transcriber.types import Segment, TranscribeOptions, Transcript, Word  # noqa: E402

NAME = "REC001.WAV"
FILE_BYTES = 100_000


def timed(inputs: list[Path], out: Path) -> tuple[float, list[str]]:
    start = time.perf_counter()
    stems = [item.stem for item in plan(inputs, out)]
    return time.perf_counter() - start, stems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-plan-"))
    try:
        archive, out = root / "archive", root / "out"
        out.mkdir()
        inputs = []
        for day in range(args.files):
            path = archive / f"day{day:06d}" / NAME
            path.parent.mkdir(parents=True)
            path.write_bytes(day.to_bytes(4, "little") + bytes(FILE_BYTES - 4))
            inputs.append(path)
        seconds, stems = timed(inputs, out)
        print(f"{args.files} new inputs named {NAME}: {seconds:.2f} s (last named {stems[-1]})")
        print(f"planned again (a resume): {timed(inputs, out)[0]:.2f} s")
        (out / DONE_DIR).mkdir()
        for path, stem in zip(inputs, stems, strict=True):  # done markers as a finished run leaves them
            data = path.read_bytes()
            marker = {"file": str(path), "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            (out / DONE_DIR / f"{stem}.json").write_text(json.dumps(marker), encoding="utf-8")
        moved = root / "moved"
        os.rename(archive, moved)
        seconds, again = timed(sorted(moved.rglob(NAME)), out)
        print(f"after the archive moved: {seconds:.2f} s, names kept: {again == stems}")
        copies(root, args.files)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def memo_transcript(words: int = 700) -> str:
    """A five-minute memo's transcript with word timings, as a done marker stores it."""
    timed_words = tuple(Word(f"word{i % 97}", i * 0.4, i * 0.4 + 0.3) for i in range(words))
    segments = tuple(Segment(" ".join(w.text for w in timed_words[i:i + 20]), timed_words[i].start,
                             timed_words[min(i + 19, words - 1)].end) for i in range(0, words, 20))
    return transcript_to_json(Transcript(" ".join(w.text for w in timed_words), timed_words, segments, 300.0, "demo"))


def copies(root: Path, files: int) -> None:
    settings = transcript_settings("demo", TranscribeOptions(timestamps=True))
    archive, out = root / "memos", root / "copies-out"
    (out / DONE_DIR).mkdir(parents=True)
    transcript = memo_transcript()
    items = []
    for number in range(files):
        path = archive / f"REC{number:06d}.WAV"
        path.parent.mkdir(exist_ok=True)
        data = number.to_bytes(4, "little") + bytes(FILE_BYTES - 4)
        path.write_bytes(data)
        marker = {"file": str(path), "size": len(data), "mtime_ns": 0, "sha256": hashlib.sha256(data).hexdigest(),
                  "settings": settings, "transcript": transcript}
        (out / DONE_DIR / f"{path.stem}.json").write_text(json.dumps(marker), encoding="utf-8")
        items.append(path)
    size = sum(path.stat().st_size for path in (out / DONE_DIR).iterdir())
    new = archive / "new.wav"
    new.write_bytes(bytes(FILE_BYTES + 1))
    start = time.perf_counter()
    todo, found = find_copies(plan([new], out), out, settings, {})
    print(f"copies looked for among {files} done markers ({size / 1e6:.0f} MB) for one new input: "
          f"{time.perf_counter() - start:.2f} s ({len(found)} found)")
    renamed = []
    for path in items:
        renamed.append(path.rename(path.with_name(f"memo {path.stem[3:]}.wav")))
    start = time.perf_counter()
    todo, found = find_copies(plan(renamed, out), out, settings, {})
    print(f"every input renamed: {time.perf_counter() - start:.2f} s with the plan ({len(found)} found done, "
          f"{len(todo)} to transcribe)")


if __name__ == "__main__":
    main()
