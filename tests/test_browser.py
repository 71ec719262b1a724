"""The app in a real browser: Playwright drives Debian's Chromium against the app served in-process.

Every wait is on page state (Playwright's retrying ``expect``), never a sleep. A failing test leaves a screenshot in
``test-artifacts/``. The tiny offline RNNT model says "nine" once per 0.08 s of audio.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from transcriber import models
from transcriber.engine import Engine
from transcriber.models import DEFAULT_MODEL
from transcriber.types import SAMPLE_RATE

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--use-fake-device-for-media-stream",  # a microphone that beeps, and no prompt to allow it
    "--use-fake-ui-for-media-stream",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
RESULT_TIMEOUT_MS = 60_000
EXPECT_TIMEOUT_MS = 15_000
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
def model_setup(tmp_path_factory, tiny_rnnt):
    """No installed models, and a built-in demo model (the tiny RNNT model stands in for it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(models.MODEL_DIR_ENV, str(tmp_path_factory.mktemp("no-models")))
        patch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path_factory.mktemp("empty-hf-cache")))
        patch.setattr(models, "DEMO_MODEL_PATH", Path(tiny_rnnt))
        yield


@pytest.fixture(scope="module")
def app_url(model_setup, launch_app, tiny_rnnt):
    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (Debian package 'chromium')")
    from playwright.sync_api import expect, sync_playwright

    # What a page shows after a request or a page load may take more than the 5 s an expectation waits by default
    # on a busy machine (the suite runs in several processes); one that holds returns at once regardless.
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def print_model_calls() -> None:
    """Print the stack of every model call still running in this process (the app is served from it), to stderr."""
    import sys
    import threading
    import traceback

    from transcriber.watchdog import WORKER_THREAD_NAME

    frames = sys._current_frames()
    for thread in threading.enumerate():
        if thread.name == WORKER_THREAD_NAME and thread.ident in frames:
            print(f"Model call still running ({thread.name}):\n{''.join(traceback.format_stack(frames[thread.ident]))}",
                  file=sys.stderr)


@pytest.fixture
def open_page(browser, app_url, request):
    """Open the app's page (or the one at ``url``) in a new browser session (its own cookies, storage and Gradio
    session) per call.

    If the test fails, each page opened is saved as a screenshot in test-artifacts/, and where the app's model calls
    are at that moment is printed (a page still showing a job's progress says nothing of why it had not ended).
    """
    contexts = []

    def open_page(url: str | None = None):
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        context.route(NOT_LOCAL, lambda route: route.abort())  # the app must work offline
        contexts.append(context)
        page = context.new_page()
        page.goto(url or app_url)
        return page

    yield open_page
    report = getattr(request.node, "report_call", None)
    failed = report is not None and report.failed
    if failed:
        print_model_calls()
    for number, context in enumerate(contexts, start=1):
        if failed and context.pages:  # a test may have closed its page
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


def upload_one(page, clip: str) -> None:
    """Choose ``clip`` in the One file tab and wait until it is uploaded, as a person sees the player in place of the
    drop area: a press of Transcribe while it still uploads is answered "Waiting for file(s) to finish uploading,
    please retry." and runs nothing."""
    from playwright.sync_api import expect

    page.locator("#single-audio input[type=file]").set_input_files(clip)
    expect(page.locator("#single-audio input[type=file]")).to_have_count(0, timeout=RESULT_TIMEOUT_MS)


def upload_batch(page, files: list[str]) -> None:
    """Choose ``files`` in the Several files tab and wait until they are uploaded (listed, one row each), as
    :func:`upload_one` does."""
    from playwright.sync_api import expect

    batch_tab(page).locator("#batch-files input[type=file]").set_input_files(files)
    expect(batch_tab(page).locator("#batch-files").get_by_role("row")).to_have_count(len(files),
                                                                                     timeout=RESULT_TIMEOUT_MS)


def record_seeks(page, audio: str) -> None:
    """From now on, collect in ``window.seeks`` where each seek of the player ``audio`` (a selector) went."""
    page.evaluate(f"() => {{ window.seeks = []; const a = document.querySelector('{audio}');"
                  " a.addEventListener('seeking', () => window.seeks.push(a.currentTime)); }")


def transcribe_one(page, clip: str, *, timestamps: bool = False) -> None:
    """Upload ``clip`` in the One file tab (:func:`upload_one`), set the timestamps box and press Transcribe."""
    upload_one(page, clip)
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


@pytest.fixture(scope="module")
def speaker_app_url(model_setup, launch_app, tiny_rnnt, tiny_sortformer):
    """The app whose diarizer is a tiny Sortformer that hears one speaker all the time."""
    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, diarizer=tiny_sortformer)


def test_identify_speakers_shows_turns_with_speaker_labels(open_page, speaker_app_url, clips):
    from playwright.sync_api import expect

    page = open_page(speaker_app_url)
    upload_one(page, clips["speech"])
    page.get_by_label("Identify speakers").set_checked(True)
    single_tab(page).get_by_role("button", name="Transcribe").click()
    text = single_tab(page).get_by_label("Transcription Text")
    expect(text).to_have_value(re.compile(r"^S1  00:00:00  nine( nine)+$"), timeout=RESULT_TIMEOUT_MS)
    table = page.locator("#word-table")
    expect(table.get_by_role("columnheader").filter(has_text="speaker")).to_have_count(1)
    expect(table.get_by_role("row").filter(has_text="S1").first).to_be_visible()
    expect(page.locator("#single-downloads a[download='speech.srt']")).to_be_visible()


def test_a_batch_with_one_bad_file_shows_two_results_and_one_error(page, clips):
    from playwright.sync_api import expect

    batch = batch_tab(page)
    page.get_by_role("tab", name="Several files").click()
    upload_batch(page, [clips["speech"], clips["bad"], clips["short"]])
    batch.get_by_role("button", name="Transcribe").click()

    status = page.locator("#batch-status")
    bad_row = status.get_by_role("row").filter(has_text="broken.wav")
    expect(bad_row).to_contain_text("not a readable audio file", timeout=RESULT_TIMEOUT_MS)
    expect(status.get_by_role("row").filter(has_text="done")).to_have_count(2)
    texts = batch.get_by_label("Transcription Text")
    expect(texts).to_have_value(re.compile(r"^\[speech\.wav\]\nnine.*\n\n\[short\.wav\]\nnine", re.DOTALL))
    expect(page.locator("#batch-downloads a[download='transcripts.zip']")).to_be_visible()


def test_a_batch_of_many_files_keeps_transcribe_and_the_downloads_within_a_screen(page, tmp_path):
    """Forty voice memos made the list of chosen files 2,400 pixels long, so Transcribe sat three screens below it, and
    their 241 downloads made the page 16,000 pixels long. Both lists scroll within a box now."""
    from playwright.sync_api import expect

    files = [write_tone(tmp_path / f"memo-{n:02d}.wav", 0.3) for n in range(24)]
    page.get_by_role("tab", name="Several files").click()
    batch = batch_tab(page)
    upload_batch(page, files)
    transcribe = batch.get_by_role("button", name="Transcribe")
    viewport = page.viewport_size["height"]
    assert transcribe.bounding_box()["y"] + transcribe.bounding_box()["height"] <= viewport
    transcribe.click()
    downloads = page.locator("#batch-downloads")
    expect(downloads.locator("a[download='transcripts.zip']")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(downloads.locator("a[download='memo-23.docx']")).to_have_count(1)
    assert downloads.bounding_box()["height"] <= viewport / 2
    assert page.evaluate("document.documentElement.scrollHeight") <= 2 * viewport
    last = downloads.locator("a[download='memo-23.docx']")
    last.scroll_into_view_if_needed()
    expect(last).to_be_in_viewport()


def test_stop_in_a_batch_keeps_the_files_already_transcribed(open_page, model_setup, launch_app, tiny_rnnt, tmp_path):
    """Stopped after its first eight files, a batch of sixteen shows those eight (text, downloads) and the other eight
    as stopped; the Stop button used to end the request itself, and the page got nothing back but "Error"."""
    from model_doubles import slowed_engine
    from playwright.sync_api import expect

    files = [write_tone(tmp_path / f"part-{n:02d}.wav", 1.0) for n in range(16)]
    page = open_page(launch_app(engine=slowed_engine(0.5), model=tiny_rnnt))
    page.get_by_role("tab", name="Several files").click()
    page.get_by_label("Batch size").first.fill("1")  # one call for the first eight files, one for the others
    page.get_by_label("Batch size").first.press("Enter")
    batch = batch_tab(page)
    upload_batch(page, files)  # listed (uploaded) before Transcribe is pressed; on a busy machine that takes a while
    batch.get_by_role("button", name="Transcribe").click()
    expect(page.locator("#batch-status")).to_contain_text("part-09.wav", timeout=RESULT_TIMEOUT_MS)  # in progress
    batch.get_by_role("button", name="Stop").click()
    rows = page.locator("#batch-status").get_by_role("row")
    expect(rows.filter(has_text="part-")).to_have_count(16, timeout=RESULT_TIMEOUT_MS)
    expect(rows.filter(has_text="done")).to_have_count(8)
    expect(rows.filter(has_text="part-07.wav")).to_contain_text("done")
    expect(rows.filter(has_text="cancelled.")).to_have_count(8)
    expect(rows.filter(has_text="part-08.wav")).to_contain_text("cancelled.")
    expect(page.locator("#batch-downloads a[download='part-07.srt']")).to_be_visible()
    expect(page.locator("#batch-downloads a[download='part-08.srt']")).to_have_count(0)


def test_stop_also_ends_a_job_still_waiting_in_the_queue(open_page, model_setup, launch_app, tiny_rnnt, clips):
    """A batch sent while this page's other job runs waits in the queue; Stop ends both, and the batch, which never
    started, says so for each file instead of running once the first has stopped."""
    import threading

    from model_doubles import stalling_engine
    from playwright.sync_api import expect

    started, release = threading.Event(), threading.Event()
    page = open_page(launch_app(engine=stalling_engine(release, stall_first=2, started=started), model=tiny_rnnt))
    try:
        transcribe_one(page, clips["speech"])
        assert started.wait(60), "the first job never reached the model"
        page.get_by_role("tab", name="Several files").click()
        batch = batch_tab(page)
        upload_batch(page, [clips["short"], clips["speech"]])
        batch.get_by_role("button", name="Transcribe").click()
        expect(page.locator("#batch-status")).to_contain_text("queue", timeout=RESULT_TIMEOUT_MS)
        batch.get_by_role("button", name="Stop").click()
        rows = page.locator("#batch-status").get_by_role("row")
        expect(rows.filter(has_text="cancelled.")).to_have_count(2, timeout=RESULT_TIMEOUT_MS)
    finally:
        release.set()


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


# --- The model dropdown -----------------------------------------------------------------------------------------------


def model_box(page):
    return page.get_by_role("combobox", name="Model")


def choose_model(page, label_start: str) -> None:
    """Open the model dropdown and pick the entry whose label starts with ``label_start``."""
    model_box(page).click()
    # Playwright hands the pattern to JavaScript between slashes, so a slash in it must be escaped.
    pattern = re.compile("^" + re.escape(label_start).replace("/", r"\/"))
    page.get_by_role("option", name=pattern).click()


def test_the_model_list_shows_installed_models_then_downloadable_ones_then_browse(page):
    from playwright.sync_api import expect

    model_box(page).click()
    options = page.get_by_role("option")
    expect(options.first).to_contain_text("tiny-rnnt.nemo")  # the model the app was started with
    expect(options.nth(1)).to_contain_text("demo-en-commands — built-in demo")
    expect(options.nth(2)).to_contain_text(
        f"{DEFAULT_MODEL} — not installed: python setup_local_models.py --download {DEFAULT_MODEL}"
    )
    expect(options.last).to_have_accessible_name("Browse for a .nemo file…")


def test_the_demo_notice_shows_only_while_the_demo_model_is_chosen(page, tiny_rnnt):
    from playwright.sync_api import expect

    notice = page.locator("#demo-notice")
    expect(notice).to_be_hidden()
    choose_model(page, "demo-en-commands")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("English digits (zero to nine)")
    expect(notice).to_contain_text("yes, no, stop, go")
    expect(notice).to_contain_text(f"python setup_local_models.py --download {DEFAULT_MODEL}")
    choose_model(page, tiny_rnnt)
    expect(notice).to_be_hidden()


def test_the_chosen_model_is_remembered_after_a_reload(page):
    from playwright.sync_api import expect

    expect(model_box(page)).to_have_value(re.compile(r"tiny-rnnt\.nemo$"))
    choose_model(page, "demo-en-commands")
    expect(page.locator("#demo-notice")).to_be_visible()
    page.reload()
    expect(model_box(page)).to_have_value(re.compile("^demo-en-commands"))
    expect(page.locator("#demo-notice")).to_be_visible()


def test_a_model_file_chosen_with_browse_is_used(page, clips, tmp_path, tiny_rnnt):
    from playwright.sync_api import expect

    mine = shutil.copy(tiny_rnnt, tmp_path / "my-model.nemo")
    file_box = page.locator("#model-file")
    expect(file_box).to_be_hidden()
    choose_model(page, "Browse for a .nemo file")
    expect(file_box).to_be_visible()
    file_box.locator("input[type=file]").set_input_files(mine)
    expect(model_box(page)).to_have_value("my-model.nemo (uploaded)")
    expect(file_box).to_be_hidden()
    transcribe_one(page, clips["short"])
    expect(single_tab(page).get_by_label("Transcription Text")).to_have_value(
        re.compile(r"^nine( nine)+$"), timeout=RESULT_TIMEOUT_MS
    )


def test_a_model_that_is_not_installed_says_how_to_install_it(page, clips, monkeypatch):
    from nemo.collections.asr.models import ASRModel
    from playwright.sync_api import expect

    def offline(cls, name, **kwargs):
        raise OSError(f"cannot reach huggingface.co to fetch {name}")

    monkeypatch.setattr(ASRModel, "from_pretrained", classmethod(offline))
    choose_model(page, "nvidia/parakeet-ctc-0.6b")
    transcribe_one(page, clips["short"])
    message = page.get_by_text("Model nvidia/parakeet-ctc-0.6b is not installed and could not be downloaded")
    expect(message).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(page.get_by_text("python setup_local_models.py --download nvidia/parakeet-ctc-0.6b").last).to_be_visible()


def test_a_typed_model_that_is_not_a_nemo_file_is_refused(page, clips):
    from playwright.sync_api import expect

    box = model_box(page)
    box.fill("../../secret.txt")
    box.press("Enter")
    transcribe_one(page, clips["short"])
    expect(page.get_by_text("'../../secret.txt' is not a model this app offers")).to_be_visible(
        timeout=RESULT_TIMEOUT_MS
    )


# --- Upload size cap --------------------------------------------------------------------------------------------------

CAP_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def capped_url(model_setup, launch_app, tiny_rnnt):
    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, max_file_size=CAP_BYTES)


def test_a_file_over_the_upload_cap_is_refused_with_its_name(open_page, capped_url, clips, tmp_path):
    from playwright.sync_api import expect

    big = tmp_path / "long lecture.wav"
    sf.write(big, np.zeros(4 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)  # 256 KB
    page = open_page(capped_url)
    page.get_by_role("tab", name="Several files").click()
    batch_tab(page).locator("#batch-files input[type=file]").set_input_files([str(big), clips["short"]])
    expect(page.get_by_text('exceed the maximum allowed size of 64.0 Kb: "long lecture.wav"')).to_be_visible()


# --- The library ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def library_url(model_setup, launch_app, tiny_rnnt, tmp_path_factory):
    from transcriber.library import Library

    library = Library(tmp_path_factory.mktemp("browser-library") / "library.sqlite")
    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, library=library)


def library_tab(page):
    return page.locator("#library-tab")


def test_a_long_library_lists_its_transcripts_and_says_when_the_list_is_cut(open_page, model_setup, launch_app,
                                                                             tiny_rnnt, tmp_path):
    """The Library tab showed the newest 50 transcripts of 60 (or 600) without a word about the others."""
    from gradio_client import Client
    from playwright.sync_api import expect

    from transcriber.library import Library
    from transcriber.library.store import DEFAULT_LIST_LIMIT
    from transcriber.types import Transcript

    library = Library(tmp_path / "library.sqlite")
    for n in range(60):
        library.save(Transcript(f"take {n} of the budget", duration=1.0, model="m"), name=f"take-{n:03d}.wav")
    url = launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, library=library)
    page = open_page(url)
    page.get_by_role("tab", name="Library").click()
    overview = re.compile(r"^\s*60 transcripts · library [\d.]+ MB on disk\s*$")  # nothing about a cut list
    expect(page.locator("#library-summary")).to_have_text(overview)
    listed = Client(url, verbose=False).predict("", api_name="/library")["data"]  # the table scrolls: count its data
    assert sorted(row[1] for row in listed) == [f"take-{n:03d}.wav" for n in range(60)]
    for n in range(60, DEFAULT_LIST_LIMIT + 1):
        library.save(Transcript(f"take {n} of the budget", duration=1.0, model="m"), name=f"take-{n:03d}.wav")
    page.locator("#library-search").get_by_role("textbox").press("Enter")
    expect(page.locator("#library-summary")).to_contain_text(
        f"{DEFAULT_LIST_LIMIT + 1} transcripts · library")
    expect(page.locator("#library-summary")).to_contain_text(
        f"The list shows the newest {DEFAULT_LIST_LIMIT}: search to find the others.")
    page.locator("#library-search").get_by_role("textbox").fill("budget")
    page.locator("#library-search").get_by_role("textbox").press("Enter")
    expect(page.locator("#library-summary")).to_contain_text("The 50 best matches are shown: add words to narrow it.")


@pytest.mark.parametrize("width", [420, 600, 1300])
def test_the_settings_labels_stay_inside_their_boxes_in_a_narrow_window(page, width):
    """In a window 420 to about 750 pixels wide, "Include word timestamps" spilled out of the settings box; at 420 it
    was off the page, a checkbox without a word beside it."""
    page.set_viewport_size({"width": width, "height": 1000})
    for text in ("Include word timestamps", "Identify speakers"):
        label = page.locator("label").filter(has_text=text)
        label.wait_for()
        words = label.locator("span").last.bounding_box()
        block = label.locator("xpath=ancestor::div[contains(@class, 'block')][1]").bounding_box()
        assert block["x"] <= words["x"] and words["x"] + words["width"] <= block["x"] + block["width"], text
        assert words["x"] + words["width"] <= width, text


def test_the_timestamps_box_says_what_word_timings_are_for(page):
    """Off by default, and without it the subtitles are one cue and the review view's words do not play: nothing on
    the page said so where the choice is made."""
    from playwright.sync_api import expect

    expect(page.get_by_text("For timed subtitles (SRT, VTT) and words that play when clicked.")).to_be_visible()


@pytest.mark.parametrize(("tab", "table", "columns"), [
    ("Library", "#library-table", ("name", "created", "duration", "model")),
    ("Several files", "#batch-status", ("file", "duration (s)", "status", "seconds")),
])
def test_tables_scroll_sideways_on_a_phone_instead_of_squeezing_their_columns(open_page, library_url, tab, table,
                                                                              columns):
    """At 390 pixels the Library's nine columns were squeezed to a few letters each ("created" and "duration" one
    letter a line), and the Several files table broke "62.6" and "note.ogg" in two."""
    page = open_page(library_url)
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("tab", name=tab).click()
    header = page.locator(table).get_by_role("columnheader")
    for name in columns:
        cell = header.filter(has_text=name).first.bounding_box()
        assert cell["width"] >= 75 and cell["height"] < 60, name  # one or two lines, not a letter a line


def test_each_tab_is_drawn_once_however_often_it_is_opened(open_page, library_url):
    """Opening the Library tab drew a second "Library" tab beside it, both marked as open."""
    from playwright.sync_api import expect

    page = open_page(library_url)
    for name in ("Library", "Several files", "One file", "Library"):
        page.get_by_role("tab", name=name).click()  # strict: two tabs of that name fail here
        expect(page.get_by_role("tab", selected=True)).to_have_text(name)
    expect(page.get_by_role("tab")).to_have_text(["One file", "Several files", "Library"])


def test_the_library_says_when_each_transcript_was_made_in_local_time(open_page, launch_app, tiny_rnnt, tmp_path,
                                                                      new_york_clock):
    """In New York at 21:49 on 5 December, the Library tab said the transcript was made 2026-12-06T02:49:24Z, the
    next day in UTC. The API still answers in UTC."""
    import sqlite3

    from gradio_client import Client
    from playwright.sync_api import expect

    from transcriber.library import Library
    from transcriber.types import Transcript

    library = Library(tmp_path / "library.sqlite")
    library.save(Transcript("the budget", duration=75.0, model="m"), name="call.wav")
    with sqlite3.connect(tmp_path / "library.sqlite") as db:
        db.execute("UPDATE transcripts SET created = '2026-12-06T02:49:24Z'")
    url = launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, library=library)
    page = open_page(url)
    page.get_by_role("tab", name="Library").click()
    row = page.locator("#library-table").get_by_role("row").filter(has_text="call.wav")
    expect(row).to_contain_text("2026-12-05 21:49")
    expect(row).not_to_contain_text("2026-12-06")
    expect(row).to_contain_text("00:01:15")  # its duration, 75 s, as a clock shows it
    (listed,) = Client(url, verbose=False).predict("", api_name="/library")["data"]
    assert listed[1:4] == ["call.wav", "2026-12-06T02:49:24Z", 75.0]
    row.get_by_text("call.wav").click()  # the row's own values still open it
    expect(page.locator("#library-name").get_by_role("textbox")).to_have_value("call.wav")


def test_a_recording_without_speech_says_so_after_the_warning_fades(open_page, launch_app, tiny_rnnt_blank, clips,
                                                                     tmp_path):
    """A muted microphone, a silent file: the page showed empty boxes once the warning had faded, as if nothing had
    run; the review view below was an empty frame."""
    from playwright.sync_api import expect

    from transcriber.library import Library

    url = launch_app(engine=Engine(device="cpu"), model=tiny_rnnt_blank, library=Library(tmp_path / "library.sqlite"))
    page = open_page(url)
    text = single_tab(page).get_by_label("Transcription Text")
    transcribe_one(page, clips["bad"])  # a file that fails is not a file without speech
    expect(page.get_by_text("not a readable audio file")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    page.wait_for_timeout(2000)  # the page's own quick events after the failed request
    assert text.get_attribute("placeholder") in (None, "")
    page.locator("#single-audio").get_by_role("button", name="Clear").click()
    transcribe_one(page, clips["short"], timestamps=True)
    review = page.locator("#single-review")
    expect(review.locator(".review-empty")).to_have_text("No speech was recognised in this recording.",
                                                         timeout=RESULT_TIMEOUT_MS)
    expect(text).to_have_value("")
    expect(text).to_have_attribute("placeholder", "No speech was recognised.")
    page.get_by_role("tab", name="Several files").click()
    upload_batch(page, [clips["short"], clips["speech"]])
    page.locator("#batch-tab").get_by_role("button", name="Transcribe").click()
    expect(page.locator("#batch-text").get_by_role("textbox")).to_have_value(
        "[short.wav]\n(No speech was recognised.)\n\n[speech.wav]\n(No speech was recognised.)",
        timeout=RESULT_TIMEOUT_MS)


def test_a_transcript_is_found_in_the_library_opened_played_and_exported(open_page, library_url, clips):
    from playwright.sync_api import expect

    page = open_page(library_url)
    transcribe_one(page, clips["speech"], timestamps=True)
    expect(single_tab(page).get_by_label("Transcription Text")).to_have_value(re.compile("^nine"),
                                                                               timeout=RESULT_TIMEOUT_MS)
    page.get_by_role("tab", name="Library").click()
    table = page.locator("#library-table")
    expect(table.get_by_role("row").filter(has_text="speech.wav")).to_be_visible()
    expect(page.locator("#library-summary")).to_contain_text("1 transcript · library")

    search = page.locator("#library-search").get_by_role("textbox")
    search.fill("nin*")
    search.press("Enter")
    row = table.get_by_role("row").filter(has_text="speech.wav")
    expect(row.locator("strong").first).to_have_text("nine")  # the snippet marks the match
    row.get_by_text("speech.wav").click()
    expect(page.locator("#library-details")).to_be_visible()
    review = page.locator("#library-review")
    expect(review.locator(".review-para").first).to_contain_text(re.compile("^0:00.*nine( nine)+"))
    expect(review.locator(".review-timeline .review-hit")).to_have_count(25)  # every "nine" marked on the timeline
    expect(page.locator("#library-name").get_by_role("textbox")).to_have_value("speech.wav")
    assert review.locator("audio").get_attribute("src").startswith("library/media/")

    page.locator("#library-export").click()
    link = page.locator("#library-exported a[download='speech.docx']")
    expect(link).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"  # a DOCX is a zip

    search.fill("")
    search.press("Enter")
    page.locator("#library-name").get_by_role("textbox").fill("Morning call")
    page.locator("#library-rename").click()
    expect(table.get_by_role("row").filter(has_text="Morning call")).to_be_visible()
    search.fill("morning")  # by its new name: nothing spoken in it matches
    search.press("Enter")
    expect(table.get_by_role("row").filter(has_text="Morning call")).to_be_visible()
    expect(table.get_by_role("row").filter(has_text="Morning call").locator("strong")).to_have_count(0)
    page.locator("#library-all-format").get_by_role("combobox").click()
    page.get_by_role("option", name="srt", exact=True).click()
    page.locator("#library-export-all").click()  # what the search finds, in one zip
    link = page.locator("#library-exported-all a[download='transcripts.zip']")
    expect(link).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    with page.expect_download() as download:
        link.click()
    with zipfile.ZipFile(download.value.path()) as exported:
        assert exported.namelist() == ["Morning call.srt"]
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#library-delete").click()
    expect(table.get_by_role("row").filter(has_text="Morning call")).to_have_count(0)
    expect(page.locator("#library-summary")).to_contain_text("0 transcripts")


def test_a_transcript_is_transcribed_again_from_the_audio_the_library_kept(open_page, library_url, clips):
    """A better model installed since, or speakers to tell apart: the library keeps each recording's audio, yet to
    transcribe one again it had to be found on disk and uploaded. "Transcribe again" puts it, under the
    transcript's name, into the One file tab, where a model and options are chosen as for any file."""
    from playwright.sync_api import expect

    page = open_page(library_url)
    transcribe_one(page, clips["speech"])
    expect(single_tab(page).get_by_label("Transcription Text")).to_have_value(re.compile("^nine"),
                                                                               timeout=RESULT_TIMEOUT_MS)
    page.get_by_role("tab", name="Library").click()
    table = page.locator("#library-table")
    table.get_by_role("row").filter(has_text="speech.wav").first.get_by_text("speech.wav").click()
    page.locator("#library-name").get_by_role("textbox").fill("Budget call")
    page.locator("#library-rename").click()
    expect(table.get_by_role("row").filter(has_text="Budget call")).to_be_visible()

    page.locator("#library-again").click()
    expect(page.get_by_role("tab", name="One file")).to_have_attribute("aria-selected", "true")
    expect(single_tab(page).locator("#single-audio audio, #single-audio [data-testid='waveform-Audio']").first
           ).to_be_attached(timeout=RESULT_TIMEOUT_MS)
    page.get_by_label("Include word timestamps").set_checked(True)  # now with the words' times
    single_tab(page).get_by_role("button", name="Transcribe").click()
    expect(single_tab(page).get_by_label("Transcription Text")).to_have_value(re.compile("^nine"),
                                                                               timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#word-table")).to_be_visible()
    page.get_by_role("tab", name="Library").click()
    expect(table.get_by_role("row").filter(has_text="Budget call.wav")).to_be_visible()
    expect(table.get_by_role("row").filter(has_text="Budget call")).to_have_count(2)  # the first is kept as it was


@pytest.fixture(scope="module")
def text_only_url(model_setup, launch_app, tiny_rnnt, tmp_path_factory):
    from transcriber.library import Library

    library = Library(tmp_path_factory.mktemp("text-only") / "library.sqlite", keep_audio=False)
    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, library=library)


def test_transcribe_again_says_why_when_the_library_kept_no_audio(open_page, text_only_url, clips):
    from playwright.sync_api import expect

    page = open_page(text_only_url)
    transcribe_one(page, clips["speech"])
    expect(single_tab(page).get_by_label("Transcription Text")).to_have_value(re.compile("^nine"),
                                                                               timeout=RESULT_TIMEOUT_MS)
    page.get_by_role("tab", name="Library").click()
    row = page.locator("#library-table").get_by_role("row").filter(has_text="speech.wav")
    expect(row).to_be_visible()
    row.get_by_text("speech.wav").click()
    page.locator("#library-again").click()
    expect(page.get_by_text("The library kept no audio of speech.wav")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(page.get_by_role("tab", name="Library")).to_have_attribute("aria-selected", "true")


# --- Logins -----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logins_url(model_setup, launch_app, tiny_rnnt):
    from transcriber_ui.auth import checker

    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, auth=checker({"*ann*": "pw-ann", "bob": "pw-bob"}))


def log_in(page, user: str, password: str) -> None:
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()


def test_the_page_says_who_is_logged_in_and_log_out_lets_the_next_person_log_in(open_page, logins_url, app_url):
    """With logins there was no way to log out: the next person at a shared computer stayed the last one."""
    from playwright.sync_api import expect

    page, elsewhere = open_page(logins_url), open_page(logins_url)
    log_in(page, "*ann*", "pw-ann")
    log_in(elsewhere, "*ann*", "pw-ann")
    # the name as it is, not emphasis; the page loads after the login, slowly on a busy machine
    expect(page.locator("#account-user")).to_have_text("Logged in as *ann*", timeout=RESULT_TIMEOUT_MS)
    page.locator("#log-out").click()
    # each step loads a page, which a busy machine serves in more than the 5 s an expectation waits by default
    expect(page.get_by_label("username")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    page.reload()
    expect(page.get_by_label("username")).to_be_visible(timeout=RESULT_TIMEOUT_MS)  # logged out, not only shown it
    log_in(page, "bob", "pw-bob")
    expect(page.locator("#account-user")).to_have_text("Logged in as bob", timeout=RESULT_TIMEOUT_MS)
    elsewhere.reload()  # ann's session in another browser stays
    expect(elsewhere.locator("#account-user")).to_have_text("Logged in as *ann*", timeout=RESULT_TIMEOUT_MS)
    without = open_page(app_url)
    expect(without.get_by_role("button", name="Transcribe", exact=True).first).to_be_visible(
        timeout=RESULT_TIMEOUT_MS)
    expect(without.locator("#account")).to_have_count(0)  # no logins, no account line


# --- The review view --------------------------------------------------------------------------------------------------

REVIEW = "#library-review"
LAG_S = 0.1
"""How far the highlighted word may trail the player's clock: by the frame the view updates it in, where the two are
not read in that frame (see :func:`player`)."""


@pytest.fixture(scope="module")
def review_library(tmp_path_factory):
    """A library holding one two-speaker transcript of a real 8 s recording (words every 0.2 s)."""
    from transcriber.library import Library
    from transcriber.types import Segment, Transcript, Word

    folder = tmp_path_factory.mktemp("review")
    audio = write_tone(folder / "meeting.wav", 8.0)
    words = tuple(Word(f"w{n}", n * 0.2, n * 0.2 + 0.15, "S1" if n < 20 else "S2") for n in range(40))
    segments = (Segment(" ".join(w.text for w in words[:20]), 0.0, words[19].end, "S1"),
                Segment(" ".join(w.text for w in words[20:]), words[20].start, words[39].end, "S2"))
    transcript = Transcript(" ".join(w.text for w in words), words, segments, 8.0, "m", ("S1", "S2"))
    library = Library(folder / "library.sqlite")
    library.save(transcript, name="meeting.wav", audio=audio)
    library.save(transcript, name="text-only.wav")  # saved without its audio (--no-keep-audio)
    library.save(transcript, name="standup.wav", audio=audio)
    library.save(transcript, name="retro.wav", audio=audio)
    library.save(transcript, name="emptied.wav", audio=audio)
    library.save(transcript, name="reopened.wav", audio=audio)
    library.save(transcript, name="searched.wav", audio=audio)
    library.save(transcript, name="split.wav", audio=audio)
    library.save(transcript, name="phone.wav", audio=audio)
    library.save(Transcript("made without word timings", duration=8.0, model="m"), name="untimed.wav", audio=audio)
    lecture = [Word(f"l{n}", n * 0.5, n * 0.5 + 0.4, "S1") for n in range(240)]  # 2 minutes, 40 paragraphs
    parts = [lecture[k:k + 6] for k in range(0, 240, 6)]
    library.save(Transcript(" ".join(w.text for w in lecture), tuple(lecture),
                            tuple(Segment(" ".join(w.text for w in part), part[0].start, part[-1].end, "S1")
                                  for part in parts), 120.0, "m", ("S1",)),
                 name="lecture.wav", audio=write_tone(folder / "lecture.wav", 120.0))
    return library


@pytest.fixture(scope="module")
def review_url(model_setup, launch_app, tiny_rnnt, review_library):
    return launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, library=review_library)


def open_review(page, name: str = "meeting.wav"):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Library").click()
    page.locator("#library-table").get_by_role("row").filter(has_text=name).first.get_by_text(name).click()
    expect(page.locator(f"{REVIEW} .review[data-ready='1']")).to_be_attached(timeout=RESULT_TIMEOUT_MS)
    return page.locator(REVIEW)


def player(page) -> dict:
    """The player's clock and the highlighted word, read together in an animation frame, after the view's own update
    in that frame: read at any other moment they may be a frame apart, and on a busy machine a frame comes late."""
    return page.evaluate(
        f"() => new Promise((done) => requestAnimationFrame(() => {{ const a = document.querySelector('{REVIEW} audio');"
        f" const w = document.querySelector('{REVIEW} .w.playing');"
        f" done({{time: a.currentTime, paused: a.paused, playing: w ? Number(w.dataset.i) : -1}}); }}))"
    )


def test_clicking_a_word_plays_from_its_start_and_the_playing_word_is_highlighted(open_page, review_url):
    page = open_page(review_url)
    review = open_review(page)
    record_seeks(page, f"{REVIEW} audio")
    review.locator(".w").nth(4).click()
    page.wait_for_function("() => window.seeks.length > 0")
    assert abs(page.evaluate("() => window.seeks[0]") - 4 * 0.2) < 0.05  # from the start of the word clicked
    state = player(page)  # it plays on: on a busy machine a later word may be playing by the time this looks
    assert state["time"] >= 4 * 0.2, state
    if state["playing"] >= 0:
        assert state["playing"] >= 4 and abs(state["time"] - state["playing"] * 0.2) < 0.2 + LAG_S, state
    else:  # or none, the audio being between two words (0.15 s of every 0.2 s), or the highlight a frame behind it
        assert not LAG_S <= state["time"] % 0.2 < 0.15, state
    page.wait_for_function(f"() => !document.querySelector('{REVIEW} audio').paused")
    for _ in range(5):  # while it plays, the highlighted word is the one whose span holds the play position
        page.wait_for_timeout(150)
        state = player(page)
        t, shown = state["time"], state["playing"]
        index = int(t // 0.2)  # words every 0.2 s, each 0.15 s long
        # Read in the frame of the view's own update: the highlight is the word at the clock, whatever the frame rate.
        if shown >= 0:
            assert shown * 0.2 - LAG_S <= t < shown * 0.2 + 0.15 + LAG_S, state
        if index * 0.2 + LAG_S <= t < index * 0.2 + 0.15:
            assert shown == index, state


def test_playing_on_moves_neither_a_paragraph_being_corrected_nor_a_list_the_user_scrolled(open_page, review_url):
    """Listening while correcting: once the audio reached a paragraph out of view, the list scrolled to it, the
    paragraph being corrected went out of view and its half-typed text was saved as a new version."""
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page, "lecture.wav")
    scroll_top = f"() => document.querySelector('{REVIEW} .review-list').scrollTop"
    version = review.locator(".review").get_attribute("data-version")
    review.locator(".w").first.click()  # plays from l0
    page.wait_for_function(f"() => !document.querySelector('{REVIEW} audio').paused")
    review.locator(".review-para").first.dblclick()
    editor = review.locator("textarea.review-editor")
    editor.press("End")
    editor.type(" and so")
    page.evaluate(f"() => {{ document.querySelector('{REVIEW} audio').currentTime = 100; }}")  # paragraph 33
    page.wait_for_timeout(800)
    expect(editor).to_be_focused()
    expect(editor).to_have_value(re.compile(" and so$"))
    assert page.evaluate(scroll_top) == 0 and review.locator(".review").get_attribute("data-version") == version
    editor.press("Escape")

    page.evaluate(f"() => {{ document.querySelector('{REVIEW} audio').currentTime = 5; }}")  # back at the top
    expect(review.locator(".w.playing")).to_have_text("l10")
    review.locator(".review-list").hover()
    page.mouse.wheel(0, 1500)  # the user scrolls down to read on, the playing word out of view
    page.wait_for_function(f"() => document.querySelector('{REVIEW} .review-list').scrollTop > 1000")
    page.wait_for_timeout(300)
    scrolled = page.evaluate(scroll_top)
    page.evaluate(f"() => {{ document.querySelector('{REVIEW} audio').currentTime = 100; }}")  # out of view below
    page.wait_for_timeout(800)
    assert abs(page.evaluate(scroll_top) - scrolled) < 5  # not taken to the playing word
    review.locator(".w").first.click()  # a word clicked: the list follows from there
    page.evaluate(f"() => {{ document.querySelector('{REVIEW} audio').currentTime = 110; }}")
    # l220, or a word after it where a slow machine looks late: it plays on, a word every 0.5 s
    expect(review.locator(".w.playing")).to_have_text(re.compile(r"^l2[2-9]\d$"))
    expect(review.locator(".w.playing")).to_be_in_viewport()


def test_a_word_clicked_while_the_list_draws_its_next_paragraphs_plays(open_page, review_url):
    """The list draws only the paragraphs near its view, again as it scrolls (following the audio, or the user): a word
    pressed before such a drawing and let go after it did not play, its click lost with the node it began on."""
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page, "lecture.wav")
    word = review.locator(".w").filter(has_text=re.compile(r"^l30$"))  # paragraph 5, mid-list
    word.scroll_into_view_if_needed()
    box = word.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    drawn = page.evaluate(f"""async () => {{
        const list = document.querySelector('{REVIEW} .review-list'), rows = list.querySelector('.review-rows');
        const last = () => rows.lastElementChild.dataset.p;  // the last paragraph drawn
        const frame = () => new Promise((done) => requestAnimationFrame(done));
        const before = last();
        list.scrollTop += 250;
        for (let i = 0; i < 60 && last() === before; i++) await frame();
        const during = last();
        list.scrollTop -= 250;  // the word back under the pointer
        for (let i = 0; i < 60 && last() === during; i++) await frame();
        return [before, during];
    }}""")
    assert drawn[1] != drawn[0], drawn  # the list drew further paragraphs meanwhile
    again = word.bounding_box()
    assert abs(again["x"] - box["x"]) < 1 and abs(again["y"] - box["y"]) < 1  # the word is back under the pointer
    page.mouse.up()
    expect(review.locator(".w.playing")).to_have_text(re.compile(r"^l3\d$"))  # l30, or a later one on a slow machine
    page.wait_for_function(f"() => !document.querySelector('{REVIEW} audio').paused")


def test_shift_enter_while_correcting_starts_a_new_paragraph(open_page, review_url, review_library):
    """Alt+click is the only other way, and a touch screen has no Alt, nor a desktop that moves windows with it."""
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page, "split.wav")
    expect(review.locator(".review-para")).to_have_count(2)
    review.locator(".review-para").first.dblclick()
    editor = review.locator("textarea.review-editor")
    editor.fill("w0 w1 w2 w3 w4 w5 w6 w7 w8 w9")
    editor.press("End")
    editor.press("Shift+Enter")  # a line break, not the end of the correction
    expect(editor).to_be_focused()
    editor.type("w10 w11 w12 w13 w14 w15 w16 w17 w18 w19")
    editor.press("Enter")
    expect(review.locator(".review-para")).to_have_count(3)
    expect(review.locator(".review-para .review-text").nth(1)).to_have_text("w10 w11 w12 w13 w14 w15 w16 w17 w18 w19")
    entry = next(e for e in review_library.entries() if e.name == "split.wav")
    segments = review_library.get(entry.id)[1].segments
    assert [(s.text.split()[0], s.start, s.speaker) for s in segments] == [("w0", 0.0, "S1"), ("w10", 2.0, "S1"),
                                                                           ("w20", 4.0, "S2")]  # words keep their times


def test_on_a_touch_screen_enter_starts_a_new_paragraph_and_tapping_outside_saves(browser, review_url,
                                                                                 review_library):
    """A phone's keyboard has no Shift+Enter and its screen no Alt+click: Enter saved, so a paragraph could not be
    split there at all."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(review_url)
        page.get_by_role("tab", name="Library").tap()
        page.locator("#library-table").get_by_role("row").filter(has_text="phone.wav").get_by_text("phone.wav").tap()
        review = page.locator(REVIEW)
        expect(review.locator(".review-help")).to_contain_text("a line break (Enter) starts a new paragraph")
        review.locator(".review-para .review-text").first.dblclick()
        editor = review.locator("textarea.review-editor")
        editor.press("End")
        editor.press("Enter")
        editor.type("and more")
        expect(editor).to_have_value(re.compile("w19\nand more$"))  # still correcting: Enter did not save
        review.locator(".review-help").tap()
        expect(review.locator(".review-para")).to_have_count(3)
        entry = next(e for e in review_library.entries() if e.name == "phone.wav")
        assert [s.text for s in review_library.get(entry.id)[1].segments][1] == "and more"
    finally:
        context.close()


def test_a_transcript_without_word_timings_says_why_its_words_do_not_play(open_page, review_url):
    """Made with "Include word timestamps" off (the default): one paragraph whose words cannot be clicked, and a help
    line that said to click a word to play from it."""
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page, "untimed.wav")
    expect(review.locator(".review-para")).to_have_text(re.compile("made without word timings"))
    help_line = review.locator(".review-help")
    expect(help_line).to_contain_text("has no word timings (it was made without \u201cInclude word timestamps\u201d)")
    expect(help_line).not_to_contain_text("Click a word to play from it")
    assert review.locator(".w").count() == 0


def test_a_transcript_saved_without_its_audio_says_so_and_still_follows_clicks(open_page, review_url):
    """No player that cannot play ("0:00 / 0:00", then "Cannot play the audio: The element has no supported
    sources."): the view says the audio was not kept, and a clicked word is still marked."""
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page, "text-only.wav")
    expect(review.locator(".review-no-audio")).to_contain_text("audio was not kept")
    expect(review.locator("audio")).to_be_hidden()
    review.locator(".w").nth(4).click()
    expect(review.locator(".w.playing")).to_have_text("w4")
    expect(review.locator(".review-status")).not_to_contain_text("Cannot play")
    review.locator(".review-list").press("ArrowRight")  # 5 s ahead, without a sound
    expect(review.locator(".w.playing")).to_have_text("w29")
    assert "no supported sources" not in review.inner_text()


def test_a_transcript_whose_audio_file_went_missing_says_where_it_was(open_page, model_setup, launch_app, tiny_rnnt,
                                                                      tmp_path):
    """A library moved to another computer without its ``library.media`` folder: the view names the missing folder
    instead of a player that cannot play."""
    from playwright.sync_api import expect

    from transcriber.library import Library
    from transcriber.types import Transcript, Word

    library = Library(tmp_path / "library.sqlite")
    words = tuple(Word(f"w{n}", n * 0.2, n * 0.2 + 0.15) for n in range(10))
    transcript_id = library.save(Transcript(" ".join(w.text for w in words), words, duration=2.0, model="m"),
                                 name="moved.wav", audio=write_tone(tmp_path / "moved.wav", 2.0))
    library.media_path(transcript_id).unlink()
    page = open_page(launch_app(engine=Engine(device="cpu"), model=tiny_rnnt, library=library))
    review = open_review(page, "moved.wav")
    expect(review.locator(".review-no-audio")).to_contain_text("missing")
    expect(review.locator(".review-no-audio")).to_contain_text(str(library.media_dir))
    expect(review.locator("audio")).to_be_hidden()
    review.locator(".w").nth(2).click()
    expect(review.locator(".w.playing")).to_have_text("w2")


def open_from_search(page, query: str, name: str, marked: str) -> None:
    """Search the library for ``query`` and open ``name`` from the results, once they are shown with ``marked``
    marked (a click before lands on a row of the list they replace)."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Library").click()
    search = page.locator("#library-search").get_by_role("textbox")
    search.fill(query)
    search.press("Enter")
    row = page.locator("#library-table").get_by_role("row").filter(has_text=name)
    expect(row.locator("strong")).to_have_text(marked)
    row.get_by_text(name).click()


def test_a_transcript_opened_from_a_search_opens_at_its_match_with_the_matches_marked(open_page, review_url):
    """A search found "w7 w8" at 1.4 s, but the transcript opened at its start: the match was a tick on the
    timeline, and the words themselves were not marked."""
    from playwright.sync_api import expect

    page = open_page(review_url)
    open_from_search(page, '"w7 w8"', "meeting.wav", "w7 w8")
    review = page.locator(REVIEW)
    expect(review.locator(".w.hit")).to_have_text(["w7", "w8"])  # the phrase; w7's time is 7 * 0.2 = 1.4000000000000001
    expect(review.locator(".w.playing")).to_have_text("w7")  # the player is there: Space plays from the match
    assert player(page)["time"] == pytest.approx(1.4)
    word, shown = review.locator(".w.hit").first.bounding_box(), review.locator(".review-list").bounding_box()
    assert shown["y"] <= word["y"] and word["y"] + word["height"] <= shown["y"] + shown["height"]  # scrolled to it


def test_a_search_match_stays_marked_after_a_correction(open_page, review_url):
    """Opened from a search for "w7", the view underlined w7 until the first correction: the saved state it was
    redrawn from carried no search."""
    from playwright.sync_api import expect

    page = open_page(review_url)
    open_from_search(page, "w7", "searched.wav", "w7")
    review = page.locator(REVIEW)
    expect(review.locator(".w.hit")).to_have_text(["w7"])
    version = int(review.locator(".review").get_attribute("data-version"))
    review.locator(".review-para").nth(1).dblclick()  # S2's paragraph, not the match's
    editor = review.locator("textarea.review-editor")
    editor.fill(editor.input_value().replace("w30", "thirty"))
    editor.press("Enter")
    expect(review.locator(".review")).to_have_attribute("data-version", str(version + 1))
    expect(review.locator(".review-para").nth(1)).to_contain_text("thirty")
    expect(review.locator(".w.hit")).to_have_text(["w7"])
    expect(review.locator(".review-timeline .review-hit")).to_have_count(1)


def test_an_edit_is_saved_and_still_there_after_a_reload(open_page, review_url, review_library):
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page)
    version = int(review.locator(".review").get_attribute("data-version"))
    review.locator(".review-para").first.dblclick()
    editor = review.locator("textarea.review-editor")
    editor.fill(editor.input_value().replace("w3 w4", "Anna's budget"))
    editor.press("Enter")
    expect(review.locator(".review")).to_have_attribute("data-version", str(version + 1))
    page.reload()
    review = open_review(page)
    expect(review.locator(".review-para").first).to_contain_text("w2 Anna's budget w5")
    _, transcript = review_library.get(1)
    anna, budget = transcript.words[3], transcript.words[4]
    assert (anna.text, budget.text) == ("Anna's", "budget")
    assert (anna.start, budget.end) == (pytest.approx(0.6), pytest.approx(0.95))  # the span of "w3 w4"


def test_leaving_the_page_with_a_correction_typed_but_not_saved_asks_first(open_page, review_url):
    """A correction is saved by Enter or by clicking outside it; closing the tab or reloading while one was typed lost
    it without a word. The browser asks first now, and nothing is asked once nothing is left unsaved."""
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page)
    review.locator(".review-para").first.dblclick()
    editor = review.locator("textarea.review-editor")
    editor.fill(editor.input_value() + " and the budget")
    with page.expect_event("dialog") as asked:
        page.close(run_before_unload=True)
    assert asked.value.type == "beforeunload"
    asked.value.dismiss()  # stay
    expect(editor).to_have_value(re.compile("and the budget$"))  # still there to save
    editor.press("Escape")  # given up: nothing left unsaved
    expect(editor).to_have_count(0)
    page.on("dialog", lambda dialog: pytest.fail(f"asked on leaving with nothing unsaved: {dialog.type}"))
    with page.expect_event("close"):
        page.close(run_before_unload=True)


def test_removing_every_paragraph_says_how_to_bring_them_back_not_that_no_speech_was_heard(open_page, review_url):
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page, "emptied.wav")
    for _ in range(2):
        review.locator(".review-para").first.dblclick()
        review.locator("textarea.review-editor").fill("")
        review.locator("textarea.review-editor").press("Enter")
        expect(review.locator(".review")).to_have_attribute("data-saving", "0")
    expect(review.locator(".review-empty")).to_have_text(
        "Every paragraph was removed: Undo, or Back to the model's output, brings them back.")
    review.get_by_role("button", name="Undo").click()
    expect(review.locator(".review-para")).to_have_count(1)
    expect(review.locator(".review-empty")).to_have_count(0)


def test_a_correction_made_before_can_be_undone_after_the_transcript_is_opened_again(open_page, review_url):
    """Every correction is kept as a version, but a transcript opened again had Undo switched off: yesterday's last
    correction could only go with all the others, by Back to the model's output."""
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page, "reopened.wav")
    for old, new in (("w1", "one"), ("w2", "two")):
        review.locator(".review-para").first.dblclick()
        editor = review.locator("textarea.review-editor")
        editor.fill(editor.input_value().replace(old, new))
        editor.press("Enter")
        expect(review.locator(".review-para").first).to_contain_text(f"w0 one {'two' if new == 'two' else 'w2'}")
    page.reload()
    review = open_review(page, "reopened.wav")
    undo = review.get_by_role("button", name="Undo")
    expect(undo).to_be_enabled()
    undo.click()
    expect(review.locator(".review-para").first).to_contain_text("w0 one w2 w3")
    undo.click()
    expect(review.locator(".review-para").first).to_contain_text("w0 w1 w2 w3")
    expect(undo).to_be_disabled()  # back at the model's output
    review.get_by_role("button", name="Redo").click()
    expect(review.locator(".review-para").first).to_contain_text("w0 one w2 w3")


def test_a_click_while_a_correction_saves_is_applied_after_it(open_page, review_url, review_library):
    """Correcting a paragraph, then clicking its "join next" without pressing Enter: the correction saves as the
    editor loses focus, and the join, clicked while that save ran, used to be dropped without a word."""
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page, "standup.wav")
    review.locator(".review-para").first.dblclick()
    editor = review.locator("textarea.review-editor")
    editor.fill(editor.input_value() + " indeed")
    review.locator(".review-para").first.locator(".review-join").click()
    expect(review.locator(".review-para")).to_have_count(1, timeout=RESULT_TIMEOUT_MS)
    expect(review.locator(".review-para").first).to_contain_text("w19 indeed w20")
    (entry,) = [e for e in review_library.entries() if e.name == "standup.wav"]
    assert entry.version == 3  # the correction, then the join


def test_two_quick_undos_undo_two_changes(open_page, review_url, review_library):
    """Ctrl+Z pressed twice before the first undo is saved steps back twice, not twice to the same version."""
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page, "retro.wav")
    for old, new in (("w3", "x3"), ("w5", "x5")):
        version = int(review.locator(".review").get_attribute("data-version"))
        review.locator(".review-para").first.dblclick()
        editor = review.locator("textarea.review-editor")
        editor.fill(editor.input_value().replace(old, new))
        editor.press("Enter")
        expect(review.locator(".review")).to_have_attribute("data-version", str(version + 1))
    review.locator(".review-list").evaluate(  # two presses in one go: the second comes while the first saves
        "list => { for (let n = 0; n < 2; n++) list.dispatchEvent(new KeyboardEvent('keydown', "
        "{key: 'z', ctrlKey: true, bubbles: true})); }")
    expect(review.locator(".review")).to_have_attribute("data-version", "5", timeout=RESULT_TIMEOUT_MS)
    expect(review.locator(".review-para").first).to_contain_text("w2 w3 w4 w5 w6")
    (entry,) = [e for e in review_library.entries() if e.name == "retro.wav"]
    assert not entry.edited  # back to the model's output
    review.locator(".review-redo").click()
    expect(review.locator(".review-para").first).to_contain_text("w2 x3 w4 w5 w6", timeout=RESULT_TIMEOUT_MS)


def test_renaming_a_speaker_renames_it_in_the_subtitles(open_page, review_url):
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page)
    review.locator(".review-speaker-from").select_option("S2")
    review.locator(".review-speaker-to").fill("B.")
    review.locator(".review-rename-button").click()
    expect(review.locator(".review-para").nth(1).locator(".review-speaker")).to_have_value("B.")
    review.locator(".review-speaker-from").select_option("B.")
    review.locator(".review-speaker-to").fill("Ben")
    review.locator(".review-speaker-to").press("Enter")  # as the button does
    expect(review.locator(".review-para").nth(1).locator(".review-speaker")).to_have_value("Ben")
    row = page.locator("#library-table").get_by_role("row").filter(has_text="meeting.wav")
    expect(row).to_contain_text("S1, Ben")  # the library's list follows the change
    page.get_by_role("combobox", name="Export as").click()
    page.get_by_role("option", name="srt", exact=True).click()
    page.locator("#library-export").click()
    link = page.locator("#library-exported a[download='meeting.srt']")
    expect(link).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    with page.expect_download() as download:
        link.click()
    srt = Path(download.value.path()).read_text(encoding="utf-8")
    assert "[Ben] " in srt and "[S2]" not in srt


def test_subtitles_show_what_was_typed_in_a_player_even_with_angle_brackets_and_ampersands(browser, tmp_path):
    """Corrected to "x<y", "AT&T" and "-->", by a speaker renamed "Tom <host>", the VTT shows just that in
    Chromium's own subtitle parser (a bare "<" started a tag that hid the rest of the cue)."""
    from transcriber import editing
    from transcriber.formats import to_vtt
    from transcriber.types import Segment, Transcript, Word

    words = tuple(Word(f"w{n}", 0.1 + 0.5 * n, 0.4 + 0.5 * n, "S1") for n in range(5))
    recognised = Transcript(" ".join(w.text for w in words), words,
                            (Segment(" ".join(w.text for w in words), 0.1, words[-1].end, "S1"),), 3.0, "m", ("S1",))
    typed = "We love AT&T <3 x<y -->"
    corrected = editing.rename_speaker(editing.edit_text(recognised, 0, typed), "S1", "Tom <host>")
    vtt = to_vtt(corrected)
    sf.write(tmp_path / "a.wav", np.zeros(3 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    files = {"/a.wav": ((tmp_path / "a.wav").read_bytes(), "audio/wav"), "/a.vtt": (vtt.encode(), "text/vtt"),
             "/": (b'<audio src="a.wav"><track id="t" kind="subtitles" src="a.vtt" default></audio>', "text/html")}
    context = browser.new_context()
    try:
        page = context.new_page()
        page.route("http://subtitles.test/**", lambda route: route.fulfill(
            body=files[route.request.url.removeprefix("http://subtitles.test")][0],
            content_type=files[route.request.url.removeprefix("http://subtitles.test")][1]))
        page.goto("http://subtitles.test/")
        page.wait_for_function("() => { const c = document.getElementById('t').track.cues; return c && c.length; }")
        shown = page.evaluate("() => Array.from(document.getElementById('t').track.cues).map(c => "
                              "[c.getCueAsHTML().textContent, c.getCueAsHTML().firstChild.title])")
    finally:
        context.close()
    assert [" ".join(text.split()) for text, _ in shown] == [typed]
    assert {voice for _, voice in shown} == {"Tom <host>"}


def test_the_review_works_from_the_keyboard_alone(open_page, review_url):
    from playwright.sync_api import expect

    page = open_page(review_url)
    review = open_review(page)
    review.locator(".review-list").focus()
    page.keyboard.press("ArrowDown")  # to the first paragraph... then the second
    page.keyboard.press("ArrowDown")
    expect(review.locator(".review-para[data-p='1']")).to_be_focused()
    assert abs(player(page)["time"] - 20 * 0.2) < 0.05
    page.keyboard.press(" ")
    page.wait_for_function(f"() => !document.querySelector('{REVIEW} audio').paused")
    page.keyboard.press(" ")
    page.wait_for_function(f"() => document.querySelector('{REVIEW} audio').paused")
    before = player(page)["time"]
    page.keyboard.press("ArrowLeft")
    assert abs(player(page)["time"] - max(0.0, before - 5.0)) < 0.05
    page.keyboard.press("ArrowUp")
    version = int(review.locator(".review").get_attribute("data-version"))
    page.keyboard.press("Enter")
    expect(review.locator("textarea.review-editor")).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.type(" done")
    page.keyboard.press("Enter")
    expect(review.locator(".review")).to_have_attribute("data-version", str(version + 1))
    expect(review.locator(".review-para").first).to_contain_text(" done")
    page.keyboard.press("Control+z")
    expect(review.locator(".review")).to_have_attribute("data-version", str(version + 2))
    expect(review.locator(".review-para").first).not_to_contain_text(" done")
    page.keyboard.press("Control+Shift+z")
    expect(review.locator(".review-para").first).to_contain_text(" done")


def test_a_save_based_on_a_replaced_version_is_refused_and_the_current_one_shown(open_page, review_url):
    from playwright.sync_api import expect

    first, second = open_page(review_url), open_page(review_url)
    review_a, review_b = open_review(first), open_review(second)
    review_a.locator(".review-para").first.dblclick()
    review_a.locator("textarea.review-editor").fill("first tab wins")
    review_a.locator("textarea.review-editor").press("Enter")
    expect(review_a.locator(".review-para").first).to_contain_text("first tab wins")
    review_b.locator(".review-para").first.dblclick()
    review_b.locator("textarea.review-editor").fill("second tab loses")
    review_b.locator("textarea.review-editor").press("Enter")
    expect(review_b.locator(".review-status")).to_contain_text("changed elsewhere")
    expect(review_b.locator(".review-para").first).to_contain_text("first tab wins")  # reloaded


def test_a_transcript_opens_for_review_right_after_transcribing(open_page, library_url, clips):
    from playwright.sync_api import expect

    page = open_page(library_url)
    transcribe_one(page, clips["short"], timestamps=True)
    review = page.locator("#single-review")
    expect(review.locator(".review-para").first).to_contain_text("nine", timeout=RESULT_TIMEOUT_MS)
    record_seeks(page, "#single-review audio")
    review.locator(".w").nth(4).click()
    page.wait_for_function("() => window.seeks.length > 0")
    # From the start of the word clicked (the player plays on from there: a look at its clock later would be late).
    assert abs(page.evaluate("() => window.seeks[0]") - 4 * 0.08) < 0.05


def test_a_recording_is_named_by_when_it_was_made(open_page, library_url):
    """The microphone's recordings all arrive as "audio.wav"; the downloads and the library name each by its time."""
    from playwright.sync_api import expect

    page = open_page(library_url)
    page.context.grant_permissions(["microphone"])
    audio = page.locator("#single-audio")
    audio.get_by_role("button", name="Record audio").click()
    audio.get_by_role("button", name="Record", exact=True).click()
    page.wait_for_timeout(1200)  # a second of the fake microphone's beeps
    with page.expect_response(lambda response: "/run/predict" in response.url):  # the recording is named
        audio.get_by_role("button", name="Stop", exact=True).first.click()
    single_tab(page).get_by_role("button", name="Transcribe").click()
    link = page.locator("#single-downloads a[download$='.srt']")
    expect(link).to_have_attribute("download", re.compile(r"^recording-\d{4}(-\d\d){5}\.srt$"),
                                   timeout=RESULT_TIMEOUT_MS)
    page.get_by_role("tab", name="Library").click()
    expect(page.locator("#library-table")).to_contain_text(re.compile(r"recording-\d{4}(-\d\d){5}\.wav"))


def test_a_correction_below_the_result_is_in_its_text_and_its_downloads(open_page, library_url, clips):
    """Corrected in the review view right below it, the result's text, word table and downloads read the correction:
    a user who corrects and then downloads the subtitles gets the corrected ones."""
    from playwright.sync_api import expect

    page = open_page(library_url)
    transcribe_one(page, clips["short"], timestamps=True)
    review = page.locator("#single-review")
    expect(review.locator(".review-para").first).to_contain_text("nine", timeout=RESULT_TIMEOUT_MS)
    version = int(review.locator(".review").get_attribute("data-version"))
    review.locator(".review-para").first.dblclick()
    editor = review.locator("textarea.review-editor")
    editor.fill("Corrected by hand")
    editor.press("Enter")
    expect(review.locator(".review")).to_have_attribute("data-version", str(version + 1))
    expect(single_tab(page).get_by_label("Transcription Text")).to_have_value("Corrected by hand",
                                                                             timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#word-table")).to_contain_text("Corrected")
    link = page.locator("#single-downloads a[download='short.srt']")
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    srt = Path(download.value.path()).read_text(encoding="utf-8")
    assert "Corrected by hand" in srt and "nine" not in srt


def test_the_language_controls_show_only_for_a_model_that_takes_a_language(page, tiny_rnnt, tmp_path_factory):
    from playwright.sync_api import expect
    from tiny_models import build_tiny_canary

    canary = str(build_tiny_canary(tmp_path_factory.mktemp("canary"), "canary2"))
    expect(page.locator("#language")).to_be_hidden()
    expect(page.locator("#task")).to_be_hidden()
    model_box(page).fill(canary)
    model_box(page).press("Enter")
    expect(page.locator("#language")).to_be_visible()
    page.get_by_role("combobox", name="Spoken language").click()  # languages by name, not only their codes
    options = page.get_by_role("listbox").get_by_role("option")
    expect(options).to_contain_text(["English (en)", "French (fr)", "German (de)", "Spanish (es)"])
    page.keyboard.press("Escape")
    page.get_by_role("combobox", name="Task").click()
    for option in ("Transcribe", "Translate to English (en)", "Translate to German (de)", "Translate to Spanish (es)",
                   "Translate to French (fr)"):
        expect(page.get_by_role("option", name=option, exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    model_box(page).fill(tiny_rnnt)
    model_box(page).press("Enter")
    expect(page.locator("#language")).to_be_hidden()


def test_the_page_says_loading_then_ready_and_the_first_request_does_not_wait(open_page, launch_app, tiny_rnnt,
                                                                              clips):
    from playwright.sync_api import expect

    engine = Engine(device="cpu")
    url = launch_app(engine=engine, model=tiny_rnnt, preload=True)
    page = open_page(url)
    expect(page.locator("#model-status")).to_contain_text("Ready:", timeout=RESULT_TIMEOUT_MS)
    assert engine.cache.loads == 1  # loaded before anyone asked
    transcribe_one(page, clips["short"])
    expect(single_tab(page).get_by_label("Transcription Text")).to_have_value(re.compile("^nine"),
                                                                               timeout=RESULT_TIMEOUT_MS)
    assert engine.cache.loads == 1
