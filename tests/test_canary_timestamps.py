"""Word timings from Canary models, both ways NVIDIA's models give them, through the real ``transcribe()``:

* canary-1b-flash / canary-180m-flash answer with frame tokens around each word (``<|4|> go<|9|>``) when the
  prompt's timestamp slot is on;
* canary-1b-v2 carries a CTC alignment model inside its ``.nemo`` and NeMo aligns the words with it.

A tiny ``canary2`` model taught one spoken clip (``build_taught_canary``) plays both: it answers with frame tokens,
and, carrying the demo CTC model as its aligner, is aligned by NeMo.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_models import CANARY_FRAME_S, TAUGHT_TRANSLATION, build_taught_canary

from demo_model.make_data import SAMPLE_RATE, silence, trim
from demo_model.voices import by_id, installed_synthesizers, split_voices
from transcriber.engine import Engine
from transcriber.formats import build_cues, render, result_to_dict
from transcriber.models import DEMO_MODEL_PATH
from transcriber.types import AudioData, TranscribeOptions

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif("espeak-ng" not in installed_synthesizers(), reason="espeak-ng is not installed"),
]

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("go", "left", "stop")
LEAD_S = 0.3
GAP_S = 0.4
REFINED_S = 0.05
"""Refined word edges (the engine's default) lie this close to the spoken word's edges."""


@pytest.fixture(scope="module")
def spoken():
    """Three words of an unseen voice with silences between them: the clip's samples and each word's true span."""
    voice = by_id("espeak-ng:en-us+m2")
    assert voice in split_voices()["test"]
    parts, words, position = [silence(LEAD_S)], [], LEAD_S
    for text in WORDS:
        speech = trim(voice.speak(text, pitch=0.5))
        parts += [speech, silence(GAP_S)]
        words.append((text, position, position + len(speech) / SAMPLE_RATE))
        position += len(speech) / SAMPLE_RATE + GAP_S
    return np.concatenate(parts).astype(np.float32), words


@pytest.fixture(scope="module")
def canary_dir(tmp_path_factory):
    """One folder for the module's taught Canary: taught once, then also bundled with the aligner."""
    return tmp_path_factory.mktemp("canary")


@pytest.fixture(scope="module")
def flash(spoken, canary_dir):
    samples, words = spoken
    return str(build_taught_canary(canary_dir, samples, words))


@pytest.fixture(scope="module")
def with_aligner(spoken, canary_dir):
    samples, words = spoken
    return str(build_taught_canary(canary_dir, samples, words, aligner=DEMO_MODEL_PATH))


@pytest.fixture(scope="module")
def canary_engine():
    """One engine for the module, so each model is loaded once."""
    return Engine(device="cpu")


def transcribe(engine: Engine, model: str, samples: np.ndarray, **options):
    (result,) = engine.transcribe_files([AudioData(samples, SAMPLE_RATE, "commands.wav")], model=model,
                                        options=TranscribeOptions(**options))
    assert result.ok, result.error
    return result


def test_frame_tokens_of_a_flash_canary_become_word_timings(spoken, flash, canary_engine):
    samples, words = spoken
    raw = transcribe(canary_engine, flash, samples, timestamps=True, refine_timestamps=False).transcript
    assert raw.text == "go left stop"  # the frame tokens are taken out of the text
    # each word starts and ends on the frame tokens the model said
    assert [(w.text, w.start, w.end) for w in raw.words] == [
        (text, round(round(start / CANARY_FRAME_S) * CANARY_FRAME_S, 3), round(round(end / CANARY_FRAME_S) * CANARY_FRAME_S, 3))
        for text, start, end in words
    ]
    refined = transcribe(canary_engine, flash, samples, timestamps=True).transcript
    for word, (text, start, end) in zip(refined.words, words, strict=True):
        assert word.text == text and abs(word.start - start) <= REFINED_S and abs(word.end - end) <= REFINED_S
    (cue,) = build_cues(refined)  # subtitles follow the words, not the whole clip
    assert (cue.start, cue.end) == (refined.words[0].start, refined.words[-1].end)


def test_without_timestamps_a_flash_canary_gives_plain_text(spoken, flash, canary_engine):
    samples, _ = spoken
    transcript = transcribe(canary_engine, flash, samples).transcript
    assert transcript.text == "go left stop" and "<|" not in transcript.text


def test_a_translation_without_word_timings_is_subtitled_on_the_source_timings(spoken, flash, canary_engine):
    samples, words = spoken
    source, target, translation = TAUGHT_TRANSLATION
    result = transcribe(canary_engine, flash, samples, timestamps=True, language=source, translate_to=target)
    transcript = result.transcript
    assert transcript.text == translation and transcript.words == ()  # the model timed no word of it
    recorded = result_to_dict(result)
    assert (recorded["language"], recorded["task"], recorded["translated_to"]) == (source, "translate", target)
    # the translated text, shown while the clip plays: one cue over the source audio
    (segment,) = transcript.segments
    assert segment.text == translation and segment.start <= words[0][1] and segment.end >= words[-1][2] - 0.1
    (cue,) = build_cues(transcript)
    assert cue.text == translation and (cue.start, cue.end) == (segment.start, segment.end)
    assert translation in render(transcript, "srt") and translation in render(transcript, "vtt")
    assert render(transcript, "txt").strip() == translation


def test_the_alignment_model_a_canary_carries_times_its_words(spoken, with_aligner, canary_engine):
    samples, words = spoken
    loaded = canary_engine.load(with_aligner).model
    assert loaded.timestamps_asr_model is not None  # NeMo found the aligner inside the .nemo
    raw = transcribe(canary_engine, with_aligner, samples, timestamps=True, refine_timestamps=False).transcript
    assert raw.text == "go left stop"
    previous_end = 0.0
    for word, (text, start, end) in zip(raw.words, words, strict=True):
        # the CTC aligner's frames (40 ms) fall inside the spoken word, in order
        assert word.text == text and start - 0.04 <= word.start <= word.end <= end + 0.04
        assert word.start >= previous_end
        previous_end = word.end
    refined = transcribe(canary_engine, with_aligner, samples, timestamps=True).transcript
    for word, (_, start, end) in zip(refined.words, words, strict=True):
        assert abs(word.start - start) <= REFINED_S and abs(word.end - end) <= REFINED_S


def test_the_cli_writes_a_canarys_word_timings_on_a_quiet_terminal(spoken, with_aligner, tmp_path):
    import soundfile as sf

    samples, words = spoken
    path = tmp_path / "commands.wav"
    sf.write(path, samples, SAMPLE_RATE)
    run = subprocess.run([sys.executable, "-m", "transcriber", str(path), "--model", with_aligner, "--timestamps",
                          "--json"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout.strip().splitlines()[-1])
    assert [w["word"] for w in record["words"]] == list(WORDS)
    for word, (_, start, end) in zip(record["words"], words, strict=True):
        assert abs(word["start"] - start) <= REFINED_S and abs(word["end"] - end) <= REFINED_S
    # NeMo's per-call advice to pass one file, and Hydra's error about the decoder's target, say nothing to a user
    assert "Chunking is disabled" not in run.stderr and "Error getting class" not in run.stderr, run.stderr
    assert "no word timings" not in run.stderr
