"""How fast the review view opens long transcripts and starts playing a clicked word, in headless Chromium.

    python bench/bench_review.py [--minutes 10 60 180] [--clicks 5]

For each length, a synthetic transcript (150 words a minute with timings, segments of 15 words, two speakers; 3 hours
is 27,000 words) is saved with a WAV recording of that length (16 kHz, 16-bit) into a fresh library, the app is
served in-process and Debian's Chromium opens it. Printed per length: the time from clicking the transcript's row in
the Library tab until the review view has rendered it (goal <= 2 s at 3 hours), how many words are in the page's DOM
(only what is on screen is rendered), and the time from pressing a word until the player reports ``playing``
(goal <= 200 ms), near the start and in the middle of the recording.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_library import synthetic_transcript, vocabulary, zipf_probabilities  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
SAMPLE_RATE = 16_000
CHUNK_S = 600
OPEN_GOAL_S = 2.0
CLICK_GOAL_MS = 200.0
REVIEW = "#library-review"
CLICK_TO_PLAY = """async (k) => {
  // the k-th word that is on screen in the transcript list (what a user can click)
  const audio = document.querySelector('#library-review audio');
  audio.pause();
  const list = document.querySelector('#library-review .review-list').getBoundingClientRect();
  const visible = [...document.querySelectorAll('#library-review .w')].filter((w) => {
    const box = w.getBoundingClientRect();
    return box.top >= list.top && box.bottom <= list.bottom;
  });
  const word = visible[(7 * k + 3) % visible.length];
  const started = performance.now();
  const playing = new Promise((resolve) => audio.addEventListener('playing', resolve, { once: true }));
  word.click();
  await playing;
  return performance.now() - started;
}"""


def write_recording(path: Path, minutes: float, rng: np.random.Generator) -> Path:
    """A WAV of quiet noise, written ten minutes at a time."""
    with sf.SoundFile(path, "w", samplerate=SAMPLE_RATE, channels=1, subtype="PCM_16") as out:
        left = int(minutes * 60 * SAMPLE_RATE)
        while left > 0:
            count = min(left, CHUNK_S * SAMPLE_RATE)
            out.write((rng.standard_normal(count) * 0.01).astype(np.float32))
            left -= count
    return path


def measure(page, name: str, transcript_id: int, clicks: int) -> dict[str, float]:
    started = time.perf_counter()
    page.locator("#library-table").get_by_role("row").filter(has_text=name).first.get_by_text(name).click()
    page.locator(f"{REVIEW} .review[data-id='{transcript_id}'][data-ready='1']").wait_for(state="attached")
    page.locator(f"{REVIEW} .w").first.wait_for()
    opened = time.perf_counter() - started
    in_dom = page.locator(f"{REVIEW} .w").count()
    near = [page.evaluate(CLICK_TO_PLAY, k) for k in range(clicks)]
    total = page.evaluate(f"() => document.querySelectorAll('{REVIEW} .review-para').length")
    page.evaluate(f"() => {{ const l = document.querySelector('{REVIEW} .review-list'); l.scrollTop = l.scrollHeight / 2; }}")
    page.wait_for_timeout(300)
    middle_word = int(page.locator(f"{REVIEW} .w").nth(100).get_attribute("data-i"))
    middle = [page.evaluate(CLICK_TO_PLAY, k) for k in range(clicks)]
    page.evaluate(f"() => document.querySelector('{REVIEW} audio').pause()")
    return {"open_s": opened, "words_in_dom": in_dom, "paragraphs_rendered": total, "middle_word": middle_word,
            "near_ms": statistics.median(near), "near_max_ms": max(near),
            "middle_ms": statistics.median(middle), "middle_max_ms": max(middle)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 60, 180])
    parser.add_argument("--clicks", type=int, default=5)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from transcribe_ui import build_demo, serve
    from transcriber.engine import Engine
    from transcriber.library import Library

    rng = np.random.default_rng(20261202)
    words = vocabulary(rng)
    probabilities = zipf_probabilities(len(words))
    with tempfile.TemporaryDirectory(prefix="bench-review-") as folder:
        root = Path(folder)
        library = Library(root / "library.sqlite")
        made = []
        for minutes in args.minutes:
            transcript = synthetic_transcript(rng, words, probabilities, minutes, 0)
            recording = write_recording(root / f"recording-{minutes:g}min.wav", minutes, rng)
            made.append((minutes, recording.name, library.save(transcript, name=recording.name, audio=recording),
                         len(transcript.words)))
            recording.unlink()
        demo = build_demo(engine=Engine(device="cpu"), library=library)
        url = serve(demo, block=False, quiet=True, library=library)
        rows = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_role("tab", name="Library").click()
            for minutes, name, transcript_id, count in made:
                rows.append((minutes, count, measure(page, name, transcript_id, args.clicks)))
            browser.close()
        demo.close()
        library.close()

    print(f"{'audio':>8}{'words':>8}{'open s':>9}{'words in DOM':>14}{'click->play ms (start)':>24}"
          f"{'click->play ms (middle)':>25}")
    for minutes, count, m in rows:
        print(f"{minutes:>6g} m{count:>8}{m['open_s']:>9.2f}{m['words_in_dom']:>14}"
              f"{m['near_ms']:>14.0f} (max {m['near_max_ms']:.0f}){m['middle_ms']:>15.0f} (max {m['middle_max_ms']:.0f})")
    worst_open = max(m["open_s"] for *_, m in rows)
    worst_click = max(max(m["near_max_ms"], m["middle_max_ms"]) for *_, m in rows)
    print(f"open <= {OPEN_GOAL_S:g} s: {'met' if worst_open <= OPEN_GOAL_S else 'MISSED'} (worst {worst_open:.2f} s); "
          f"click to play <= {CLICK_GOAL_MS:g} ms: {'met' if worst_click <= CLICK_GOAL_MS else 'MISSED'} "
          f"(worst {worst_click:.0f} ms)")


if __name__ == "__main__":
    main()
