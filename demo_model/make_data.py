"""Synthesise the demo model's speech-command data set from the voice pool (``demo_model/voices.py``).

Every clip says one to eight words of :data:`VOCABULARY`. Two kinds of speech clip:

* ``phrase``: the whole phrase in one synthesizer call, so words run into each other as they do in speech;
* ``spaced``: each word synthesised on its own, trimmed, and joined with known silences, so the manifest can record
  where each word starts and ends (``words``), which is what word-timing evaluation needs.

A third kind, ``continuous``, says several phrases in a row with short pauses, by one voice or two taking turns, as
people talk (15 % of the training clips, and the ``continuous`` split). A fourth, ``noise``, holds no speech at all:
steady noise or distant babble from faint to loud, with empty text, so that the model learns to say nothing when
nobody speaks (the per-feature normalisation of its input makes faint noise look as loud as speech).

Each split draws its voices from its own part of the pool, so no evaluation clip is spoken by a voice (or a voice
family) that training used, and applies its own :class:`Conditions`:

========== ============================ ===============================================================
split      voices                       conditions
========== ============================ ===============================================================
train      pool train voices            new voices made from them (formants, pitch), speed 0.85-1.2,
                                        level -35..-3 dBFS, noise 0-30 dB SNR (white, pink, brown,
                                        babble of other train voices), reverb, telephone band (8 kHz),
                                        narrow-band voices (8 kHz) in full-band noise, mild clipping,
                                        12 % noise-only clips (70 % of them babble),
                                        15 % continuous (2-4 phrases)
validation pool validation voices       as train
test       pool test voices             clear: speed 0.9-1.1, reverb, noise only at 20-30 dB SNR
held_out   the held-out synthesizer     as test (a synthesizer training never heard: pico)
noisy      pool test voices             noise or babble at 0-10 dB SNR
noise      none                         noise-only clips
continuous pool test voices             as test: 3-7 phrases in a row with short pauses, one voice or two
                                        taking turns (the second 0-8 dB quieter)
========== ============================ ===============================================================

A few hundred synthetic voices are few speakers for a model that must understand any clear voice (flite has four and
festival two of its own to train on), so half the training clips are spoken by a *new* voice made from a pool voice:
Praat's "Change gender" (``Voice.changed`` in ``voices.py``) moves its formants (the size of the vocal tract,
x0.85-1.2) and its pitch (median 80-260 Hz, range x0.5-1.6) independently, which speed perturbation and pitch
shifting, moving both together, cannot do. Durations are kept, so word timings stay true.

Every random choice comes from a generator seeded by (:data:`SEED`, split, clip index), and Praat's own generator
from the voice change and the speech, so a run reproduces the same files whatever the number of worker processes.
The evaluation splits draw nothing for training-only conditions, so their clips stay the same when only the training
conditions change.

Usage::

    python -m demo_model.make_data --out /tmp/demo-data
    python -m demo_model.make_data --out /tmp/tiny --train 64 --validation 16 --test 16 --held-out 8 --noisy 8 --noise 4 --continuous 4

Writes ``<out>/<split>/*.wav`` (16 kHz mono, 16-bit) and ``<out>/<split>.json`` manifests (JSON lines
``{"audio_filepath", "duration", "text", "kind", "voice", "synthesizer", "rate", "snr_db", "noise", "words"?}``;
``noise`` is ``"babble"``, ``"steady"`` or null; the voice id of a new voice made from a pool voice ends in its
change, ``espeak-ng:en-us+m2~f1.07p143r0.92``).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import multiprocessing.pool
import sys
import time
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import butter, fftconvolve, sosfilt

from demo_model.voices import PITCH_CONTROL, SAMPLE_RATE, Voice, VoiceChange, installed_synthesizers, split_voices

logger = logging.getLogger(__name__)

SEED = 20261201
VOCABULARY = tuple(
    "zero one two three four five six seven eight nine "
    "yes no stop go left right up down on off start open close play pause next back hello please help".split()
)
MIN_WORDS, MAX_WORDS = 1, 8
SPACED_SHARE = 0.5
"""Share of speech clips built word by word with known silences."""
LEAD_SILENCE_S = (0.05, 1.0)
TRAIL_SILENCE_S = (0.05, 1.0)
WORD_GAP_S = (0.12, 0.9)
PHRASE_GAP_MAX_S = 0.25
"""Extra pause between the words of an espeak-ng phrase clip (its -g), at most."""
TRIM_DB = -40.0
"""A word's audio starts and ends where its 5 ms frame energy comes within this many dB of its loudest frame."""
TRIM_FRAME_S = 0.005
SYNTHESIZER_WEIGHTS = {"espeak-ng": 0.6, "flite": 0.4, "festival": 0.45, "pico": 1.0}
"""How often a split picks each of its synthesizers (flite has 5 voices and festival 5 against espeak-ng's 800; they
get shares near espeak-ng's so that each is learnt and measured on enough words; festival's training voices are its
diphone speakers ``ked`` and ``lp`` and flite's ``slt``, its test voices flite's ``kal`` and its own ``pc``)."""
ESPEAK_PITCH = (0.15, 0.85)
RT60_S = (0.1, 0.6)
WET_GAIN = (0.1, 0.6)
TELEPHONE_BAND_HZ = (300.0, 3400.0)
TELEPHONE_RATE = 8_000
CLIP_PERCENTILE = (99.0, 99.8)
"""Mild clipping: the loudest 0.2-1 % of samples are cut flat."""
NOISE_ONLY_S = (0.5, 6.0)
NOISE_ONLY_RMS_DBFS = (-75.0, -15.0)
BABBLE_TRACKS = 64
BABBLE_TALKERS = (3, 6)
BABBLE_TRACK_S = 8.0
CONVERSATION_TALK = (
    "the weather was cold and the river ran slowly under the old bridge",
    "she bought bread and cheese at the market before the rain started",
    "we talked about the garden the neighbours and the price of coffee",
    "a small boat crossed the lake while the children watched from the shore",
    "the meeting moved to thursday because the manager was travelling",
    "my brother keeps his bicycle in the kitchen which annoys everyone",
    "there is a new library in town with a cafe on the second floor",
    "they painted the fence white and planted roses along the path",
)
"""Talk that is not a command: conversations of the demo diarizer (``conversations.py``) mix it in now and then."""
MORE_TALK = (
    "the baker sells warm rolls every morning at dawn",
    "a quiet cat sleeps beside the fire in winter",
    "our friends visited the museum and admired the paintings",
    "the farmer fed the chickens and milked the cows",
    "my sister sings in the choir with her classmates",
    "the train was late and the passengers were tired",
    "he fixed the roof after the storm last autumn",
    "the teacher asked the students what they had learned",
    "fresh flowers filled the vase in the hallway",
    "we watched the sunset from the top of the hill",
    "the dog chased a ball across the wet grass",
    "their house has a blue door and a red chimney",
    "the soup tasted better with a little salt and pepper",
    "many birds gather near the pond when the sun rises",
    "she wrote a letter and mailed it the same day",
    "the children built a castle of sand by the sea",
    "a gentle wind moved the leaves of the tall trees",
    "the doctor said the patient would recover soon",
    "we ordered pasta and salad at the little restaurant",
    "the musicians tuned their instruments in silence",
    "grandmother knitted a warm scarf with green wool",
    "the bus driver waved as the tourists walked away",
    "a thick fog covered the valley until midday",
    "the students carried their books across the campus",
    "the painter mixed yellow and blue paint in a bowl",
    "the family shared stories after dinner by the lamp",
    "snow fell softly over the sleeping village",
    "the engineer checked the bridge with a small torch",
    "a young boy threw bread crumbs at the ducks",
    "the shop sells candles soap and handmade baskets",
)
SOUNDS_LIKE_VOCABULARY = frozenset("won to too for fore ate know write paws".split())
"""Words that sound like a vocabulary word: background talk must not say them either."""


def says_no_command(sentence: str) -> bool:
    """Whether ``sentence`` has no vocabulary word, and no word that sounds like one."""
    return not set(sentence.split()) & (set(VOCABULARY) | SOUNDS_LIKE_VOCABULARY)


BABBLE_TALK = tuple(s for s in CONVERSATION_TALK + MORE_TALK if says_no_command(s))
"""What babble says: 36 sentences without a word the model knows, so it learns to ignore background talk rather
than a few tracks of it."""
SPLIT_INDEX = {"train": 0, "validation": 1, "test": 2, "held_out": 3, "noisy": 4, "noise": 5, "continuous": 6}
DEFAULT_COUNTS = {"train": 12000, "validation": 300, "test": 500, "held_out": 200, "noisy": 300, "noise": 60,
                  "continuous": 60}


@dataclass(frozen=True)
class Conditions:
    """How one split's clips are made.

    ``noise_snr_db`` is the SNR range of added noise (applied with ``noise_prob``); ``babble_share`` of the noise
    is babble, of the voices of split ``babble_voices`` (where unset: the split's own, and training voices' for
    validation), cut from a bank of ``babble_tracks`` tracks. ``pitch_shift_semitones`` applies to voices without a
    pitch control of their own (flite, festival).
    ``narrow_band_prob`` of the speech clips are spoken at 8 kHz (:func:`narrow_band`) before the room and the noise.
    ``noise_only_share`` of the clips hold no speech (babble in ``noise_only_babble_share`` of them where set, else
    in ``babble_share``), ``continuous_share`` ``continuous_phrases`` phrases in a row
    (:func:`make_continuous_clip`), the rest one phrase.
    """

    voices: str
    rate: tuple[float, float] = (0.7, 1.4)
    speed_perturb: tuple[float, float] = (0.85, 1.2)
    pitch_shift_semitones: float = 3.0
    pitch_shift_prob: float = 0.5
    reverb_prob: float = 0.35
    noise_prob: float = 0.75
    noise_snr_db: tuple[float, float] = (0.0, 30.0)
    babble_share: float = 0.3
    telephone_prob: float = 0.1
    narrow_band_prob: float = 0.0
    clipping_prob: float = 0.05
    peak_dbfs: tuple[float, float] = (-35.0, -3.0)
    noise_only_share: float = 0.12
    noise_only_babble_share: float | None = None
    babble_voices: str | None = None
    babble_tracks: int = BABBLE_TRACKS
    changed_voice_prob: float = 0.5
    continuous_share: float = 0.0
    continuous_phrases: tuple[int, int] = (3, 7)


TRAINING = Conditions("train", continuous_share=0.15, continuous_phrases=(2, 4), noise_only_babble_share=0.7,
                      narrow_band_prob=0.15)
"""Training clips: one phrase, or (15 %) two to four in a row, so that talk that goes on is heard as well as commands
(2-4 phrases: most of them fit the training's longest clip). Clips without speech are babble more often than the
noise under speech, so the model hears talk alone as nothing without learning to let a voice pass as background.
A voice recorded at 8 kHz (flite's ``kal`` is one) heard in a room's noise has nothing above 4 kHz while the noise
does; the telephone band, applied after the noise, never makes that, so 15 % of the clips are made narrow-band first."""
CLEAR = Conditions("test", rate=(0.8, 1.25), speed_perturb=(0.9, 1.1), pitch_shift_prob=0.0, reverb_prob=0.2,
                   noise_prob=0.3, noise_snr_db=(20.0, 30.0), babble_share=0.0, telephone_prob=0.0, clipping_prob=0.0,
                   peak_dbfs=(-25.0, -3.0), noise_only_share=0.0, changed_voice_prob=0.0)
SPLIT_CONDITIONS = {
    "train": TRAINING,
    "validation": replace(TRAINING, voices="validation"),
    "test": CLEAR,
    "held_out": replace(CLEAR, voices="held_out"),
    "noisy": replace(CLEAR, noise_prob=1.0, noise_snr_db=(0.0, 10.0), babble_share=0.3),
    "noise": replace(CLEAR, noise_only_share=1.0, reverb_prob=0.35, babble_share=0.3),
    "continuous": replace(CLEAR, continuous_share=1.0),
}
CONTINUOUS_GAP_S = (0.08, 0.35)
"""Pauses between the phrases of a continuous clip: those within a turn of the diarizer's conversations."""
SECOND_VOICE_DB = (-8.0, 0.0)
"""The second voice of a two-voice continuous clip, against the first (as the conversations' speakers)."""


def speech_bounds(samples: np.ndarray) -> tuple[int, int]:
    """First and one-past-last sample of the audible part (frame energy within :data:`TRIM_DB` of the peak)."""
    frame = round(TRIM_FRAME_S * SAMPLE_RATE)
    n = len(samples) // frame
    if n == 0:
        return 0, len(samples)
    energy = (samples[: n * frame].reshape(n, frame) ** 2).mean(axis=1) + 1e-12
    loud = np.flatnonzero(10 * np.log10(energy / energy.max()) > TRIM_DB)
    return int(loud[0]) * frame, int(loud[-1] + 1) * frame


def trim(samples: np.ndarray) -> np.ndarray:
    start, end = speech_bounds(samples)
    return samples[start:end]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)


def reverberate(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add a synthetic room: decaying noise tail mixed under the direct sound (onsets do not move)."""
    rt60 = rng.uniform(*RT60_S)
    t = np.arange(round(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    tail[: round(0.002 * SAMPLE_RATE)] = 0.0  # the first reflections arrive a little after the direct sound
    tail *= rng.uniform(*WET_GAIN) / np.sqrt((tail**2).sum())
    impulse = np.concatenate(([1.0], tail[1:]))
    return fftconvolve(samples, impulse)[: len(samples)].astype(np.float32)


def coloured_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink or brown noise with unit RMS."""
    exponent = rng.choice((0.0, 1.0, 2.0))
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n)
    return (noise / (np.sqrt((noise**2).mean()) + 1e-12)).astype(np.float32)


def babble_bank_and_talkers(
    voice_split: str, tracks: int = BABBLE_TRACKS
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """``tracks`` tracks of several voices of ``voice_split`` talking at once (made once per process, from a fixed
    seed), and for how many samples of them ``k`` voices talk at once (index ``k``, up to :data:`BABBLE_TALKERS`'
    most). A bank of another size is another bank, none of its tracks those of the default one."""
    # One cache entry per bank however it is asked for (functools.cache tells f(a) from f(a, default)).
    return _made_babble_bank(voice_split, tracks)


@cache
def _made_babble_bank(voice_split: str, tracks: int) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    seed = [SEED, 99, SPLIT_INDEX[voice_split]] + ([] if tracks == BABBLE_TRACKS else [tracks])
    rng = np.random.default_rng(seed)
    voices = split_voices()[voice_split]
    length = round(BABBLE_TRACK_S * SAMPLE_RATE)
    bank = []
    talkers = np.zeros(BABBLE_TALKERS[1] + 1, dtype=np.int64)
    for _ in range(tracks):
        track = np.zeros(length, dtype=np.float32)
        talking = np.zeros(length, dtype=np.int8)
        for _ in range(int(rng.integers(BABBLE_TALKERS[0], BABBLE_TALKERS[1] + 1))):
            voice = voices[int(rng.integers(len(voices)))]
            speech = trim(voice.speak(str(rng.choice(BABBLE_TALK)), rate=rng.uniform(0.8, 1.3)))
            speech = speech / (np.sqrt((speech**2).mean()) + 1e-12)
            offset = int(rng.integers(-len(speech) // 2, length))
            lo, hi = max(0, offset), min(length, offset + len(speech))
            if hi > lo:
                track[lo:hi] += speech[lo - offset : hi - offset]
                talking[lo:hi] += 1
        bank.append(track / (np.sqrt((track**2).mean()) + 1e-12))
        talkers += np.bincount(talking, minlength=len(talkers))
    return tuple(bank), talkers


def babble_bank(voice_split: str, tracks: int = BABBLE_TRACKS) -> tuple[np.ndarray, ...]:
    """The ``tracks`` babble tracks of ``voice_split`` (:func:`babble_bank_and_talkers`)."""
    return babble_bank_and_talkers(voice_split, tracks)[0]


def babble(n: int, voice_split: str, rng: np.random.Generator, tracks: int = BABBLE_TRACKS) -> np.ndarray:
    """``n`` samples of babble with unit RMS, cut from a random track of a bank of ``tracks`` at a random point (tiled
    if needed)."""
    track = babble_bank(voice_split, tracks)[int(rng.integers(tracks))]
    start = int(rng.integers(len(track)))
    return np.resize(np.roll(track, -start), n).astype(np.float32)


def background(
    n: int, conditions: Conditions, rng: np.random.Generator, *, alone: bool = False
) -> tuple[np.ndarray, str]:
    """Unit-RMS noise for one clip and its kind (the manifest's ``noise``): ``"babble"`` with ``babble_share``
    (``noise_only_babble_share`` for a clip without speech, ``alone``, where set), else ``"steady"`` coloured noise."""
    share = conditions.babble_share
    if alone and conditions.noise_only_babble_share is not None:
        share = conditions.noise_only_babble_share
    if rng.random() < share:
        # Training babble comes from training voices only; evaluation babble from the split's own unseen voices.
        voices = conditions.babble_voices or ("train" if conditions.voices == "validation" else conditions.voices)
        return babble(n, voices, rng, conditions.babble_tracks), "babble"
    return coloured_noise(n, rng), "steady"


def under_noise(samples: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``samples`` with unit-RMS ``noise`` added ``snr_db`` below their speech (its RMS taken over the speech, not the
    silence around it)."""
    start, end = speech_bounds(samples)
    speech_rms = np.sqrt((samples[start:end] ** 2).mean()) + 1e-12
    return samples + noise * speech_rms / 10 ** (snr_db / 20)


def add_noise(
    samples: np.ndarray, conditions: Conditions, rng: np.random.Generator
) -> tuple[np.ndarray, float, str]:
    """``samples`` under the split's noise at an SNR drawn from its range; returns them, the SNR and the noise's
    kind."""
    snr = float(rng.uniform(*conditions.noise_snr_db))
    noise, kind = background(len(samples), conditions, rng)
    return under_noise(samples, noise, snr), snr, kind


def narrow_band(samples: np.ndarray) -> np.ndarray:
    """Speech recorded at 8 kHz: nothing above 4 kHz (no telephone band-pass; the low tones stay)."""
    narrow = soxr.resample(samples, SAMPLE_RATE, TELEPHONE_RATE)
    return soxr.resample(narrow, TELEPHONE_RATE, SAMPLE_RATE)[: len(samples)].astype(np.float32)


def telephone(samples: np.ndarray) -> np.ndarray:
    """Narrow-band telephone speech: band-passed to 300-3400 Hz and sent through an 8 kHz sample rate."""
    sos = butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return narrow_band(sosfilt(sos, samples))


def clip_peaks(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    limit = np.percentile(np.abs(samples), rng.uniform(*CLIP_PERCENTILE)) + 1e-9
    return np.clip(samples, -limit, limit)


def set_level(samples: np.ndarray, peak_dbfs: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    peak = np.abs(samples).max() + 1e-12
    return (samples * 10 ** (rng.uniform(*peak_dbfs) / 20) / peak).astype(np.float32)


def speed_perturb(samples: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (tempo and pitch together, as a tape would): the same resampling NeMo uses."""
    if abs(factor - 1.0) < 1e-3:
        return samples
    return soxr.resample(samples, SAMPLE_RATE * factor, SAMPLE_RATE).astype(np.float32)


def pick_voice(voices: tuple[Voice, ...], rng: np.random.Generator) -> Voice:
    """A synthesizer by :data:`SYNTHESIZER_WEIGHTS`, then one of its voices, uniformly."""
    synthesizers = sorted({v.synthesizer for v in voices})
    weights = np.array([SYNTHESIZER_WEIGHTS[s] for s in synthesizers])
    synthesizer = synthesizers[int(rng.choice(len(synthesizers), p=weights / weights.sum()))]
    own = [v for v in voices if v.synthesizer == synthesizer]
    return own[int(rng.integers(len(own)))]


NOISE_ONLY_DRAW, NOISE_CLIP, VOICE_CHANGE, CONTINUOUS_DRAW, CONTINUOUS_EXTRAS, NARROW_BAND = 1, 2, 3, 4, 5, 6
"""A clip's generators beside its main one (:func:`clip_rng`): what only some splits draw has a generator of its own,
so adding it to one split leaves the other splits' clips as they were."""


def clip_rng(split: str, index: int, stream: int | None = None) -> np.random.Generator:
    """The generator of clip ``index`` of ``split``: its main one, or one of the streams above."""
    key = [SEED, SPLIT_INDEX[split], index]
    return np.random.default_rng(key if stream is None else [*key, stream])


def phrase_words(rng: np.random.Generator) -> list[str]:
    """:data:`MIN_WORDS` to :data:`MAX_WORDS` vocabulary words."""
    return [str(w) for w in rng.choice(VOCABULARY, size=rng.integers(MIN_WORDS, MAX_WORDS + 1))]


def voice_change(conditions: Conditions, rng: np.random.Generator) -> VoiceChange | None:
    """A new voice with ``changed_voice_prob``, else None for the pool voice itself (splits without voice conversion
    draw nothing)."""
    if not conditions.changed_voice_prob or rng.random() >= conditions.changed_voice_prob:
        return None
    return VoiceChange.draw(rng)


def speak(voice: Voice, text: str, *, rate: float, pitch: float, shift: float, gap_s: float = 0.0) -> np.ndarray:
    """The voice's trimmed speech; ``shift`` semitones of pitch shift (kept duration) for voices without a pitch
    control (:data:`~demo_model.voices.PITCH_CONTROL`)."""
    speech = trim(voice.speak(text, rate=rate, pitch=pitch, word_gap_s=gap_s))
    if shift:
        import librosa  # only here: it is slow to import and only the pitch shift needs it

        speech = librosa.effects.pitch_shift(speech, sr=SAMPLE_RATE, n_steps=shift).astype(np.float32)
    return speech


def room_and_noise(
    samples: np.ndarray, conditions: Conditions, rng: np.random.Generator, narrow: np.random.Generator
) -> tuple[np.ndarray, float | None, str | None]:
    """The voice at 8 kHz (with ``narrow_band_prob``, drawn from ``narrow``, a generator of its own, so the draw
    moves nothing else), a room (with ``reverb_prob``), then noise (with ``noise_prob``); returns the samples and,
    if noise, its SNR and kind (:func:`background`)."""
    if narrow.random() < conditions.narrow_band_prob:
        samples = narrow_band(samples)
    if rng.random() < conditions.reverb_prob:
        samples = reverberate(samples, rng)
    snr = kind = None
    if rng.random() < conditions.noise_prob:
        samples, snr, kind = add_noise(samples, conditions, rng)
    return samples, snr, kind


def telephone_and_clipping(samples: np.ndarray, conditions: Conditions, rng: np.random.Generator) -> np.ndarray:
    """The telephone band (with ``telephone_prob``), then mild clipping (with ``clipping_prob``)."""
    if rng.random() < conditions.telephone_prob:
        samples = telephone(samples)
    if rng.random() < conditions.clipping_prob:
        samples = clip_peaks(samples, rng)
    return samples


def write_clip(samples: np.ndarray, split: str, index: int, out_dir: Path) -> Path:
    """Write clip ``index`` of ``split`` as 16-bit PCM into ``out_dir/split``; returns its path."""
    path = out_dir / split / f"{split}-{index:05d}.wav"
    sf.write(path, samples, SAMPLE_RATE, subtype="PCM_16")
    return path


def make_clip(split: str, index: int, out_dir: Path) -> dict:
    """Synthesise clip ``index`` of ``split`` into ``out_dir``; returns its manifest entry."""
    conditions = SPLIT_CONDITIONS[split]
    if clip_rng(split, index, NOISE_ONLY_DRAW).random() < conditions.noise_only_share:
        return make_noise_clip(split, index, out_dir)
    if conditions.continuous_share and clip_rng(split, index, CONTINUOUS_DRAW).random() < conditions.continuous_share:
        return make_continuous_clip(split, index, out_dir)
    rng = clip_rng(split, index)
    voice = pick_voice(split_voices()[conditions.voices], rng)
    words = phrase_words(rng)
    rate = float(rng.uniform(*conditions.rate))
    pitch = float(rng.uniform(*ESPEAK_PITCH))
    shift = 0.0
    if voice.synthesizer not in PITCH_CONTROL and rng.random() < conditions.pitch_shift_prob:
        shift = float(rng.uniform(-conditions.pitch_shift_semitones, conditions.pitch_shift_semitones))
    spaced = rng.random() < SPACED_SHARE
    if (change := voice_change(conditions, clip_rng(split, index, VOICE_CHANGE))) is not None:
        voice = voice.changed(change)

    parts = [silence(rng.uniform(*LEAD_SILENCE_S))]
    timings = []
    if spaced:
        position = len(parts[0])
        for i, word in enumerate(words):
            if i:
                gap = silence(rng.uniform(*WORD_GAP_S))
                parts.append(gap)
                position += len(gap)
            audio = speak(voice, word, rate=rate, pitch=pitch, shift=shift)
            parts.append(audio)
            timings.append((word, position, position + len(audio)))
            position += len(audio)
    else:
        gap_s = float(rng.uniform(0, PHRASE_GAP_MAX_S))
        parts.append(speak(voice, " ".join(words), rate=rate, pitch=pitch, shift=shift, gap_s=gap_s))
    parts.append(silence(rng.uniform(*TRAIL_SILENCE_S)))
    factor = float(rng.uniform(*conditions.speed_perturb))
    samples = speed_perturb(np.concatenate(parts), factor)

    samples, snr, noise = room_and_noise(samples, conditions, rng, clip_rng(split, index, NARROW_BAND))
    samples = telephone_and_clipping(samples, conditions, rng)
    samples = set_level(samples, conditions.peak_dbfs, rng)

    path = write_clip(samples, split, index, out_dir)
    entry = {
        "audio_filepath": str(path.resolve()),
        "duration": round(len(samples) / SAMPLE_RATE, 4),
        "text": " ".join(words),
        "kind": "spaced" if spaced else "phrase",
        "voice": voice.id,
        "synthesizer": voice.synthesizer,
        "rate": round(rate * factor, 3),
        "snr_db": None if snr is None else round(snr, 1),
        "noise": noise,
    }
    if spaced:
        seconds = 1.0 / (SAMPLE_RATE * factor)
        entry["words"] = [{"word": w, "start": round(a * seconds, 4), "end": round(b * seconds, 4)} for w, a, b in timings]
    return entry


def make_continuous_clip(split: str, index: int, out_dir: Path) -> dict:
    """Clip ``index`` of ``split``: several phrases in a row with short pauses, as people talk, by one voice or, in
    half the clips, two taking turns (the second 0-8 dB quieter): what a recording of talk gives the recognizer, which
    clips of one phrase do not measure.

    Where the split's conditions have them, new voices, the telephone band and clipping come from a generator of
    their own, so splits without them (the evaluation's) draw the same clips as before they existed.
    """
    conditions = SPLIT_CONDITIONS[split]
    rng, extra = clip_rng(split, index), clip_rng(split, index, CONTINUOUS_EXTRAS)
    voices = split_voices()[conditions.voices]
    speakers = [pick_voice(voices, rng)]
    if rng.random() < 0.5:
        speakers.append(pick_voice(tuple(v for v in voices if v.family != speakers[0].family), rng))
    speakers = [v if (change := voice_change(conditions, extra)) is None else v.changed(change) for v in speakers]
    gains = [1.0, 10 ** (rng.uniform(*SECOND_VOICE_DB) / 20)]
    rate = float(rng.uniform(*conditions.rate))
    parts, texts = [silence(rng.uniform(*LEAD_SILENCE_S))], []
    low, high = conditions.continuous_phrases
    for i in range(int(rng.integers(low, high + 1))):
        words = phrase_words(rng)
        if i:
            parts.append(silence(rng.uniform(*CONTINUOUS_GAP_S)))
        speaker = i % len(speakers)
        parts.append(speak(speakers[speaker], " ".join(words), rate=rate, pitch=float(rng.uniform(*ESPEAK_PITCH)),
                           shift=0.0) * gains[speaker])
        texts.append(" ".join(words))
    parts.append(silence(rng.uniform(*TRAIL_SILENCE_S)))
    samples, snr, noise = room_and_noise(np.concatenate(parts).astype(np.float32), conditions, rng,
                                         clip_rng(split, index, NARROW_BAND))
    samples = telephone_and_clipping(samples, conditions, extra)
    path = write_clip(set_level(samples, conditions.peak_dbfs, rng), split, index, out_dir)
    return {"audio_filepath": str(path.resolve()), "duration": round(len(samples) / SAMPLE_RATE, 4),
            "text": " ".join(texts), "kind": "continuous", "voice": ", ".join(v.id for v in speakers),
            "synthesizer": ", ".join(sorted({v.synthesizer for v in speakers})), "rate": round(rate, 3),
            "snr_db": None if snr is None else round(snr, 1), "noise": noise}


def make_noise_clip(split: str, index: int, out_dir: Path) -> dict:
    """Clip ``index`` of ``split`` without speech: steady noise or distant babble, faint to loud."""
    conditions = SPLIT_CONDITIONS[split]
    rng = clip_rng(split, index, NOISE_CLIP)
    n = round(rng.uniform(*NOISE_ONLY_S) * SAMPLE_RATE)
    noise, kind = background(n, conditions, rng, alone=True)
    samples = noise * 10 ** (rng.uniform(*NOISE_ONLY_RMS_DBFS) / 20)
    if rng.random() < conditions.reverb_prob:
        samples = reverberate(samples.astype(np.float32), rng)
    path = write_clip(np.clip(samples, -1.0, 1.0), split, index, out_dir)
    return {"audio_filepath": str(path.resolve()), "duration": round(n / SAMPLE_RATE, 4), "text": "", "kind": "noise",
            "voice": "", "synthesizer": "", "rate": 0.0, "snr_db": None, "noise": kind}


def _make_clip_job(job: tuple[str, int, str]) -> dict:
    split, index, out_dir = job
    return make_clip(split, index, Path(out_dir))


def write_split(split: str, count: int, out_dir: Path, pool: multiprocessing.pool.Pool, first: int = 0) -> Path:
    """Synthesise clips ``first`` to ``first + count - 1`` of ``split`` with ``pool``'s processes and write
    ``<out_dir>/<split>.json``."""
    (out_dir / split).mkdir(parents=True, exist_ok=True)
    jobs = [(split, i, str(out_dir)) for i in range(first, first + count)]
    entries = pool.map(_make_clip_job, jobs, chunksize=16)
    manifest = out_dir / f"{split}.json"
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    hours = sum(e["duration"] for e in entries) / 3600
    voices = len({e["voice"] for e in entries if e["voice"]})
    logger.info("%s: %d clips, %.2f h, %d voices -> %s", split, len(entries), hours, voices, manifest)
    return manifest


def use_training_noise(snr_db: tuple[float, float], babble_share: float, babble_tracks: int = BABBLE_TRACKS) -> None:
    """Add the noise under this process's training clips at ``snr_db``, babble in ``babble_share`` of it, cut from a
    bank of ``babble_tracks`` tracks: :func:`main`'s pool runs it in each of its processes as it starts. The
    validation split keeps :data:`TRAINING`'s conditions, so every run is measured alike."""
    SPLIT_CONDITIONS["train"] = replace(TRAINING, noise_snr_db=snr_db, babble_share=babble_share,
                                        babble_tracks=babble_tracks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for WAVs and manifests")
    for split, count in DEFAULT_COUNTS.items():
        parser.add_argument(f"--{split.replace('_', '-')}", type=int, default=count, help=f"{split} clips")
    parser.add_argument("--workers", type=int, default=2, help="parallel synthesis processes")
    parser.add_argument("--first", type=int, default=0,
                        help="index of each split's first clip: --train 12000 --first 12000 writes 12,000 more "
                             "training clips than the default set, none of them the same")
    parser.add_argument("--train-snr", type=float, nargs=2, metavar=("LOW", "HIGH"), default=TRAINING.noise_snr_db,
                        help="SNR range in dB of the noise under training speech (default %(default)s); a run on "
                             "--train-snr 0 20 hears more of its speech in loud noise")
    parser.add_argument("--train-babble", type=float, metavar="SHARE", default=TRAINING.babble_share,
                        help="share of the noise under training speech that is babble, not steady noise (default "
                             "%(default)s; clips without speech keep theirs)")
    parser.add_argument("--train-babble-tracks", type=int, metavar="N", default=BABBLE_TRACKS,
                        help=f"tracks of training voices talking that the training clips' babble is cut from "
                             f"(default {BABBLE_TRACKS}, each {BABBLE_TRACK_S:g} s; another number is another bank, "
                             f"so a run hears other talk; validation keeps the default's)")
    args = parser.parse_args(argv)
    if args.first < 0:
        parser.error("--first must be 0 or more")
    low, high = snr = tuple(args.train_snr)
    if not low <= high:
        parser.error(f"--train-snr {low:g} {high:g}: LOW must not be above HIGH")
    if not 0 <= args.train_babble <= 1:
        parser.error(f"--train-babble {args.train_babble:g}: a share from 0 to 1")
    if args.train_babble_tracks < 1:
        parser.error(f"--train-babble-tracks {args.train_babble_tracks}: at least 1")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    missing = {"espeak-ng", "flite"} - set(installed_synthesizers())
    if missing:
        parser.error(f"not installed: {', '.join(sorted(missing))} (python3 dev.py test installs them on Linux)")

    started = time.perf_counter()
    if args.train:
        babble_bank("train", args.train_babble_tracks)  # made once here: forked processes have it already
        logger.info("babble bank of %d training tracks made in %.1f s", args.train_babble_tracks,
                    time.perf_counter() - started)
    # One pool for all splits: each process keeps its babble.
    with multiprocessing.Pool(args.workers, initializer=use_training_noise,
                              initargs=(snr, args.train_babble, args.train_babble_tracks)) as pool:
        for split in DEFAULT_COUNTS:
            if count := getattr(args, split):
                write_split(split, count, args.out, pool, args.first)
    logger.info("wall time %.1f s", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
