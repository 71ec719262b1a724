"""Plain data that crosses module lines: decoded audio, options and transcription results.

Only frozen dataclasses live here. Nothing in this module imports torch, NeMo or Gradio, so the formatters, the CLI
and the UI can use these types without loading a model. Times are float seconds everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000
"""The sample rate every NeMo ASR model we ship or know of expects."""
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""When a transcript was made, as the library stores it and the API answers it (UTC); people read it in local time
(:func:`transcriber.formats.local_time`)."""
AUTO_LANGUAGE = "auto"
"""The language of a transcript when none was chosen: whatever the model hears or assumes."""
MAX_SPEAKERS = 8
"""The most speakers ``num_speakers`` may ask for; a diarizer may support fewer (Sortformer models: 4)."""


@dataclass(frozen=True, eq=False)
class AudioData:
    """Decoded audio: float32 mono samples at ``sample_rate``.

    Attributes:
        samples: 1-D float32 array in [-1, 1] (not clipped; decoders may overshoot slightly).
        sample_rate: Samples per second of ``samples``.
        source: Where the audio came from (a path, or a label for in-memory audio); used in messages.
    """

    samples: np.ndarray
    sample_rate: int
    source: str = "<array>"

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class Word:
    """One recognised word with its start and end in seconds from the start of the audio, and who said it
    (``"S1"``, ``"S2"``, ...) when speakers were identified."""

    text: str
    start: float
    end: float
    speaker: str | None = None


@dataclass(frozen=True)
class Segment:
    """A run of words (a phrase, a sentence or a speaker's turn) with its start and end in seconds; one speaker's
    when speakers were identified."""

    text: str
    start: float
    end: float
    speaker: str | None = None


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of time in which one speaker talks, as a diarizer reports it (turns of two speakers may overlap)."""

    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class Transcript:
    """The result of transcribing one piece of audio.

    Attributes:
        text: The recognised text.
        words: Word timings, in order; empty unless timestamps were requested.
        segments: Segment timings, in order; empty unless timestamps were requested.
        duration: Length of the audio in seconds.
        model: Name of the model that produced it.
        speakers: The speakers heard, in order of first appearance, when speakers were identified (then every word
            and segment has one); empty otherwise.
        language: The spoken language asked of the model, or ``"auto"`` (the model's own choice or detection).
        translated_to: The language the text was translated into; ``None`` for a transcription.
    """

    text: str
    words: tuple[Word, ...] = ()
    segments: tuple[Segment, ...] = ()
    duration: float = 0.0
    model: str = ""
    speakers: tuple[str, ...] = ()
    language: str = AUTO_LANGUAGE
    translated_to: str | None = None

    @property
    def task(self) -> str:
        """``"translate"`` or ``"transcribe"``."""
        return "translate" if self.translated_to else "transcribe"

    @property
    def has_speakers(self) -> bool:
        """Whether speakers were identified (silence identified gives no speakers and is not "with speakers")."""
        return bool(self.speakers)


@dataclass(frozen=True)
class TranscribeOptions:
    """How to transcribe.

    Attributes:
        timestamps: Compute word and segment timings.
        batch_size: How many files NeMo decodes in one forward pass.
        verbose: Let NeMo show its own progress bar in the terminal.
        timeout: Seconds after which a job is abandoned with an error; ``None`` derives a bound from the audio length.
        refine_timestamps: Snap word boundaries to speech onsets and offsets in the audio (see
            :mod:`transcriber.alignment`); off gives the model's own times.
        speakers: Identify who speaks when (needs word timings, so it implies ``timestamps``).
        num_speakers: With ``speakers``, at most this many speakers (1 to :data:`MAX_SPEAKERS`); ``None``: as many
            as the diarizer hears.
        diarizer: The diarization model, a name or a ``.nemo`` path; ``None``: the best installed one.
        language: The spoken language (a code the model knows, such as ``"de"``), for models that take one;
            ``None``: the model's default.
        translate_to: Translate into this language (models that translate); ``None``: transcribe.
    """

    timestamps: bool = False
    batch_size: int = 4
    verbose: bool = False
    timeout: float | None = None
    refine_timestamps: bool = True
    speakers: bool = False
    num_speakers: int | None = None
    diarizer: str | None = None
    language: str | None = None
    translate_to: str | None = None


@dataclass(frozen=True)
class FileResult:
    """The outcome for one input file of a batch: a transcript or an error message, never both."""

    file: str
    transcript: Transcript | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the file was transcribed."""
        return self.error is None


@dataclass(frozen=True)
class Progress:
    """A progress report: ``done`` of ``total`` files (fractional while a long file is part-way), and what is
    happening now; ``share``, where the files' lengths are known, is the share of the job's audio done (0 to 1)."""

    done: float
    total: int
    description: str = ""
    share: float | None = None


@dataclass(frozen=True)
class SubtitleOptions:
    """Rules for building subtitle cues from word timings.

    Attributes:
        max_line_chars: Longest line, in characters (a single longer word still gets a line of its own).
        max_lines: Lines per cue.
        max_cue_s: Longest cue, in seconds.
        min_cue_s: Shortest cue: shorter ones are held on screen longer when the next cue leaves room.
        pause_s: A silence between words at least this long starts a new cue.
        one_word_per_cue: Give every word a cue of its own (karaoke style).
    """

    max_line_chars: int = 42
    max_lines: int = 2
    max_cue_s: float = 7.0
    min_cue_s: float = 1.0
    pause_s: float = 0.5
    one_word_per_cue: bool = False
