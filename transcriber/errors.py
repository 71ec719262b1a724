"""Errors a user can act on. Each carries one readable sentence; callers show ``str(error)`` as it is.

Library code raises these ``from`` the underlying cause, so the traceback is still there for a developer's log while
the UI and the CLI show only the sentence.
"""

from __future__ import annotations

import os


class TranscriberError(Exception):
    """Base class of every error this package reports to a user."""


class AudioError(TranscriberError):
    """A file could not be turned into audio. The message names the file and the reason."""

    reason = "cannot be read as audio"

    def __init__(self, path: str | os.PathLike[str], reason: str | None = None) -> None:
        self.path = str(path)
        self.reason = reason or type(self).reason
        super().__init__(f"{os.path.basename(self.path) or self.path}: {self.reason}")


class AudioFileNotFoundError(AudioError):
    """The file does not exist."""

    reason = "file not found"


class EmptyFileError(AudioError):
    """The file has zero bytes."""

    reason = "the file is empty (0 bytes)"


class AudioDecodeError(AudioError):
    """The file is not audio, or is truncated or corrupt."""

    reason = "not a readable audio file (unknown format, truncated or corrupt)"


class NoAudioTrackError(AudioError):
    """A container (usually video) holds no audio stream."""

    reason = "the file has no audio track"


class EmptyAudioError(AudioError):
    """The audio decodes to zero samples."""

    reason = "the audio has zero duration"


class InvalidSamplesError(AudioError):
    """The audio holds NaN or infinite sample values."""

    reason = "the audio contains invalid sample values (NaN or infinity)"


class ModelNotAvailableError(TranscriberError):
    """A model cannot be found locally and cannot be downloaded."""


class ModelLoadError(TranscriberError):
    """A model file exists but NeMo could not load it."""


class TranscriptionTimeoutError(TranscriberError):
    """A transcription ran past its time bound."""


class TranscriptionCancelledError(TranscriberError):
    """A transcription was cancelled by the user."""


class TranscriptionFailedError(TranscriberError):
    """NeMo raised while transcribing."""


class SpeakerOptionsError(TranscriberError):
    """The speaker options cannot be met: a speaker count out of range, or more speakers than the diarizer has."""


class LibraryError(TranscriberError):
    """The transcript library cannot be opened, read or written."""


class LibraryUnreadableError(LibraryError):
    """The library file is not an SQLite database, or is damaged (see ``open_library``, which may move it aside)."""


class LibraryWriteError(LibraryError):
    """A change could not be written to the library (its disk is full, it is read-only, another program held it);
    none of the change was kept, and everything saved before is as it was."""


class TranscriptNotFoundError(LibraryError):
    """No transcript with that id belongs to the user who asked (it never existed, was deleted, or is another's)."""


class StaleVersionError(LibraryError):
    """A correction was based on a version of a transcript that has since been replaced (by another tab)."""


class FolderError(TranscriberError):
    """A folder the app was told to write into cannot be made: a file is in the way, or the system refuses."""


class OutputWriteError(TranscriberError):
    """Outputs cannot be written: the disk is full or read-only, or the system refuses the file."""

    @classmethod
    def writing(cls, what: str, folder: str | os.PathLike[str], exc: OSError) -> OutputWriteError:
        """The error for ``exc``, raised while writing ``what`` into ``folder``, in one sentence."""
        return cls(f"Cannot write {what} in {folder}: {exc.strerror or exc}.")
