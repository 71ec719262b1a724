"""Local speech transcription with NVIDIA NeMo: audio files in, text, word timings and subtitles out.

Importing the package is cheap: NeMo and torch load only when a model is first needed.
"""

from .engine import Engine, default_engine, transcribe, transcribe_files
from .errors import TranscriberError
from .types import AudioData, FileResult, Progress, Segment, TranscribeOptions, Transcript, Word

__all__ = [
    "AudioData",
    "Engine",
    "FileResult",
    "Progress",
    "Segment",
    "TranscribeOptions",
    "TranscriberError",
    "Transcript",
    "Word",
    "default_engine",
    "transcribe",
    "transcribe_files",
]
