"""The committed demo diarizer (``transcriber/assets/demo-diarizer.nemo``) with the demo recognizer through the
engine, on conversations of voices neither model trained on (``demo_model/conversations.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from demo_model.conversations import conversation
from demo_model.evaluate_diarizer import word_accuracy
from demo_model.voices import installed_synthesizers, split_voices
from transcriber.diarization import diarize_window, set_fused_attention
from transcriber.engine import Engine
from transcriber.models import DEMO_DIARIZER, DEMO_DIARIZER_PATH, DEMO_MODEL
from transcriber.types import SAMPLE_RATE, AudioData, TranscribeOptions

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif("espeak-ng" not in installed_synthesizers(), reason="espeak-ng is not installed"),
]
SEED = 31337
TWO_VOICE_CONVERSATIONS = 8
MIN_NAMED_RIGHT_2 = 7
MIN_ACCURACY_2 = 0.9
"""A regression guard: on auto these eight conversations give 96.3 %, all eight two speakers (the hardest, `Andy`
and festival's Italian pc_diphone, 80 %); demo_model/evaluate_diarizer.py measures 97.7 % over its twenty
(demo_model/README.md). Single conversations vary a lot, so the test pools eight."""
MIN_ACCURACY_2_GIVEN = 0.9
"""Told there are two speakers, the same eight conversations give 96.3 % too."""
ONE_VOICE_CLIPS = 3
LONG_MIN_ACCURACY = 0.9
LONG_S = 20 * 60
QUARTERS = 4


@pytest.fixture(scope="module")
def demo_engine():
    return Engine(device="cpu")


def test_the_demo_diarizer_ships_with_the_package_and_is_small():
    assert DEMO_DIARIZER_PATH.is_file() and DEMO_DIARIZER_PATH.stat().st_size < 15_000_000


@pytest.mark.parametrize(("num_speakers", "least"), [(None, MIN_ACCURACY_2), (2, MIN_ACCURACY_2_GIVEN)])
def test_two_unseen_voices_are_told_apart(demo_engine, num_speakers, least):
    convs = [conversation(split_voices()["test"], 2, 40.0, np.random.default_rng([SEED, 2, i]), clean=True)
             for i in range(TWO_VOICE_CONVERSATIONS)]
    results = demo_engine.transcribe_files(
        [AudioData(c.samples, SAMPLE_RATE, f"talk{i}.wav") for i, c in enumerate(convs)], model=DEMO_MODEL,
        options=TranscribeOptions(speakers=True, diarizer=DEMO_DIARIZER, num_speakers=num_speakers),
    )
    right = scored = named_right = 0
    for conv, result in zip(convs, results, strict=True):
        assert result.ok, result.error
        assert result.transcript.speakers in (("S1",), ("S1", "S2"))  # never more speakers than voices
        named_right += result.transcript.speakers == ("S1", "S2")
        r, n = word_accuracy(conv, result.transcript.words)
        right, scored = right + r, scored + n
    assert named_right >= (TWO_VOICE_CONVERSATIONS if num_speakers == 2 else MIN_NAMED_RIGHT_2)
    assert scored > 60 * TWO_VOICE_CONVERSATIONS
    assert right / scored >= least


def test_one_voice_told_to_be_one_speaker_is_one_speaker(demo_engine):
    conv = conversation(split_voices()["test"], 1, 30.0, np.random.default_rng([SEED, 1]), clean=True)
    (result,) = demo_engine.transcribe_files(
        [AudioData(conv.samples, SAMPLE_RATE, "monologue.wav")], model=DEMO_MODEL,
        options=TranscribeOptions(speakers=True, diarizer=DEMO_DIARIZER, num_speakers=1),
    )
    assert result.ok, result.error
    assert result.transcript.speakers == ("S1",)
    words = result.transcript.words
    assert len(words) > 20 and {word.speaker for word in words} == {"S1"}
    assert {segment.speaker for segment in result.transcript.segments} == {"S1"}


def test_one_voice_on_auto_is_one_speaker(demo_engine):
    """A monologue on auto: the windows often hear one voice as two, the whole recording's voices count one (three
    clips of unseen voices; pooled figures over 20: demo_model/README.md, "A learnt voice embedding")."""
    clips = [conversation(split_voices()["test"], 1, 30.0, np.random.default_rng([SEED, 1, index]))
             for index in range(ONE_VOICE_CLIPS)]
    results = demo_engine.transcribe_files(
        [AudioData(conv.samples, SAMPLE_RATE, f"monologue-{index}.wav") for index, conv in enumerate(clips)],
        model=DEMO_MODEL, options=TranscribeOptions(speakers=True, diarizer=DEMO_DIARIZER),
    )
    assert all(result.ok for result in results), [result.error for result in results]
    named = [result.transcript.speakers for result in results]
    assert named.count(("S1",)) >= ONE_VOICE_CLIPS - 1, named
    for result in results:
        words = result.transcript.words
        main = max(sum(word.speaker == label for word in words) for label in result.transcript.speakers)
        assert main >= 0.8 * len(words), [(word.text, word.speaker) for word in words]


def test_the_fused_attention_hears_the_same_speakers_as_nemos_own(demo_engine):
    conv = conversation(split_voices()["test"], 3, 20.0, np.random.default_rng([SEED, 3]), clean=True)
    model = demo_engine.load_diarizer(DEMO_DIARIZER).model
    assert any(getattr(layer, "use_pytorch_sdpa", False) for layer in model.modules())  # as the engine loads it
    fused = diarize_window(model, conv.samples, SAMPLE_RATE)
    assert set_fused_attention(model, False) > 0
    try:
        plain = diarize_window(model, conv.samples, SAMPLE_RATE)
    finally:
        set_fused_attention(model, True)
    assert len({turn.speaker for turn in fused}) >= 2
    assert [turn.speaker for turn in fused] == [turn.speaker for turn in plain]
    for a, b in zip(fused, plain, strict=True):
        assert abs(a.start - b.start) <= 0.08 and abs(a.end - b.end) <= 0.08


@pytest.fixture(scope="module")
def interview(tmp_path_factory):
    """A 20-minute conversation of two unseen voices, as a WAV file, with its true turns."""
    import soundfile as sf

    conv = conversation(split_voices()["test"], 2, LONG_S, np.random.default_rng([SEED, 20]), per_voice=12, clean=True)
    path = tmp_path_factory.mktemp("long") / "interview.wav"
    sf.write(path, conv.samples, SAMPLE_RATE, subtype="PCM_16")
    return conv, path


@pytest.mark.slow
@pytest.mark.parametrize("num_speakers", [2, None], ids=["two speakers given", "auto"])
def test_a_20_minute_conversation_keeps_its_two_speakers_apart_from_start_to_end(demo_engine, interview,
                                                                                 num_speakers):
    """On auto the windows of 20 s alone found five labels here (89.6 % of words right); the whole recording's
    voices count two."""
    conv, path = interview
    (result,) = demo_engine.transcribe_files([str(path)], model=DEMO_MODEL,
                                             options=TranscribeOptions(speakers=True, diarizer=DEMO_DIARIZER,
                                                                       num_speakers=num_speakers))
    assert result.ok, result.error
    words = result.transcript.words
    assert result.transcript.speakers == ("S1", "S2")
    # One mapping of labels to voices for the whole recording (not one per stretch), checked quarter by quarter.
    truth = {}
    for word in words:
        middle = (word.start + word.end) / 2
        owners = {t.speaker for t in conv.turns if t.start <= middle <= t.end}
        if len(owners) == 1:
            truth[word] = owners.pop()
    agree = sum((word.speaker == "S1") == (speaker == 0) for word, speaker in truth.items())
    flip = agree < len(truth) / 2
    for quarter in range(QUARTERS):
        lo, hi = quarter * LONG_S / QUARTERS, (quarter + 1) * LONG_S / QUARTERS
        inside = [(w, s) for w, s in truth.items() if lo <= w.start < hi]
        right = sum(((w.speaker == "S1") == (s == 0)) != flip for w, s in inside)
        assert len(inside) > 50 and right / len(inside) >= LONG_MIN_ACCURACY, (quarter, right, len(inside))


def test_a_conversation_of_one_voice_is_one_speaker_who_never_talks_over_themself():
    from demo_model.conversations import assemble
    from demo_model.train_diarizer import draw

    rng = np.random.default_rng(SEED)
    phrases = [rng.normal(0, 0.1, round(SAMPLE_RATE * seconds)).astype(np.float32) for seconds in (0.8, 1.5, 2.2)]
    for seed in range(5):
        samples, turns = assemble([phrases], 30.0, np.random.default_rng([SEED, seed]))
        assert {turn.speaker for turn in turns} == {0} and len(samples) >= 30 * SAMPLE_RATE
        assert all(a.end < b.start for a, b in zip(turns, turns[1:], strict=False))
    # The diarizer's training draws such conversations too: only its first output is ever active in them.
    voices = tuple(v for v in split_voices()["train"] if v.synthesizer == "espeak-ng")[:6]
    bank = {voice.id: phrases for voice in voices}
    _, targets = draw(bank, voices, 12.0, np.random.default_rng(SEED), speakers=1)
    assert targets[:, 0].sum() > 0 and not targets[:, 1:].any()


def test_the_training_bank_adds_new_voices_made_from_training_voices_only():
    from demo_model.train_diarizer import bank_voices

    train = split_voices()["train"]
    voices = bank_voices(train, np.random.default_rng(0), pool_voices=30, changed_voices=60)
    pool_part, changed = voices[:-60], voices[-60:]
    assert len({v.id for v in voices}) == len(voices)  # every speaker its own
    assert set(pool_part) <= set(train)
    assert {v for v in train if v.synthesizer == "flite"} <= set(pool_part)  # flite's few voices always
    train_ids = {v.id for v in train}
    for voice in changed:
        assert voice.change is not None and voice.id.split("~")[0] in train_ids
        assert voice.family not in {p.family for p in pool_part}
    assert 10 <= sum(v.synthesizer == "flite" for v in changed) <= 35  # about a third from flite's few voices


def test_the_trainings_weight_average_follows_the_weights_and_lends_itself_back():
    import torch

    from demo_model.train_diarizer import WeightAverage

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    average = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    for _ in range(200):
        average.update(model)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    own = average.swapped_in(model)
    # After many updates the average has moved (almost) all the way to the new weights.
    assert torch.allclose(model[0].weight, start["0.weight"] + 1.0, atol=1e-6)
    assert torch.equal(model[1].num_batches_tracked, trained["1.num_batches_tracked"])  # integers are not averaged
    model.load_state_dict(own)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in trained.items())
    # Early on it is between the two: the first updates move fast (decay warms up), then more slowly.
    fresh = torch.nn.Linear(2, 2)
    early = WeightAverage(fresh, decay=0.999)
    before = fresh.weight.detach().clone()
    with torch.no_grad():
        fresh.weight.add_(1.0)
    early.update(fresh)
    moved = early.state["weight"] - before
    assert torch.all((moved > 0.5) & (moved < 1.0))
