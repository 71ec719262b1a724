"""Naming speakers again by voice over a whole recording (transcriber/voice_clusters.py), on real synthetic voices."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from demo_model.conversations import conversation
from demo_model.voices import installed_synthesizers, split_voices
from transcriber import voice_clusters
from transcriber.speakers import talk_time
from transcriber.types import SAMPLE_RATE, SpeakerTurn
from transcriber.voice_clusters import (
    BLOCK_S,
    COEFFICIENTS,
    Describer,
    MfccPitch,
    VoiceStats,
    count_speakers,
    fit_projection,
    regroup,
    regroup_counting,
)
from transcriber.voice_embedding import LearntVoices, build_network, weights_to_text

needs_espeak = pytest.mark.skipif("espeak-ng" not in installed_synthesizers(), reason="espeak-ng is not installed")
SEED = 4242
WINDOW_S = 8.0


@pytest.fixture(scope="module")
def demo_voices() -> tuple[Describer, np.ndarray]:
    """How the demo diarizer describes voices and the space it groups them in, read from its file through NeMo (so
    the tests that use them are integration tests)."""
    from transcriber.diarization import load_diarizer, voice_describer, voice_projection
    from transcriber.models import DEMO_DIARIZER_PATH, ModelSource

    model = load_diarizer(ModelSource(str(DEMO_DIARIZER_PATH), DEMO_DIARIZER_PATH), "cpu")
    describer, projection = voice_describer(model), voice_projection(model)
    assert projection is not None and projection.shape[0] == describer.dims
    return describer, projection


def _stats(samples: np.ndarray, *pieces: int, describer: Describer | None = None) -> VoiceStats:
    stats = VoiceStats(SAMPLE_RATE, describer)
    for part in np.split(samples, list(pieces)):
        stats.add(part)
    return stats


def _agreement(truth, turns) -> float:
    """Share of the true speech time whose label maps to its speaker, under the best one-to-one mapping."""
    speakers = sorted({t.speaker for t in truth})
    labels = sorted({t.speaker for t in turns})
    time = np.zeros((len(speakers), len(labels)))
    for a in truth:
        for b in turns:
            shared = max(0.0, min(a.end, b.end) - max(a.start, b.start))
            time[speakers.index(a.speaker), labels.index(b.speaker)] += shared
    rows, cols = linear_sum_assignment(-time)
    return float(time[rows, cols].sum() / sum(t.end - t.start for t in truth))


def _conversation(speakers: int, index: int):
    conv = conversation(split_voices()["test"], speakers, 40.0, np.random.default_rng([SEED, speakers, index]),
                        clean=True)
    truth = [SpeakerTurn(t.start, t.end, f"voice{t.speaker}") for t in conv.turns]
    return conv, truth


def _untrained_embedding() -> LearntVoices:
    return LearntVoices(weights_to_text(build_network()))


@pytest.mark.parametrize("describer", [MfccPitch, _untrained_embedding], ids=["mfcc and pitch", "learnt embedding"])
def test_voice_features_do_not_depend_on_how_the_audio_is_handed_over(describer):
    rng = np.random.default_rng(SEED)
    n = 25 * SAMPLE_RATE
    tone = np.sin(2 * np.pi * 180 * np.arange(n) / SAMPLE_RATE) * np.linspace(0.05, 0.5, n)
    samples = (tone + rng.normal(0, 0.02, len(tone))).astype(np.float32)
    whole = _stats(samples, describer=describer())
    pieces = _stats(samples, 37_000, 90_001, 250_000, 251_000, describer=whole.describer)
    assert whole.blocks()[1].shape == (round(25 / BLOCK_S),)
    for start, end in ((0.0, 2.5), (5.3, 7.0), (12.0, 20.0), (23.4, 25.0)):
        a, b = whole.span(start, end), pieces.span(start, end)
        assert np.linalg.norm(a - b) <= 0.02 * np.linalg.norm(a), (start, end)


def test_silence_has_no_voice_and_keeps_its_turns():
    stats = _stats(np.zeros(12 * SAMPLE_RATE, dtype=np.float32))
    turns = [SpeakerTurn(0.5, 3.0, "spk0"), SpeakerTurn(3.5, 9.0, "spk1"), SpeakerTurn(9.5, 11.0, "spk0")]
    assert stats.span(0.5, 3.0) is None
    assert regroup(turns, stats, 2) == turns


@needs_espeak
@pytest.mark.parametrize("space", ["standardised", pytest.param("demo diarizer's projection",
                                                                 marks=pytest.mark.integration)])
@pytest.mark.parametrize(("speakers", "least"), [(2, 0.95), (3, 0.75)])
def test_voices_the_windows_mixed_up_are_told_apart_again(speakers, least, space, request):
    """Pooled over four conversations (each at 0.98 or more with today's test voices; with the voices before
    festival's Italian speakers, one of three speakers came out at 0.6): a regression guard; the figures over many
    conversations, through the diarizer, come from demo_model/evaluate_diarizer.py."""
    describer, projection = request.getfixturevalue("demo_voices") if space != "standardised" else (None, None)
    before = after = 0.0
    for index in range(4):
        conv, truth = _conversation(speakers, index)
        # The right turns, but the labels shift by one every 8 s: windows that each tell the voices apart and name
        # them differently, which no one mapping of labels to voices undoes.
        mixed = [SpeakerTurn(max(t.start, w * WINDOW_S), min(t.end, (w + 1) * WINDOW_S),
                             f"spk{(int(t.speaker[-1]) + w) % speakers}")
                 for t in truth for w in range(int(t.start // WINDOW_S), int(t.end // WINDOW_S) + 1)
                 if min(t.end, (w + 1) * WINDOW_S) > max(t.start, w * WINDOW_S)]
        regrouped = regroup(mixed, _stats(conv.samples, 123_457, describer=describer), speakers, projection=projection)
        assert len(talk_time(regrouped)) == speakers
        # The speech is the same speech: only who says it changed.
        assert sum(talk_time(regrouped).values()) == pytest.approx(sum(talk_time(mixed).values()), abs=0.05)
        before, after = before + _agreement(truth, mixed) / 4, after + _agreement(truth, regrouped) / 4
    assert before < 0.65
    assert after >= least


@needs_espeak
@pytest.mark.integration
def test_the_number_of_speakers_comes_from_the_voices_when_the_windows_labels_are_off(demo_voices):
    """Windows that give one voice two labels, or two voices one label: the whole recording's voices count them,
    the same as with the right labels, and right in most conversations (pooled figures through the diarizer:
    demo_model/evaluate_diarizer.py). All eight are counted right; one miss in four is allowed, as over twenty
    conversations some pairs of voices sound alike to the embedding (Lee and Storm in one accent)."""
    describer, projection = demo_voices
    counted = {"true 2": [], "one voice under two labels": [], "true 3": [], "two voices under one label": []}
    for index in range(4):
        conv, truth = _conversation(2, index)
        stats = _stats(conv.samples, describer=describer)
        first_voice = [t for t in truth if t.speaker == "voice0"]
        split = [SpeakerTurn(t.start, t.end, "spk9") if t in first_voice[1::2] else t for t in truth]
        assert len(talk_time(split)) == 3
        counted["true 2"].append(count_speakers(truth, stats, projection))
        counted["one voice under two labels"].append(count_speakers(split, stats, projection))
        conv, truth = _conversation(3, index)
        stats = _stats(conv.samples, describer=describer)
        merged = [SpeakerTurn(t.start, t.end, "voice1") if t.speaker == "voice2" else t for t in truth]
        counted["true 3"].append(count_speakers(truth, stats, projection))
        counted["two voices under one label"].append(count_speakers(merged, stats, projection))
    assert counted["one voice under two labels"] == counted["true 2"], counted
    assert counted["two voices under one label"] == counted["true 3"], counted
    assert counted["true 2"].count(2) >= 3, counted
    assert counted["true 3"].count(3) >= 3, counted


class _AllAlike:
    """Every frame the same feature: voices that cannot be told apart at all."""

    size = dims = 1

    def frames(self, samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(samples) // round(0.01 * sample_rate)
        return np.ones((n, 1)), np.ones(n)

    def voice(self, means: np.ndarray) -> np.ndarray:
        return means


def test_voices_all_alike_are_one_speaker_on_auto():
    """Ward's tree cannot split pieces whose voices are all the same (a looped clip); the count is one, not an
    error."""
    samples = np.random.default_rng(SEED).normal(0, 0.1, 30 * SAMPLE_RATE).astype(np.float32)
    stats = _stats(samples, describer=_AllAlike())
    turns = [SpeakerTurn(i * 2.5, (i + 1) * 2.5, f"spk{i % 3}") for i in range(12)]
    projection = np.ones((1, 1))
    assert count_speakers(turns, stats, projection) == 1
    assert len({t.speaker for t in regroup_counting(turns, stats, projection)}) == 1


@needs_espeak
def test_one_label_or_one_speaker_asked_for_is_left_as_it_is():
    conv, truth = _conversation(2, 1)
    stats = _stats(conv.samples)
    alone = [SpeakerTurn(t.start, t.end, "spk0") for t in truth]
    assert regroup(alone, stats, 2) == alone
    assert regroup(truth, stats, 1) == truth


@needs_espeak
def test_speech_where_two_labels_overlap_stays_with_both():
    conv, truth = _conversation(2, 2)
    stats = _stats(conv.samples)
    first, second = truth[0], truth[1]
    overlapping = [SpeakerTurn(first.start, second.start + 0.6, first.speaker)] + truth[1:]
    regrouped = regroup(overlapping, stats, 2)
    both = {t.speaker for t in regrouped if t.start <= second.start + 0.3 <= t.end}
    assert len(both) == 2
    assert _agreement(truth, regrouped) >= 0.9


def test_a_fitted_projection_keeps_what_tells_speakers_apart_and_drops_what_varies_within_one():
    rng = np.random.default_rng(SEED)
    size, telling, noisy = COEFFICIENTS + 1, 3, 0
    recordings = []
    for _ in range(40):
        means = np.zeros((3, size))
        means[:, telling] = rng.normal(0, 4, 3)  # speakers differ here only
        means[:, noisy] = rng.normal(0, 1, 3)
        speakers = rng.integers(0, 3, 60)
        features = means[speakers] + rng.normal(0, 1, (60, size))
        features[:, noisy] += rng.normal(0, 20, 60)  # and this varies within every speaker far more
        recordings.append((features + rng.normal(0, 50, size), [f"s{k}" for k in speakers]))  # each its own offset
    projection = fit_projection(recordings, 2)
    assert projection.shape == (size, 2)
    first = projection[:, 0] / np.linalg.norm(projection[:, 0])
    assert abs(first[telling]) > 0.95 and abs(first[noisy]) < 0.05
    # Within one speaker the projected pieces vary by about one in every kept direction.
    spread = np.concatenate([
        (features - features.mean(axis=0))[np.array(labels) == label] @ projection
        - ((features - features.mean(axis=0))[np.array(labels) == label] @ projection).mean(axis=0)
        for features, labels in recordings for label in set(labels)
    ]).std(axis=0)
    assert np.allclose(spread, 1.0, atol=0.1)


@needs_espeak
@pytest.mark.integration
def test_a_piece_that_straddles_a_change_of_speaker_the_diarizer_missed_is_split(demo_voices, monkeypatch):
    describer, projection = demo_voices
    seams = [seam for index in range(4) for seam in _missed_changes(index, describer)]
    assert len(seams) >= 4
    split = sum(_split_right(*seam, projection) for seam in seams)
    assert split >= len(seams) - 1
    monkeypatch.setattr(voice_clusters, "MOVE_MARGIN", float("inf"))  # pieces kept whole: the split is the parts' doing
    assert sum(_split_right(*seam, projection) for seam in seams) <= split - 3


def _missed_changes(index: int, describer: Describer):
    """Turns of a two-voice conversation in which the diarizer heard the last 1.2 s of one speaker and the first
    1.2 s of the next as one turn of the first, one such seam at a time; with the recording's voices."""
    conv, truth = _conversation(2, index)
    stats = _stats(conv.samples, describer=describer)
    for k in range(len(truth) - 1):
        first, second = truth[k], truth[k + 1]
        if first.end - first.start < 4 or second.end - second.start < 4 or second.start < first.end:
            continue
        seam = SpeakerTurn(first.end - 1.2, second.start + 1.2, first.speaker)
        turns = (truth[:k] + [SpeakerTurn(first.start, seam.start, first.speaker), seam,
                              SpeakerTurn(seam.end, second.end, second.speaker)] + truth[k + 2 :])
        yield turns, stats, first, second


def _split_right(turns, stats, first, second, projection) -> bool:
    regrouped = regroup(turns, stats, 2, projection=projection)

    def label_at(moment: float) -> str:
        return next(t.speaker for t in regrouped if t.start <= moment <= t.end)

    before, after = label_at(first.start + 1.0), label_at(second.end - 1.0)
    return before != after and label_at(first.end - 0.7) == before and label_at(second.start + 0.7) == after
