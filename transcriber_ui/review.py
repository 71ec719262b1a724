"""The review view: a stored transcript next to its audio, corrected in place.

The view is a ``gr.HTML`` whose JavaScript (``review.js``) and CSS (``review.css``) live beside this module. Its value
is the transcript as JSON (:func:`review_value`); each change the user makes is one call of the component's server
function :func:`review_op`, which applies it with :mod:`transcriber.editing`, saves it as a new version and answers
with the new state. A change based on a version another tab has replaced is refused, and the answer carries the
current version so the view shows it. The audio comes from :mod:`.media_route`, with range requests.
"""

import json
from pathlib import Path
from typing import Any

from transcriber import editing
from transcriber.errors import StaleVersionError, TranscriberError
from transcriber.library import Entry
from transcriber.library import query as search_query
from transcriber.library.records import turn_starts
from transcriber.types import Transcript

from .media_route import media_url, request_user
from .widgets import AppContext

HERE = Path(__file__).resolve().parent
TEMPLATE = '<div class="review" data-ready="0"></div>'
MAX_HITS = 200
TIME_DECIMALS = 3
"""Times the view gets are rounded to the millisecond; a search hit's time is its word's start, rounded the same way,
so the view finds the word by it."""


def asset(name: str) -> str:
    """The text of a file that ships beside this module (the view's JavaScript and CSS)."""
    return (HERE / name).read_text(encoding="utf-8")


def search_hits(transcript: Transcript, query: str) -> tuple[list[float], list[float]]:
    """Where a library search matched: the time each match starts (the timeline's marks; the view opens at the
    first), and the start of every word inside a match (a phrase is all its words; the view underlines them). Found
    by a speaker's name alone ("Anna"), the turns of that speaker, no word underlined."""
    terms = search_query.parse(query or "")
    if not terms:
        return [], []
    starts, words = [], set()
    for first, last in search_query.word_matches(terms, (word.text for word in transcript.words)):
        starts.append(first)
        words.update(range(first, last + 1))
    if not starts:
        turns = turn_starts(transcript, search_query.names_matching(terms, transcript.speakers))
        return [round(start, TIME_DECIMALS) for start in turns[:MAX_HITS]], []
    start_of = [round(word.start, TIME_DECIMALS) for word in transcript.words]
    return [start_of[w] for w in starts[:MAX_HITS]], sorted({start_of[w] for w in words})


def review_data(entry: Entry, transcript: Transcript, *, has_audio: bool, query: str = "",
                audio_missing_from: str = "") -> dict[str, Any]:
    """What the view shows of one stored transcript. ``audio_missing_from``: the folder its audio file should be in
    but is not (a library moved without its audio folder)."""
    hits, hit_words = search_hits(transcript, query)
    return {
        "id": entry.id,
        "version": entry.version,
        "name": entry.name,
        "edited": entry.edited,
        "duration": transcript.duration,
        "audio": media_url(entry.id) if has_audio else "",
        "audio_missing_from": audio_missing_from,
        "speakers": list(transcript.speakers),
        "paragraphs": [
            {"speaker": part.speaker, "text": part.text,
             "words": [[w.text, round(w.start, TIME_DECIMALS), round(w.end, TIME_DECIMALS)] for w in part.words]}
            for part in editing.paragraphs(transcript)
        ],
        "query": query,
        "hits": hits,
        "hit_words": hit_words,
    }


def stored_review_data(library: Any, entry: Entry, transcript: Transcript, *, owner: str,
                       query: str = "") -> dict[str, Any]:
    """:func:`review_data` with the audio as the library has it on disk."""
    path = library.media_path(entry.id, owner=owner) if entry.has_audio else None
    missing = str(library.media_dir) if entry.has_audio and path is None else ""
    return review_data(entry, transcript, has_audio=path is not None, query=query, audio_missing_from=missing)


def review_value(data: dict[str, Any]) -> str:
    """The view's value: :func:`review_data` as JSON (a server function's answer carries the data itself)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def apply_change(transcript: Transcript, change: dict[str, Any], library: Any, owner: str) -> Transcript:
    """The transcript after one change from the view."""
    op = change.get("op")
    if op == "edit":
        return editing.edit_text(transcript, int(change["paragraph"]), str(change.get("text", "")))
    if op == "split":
        return editing.split(transcript, int(change["paragraph"]), int(change["word"]))
    if op == "join":
        return editing.join(transcript, int(change["paragraph"]))
    if op == "assign":
        return editing.assign_speaker(transcript, int(change["paragraph"]), str(change.get("speaker", "")))
    if op == "rename":
        return editing.rename_speaker(transcript, str(change.get("speaker", "")), str(change.get("name", "")))
    if op == "revert":
        return library.version(int(change["id"]), int(change["to"]), owner=owner)
    raise editing.EditError(f"Unknown change {op!r}.")


def make_review_op(context: AppContext):
    """The view's server function, bound to the app's library."""
    import gradio as gr

    def review_op(change: dict, request: gr.Request) -> dict:
        """Apply one change to a stored transcript and save it as a new version; returns the new state, or the
        error and the current state."""
        owner = request_user(request) or ""
        library = context.library
        if library is None:
            return {"error": "The library is off: nothing can be saved."}
        query = str(change.get("query") or "")  # opened from a search: its matches stay marked
        try:
            transcript_id = int(change["id"])
            entry, current = library.get(transcript_id, owner=owner)
        except (KeyError, TypeError, ValueError, TranscriberError) as exc:
            return {"error": str(exc) or "No transcript is open."}
        try:
            changed = apply_change(current, change, library, owner)
            library.update(transcript_id, changed, base_version=int(change.get("version", 0)), owner=owner)
        except StaleVersionError as exc:
            entry, current = library.get(transcript_id, owner=owner)
            return {"error": str(exc), "state": stored_review_data(library, entry, current, owner=owner, query=query)}
        except (TranscriberError, KeyError, TypeError, ValueError) as exc:
            return {"error": f"The change was not saved: {exc}"}
        entry, current = library.get(transcript_id, owner=owner)
        return {"state": stored_review_data(library, entry, current, owner=owner, query=query)}

    return review_op


def build_review(context: AppContext, *, elem_id: str) -> Any:
    """The review view, empty until its value is set to a :func:`review_value`."""
    import gradio as gr

    review_op = make_review_op(context)  # review.js calls it by this name: server.review_op(change)
    return gr.HTML(
        value="",
        html_template=TEMPLATE,
        css_template=asset("review.css"),
        js_on_load=asset("review.js"),
        server_functions=[review_op],
        elem_id=elem_id,
        container=False,
    )
