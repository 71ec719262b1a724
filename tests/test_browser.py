"""The app in a real browser: Playwright drives Debian's Chromium against the app served in-process.

Every wait is on page state (Playwright's retrying ``expect``), never a sleep. A failing test leaves a screenshot in
``test-artifacts/``. The tiny offline RNNT model says "nine" once per 0.08 s of audio.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from transcriber.engine import Engine
from transcriber.types import SAMPLE_RATE

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
RESULT_TIMEOUT_MS = 60_000
NOT_LOCAL = re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)[:/])")


def write_tone(path: Path, seconds: float) -> str:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32), SAMPLE_RATE)
    return str(path)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-clips")
    bad = folder / "broken.wav"
    bad.write_text("this is not audio\n" * 50)
    return {
        "speech": write_tone(folder / "speech.wav", 2.0),
        "short": write_tone(folder / "short.wav", 1.0),
        "bad": str(bad),
    }


@pytest.fixture(scope="module")
def app_url(launch_app, tiny_rnnt):
    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (Debian package 'chromium')")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, app_url, request):
    """Open the app's page in a new browser session (its own cookies and Gradio session) per call.

    If the test fails, each page opened is saved as a screenshot in test-artifacts/.
    """
    contexts = []

    def open_page():
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        context.route(NOT_LOCAL, lambda route: route.abort())  # the app must work offline
        contexts.append(context)
        page = context.new_page()
        page.goto(app_url)
        return page

    yield open_page
    report = getattr(request.node, "report_call", None)
    for number, context in enumerate(contexts, start=1):
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            context.pages[0].screenshot(path=ARTIFACTS / f"{request.node.name}-{number}.png", full_page=True)
        context.close()


@pytest.fixture
def page(open_page):
    return open_page()


def single_tab(page):
    return page.locator("#single-tab")


def batch_tab(page):
    return page.locator("#batch-tab")


def transcribe_one(page, clip: str, *, timestamps: bool = False) -> None:
    """Upload ``clip`` in the One file tab, set the timestamps box and press Transcribe."""
    page.locator("#single-audio input[type=file]").set_input_files(clip)
    page.get_by_label("Include word timestamps").set_checked(timestamps)
    single_tab(page).get_by_role("button", name="Transcribe").click()


def test_upload_a_file_and_read_the_text(page, clips):
    from playwright.sync_api import expect

    transcribe_one(page, clips["speech"])
    text = single_tab(page).get_by_label("Transcription Text")
    expect(text).to_have_value(re.compile(r"^nine( nine)+$"), timeout=RESULT_TIMEOUT_MS)
    assert len(text.input_value().split()) == pytest.approx(2.0 / 0.08, abs=1)
    expect(page.locator("#word-list")).to_be_hidden()


def test_word_timings_appear_with_the_box_ticked(page, clips):
    from playwright.sync_api import expect

    transcribe_one(page, clips["speech"], timestamps=True)
    expect(page.locator("#word-list")).to_contain_text("0.00s - 0.08s → nine", timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#word-list")).to_contain_text("0.08s - 0.16s → nine")
    table = page.locator("#word-table")
    expect(table).to_contain_text("All word timings")
    expect(table.get_by_role("row").filter(has_text="nine").first).to_be_visible()
    expect(single_tab(page).get_by_label("Transcription Text")).to_have_value(re.compile("^nine"))


def test_download_the_subtitles(page, clips):
    from playwright.sync_api import expect

    transcribe_one(page, clips["speech"], timestamps=True)
    link = page.locator("#single-downloads a[download='speech.srt']")
    expect(link).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    with page.expect_download() as download:
        link.click()
    srt = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == "speech.srt"
    assert srt.startswith("1\n00:00:00,000 --> ")
    assert "nine" in srt


def test_a_batch_with_one_bad_file_shows_two_results_and_one_error(page, clips):
    from playwright.sync_api import expect

    batch = batch_tab(page)
    page.get_by_role("tab", name="Several files").click()
    batch.locator("#batch-files input[type=file]").set_input_files([clips["speech"], clips["bad"], clips["short"]])
    batch.get_by_role("button", name="Transcribe").click()

    status = page.locator("#batch-status")
    bad_row = status.get_by_role("row").filter(has_text="broken.wav")
    expect(bad_row).to_contain_text("not a readable audio file", timeout=RESULT_TIMEOUT_MS)
    expect(status.get_by_role("row").filter(has_text="done")).to_have_count(2)
    texts = batch.get_by_label("Transcription Text")
    expect(texts).to_have_value(re.compile(r"^\[speech\.wav\]\nnine.*\n\n\[short\.wav\]\nnine", re.DOTALL))
    expect(page.locator("#batch-downloads a[download='transcripts.zip']")).to_be_visible()


def test_two_sessions_at_once_each_get_their_own_result(open_page, clips):
    from playwright.sync_api import expect

    alice, bob = open_page(), open_page()
    transcribe_one(alice, clips["speech"])  # 2 s: 25 words
    transcribe_one(bob, clips["short"])  # 1 s: 12 or 13 words
    expect(single_tab(alice).get_by_label("Transcription Text")).to_have_value(
        re.compile(r"^nine( nine){23,25}$"), timeout=RESULT_TIMEOUT_MS
    )
    expect(single_tab(bob).get_by_label("Transcription Text")).to_have_value(
        re.compile(r"^nine( nine){10,13}$"), timeout=RESULT_TIMEOUT_MS
    )
    expect(alice.locator("#single-downloads a[download='speech.txt']")).to_be_visible()
    expect(bob.locator("#single-downloads a[download='short.txt']")).to_be_visible()
