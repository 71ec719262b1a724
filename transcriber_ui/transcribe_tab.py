"""The model settings row and the "One file" and "Several files" tabs: upload, transcribe, see and download.

Both transcribe events share one queue slot (:data:`TRANSCRIBE_CONCURRENCY`). The engine lets one job at a time use
a model anyway; waiting in Gradio's queue shows a user their place in line, where waiting on the engine's model lock
would be silent and would count against the job's time limit. Each finished transcript is saved to the library, and
the events' last output is the library id (or ids) of what was saved.
"""

import logging
import shutil
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from transcriber.folders import is_file
from transcriber.formats import NO_SPEECH, reading_text, word_list_markdown
from transcriber.languages import Abilities, language_label, model_abilities
from transcriber.model_cache import pick_device
from transcriber.models import DEMO_MODEL, NEMO_SUFFIX
from transcriber.types import FileResult, Transcript

from .jobs import AUTO_SPEAKERS, SPEAKER_CHOICES, TRANSCRIBE_TASK, display_name, options_from, progress_reporter
from .model_choice import (
    BROWSE_CHOICE,
    DEMO_NOTICE,
    check_model_choice,
    is_nemo_path,
    model_choices,
    offered_models,
)
from .review import build_review, review_value, stored_review_data
from .widgets import (
    STATUS_COLUMN_WIDTHS,
    STATUS_HEADERS,
    WORD_HEADERS,
    AppContext,
    batch_text,
    error_reason,
    owner_of,
    save_results,
    status_rows,
    user_errors,
    word_headers,
    word_rows,
)

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 4
MAX_BATCH_SIZE = 32
TRANSCRIBE_CONCURRENCY = 1
"""Transcriptions that run at once, across all users; the others wait in the queue and see their place."""
WORD_LIST_HEIGHT_PX = 320
"""The word list scrolls beyond this height."""
MODEL_FILE_HEIGHT_PX = 140
FILE_LIST_HEIGHT_PX = 320
"""The Several files tab's chosen files and downloads scroll beyond this height (the empty drop zone is as high), so
that a hundred voice memos keep Transcribe and the zip of their transcripts within a screen."""
TIMESTAMPS_MIN_WIDTH_PX = 180
"""Narrower, the timestamps checkbox moves to a line of its own rather than letting its label spill out of its box."""
MODEL_STORAGE_KEY = "transcriber-model"
"""Where the browser keeps the last chosen model (localStorage), so a reload selects it again."""
NO_WORD_TIMINGS = "This model gives no word timings: the subtitles and the review follow its segments."
RECORDING_PREFIX = "recording-"
RECORDING_TIME = "%Y-%m-%d-%H-%M-%S"
"""A recording's name: when it was made, in this computer's time, with characters every file system takes."""
PAGE_ONLY = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
"""Events of the page alone: never queued behind a transcription, and not part of the API."""
SINGLE_TAB_ID = "single"
"""The One file tab's id among the page's tabs (the Library's "Transcribe again" opens it)."""


@dataclass
class Settings:
    """The settings row's widgets, which both transcribe tabs read."""

    model: Any
    batch_size: Any
    timestamps: Any
    speakers: Any
    num_speakers: Any
    language: Any
    task: Any

    def inputs(self) -> list[Any]:
        """The widgets in the order the transcribe handlers take them."""
        return [self.model, self.batch_size, self.timestamps, self.speakers, self.num_speakers, self.language,
                self.task]


def language_widgets(name: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The "Spoken language" and "Task" dropdowns' settings for model ``name``: its own languages by name and code
    ("German (de)", in the order of their names; the value is the code) and, if it translates, a "Translate to ..."
    per language; both hidden for a model that takes no language."""
    found = model_abilities(name) if name and name != BROWSE_CHOICE else Abilities()
    if not found.takes_language:
        return ({"choices": [], "value": None, "visible": False},
                {"choices": [("Transcribe", TRANSCRIBE_TASK)], "value": TRANSCRIBE_TASK, "visible": False})
    languages = sorted(((language_label(code), code) for code in found.languages), key=lambda choice: choice[0].lower())
    tasks = [("Transcribe", TRANSCRIBE_TASK)]
    if found.translates:
        tasks += [(f"Translate to {label}", code) for label, code in languages]
    return ({"choices": languages, "value": found.default_language, "visible": True},
            {"choices": tasks, "value": TRANSCRIBE_TASK, "visible": True})


def build_settings(context: AppContext, demo: Any) -> Settings:
    """The model dropdown, batch size, timestamps and speaker settings above the tabs, inside ``demo``."""
    import gradio as gr

    with gr.Row():
        model = gr.Dropdown(
            model_choices(context.default_model),
            value=context.default_model,
            allow_custom_value=True,
            label="Model",
            info="Installed models first. Or type the path of a .nemo file on this computer.",
            scale=3,
            elem_id="model",
        )
        batch_size = gr.Slider(1, MAX_BATCH_SIZE, value=DEFAULT_BATCH_SIZE, step=1, label="Batch size", scale=1)
        # In a column of its own: Gradio draws a checkbox's own min_width as 0
        with gr.Column(scale=1, min_width=TIMESTAMPS_MIN_WIDTH_PX):
            timestamps = gr.Checkbox(label="Include word timestamps",
                                     info="For timed subtitles (SRT, VTT) and words that play when clicked.")
        with gr.Column(scale=1, min_width=160):
            speakers = gr.Checkbox(label="Identify speakers", elem_id="speakers")
            num_speakers = gr.Dropdown(
                SPEAKER_CHOICES, value=AUTO_SPEAKERS, label="Speakers", elem_id="num-speakers", min_width=120
            )
        spoken, task = language_widgets(context.default_model)
        with gr.Column(scale=1, min_width=160):
            language = gr.Dropdown(label="Spoken language", elem_id="language", min_width=120, **spoken)
            task_choice = gr.Dropdown(label="Task", elem_id="task", min_width=120, **task)
    model_file = gr.File(
        label="Model file (.nemo)",
        file_types=[NEMO_SUFFIX],
        type="filepath",
        height=MODEL_FILE_HEIGHT_PX,
        visible=False,
        elem_id="model-file",
    )
    demo_notice = gr.Markdown(DEMO_NOTICE, visible=context.default_model == DEMO_MODEL, elem_id="demo-notice")
    saved_model = gr.BrowserState(None, storage_key=MODEL_STORAGE_KEY)

    def restore_model(saved: str | None, current: str):
        """On page load: the choices as they are now, and the model this browser chose last if it is still there.

        The value is set only when it changes, so a model typed in while the page loads stays.
        """
        offered = {value for _, value in offered_models()}
        if saved and saved != current and (saved in offered or (is_nemo_path(saved) and is_file(Path(saved)))):
            return gr.Dropdown(choices=model_choices(saved), value=saved)
        return gr.Dropdown(choices=model_choices(current))

    def model_changed(name: str | None):
        """Show the demo notice for the demo model and the file box for "Browse", and the language controls the
        model takes; remember any choice but "Browse"."""
        remember = gr.skip() if not name or name == BROWSE_CHOICE else name
        spoken, task = language_widgets(name)
        return (gr.Markdown(visible=name == DEMO_MODEL), gr.File(visible=name == BROWSE_CHOICE), remember,
                gr.Dropdown(**spoken), gr.Dropdown(**task))

    def use_model_file(path: str | None):
        if not path:
            return gr.skip()
        return gr.Dropdown(choices=[(f"{Path(path).name} (uploaded)", path), *model_choices()], value=path)

    demo.load(restore_model, [saved_model, model], model, **PAGE_ONLY)
    model.change(model_changed, model, [demo_notice, model_file, saved_model, language, task_choice], **PAGE_ONLY)
    model_file.upload(use_model_file, model_file, model, **PAGE_ONLY)
    return Settings(model, batch_size, timestamps, speakers, num_speakers, language, task_choice)


def result_widgets(transcript: Transcript, downloads: list[Path], *, timed: bool) -> tuple[Any, ...]:
    """The One file tab's text, word timings (shown when ``timed``) and downloads for ``transcript``."""
    import gradio as gr

    return (
        reading_text(transcript),
        gr.Markdown(f"**Word timings**\n\n{word_list_markdown(transcript.words)}", visible=timed),
        gr.Dataframe(word_rows(transcript.words), headers=word_headers(transcript), visible=timed),
        [str(path) for path in downloads],
    )


def speech_note(text: str) -> Any:
    """The result's text box, empty: says that no speech was recognised (the warning fades; this stays). A separate
    page event, so ``/transcribe`` still answers the text itself."""
    import gradio as gr

    return gr.Textbox(placeholder="" if text else NO_SPEECH)


def build_tabs(context: AppContext, settings: Settings) -> Any:
    """The "One file" and "Several files" tabs and their events (inside a ``gr.Tabs``); returns the One file tab's
    audio input (the Library's "Transcribe again" fills it)."""
    import gradio as gr

    def run(files: list[str], model: str, values: tuple, ticket: int | None, request: gr.Request,
            progress) -> list[FileResult]:
        session = request.session_hash or uuid.uuid4().hex
        with user_errors(), context.cancel_flags.running(session, ticket) as cancel:
            results = context.engine.transcribe_files(
                files,
                model=check_model_choice(model, context.trusted_models),
                options=replace(options_from(*values, timeout=context.timeout), diarizer=context.diarizer),
                progress=progress_reporter(progress),
                cancel=cancel,
                share_of_audio=True,
            )
        device = pick_device(context.engine.device)
        for result in results:  # one line per job in the terminal: what, how long, with what
            duration = result.transcript.duration if result.transcript is not None else 0.0
            logger.info("%s: %s, %.1f s of audio in %.2f s, model %s on %s", display_name(result.file),
                        "done" if result.ok else f"failed ({result.error})", duration, result.seconds, model, device)
        return results

    def transcribe(
        audio: str | None,
        model: str,
        batch_size: float,
        timestamps: bool,
        speakers: bool = False,
        num_speakers: str = AUTO_SPEAKERS,
        language: str | None = None,
        task: str = TRANSCRIBE_TASK,
        ticket: int | None = None,
        request: gr.Request = None,
        progress=gr.Progress(),
    ):
        if not audio:
            raise gr.Error("Upload or record an audio file first.", print_exception=False)
        (result,) = run([audio], model, (batch_size, timestamps, speakers, num_speakers, language, task), ticket,
                        request, progress)
        if result.transcript is None:
            raise gr.Error(f"{display_name(audio)}: {error_reason(result)}", print_exception=False)
        if not result.transcript.text:
            gr.Warning(NO_SPEECH)
        elif (timestamps or speakers) and not result.transcript.words:
            gr.Warning(NO_WORD_TIMINGS)
        downloads = context.outputs.new().write(audio, result.transcript)
        (saved,) = save_results(context, [result], owner_of(request))
        return (*result_widgets(result.transcript, downloads, timed=bool(timestamps or speakers)), saved)

    def follow_correction(saved: float | None, request: gr.Request):
        """After a change saved in the review view below the result: the result's text, word timings and downloads
        of the corrected transcript, so what the user downloads next holds the correction."""
        if saved is None or context.library is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        with user_errors():
            entry, transcript = context.library.get(int(saved), owner=owner_of(request))
        downloads = context.outputs.new().write(entry.source_name, transcript)
        return result_widgets(transcript, downloads, timed=bool(transcript.words))

    def transcribe_batch(
        files: list[str] | None,
        model: str,
        batch_size: float,
        timestamps: bool,
        speakers: bool = False,
        num_speakers: str = AUTO_SPEAKERS,
        language: str | None = None,
        task: str = TRANSCRIBE_TASK,
        ticket: int | None = None,
        request: gr.Request = None,
        progress=gr.Progress(),
    ):
        if not files:
            raise gr.Error("Add one or more files first.", print_exception=False)
        results = run(list(files), model, (batch_size, timestamps, speakers, num_speakers, language, task), ticket,
                      request, progress)
        downloads = context.outputs.new().write_batch(results)
        saved = [i for i in save_results(context, results, owner_of(request)) if i is not None]
        return status_rows(results), batch_text(results), [str(path) for path in downloads], saved

    def name_recording(path: str | None):
        """A recording from the microphone arrives named "audio.wav", every time: it is named by when it was made
        (``recording-2026-12-06-09-28-38.wav``), so the library and the downloads tell recordings apart."""
        if not path:
            return gr.skip()
        source = Path(path)
        named = source.with_name(f"{RECORDING_PREFIX}{datetime.now():{RECORDING_TIME}}{source.suffix}")
        shutil.copyfile(source, named)
        return str(named)

    def open_review(saved: float | None, request: gr.Request):
        """Show the transcript just saved in the review view (nothing when it was not saved)."""
        if saved is None or context.library is None:
            return "", gr.Column(visible=False)
        owner = owner_of(request)
        entry, transcript = context.library.get(int(saved), owner=owner)
        state = review_value(stored_review_data(context.library, entry, transcript, owner=owner))
        return state, gr.Column(visible=True)

    def take_ticket() -> int:
        """Pressing Transcribe: the job's ticket, so a Stop while it waits in the queue ends it too."""
        return context.cancel_flags.ticket()

    def stop(request: gr.Request) -> None:
        if context.cancel_flags.cancel(request.session_hash or ""):
            gr.Info("Stopping…")

    with gr.Tab("One file", id=SINGLE_TAB_ID, elem_id="single-tab"):
        # Both tabs' jobs take their ticket here. Inside a tab: a block that sits in the gr.Tabs beside its tabs
        # makes the browser draw the next tab's button twice once it is opened.
        ticket = gr.State(None)
        with gr.Row():
            with gr.Column():
                audio = gr.Audio(
                    sources=["upload", "microphone"], type="filepath", label="Audio", elem_id="single-audio"
                )
                gr.Markdown("Video, or many files at once? Use the **Several files** tab.")
                with gr.Row():
                    run_one = gr.Button("Transcribe", variant="primary")
                    stop_one = gr.Button("Stop", variant="stop")
            with gr.Column():
                text = gr.Textbox(label="Transcription Text", lines=8, elem_id="single-text")
                words_md = gr.Markdown(
                    label="Word timings",
                    visible=False,
                    container=True,
                    padding=True,
                    max_height=WORD_LIST_HEIGHT_PX,
                    elem_id="word-list",
                )
                words_table = gr.Dataframe(
                    headers=WORD_HEADERS, label="All word timings", visible=False, elem_id="word-table"
                )
                downloads = gr.File(label="Downloads", file_count="multiple", elem_id="single-downloads")
                saved_one = gr.Number(label="Library id", precision=0, visible=False, elem_id="single-saved")
        with gr.Column(visible=False, elem_id="single-review-box") as review_box:
            gr.Markdown("**Review and correct** (saved to the library as you go)")
            review = build_review(context, elem_id="single-review")
    with gr.Tab("Several files", elem_id="batch-tab"):
        with gr.Row():
            with gr.Column():
                files = gr.File(
                    file_count="multiple", type="filepath", label="Audio or video files", elem_id="batch-files",
                    height=FILE_LIST_HEIGHT_PX,
                )
                with gr.Row():
                    run_batch = gr.Button("Transcribe", variant="primary")
                    stop_batch = gr.Button("Stop", variant="stop")
            with gr.Column():
                status = gr.Dataframe(
                    headers=STATUS_HEADERS,
                    label="Files",
                    wrap=True,
                    column_widths=STATUS_COLUMN_WIDTHS,
                    elem_id="batch-status",
                )
                batch_texts = gr.Textbox(label="Transcription Text", lines=8, elem_id="batch-text")
                batch_downloads = gr.File(
                    label="Downloads (zip first)", file_count="multiple", elem_id="batch-downloads",
                    height=FILE_LIST_HEIGHT_PX,
                )
                saved_many = gr.JSON(label="Library ids", visible=False, elem_id="batch-saved")

    audio.stop_recording(name_recording, audio, audio, **PAGE_ONLY)
    one = run_one.click(take_ticket, None, ticket, **PAGE_ONLY).then(
        transcribe,
        [audio, *settings.inputs(), ticket],
        [text, words_md, words_table, downloads, saved_one],
        api_name="transcribe",
        show_progress_on=text,
        concurrency_id="transcription",
        concurrency_limit=TRANSCRIBE_CONCURRENCY,
    )
    one.then(open_review, saved_one, [review, review_box], api_visibility="private", show_progress="hidden")
    one.success(speech_note, text, text, **PAGE_ONLY)
    review.edit(follow_correction, saved_one, [text, words_md, words_table, downloads], api_visibility="private",
                show_progress="hidden").success(speech_note, text, text, **PAGE_ONLY)
    run_batch.click(take_ticket, None, ticket, **PAGE_ONLY).then(
        transcribe_batch,
        [files, *settings.inputs(), ticket],
        [status, batch_texts, batch_downloads, saved_many],
        api_name="transcribe_batch",
        show_progress_on=status,
        concurrency_id="transcription",
        concurrency_limit=TRANSCRIBE_CONCURRENCY,
    )
    # Not Gradio's cancels=: it would end the request itself, and a batch's finished files would never show.
    gr.on([stop_one.click, stop_batch.click], stop, api_name="stop", concurrency_limit=None)
    return audio
