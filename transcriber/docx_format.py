"""Word documents (DOCX) of a transcript, with python-docx: for people who edit and share transcripts in an office
suite rather than as subtitles.

The document has a title, a line saying where the transcript came from (file, date, model), then one paragraph per
speaker turn (with speakers) or per segment (without), each starting with its time and speaker; a transcript
without timings is one paragraph of text.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone

from .formats import LOCAL_TIME_FORMAT, clock_time, created_time, speaker_turns
from .types import Transcript

NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters an XML 1.0 document cannot hold: control characters other than tab and line breaks, lone surrogates."""


def xml_text(text: str) -> str:
    """``text`` without the characters of :data:`NOT_IN_XML`. A file name may hold one (Linux allows any byte but
    ``/``), and python-docx refuses the whole document for it."""
    return NOT_IN_XML.sub("", text)


def paragraphs(transcript: Transcript) -> list[tuple[str, str]]:
    """(label, text) per paragraph: the label is ``"00:00:03  S1"`` (time, and speaker with speakers)."""
    if transcript.has_speakers:
        return [
            (f"{clock_time(turn.start)}  {turn.speaker}", turn.text)
            for turn in speaker_turns(transcript)
        ]
    if transcript.segments:
        return [(clock_time(s.start), s.text.strip()) for s in transcript.segments]
    return [("", transcript.text)] if transcript.text else []


def made_at(created: str) -> datetime:
    """``created`` (as the library writes it) as a time; now where it is empty or not such a time."""
    return created_time(created) or datetime.now(timezone.utc).replace(microsecond=0)


def to_docx(transcript: Transcript, *, title: str, source_name: str = "", created: str = "") -> bytes:
    """The transcript as a DOCX file's bytes.

    Args:
        transcript: What to write.
        title: The document's title (the transcript's name).
        source_name: The audio file it was made from.
        created: When it was made, as the library writes it (``2026-12-06T10:20:18Z``); default: now.
    """
    import docx  # python-docx; imported here so the text formats never need it

    when = made_at(created)
    document = docx.Document()
    # What File > Properties shows: python-docx's template says that python-docx wrote it on 23 December 2013.
    properties = document.core_properties
    properties.title = xml_text(title)
    properties.author = properties.comments = properties.last_modified_by = ""
    properties.created = properties.modified = when
    document.add_heading(xml_text(title), level=1)
    details = [f"Source: {source_name}" if source_name else "",
               f"Date: {when.astimezone().strftime(LOCAL_TIME_FORMAT)}",
               f"Model: {transcript.model}" if transcript.model else ""]
    document.add_paragraph(xml_text("  ·  ".join(item for item in details if item)))
    for label, text in paragraphs(transcript):
        paragraph = document.add_paragraph()
        if label:
            paragraph.add_run(xml_text(label)).bold = True
            paragraph.add_run("\n")
        paragraph.add_run(xml_text(text))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
