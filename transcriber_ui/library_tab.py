"""The "Library" tab: every transcript made on the page, searched, reopened, renamed, deleted and exported again.

The API endpoints (``/library``, ``/get_transcript``, ``/export_transcript``, ``/export_library``,
``/rename_transcript``, ``/delete_transcript``) call the same functions as the tab's buttons. Every one of them looks
up the transcript by id *and* owner (the logged-in user), so with logins on an id that belongs to someone else is
simply not found.
"""

import shutil
from pathlib import Path
from typing import Any

from transcriber.errors import LibraryError, TranscriptNotFoundError
from transcriber.formats import clock_time, counted, local_time
from transcriber.library import Entry, Hit
from transcriber.library import query as search_query
from transcriber.library.store import DEFAULT_HIT_LIMIT
from transcriber.outputs import ALL_FORMATS, safe_stem

from .review import build_review, review_value, stored_review_data
from .transcribe_tab import SINGLE_TAB_ID
from .widgets import AppContext, owner_of, user_errors

LIBRARY_HEADERS = ["id", "name", "created", "duration", "model", "speakers", "edited", "match", "time"]
LIBRARY_TYPES = ["number", "str", "str", "number", "str", "str", "bool", "markdown", "number"]
LIBRARY_COLUMN_WIDTHS = ["50px", "220px", "160px", "100px", "160px", "100px", "80px", "260px", "100px"]
EXPORT_DEFAULT = "docx"
EXPORT_FILE_HEIGHT_PX = 90
NO_LIBRARY = "The library is off: transcripts are not saved."
NO_TRANSCRIPT = "Open a transcript first (its id is the first column of the library list)."
SEARCH_HELP = ('Words of a transcript, its name or its speakers\' names, "a phrase" or a prefix*. Case and accents do '
               'not matter. Empty: everything, newest first.')
BYTES_PER_MB = 1024**2


def hit_row(hit: Hit) -> list[Any]:
    """One row of the library table (and of the ``/library`` API's answer)."""
    entry = hit.entry
    return [entry.id, entry.name, entry.created, round(entry.duration, 1), entry.model, ", ".join(entry.speakers),
            entry.edited, hit.snippet, None if hit.time is None else round(hit.time, 2)]


def table_value(rows: list[list[Any]]) -> Any:
    """The library table's value: ``rows`` as they are, which is what the ``/library`` API answers (``created`` in
    UTC, durations and times in seconds), shown on the page as a person reads them (a pandas Styler's display): when
    each transcript was made in this computer's time zone, durations and hit times as clock times (01:15:23)."""
    import pandas as pd  # Gradio's own dependency; imported here so the module loads without it

    frame = pd.DataFrame(rows, columns=LIBRARY_HEADERS)
    return frame.style.format({"created": local_time, "duration": clock_time, "time": clock_time}, na_rep="")


def summary(context: AppContext, owner: str, query: str = "", shown: int | None = None) -> str:
    """The line above the table: how many transcripts, how much disk, whether the table (``shown`` rows for
    ``query``) holds them all, and any notice about the library."""
    if context.library is None:
        return f"**{NO_LIBRARY}** {context.library_notice}".strip()
    count = context.library.count(owner=owner)
    size = context.library.size_bytes() / BYTES_PER_MB
    line = f"{counted(count, 'transcript')} · library {size:.1f} MB on disk"
    searching = bool(search_query.parse(query or ""))
    if shown is not None and not searching and shown < count:
        line += f". The list shows the newest {shown}: search to find the others."
    elif shown is not None and searching and shown >= DEFAULT_HIT_LIMIT:
        line += f". The {shown} best matches are shown: add words to narrow it."
    return f"{line}\n\n{context.library_notice}" if context.library_notice else line


def table_rows(rows: Any) -> list[list[Any]]:
    """The rows of the library table as an event hands them over (a pandas DataFrame, or plain lists)."""
    return rows.values.tolist() if hasattr(rows, "values") else rows


def transcript_number(transcript_id: float | None) -> int:
    """The id an event or an API call gave, as the library's integer; no id is a sentence, not a ``TypeError``."""
    if transcript_id is None:
        raise LibraryError(NO_TRANSCRIPT)
    return int(transcript_id)


def again_name(entry: Entry, media: Path) -> str:
    """The file name a transcript's kept audio is transcribed again under: the transcript's name (without the
    recording's suffix, which it keeps unless renamed), made safe as a file name, and the kept file's suffix (a
    video's is its sound, FLAC), so the new transcript is saved under the name the user gave the old one."""
    name = entry.name
    suffix = Path(entry.source_name).suffix
    if suffix and name.lower().endswith(suffix.lower()):
        name = name[: -len(suffix)]
    return safe_stem(name) + media.suffix


def build_library_tab(context: AppContext, *, tabs: Any = None, single_audio: Any = None) -> None:
    """The Library tab and its events (inside a ``gr.Tabs``). With ``tabs`` and the One file tab's ``single_audio``,
    **Transcribe again** puts a transcript's kept audio there and opens that tab."""
    import gradio as gr

    def library_of():
        if context.library is None:
            raise gr.Error(NO_LIBRARY, print_exception=False)
        return context.library

    def found_rows(query: str, request: gr.Request) -> list[list[Any]]:
        with user_errors():
            return [hit_row(hit) for hit in library_of().search(query or "", owner=owner_of(request))]

    def search(query: str, request: gr.Request) -> Any:
        """The transcripts that match ``query`` (all of them, newest first, when it is empty)."""
        return table_value(found_rows(query, request))

    def get_transcript(transcript_id: int, request: gr.Request) -> dict[str, Any]:
        """One transcript as JSON: text, words, segments, speakers, and its id, name, created and edited."""
        with user_errors():
            entry, transcript = library_of().get(transcript_number(transcript_id), owner=owner_of(request))
            return entry.json_object(transcript)

    def export_transcript(transcript_id: float | None, fmt: str, request: gr.Request) -> str:
        """One transcript written in ``fmt`` (txt, srt, vtt, json, csv or docx); returns the file."""
        with user_errors():
            number = transcript_number(transcript_id)
            if fmt not in ALL_FORMATS:
                raise LibraryError(f"Cannot export as {fmt!r}; choose from {', '.join(ALL_FORMATS)}.")
            entry, transcript = library_of().get(number, owner=owner_of(request))
            (path,) = context.outputs.new().write(entry.source_name, transcript, formats=[fmt], title=entry.name,
                                                  created=entry.created)
            return str(path)

    def export_library(query: str, fmt: str, request: gr.Request) -> str:
        """Every transcript the search ``query`` finds (all of them when it is empty), written in ``fmt``, in one zip:
        each under its name, a second of one name numbered (oldest first, as ``python -m transcriber.library export
        --all`` names them); returns the zip."""
        with user_errors():
            if fmt not in ALL_FORMATS:
                raise LibraryError(f"Cannot export as {fmt!r}; choose from {', '.join(ALL_FORMATS)}.")
            library, owner = library_of(), owner_of(request)
            ids = library.ids(query or "", owner=owner)
            if not ids:
                raise LibraryError("No transcript matches the search: nothing to export." if
                                   search_query.parse(query or "") else "The library holds no transcripts yet.")
            folder = context.outputs.new()
            paths = []
            for transcript_id in ids:
                try:
                    entry, transcript = library.get(transcript_id, owner=owner)
                except TranscriptNotFoundError:  # deleted meanwhile, in another tab
                    continue
                paths += folder.write(entry.source_name, transcript, formats=[fmt], title=entry.name,
                                      created=entry.created)
            return str(folder.zip(paths))

    def rename_transcript(transcript_id: int, name: str, request: gr.Request) -> str:
        """Give a transcript a new name; returns the name."""
        with user_errors():
            return library_of().rename(transcript_number(transcript_id), name, owner=owner_of(request))

    def delete_transcript(transcript_id: int, request: gr.Request) -> int:
        """Delete a transcript and its audio (unless another transcript uses the same file); returns the id."""
        with user_errors():
            number = transcript_number(transcript_id)
            library_of().delete(number, owner=owner_of(request))
            return number

    def transcribe_again(transcript_id: float | None, request: gr.Request):
        """The transcript's kept audio, copied under its name into a folder of this request's own, into the One file
        tab, which is opened: a model and options are chosen there as for any file (a better model installed since,
        speakers to tell apart), and the new transcript is saved beside the old one."""
        with user_errors():
            number = transcript_number(transcript_id)
            owner = owner_of(request)
            entry, _ = library_of().get(number, owner=owner)
            media = library_of().media_path(number, owner=owner)
            if media is None:
                raise LibraryError(f"The library kept no audio of {entry.name} (it was saved with --no-keep-audio, or "
                                   "its audio file is gone): upload the recording in the One file tab to transcribe "
                                   "it again.")
            copy = context.outputs.new().path / again_name(entry, media)
            shutil.copyfile(media, copy)
        gr.Info("The recording is in the One file tab: choose a model and options, then press Transcribe.")
        return str(copy), gr.Tabs(selected=SINGLE_TAB_ID)

    def open_selected(rows: Any, query: str, event: gr.SelectData, request: gr.Request):
        """Open the transcript of the clicked row in the review view."""
        with user_errors():
            row = event.index[0]
            transcript_id = int(table_rows(rows)[row][0])
            entry, transcript = library_of().get(transcript_id, owner=owner_of(request))
            return (
                transcript_id,
                gr.Textbox(value=entry.name),
                review_value(stored_review_data(library_of(), entry, transcript, owner=owner_of(request),
                                                query=query)),
                gr.Column(visible=True),
            )

    def rename_clicked(transcript_id: float | None, new_name: str, request: gr.Request) -> str:
        """The Rename button (the API's ``/rename_transcript`` is :func:`rename_transcript`)."""
        return rename_transcript(transcript_id, new_name, request)

    def show_summary(query: str, rows: Any, request: gr.Request) -> str:
        """The line above the table, for the rows the table now shows."""
        return summary(context, owner_of(request), query, len(table_rows(rows)))

    def refresh(query: str, request: gr.Request):
        rows = found_rows(query, request)
        return table_value(rows), summary(context, owner_of(request), query, len(rows))

    def delete_confirmed(transcript_id: float | None, query: str, request: gr.Request):
        """The Delete button, once the browser's confirmation was accepted (``None`` when it was not)."""
        if transcript_id is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        delete_transcript(transcript_id, request)
        rows, line = refresh(query, request)
        return rows, line, None, gr.Column(visible=False)

    with gr.Tab("Library", elem_id="library-tab") as tab:
        overview = gr.Markdown(elem_id="library-summary")
        with gr.Row():
            query = gr.Textbox(label="Search", info=SEARCH_HELP, scale=4, elem_id="library-search")
            search_button = gr.Button("Search", scale=1)
        table = gr.Dataframe(
            headers=LIBRARY_HEADERS,
            datatype=LIBRARY_TYPES,
            column_widths=LIBRARY_COLUMN_WIDTHS,
            interactive=False,
            wrap=True,
            label="Transcripts (click one to open it)",
            elem_id="library-table",
        )
        with gr.Row():
            every_fmt = gr.Dropdown(list(ALL_FORMATS), value=EXPORT_DEFAULT, scale=2, elem_id="library-all-format",
                                    label="Export every transcript the search finds (all of them when it is empty) as")
            every_button = gr.Button("Export all as a zip", scale=1, elem_id="library-export-all")
            every_file = gr.File(label="Exported transcripts", scale=2, height=EXPORT_FILE_HEIGHT_PX,
                                 elem_id="library-exported-all")
        selected = gr.Number(label="Transcript id", precision=0, visible=False, elem_id="library-id")
        with gr.Column(visible=False, elem_id="library-details") as details:
            with gr.Row():
                name = gr.Textbox(label="Name", scale=3, elem_id="library-name")
                rename_button = gr.Button("Rename", scale=1, elem_id="library-rename")
                again_button = gr.Button("Transcribe again", scale=1, visible=single_audio is not None,
                                         elem_id="library-again")
                delete_button = gr.Button("Delete", variant="stop", scale=1, elem_id="library-delete")
            with gr.Row():
                fmt = gr.Dropdown(list(ALL_FORMATS), value=EXPORT_DEFAULT, label="Export as", scale=1,
                                  elem_id="library-format")
                export_button = gr.Button("Export", scale=1, elem_id="library-export")
                exported = gr.File(label="Exported file", scale=2, height=EXPORT_FILE_HEIGHT_PX,
                                   elem_id="library-exported")
            review = build_review(context, elem_id="library-review")
        # API-only endpoints are blocks of the page too; here, not beside the tab, since a gr.Tabs holds only tabs
        gr.api(get_transcript, api_name="get_transcript")
        gr.api(rename_transcript, api_name="rename_transcript")
        gr.api(delete_transcript, api_name="delete_transcript")

    private = {"api_visibility": "private"}
    tab.select(refresh, query, [table, overview], **private)
    searched = gr.on([query.submit, search_button.click], search, query, table, api_name="library")
    searched.then(show_summary, [query, table], overview, **private)
    review.edit(refresh, query, [table, overview], **private)
    table.select(open_selected, [table, query], [selected, name, review, details], **private)
    export_button.click(export_transcript, [selected, fmt], exported, api_name="export_transcript")
    every_button.click(export_library, [query, every_fmt], every_file, api_name="export_library")
    if single_audio is not None and tabs is not None:
        again_button.click(transcribe_again, selected, [single_audio, tabs], **private)
    rename_button.click(rename_clicked, [selected, name], name, **private).then(refresh, query, [table, overview],
                                                                                   **private)
    delete_button.click(delete_confirmed, [selected, query], [table, overview, selected, details],
                        js="(id, query) => [confirm('Delete this transcript and its audio?') ? id : null, query]",
                        **private)
