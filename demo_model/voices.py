"""The voice pool: every synthetic English voice this project can make, each with a stable id, split once for all.

Four synthesizers, each with its own way of making speech, so that a model trained on some can be measured on
voices, and on a whole synthesizer, it has never heard:

* **espeak-ng** (formant synthesis): its eight English voices (accents) times every installed voice variant (timbre:
  pitch range, formants, breathiness), plus the plain voice. The mbrola voices (``en-uk``, ``us-mbrola-*``) are
  left out: Debian ships no mbrola data, and espeak-ng then silently speaks with its default voice.
* **flite** (unit selection and diphones, from CMU): ``kal16``, ``kal`` (the same speaker at 8 kHz), ``awb``,
  ``rms`` and ``slt``. ``awb_time`` is a limited-domain voice that can only say the time of day.
* **festival** (diphones and HTS): ``kal_diphone``, ``ked_diphone`` and ``cmu_us_slt_arctic_hts``, and the Italian
  diphone speakers ``lp_diphone`` (a woman) and ``pc_diphone`` (a man) saying English words with an Italian accent
  (:data:`ITALIAN_SPELLING`). ``ked``, ``lp`` and ``pc`` are festival's own speakers: its ``kal_diphone`` is flite's
  ``kal`` (the same diphones) and ``cmu_us_slt_arctic_hts`` is flite's ``slt`` (the same recordings), so each is in
  that flite voice's family.
* **pico** (SVOX Pico, HMM synthesis, from PyPI's ``ttspico``): ``en-US`` and ``en-GB``, two speakers no other
  synthesizer has. It is the one held out.

A voice's id is ``synthesizer:name`` or, for an espeak-ng variant, ``espeak-ng:name+variant``. Voices of one vocal
tract share a *family*, and a family always falls in one split, so no test voice is a training voice in another
accent, at another sample rate, pitch or speed, or through another glottal source: an espeak-ng family is every
variant, in every accent, whose formant frequencies are the same (:func:`espeak_tract`; ``fast``, the ``klatt``
variants, ``croak`` and ``adam`` change pitch, speed, source or bandwidths but not one formant, so they are the plain
voice's family; ``iven`` to ``iven4`` differ only in voicing, tone and consonants), and flite's ``kal`` is ``kal16``
at 8 kHz. A family can span synthesizers (flite's ``kal`` and festival's ``kal_diphone``).

:func:`split_voices` draws each synthesizer's *lots* (an espeak-ng variant across accents, else a family) into
train / validation / test by the SHA-256 of the lot's name (not by position in a list, so a voice added later does not
move the others); a family whose lots were drawn into different splits goes whole into the first of train,
validation, test among them, so a voice added to a training family never takes that family out of training. A family
named after another synthesizer is drawn with that synthesizer's lots, so festival's ``kal_diphone`` is where
flite's ``kal`` is. One synthesizer (:data:`HELD_OUT_SYNTHESIZER` by default) goes whole into ``held_out``. The demo
model's data generator, the tests' fixtures and the conversation generator all take their voices from here.

A few hundred voices are few speakers, and flite has only four. :meth:`Voice.changed` makes a new voice from a pool
voice with Praat's "Change gender" (PSOLA, through ``praat-parselmouth``): its formants scaled (the size of the vocal
tract) and its pitch moved, independently, which speed perturbation and pitch shifting (moving both together) cannot
do. A changed voice belongs to the split of the voice it was made from; its id and family carry the change
(``espeak-ng:en-us+m2~f1.07p143r0.92``), so it is a speaker of its own.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import re
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
SPLIT_SEED = "voices-2026-12"
"""Part of the hash that orders families; changing it reshuffles every split."""
VALIDATION_SHARE = 0.1
TEST_SHARE = 0.15
HELD_OUT_SYNTHESIZER = "pico"
SPLITS = ("train", "validation", "test", "held_out")

ESPEAK = "espeak-ng"
FLITE = "flite"
FESTIVAL = "text2wave"
ESPEAK_VARIANT_DIR = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data/voices/!v")
ESPEAK_BASES = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029",
                "en-us-nyc")
ESPEAK_DEFAULT_WPM = 175
ESPEAK_PITCH_RANGE = (0, 99)
FLITE_VOICES = {"kal16": "kal", "kal": "kal", "awb": "awb", "rms": "rms", "slt": "slt"}
"""flite voice -> family (``kal`` is ``kal16`` at 8 kHz)."""


@dataclass(frozen=True)
class FestivalVoice:
    """One of festival's voices: its folder (installed or not), its family, and whether it is one of the Italian
    speakers, who read text by Italian spelling rules, so English words are given to them as an Italian reader would
    write their sounds (:data:`ITALIAN_SPELLING`): English with an Italian accent."""

    folder: str
    family: str
    italian: bool = False


FESTIVAL_VOICES = {
    "kal_diphone": FestivalVoice("/usr/share/festival/voices/english/kal_diphone", "flite:kal"),
    "ked_diphone": FestivalVoice("/usr/share/festival/voices/english/ked_diphone", "festival:ked"),
    "cmu_us_slt_arctic_hts": FestivalVoice("/usr/share/festival/voices/us/cmu_us_slt_arctic_hts", "flite:slt"),
    "lp_diphone": FestivalVoice("/usr/share/festival/voices/italian/lp_diphone", "festival:lp", italian=True),
    "pc_diphone": FestivalVoice("/usr/share/festival/voices/italian/pc_diphone", "festival:pc", italian=True),
}
"""festival voice -> where it lies and who it is: its kal and slt are flite's speakers."""
ITALIAN_SPELLING = {
    "zero": "ziro", "one": "uan", "two": "tu", "three": "tri", "four": "for", "five": "faiv", "six": "sics",
    "seven": "seven", "eight": "eit", "nine": "nain", "yes": "ies", "no": "nou", "stop": "stop", "go": "gou",
    "left": "left", "right": "rait", "up": "ap", "down": "daun", "on": "on", "off": "of", "start": "start",
    "open": "oupen", "close": "clous", "play": "plei", "pause": "pos", "next": "necst", "back": "bec",
    "hello": "hellou", "please": "pliz", "help": "elp",
}
"""The demo vocabulary in Italian spelling; other words are read as Italian spelling reads them."""
PITCH_CONTROL = frozenset({"espeak-ng", "pico"})
"""Synthesizers whose voices follow :meth:`Voice.speak`'s ``pitch``; the others ignore it."""
PICO_VOICES = ("en-US", "en-GB")
PICO_RATE_PERCENT = (20, 500)
PICO_PITCH_OCTAVES = 1.0
"""pico's pitch (0..1) spans this many octaves around the voice's own (71 % to 141 %)."""
SYNTH_TIMEOUT_S = 60
CHANGED_FORMANT_RATIO = (0.85, 1.2)
CHANGED_PITCH_HZ = (80.0, 260.0)
CHANGED_PITCH_RANGE = (0.5, 1.6)
PITCH_FLOOR_HZ, PITCH_CEILING_HZ = 60.0, 600.0
"""The pitch search range of the voice change's analysis (wide enough for low male and high female voices)."""


class SynthesisError(RuntimeError):
    """A synthesizer failed or is not installed."""


@dataclass(frozen=True)
class VoiceChange:
    """How a new voice differs from the pool voice it is made from: formants scaled by ``formant_ratio`` (above 1
    sounds like a smaller vocal tract), pitch moved to a median of ``pitch_hz`` with its range scaled by
    ``pitch_range``."""

    formant_ratio: float
    pitch_hz: float
    pitch_range: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> VoiceChange:
        """A random change within :data:`CHANGED_FORMANT_RATIO`, :data:`CHANGED_PITCH_HZ` and
        :data:`CHANGED_PITCH_RANGE`."""
        return cls(round(float(rng.uniform(*CHANGED_FORMANT_RATIO)), 3), round(float(rng.uniform(*CHANGED_PITCH_HZ))),
                   round(float(rng.uniform(*CHANGED_PITCH_RANGE)), 2))

    @property
    def tag(self) -> str:
        return f"f{self.formant_ratio:g}p{self.pitch_hz:g}r{self.pitch_range:g}"

    def apply(self, samples: np.ndarray) -> np.ndarray:
        """``samples`` spoken with this change (Praat's "Change gender"; the length is kept).

        Speech in which Praat finds no voiced frame (a short unvoiced word) has no pitch to move; its formants are
        still moved, and Praat's warning about it is not shown. Where Praat cannot move the pitch (its median is
        undefined in a few short words), only the formants are moved; where it cannot analyse the sound at all (far
        shorter than a word), the sound is returned as it is.
        """
        import parselmouth  # only here: the data generators need it, the app and the tests do not
        from parselmouth import praat

        sound = parselmouth.Sound(samples.astype(np.float64), SAMPLE_RATE)
        # PSOLA fills unvoiced stretches with random periods from Praat's own generator: seeded from the change and
        # the speech, so a clip is the same whichever process made it and whatever it made before.
        seed = int.from_bytes(hashlib.sha256(self.tag.encode() + samples.tobytes()).digest()[:6], "little")
        praat.run(f"random_initializeWithSeedUnsafelyButPredictably({seed})")
        changed = None
        for pitch_hz in (self.pitch_hz, 0.0):  # 0: keep the pitch
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "There were no voiced segments found", parselmouth.PraatWarning)
                    changed = praat.call(sound, "Change gender", PITCH_FLOOR_HZ, PITCH_CEILING_HZ, self.formant_ratio,
                                         pitch_hz, self.pitch_range, 1.0)
                break
            except parselmouth.PraatError as error:
                logger.debug("voice change %s with pitch %s Hz failed: %s", self.tag, pitch_hz, error)
        if changed is None:
            return samples
        out = changed.values[0].astype(np.float32)
        # PSOLA keeps the length to within a sample or two; word timings need it exact.
        return out if len(out) == len(samples) else np.resize(out, len(samples))


@dataclass(frozen=True)
class Voice:
    """One synthetic voice.

    Attributes:
        synthesizer: ``espeak-ng``, ``flite``, ``festival`` or ``pico``.
        name: the synthesizer's own voice name (an espeak-ng accent, a flite, festival or pico voice).
        variant: an espeak-ng voice variant (``m4``, ``f3``, ...), or "" for none.
        family: voices of one vocal tract; a family is never split between train and test, and a conversation
            never has two speakers of one family.
        change: for a new voice made from a pool voice (:meth:`changed`), how it differs from it.
        lot: what :func:`split_voices` draws by hash (an espeak-ng variant across accents); "" for the family.
    """

    synthesizer: str
    name: str
    variant: str = ""
    family: str = ""
    change: VoiceChange | None = None
    lot: str = ""

    @property
    def id(self) -> str:
        return (f"{self.synthesizer}:{self.name}" + (f"+{self.variant}" if self.variant else "")
                + (f"~{self.change.tag}" if self.change else ""))

    def changed(self, change: VoiceChange) -> Voice:
        """A new voice made from this one (a speaker of its own: its family is this family plus the change)."""
        return replace(self, family=f"{self.family}~{change.tag}", change=change)

    def speak(self, text: str, *, rate: float = 1.0, pitch: float = 0.5, word_gap_s: float = 0.0) -> np.ndarray:
        """``text`` spoken by this voice, as float32 samples at :data:`SAMPLE_RATE`.

        Args:
            text: what to say.
            rate: speaking rate, 1.0 the voice's default; 1.2 is 20% faster (festival ignores it: text2wave's
                duration parameter has no effect on its voices).
            pitch: 0..1 across the voice's pitch range, where the synthesizer has one (:data:`PITCH_CONTROL`);
                others ignore it.
            word_gap_s: extra pause between words (espeak-ng only).
        """
        samples = self._synthesize(text, rate=rate, pitch=pitch, word_gap_s=word_gap_s)
        return samples if self.change is None else self.change.apply(samples)

    def _synthesize(self, text: str, *, rate: float, pitch: float, word_gap_s: float) -> np.ndarray:
        if self.synthesizer == "espeak-ng":
            voice = self.name + (f"+{self.variant}" if self.variant else "")
            low, high = ESPEAK_PITCH_RANGE
            command = [ESPEAK, "-v", voice, "-s", str(round(ESPEAK_DEFAULT_WPM * rate)), "-p",
                       str(round(low + pitch * (high - low))), "-g", str(round(word_gap_s * 100)), "--stdout", text]
            return _decode(_run(command, self), self)
        if self.synthesizer == "flite":
            command = [FLITE, "-voice", self.name, "--setf", f"duration_stretch={1 / rate:.3f}", "-t", text, "-o", "-"]
            return _run_to_file(command, self)
        if self.synthesizer == "festival":
            return _festival(self.name, text).copy()
        if self.synthesizer == "pico":
            return _pico(self, text, rate=rate, pitch=pitch)
        raise SynthesisError(f"unknown synthesizer {self.synthesizer!r}")


def _run(command: list[str], voice: Voice, stdin: str | None = None) -> bytes:
    """Run a synthesizer; returns what it printed. Raises :class:`SynthesisError` naming the voice."""
    try:
        done = subprocess.run(command, input=None if stdin is None else stdin.encode(), capture_output=True,
                              timeout=SYNTH_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SynthesisError(f"{command[0]} failed for {voice.id}: {exc}") from exc
    if done.returncode != 0:
        raise SynthesisError(f"{command[0]} failed for {voice.id}: {done.stderr.decode(errors='replace')[:200]}")
    return done.stdout


def _run_to_file(command: list[str], voice: Voice, stdin: str | None = None) -> np.ndarray:
    """flite and text2wave write a WAV whose header needs seeking, so they get a real file (``-o -`` replaced)."""
    with tempfile.TemporaryDirectory(prefix="voice-") as folder:
        path = Path(folder) / "speech.wav"
        at = command.index("-o") + 1
        _run([*command[:at], str(path), *command[at + 1 :]], voice, stdin)
        if not path.exists():
            raise SynthesisError(f"{command[0]} wrote no audio for {voice.id}")
        return _decode(path.read_bytes(), voice)


def italian_spelling(text: str) -> str:
    """``text`` with its English words as :data:`ITALIAN_SPELLING` writes them (case and punctuation kept where no
    word is respelled)."""
    return re.sub(r"[A-Za-z]+", lambda word: ITALIAN_SPELLING.get(word[0].lower(), word[0]), text)


@lru_cache(maxsize=4096)
def _festival(name: str, text: str) -> np.ndarray:
    """festival voice ``name`` saying ``text``, kept (read-only): festival has no rate or pitch control, so a voice
    says a text the same way every time, and a festival process per call (a voice to load) is the slowest step of
    making data."""
    said = italian_spelling(text) if FESTIVAL_VOICES[name].italian else text
    samples = _run_to_file([FESTIVAL, "-eval", f"(voice_{name})", "-o", "-"], Voice("festival", name), stdin=said)
    samples.flags.writeable = False
    return samples


def _pico(voice: Voice, text: str, *, rate: float, pitch: float) -> np.ndarray:
    """pico speaks in this process (a C library): 16-bit samples at 16 kHz.

    An engine says a text differently after it has spoken another (its samples depend on what it said before), and
    which clips one worker process speaks varies from run to run, so every text gets an engine of its own (0.4 ms).
    """
    try:
        import ttspico  # only here: the data generators need it, the app does not

        engine = ttspico.TtsEngine(voice.name)
        engine.rate = int(np.clip(round(100 * rate), *PICO_RATE_PERCENT))
        engine.pitch = round(100 * 2 ** ((pitch - 0.5) * PICO_PITCH_OCTAVES))
        pcm = engine.speak(text) or b""
    except (ImportError, RuntimeError, ValueError) as exc:
        raise SynthesisError(f"pico failed for {voice.id}: {exc}") from exc
    if not pcm:
        raise SynthesisError(f"{voice.id} produced no audio")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def _decode(wav: bytes, voice: Voice) -> np.ndarray:
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    if samples.size == 0:
        raise SynthesisError(f"{voice.id} produced no audio")
    mono = samples.mean(axis=1)
    return (mono if rate == SAMPLE_RATE else soxr.resample(mono, rate, SAMPLE_RATE)).astype(np.float32)


def installed_synthesizers() -> tuple[str, ...]:
    """The synthesizers whose programs (and, for festival, at least one of its voices) are installed; pico is a
    Python package (``ttspico``) with its voices."""
    found = []
    if shutil.which(ESPEAK):
        found.append("espeak-ng")
    if shutil.which(FLITE):
        found.append("flite")
    if shutil.which(FESTIVAL) and any(Path(v.folder).is_dir() for v in FESTIVAL_VOICES.values()):
        found.append("festival")
    if importlib.util.find_spec("ttspico") is not None:
        found.append("pico")
    return tuple(found)


def espeak_variants() -> tuple[str, ...]:
    """Variant names installed with espeak-ng (names with spaces cannot be passed on its command line)."""
    if not ESPEAK_VARIANT_DIR.is_dir():
        return ()
    return tuple(sorted(p.name for p in ESPEAK_VARIANT_DIR.iterdir() if p.is_file() and " " not in p.name))


def espeak_tract(variant: str) -> tuple[tuple[int, int, int], ...]:
    """An espeak-ng variant's vocal tract: its formants whose frequency it changes, as (formant, percent of the
    default frequency, Hz added), read from its file. () for the plain voice's tract (no variant, or one that sets only
    pitch, speed, voicing, breath, tone, echo, bandwidths or the Klatt source)."""
    if not variant:
        return ()
    changed = []
    for line in (ESPEAK_VARIANT_DIR / variant).read_text(errors="replace").splitlines():
        words = re.split(r"\s+", line.split("//")[0].strip())
        numbers = [int(word) for word in words[1:6] if re.fullmatch(r"-?\d+", word)]
        if words[0] == "formant" and len(numbers) >= 2:
            number, frequency = numbers[0], numbers[1]
            added = numbers[4] if len(numbers) >= 5 else 0
            if (frequency, added) != (100, 0):
                changed.append((number, frequency, added))
    return tuple(sorted(changed))


def espeak_families(variants: tuple[str, ...]) -> dict[str, str]:
    """variant ("" for the plain voice) -> family: ``espeak-ng:plain`` for the plain voice's tract, else
    ``espeak-ng:`` and the first (by name) of the variants that share the tract."""
    by_tract: dict[object, list[str]] = {}
    for variant in ("", *variants):
        try:
            tract: object = espeak_tract(variant)
        except OSError as error:  # a variant file that cannot be read is a family of its own
            logger.warning("espeak-ng variant %s: %s", variant, error)
            tract = variant
        by_tract.setdefault(tract, []).append(variant)
    return {variant: f"espeak-ng:{min(members) or 'plain'}" for members in by_tract.values() for variant in members}


@cache
def pool() -> tuple[Voice, ...]:
    """Every voice of every installed synthesizer, in a stable order."""
    synthesizers = installed_synthesizers()
    voices: list[Voice] = []
    if "espeak-ng" in synthesizers:
        variants = espeak_variants()
        families = espeak_families(variants)
        for variant in ("", *variants):
            lot = f"espeak-ng:{variant or 'plain'}"
            voices += [Voice("espeak-ng", base, variant, family=families[variant], lot=lot) for base in ESPEAK_BASES]
    if "flite" in synthesizers:
        voices += [Voice("flite", name, family=f"flite:{family}") for name, family in FLITE_VOICES.items()]
    if "festival" in synthesizers:
        voices += [Voice("festival", name, family=festival.family)
                   for name, festival in FESTIVAL_VOICES.items() if Path(festival.folder).is_dir()]
    if "pico" in synthesizers:
        voices += [Voice("pico", name, family=f"pico:{name}") for name in PICO_VOICES]
    return tuple(voices)


def _lot_order(lot: str) -> str:
    return hashlib.sha256(f"{SPLIT_SEED}:{lot}".encode()).hexdigest()


def _drawn_by(voice: Voice, synthesizers: set[str]) -> str:
    """The synthesizer that draws this voice's family: the one that names it (``flite:kal`` for festival's
    ``kal_diphone``) where that one is in the pool and not held out, else the voice's own."""
    owner = voice.family.split(":")[0]
    return owner if owner in synthesizers else voice.synthesizer


def split_voices(voices: tuple[Voice, ...] | None = None, *,
                 held_out: str | None = HELD_OUT_SYNTHESIZER) -> dict[str, tuple[Voice, ...]]:
    """Assign every voice to one of :data:`SPLITS`; each split keeps the pool's order.

    Per synthesizer, its lots (:attr:`Voice.lot`, else the family) are ordered by hash; the first :data:`TEST_SHARE`
    of them (at least one) are drawn for test, the next :data:`VALIDATION_SHARE` for validation (none where that rounds
    to zero, as for flite's four), the rest for train (at least one). A family goes whole into the first of train,
    validation and test that one of its lots was drawn for. A family named after another synthesizer
    (``flite:kal``) is drawn among that synthesizer's lots, so festival's ``kal_diphone`` goes where flite's ``kal``
    goes, whatever the order of the pool. The ``held_out`` synthesizer's voices all go to ``held_out``, and another
    synthesizer's voice of one of their families goes to test.
    """
    voices = pool() if voices is None else voices
    synthesizers = {v.synthesizer for v in voices} - {held_out}
    drawn_by = {v: _drawn_by(v, synthesizers) for v in voices if v.synthesizer != held_out}
    family_split: dict[str, str] = {}
    for synthesizer in synthesizers:
        own = [v for v, by in drawn_by.items() if by == synthesizer]
        lots = sorted({v.lot or v.family for v in own}, key=_lot_order)
        n_test = max(1, round(len(lots) * TEST_SHARE)) if len(lots) > 1 else 0
        n_validation = min(round(len(lots) * VALIDATION_SHARE), len(lots) - n_test - 1)
        drawn = {lot: "test" for lot in lots[:n_test]}
        drawn |= {lot: "validation" for lot in lots[n_test : n_test + n_validation]}
        for voice in own:
            split = drawn.get(voice.lot or voice.family, "train")
            family_split[voice.family] = min(family_split.get(voice.family, split), split, key=SPLITS.index)
    held_families = {v.family for v in voices if v.synthesizer == held_out}
    splits: dict[str, list[Voice]] = {name: [] for name in SPLITS}
    for voice in voices:
        if voice.synthesizer == held_out:
            splits["held_out"].append(voice)
        else:
            splits["test" if voice.family in held_families else family_split[voice.family]].append(voice)
    return {name: tuple(members) for name, members in splits.items()}


def by_id(voice_id: str) -> Voice:
    """The pool's voice with this id."""
    for voice in pool():
        if voice.id == voice_id:
            return voice
    raise KeyError(f"no voice {voice_id!r} in the pool (is its synthesizer installed?)")


def unseen_voices(synthesizer: str) -> tuple[Voice, ...]:
    """The unseen (test split) voices of one synthesizer; the held-out synthesizer's voices are all unseen."""
    splits = split_voices()
    return tuple(v for v in splits["test"] + splits["held_out"] if v.synthesizer == synthesizer)
