"""Search latency and save time of the transcript library at archive size.

    python bench/bench_library.py [--count 10000] [--minutes 10] [--queries 300] [--path FILE]

Builds a library of ``--count`` synthetic transcripts of ``--minutes`` each (150 words a minute, a segment every
about 15 words, word timings, two speakers), saved one by one through :meth:`Library.save` as the app saves them,
then runs ``--queries`` searches through :meth:`Library.search` and prints p50/p95 per kind of query and overall.
Goal: search p95 <= 100 ms.

The words follow a Zipf law over a vocabulary of 20,000 made-up words plus a few real ones, so some query words
occur in most transcripts and some in a handful, as in speech. Query kinds: a frequent word, a mid-frequency word,
a rare word, a prefix (``ab*``), a two-word phrase taken from a stored transcript, two words anywhere in one
segment, and a word that occurs nowhere. An existing ``--path`` with the right count is reused.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transcriber.library import Library  # noqa: E402
from transcriber.types import Segment, Transcript, Word  # noqa: E402

WORDS_PER_MINUTE = 150
WORDS_PER_SEGMENT = 15
VOCABULARY = 20_000
ZIPF_EXPONENT = 1.1
SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "de", "an", "vel", "or", "is", "um", "bra", "tek"]
REAL_WORDS = ["budget", "march", "meeting", "report", "council", "school", "river", "music", "hospital", "election"]
GOAL_P95_MS = 100.0
SEED = 20261201


def vocabulary(rng: np.random.Generator) -> list[str]:
    """``VOCABULARY`` distinct made-up words (2-4 syllables) with the real words among the frequent ones."""
    words: dict[str, None] = dict.fromkeys(REAL_WORDS)
    while len(words) < VOCABULARY:
        words["".join(rng.choice(SYLLABLES, size=rng.integers(2, 5)))] = None
    made_up = list(words)[len(REAL_WORDS):]
    return made_up[:50] + REAL_WORDS + made_up[50:]


def zipf_probabilities(size: int) -> np.ndarray:
    ranks = np.arange(1, size + 1, dtype=np.float64)
    weights = ranks**-ZIPF_EXPONENT
    return weights / weights.sum()


def synthetic_transcript(rng: np.random.Generator, words: list[str], probabilities: np.ndarray, minutes: float,
                         number: int) -> Transcript:
    """One transcript of ``minutes``: words drawn from the Zipf law, timed evenly with small gaps, two speakers."""
    count = int(minutes * WORDS_PER_MINUTE)
    chosen = rng.choice(len(words), size=count, p=probabilities)
    step = minutes * 60.0 / count
    timed, segments = [], []
    for start in range(0, count, WORDS_PER_SEGMENT):
        speaker = "S1" if (start // WORDS_PER_SEGMENT) % 2 == 0 else "S2"
        run = [Word(words[index], round((start + k) * step, 3), round((start + k) * step + step * 0.8, 3), speaker)
               for k, index in enumerate(chosen[start:start + WORDS_PER_SEGMENT])]
        timed += run
        segments.append(Segment(" ".join(w.text for w in run), run[0].start, run[-1].end, speaker))
    return Transcript(text=" ".join(w.text for w in timed), words=tuple(timed), segments=tuple(segments),
                      duration=minutes * 60.0, model="bench", speakers=("S1", "S2"))


def build(library: Library, count: int, minutes: float, rng: np.random.Generator, words: list[str]) -> list[float]:
    """Save ``count`` transcripts; returns the seconds each save took."""
    probabilities = zipf_probabilities(len(words))
    seconds = []
    for number in range(count):
        transcript = synthetic_transcript(rng, words, probabilities, minutes, number)
        started = time.perf_counter()
        library.save(transcript, name=f"recording-{number:05d}.wav")
        seconds.append(time.perf_counter() - started)
        if (number + 1) % 1000 == 0:
            print(f"  saved {number + 1}/{count} (median {statistics.median(seconds) * 1000:.1f} ms)", flush=True)
    return seconds


def queries(library: Library, words: list[str], count: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(kind, query) pairs, ``count`` in all, cycling through the kinds."""
    stored = library.entries(limit=50)
    samples = [library.get(entry.id)[1].segments for entry in stored]
    made = []
    for number in range(count):
        kind = number % 7
        if kind == 0:
            made.append(("frequent word", words[int(rng.integers(0, 20))]))
        elif kind == 1:
            made.append(("mid word", words[int(rng.integers(200, 2000))]))
        elif kind == 2:
            made.append(("rare word", words[int(rng.integers(10_000, VOCABULARY))]))
        elif kind == 3:
            made.append(("prefix", words[int(rng.integers(0, 5000))][:3] + "*"))
        elif kind == 4:
            segment = samples[int(rng.integers(0, len(samples)))][int(rng.integers(0, 50))].text.split()
            at = int(rng.integers(0, len(segment) - 1))
            made.append(("phrase", f'"{segment[at]} {segment[at + 1]}"'))
        elif kind == 5:
            made.append(("two words", f"{words[int(rng.integers(20, 500))]} {words[int(rng.integers(20, 500))]}"))
        else:
            made.append(("no match", "zzyzxquux"))
    return made


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--queries", type=int, default=350)
    parser.add_argument("--path", help="library file to build or reuse (default: a temporary one)")
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    words = vocabulary(rng)
    folder = None
    if args.path:
        path = Path(args.path)
    else:
        folder = tempfile.TemporaryDirectory(prefix="bench-library-")
        path = Path(folder.name) / "library.sqlite"
    library = Library(path, keep_audio=False)
    have = library.count()
    if have not in (0, args.count):
        sys.exit(f"{path} holds {have} transcripts, not {args.count}; give another --path")
    if have == 0:
        print(f"Building {args.count} transcripts of {args.minutes:g} min in {path} ...", flush=True)
        started = time.perf_counter()
        saves = build(library, args.count, args.minutes, rng, words)
        print(f"save per transcript: median {statistics.median(saves) * 1000:.1f} ms, "
              f"p95 {percentile(saves, 0.95) * 1000:.1f} ms; built in {time.perf_counter() - started:.0f} s")
    print(f"library: {library.count()} transcripts, {library.size_bytes() / 1024**3:.2f} GB")

    by_kind: dict[str, list[float]] = {}
    hits: dict[str, list[int]] = {}
    planned = queries(library, words, args.queries, rng)
    for _, query in planned[:20]:  # warm the page cache as a running app would be
        library.search(query)
    for kind, query in planned:
        started = time.perf_counter()
        found = library.search(query)
        by_kind.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        hits.setdefault(kind, []).append(len(found))
    print(f"{'query':<14}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}{'hits (median)':>16}")
    for kind, times in by_kind.items():
        print(f"{kind:<14}{len(times):>5}{percentile(times, 0.5):>10.1f}{percentile(times, 0.95):>10.1f}"
              f"{statistics.median(hits[kind]):>16.0f}")
    every = [t for times in by_kind.values() for t in times]
    p95 = percentile(every, 0.95)
    print(f"{'all':<14}{len(every):>5}{percentile(every, 0.5):>10.1f}{p95:>10.1f}")
    print(f"search p95 {p95:.1f} ms (goal <= {GOAL_P95_MS:.0f} ms): {'met' if p95 <= GOAL_P95_MS else 'MISSED'}")
    library.close()
    if folder is not None:
        folder.cleanup()


if __name__ == "__main__":
    main()
