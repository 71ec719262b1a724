"""How long a folder batch takes to name its inputs before any is transcribed, at archive size.

    python bench/bench_batch_plan.py [--files 20000]

A recorder names every day's files alike (``REC001.WAV`` in each day's folder), so an archive may hold thousands of
inputs of one name. Prints the planning time of ``--files`` such inputs (small files, nothing is transcribed): new to
an output folder, planned again (a resume), and after the archive moved to another folder (each found done under its
name by its size and SHA-256; each file here is 100 KB).
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

from transcriber.batch_state import DONE_DIR, plan  # noqa: E402

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
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
