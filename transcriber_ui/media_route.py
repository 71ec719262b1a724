"""``/library/media/<id>``: a transcript's stored audio, with range requests, for its owner only.

The review view's player seeks in recordings of hours, so the audio is streamed with HTTP range requests (Starlette's
``FileResponse`` answers ``Range: bytes=...`` with 206 and only those bytes) instead of being copied whole into
Gradio's cache. The route looks the transcript up by id *and* by the logged-in user, exactly as the library's API
does: with logins on, a request without a valid login gets 401 and another user's id 404, the same answer as an id
that does not exist.
"""


import mimetypes
from typing import Any

from transcriber.errors import TranscriptNotFoundError
from transcriber.library import Library

MEDIA_PATH = "/library/media/{transcript_id}"


def media_url(transcript_id: int) -> str:
    """The URL path of a transcript's audio, relative to the page."""
    return MEDIA_PATH.format(transcript_id=transcript_id).lstrip("/")


def request_user(request: Any) -> str | None:
    """The logged-in user of a Gradio or FastAPI request: ``""`` without logins, ``None`` with logins but without
    a valid login cookie."""
    username = getattr(request, "username", None)
    if username:
        return username
    raw = getattr(request, "request", None) or request  # gr.Request wraps the FastAPI request
    app = getattr(raw, "app", None)
    if app is None or getattr(app, "auth", None) is None:
        return ""
    cookie_id = app.cookie_id
    token = raw.cookies.get(f"access-token-{cookie_id}") or raw.cookies.get(f"access-token-unsecure-{cookie_id}")
    return app.tokens.get(token)


def install(demo: Any, library: Library) -> None:
    """Add the media route to ``demo``'s server (after :meth:`gradio.Blocks.launch`), ahead of Gradio's own routes."""
    import fastapi
    from fastapi.responses import FileResponse
    from fastapi.routing import APIRoute

    def media(transcript_id: int, request: fastapi.Request):
        user = request_user(request)
        if user is None:
            raise fastapi.HTTPException(status_code=401, detail="Log in first.")
        try:
            path = library.media_path(transcript_id, owner=user)
        except TranscriptNotFoundError:
            path = None
        if path is None:
            raise fastapi.HTTPException(status_code=404, detail="No such audio.")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, no-store"})

    route = APIRoute(MEDIA_PATH, media, methods=["GET", "HEAD"])
    demo.app.router.routes.insert(0, route)
