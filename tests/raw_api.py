"""Talk to the app over plain HTTP, for requests ``gradio_client`` cannot make: a file the server already holds,
a path the client never uploaded, a URL that must reach the server byte for byte."""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

API = "gradio_api"


def upload(url: str, path: Path) -> str:
    """Upload a file the way the page does; returns the server's path for it."""
    response = httpx.post(f"{url}{API}/upload", files=[("files", (path.name, path.read_bytes()))])
    response.raise_for_status()
    return response.json()[0]


def file_data(server_path: str) -> dict[str, Any]:
    """The value a file input sends for a file the server holds at ``server_path``."""
    return {"path": server_path, "orig_name": Path(server_path).name, "meta": {"_type": "gradio.FileData"}}


def call(url: str, api_name: str, data: list[Any], *, timeout: float = 60.0) -> dict[str, Any]:
    """Run an event through the queue with ``data`` sent as given; returns the final ("process_completed") message."""
    config = httpx.get(f"{url}config").json()
    fn_index = next(dep["id"] for dep in config["dependencies"] if dep.get("api_name") == api_name)
    session = uuid.uuid4().hex
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    httpx.post(f"{url}{API}/queue/join", json=body).raise_for_status()
    with httpx.stream("GET", f"{url}{API}/queue/data", params={"session_hash": session}, timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line.removeprefix("data:"))
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError(f"{api_name}: the event stream ended without a result")


def get(url: str, raw_path: str) -> tuple[int, bytes]:
    """GET ``raw_path`` exactly as written (no normalising of ``..`` or percent escapes); returns (status, body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", raw_path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
