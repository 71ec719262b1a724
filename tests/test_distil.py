"""``python -m demo_model.distil``: the student hears clips under babble at the asked SNR, learns toward the teacher's
frames (padding aside), and a short run leaves a model that still hears its words."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_demo_training import SAID, heard_by, training_set
from test_voices import needs_synthesizers

from demo_model.distil import consistency_loss, main as distil, under_babble
from demo_model.make_data import BABBLE_TRACK_S
from demo_model.voices import SAMPLE_RATE
from transcriber.models import DEMO_MODEL_PATH


@needs_synthesizers  # the babble bank is synthesised speech of the training voices
def test_babble_goes_under_the_speech_at_the_asked_snr():
    rng = np.random.default_rng(0)
    # As long as a bank track, so the babble is a whole track (unit RMS) rolled; a shorter cut is louder or quieter
    # than its track, as in make_data, whose SNRs are also relative to the track.
    t = np.arange(round(BABBLE_TRACK_S * SAMPLE_RATE)) / SAMPLE_RATE
    speech = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    for snr in (0.0, 5.0, 10.0):
        mixed = under_babble(speech, snr, rng)
        noise = mixed - speech
        measured = 20 * np.log10(np.sqrt((speech**2).mean()) / np.sqrt((noise**2).mean()))
        assert measured == pytest.approx(snr, abs=0.01)
        assert mixed.dtype == np.float32 and np.abs(mixed).max() <= 1.0


def test_the_consistency_loss_is_zero_when_the_student_agrees_and_ignores_padding():
    torch.manual_seed(0)
    teacher = torch.log_softmax(torch.randn(2, 10, 5), dim=-1)
    lengths = torch.tensor([10, 6])
    assert float(consistency_loss(teacher, lengths, teacher.clone(), lengths)) == pytest.approx(0.0, abs=1e-6)
    differs_in_padding = teacher.clone()
    differs_in_padding[1, 6:] = torch.log_softmax(torch.randn(4, 5), dim=-1)
    assert float(consistency_loss(teacher, lengths, differs_in_padding, lengths)) == pytest.approx(0.0, abs=1e-6)
    differs = torch.log_softmax(torch.randn(2, 10, 5), dim=-1)
    assert float(consistency_loss(teacher, lengths, differs, lengths)) > 0.05


@pytest.mark.integration
@needs_synthesizers
def test_a_short_run_saves_a_model_that_still_hears_its_words(tmp_path):
    data = training_set(tmp_path / "data", train=24)
    out = tmp_path / "distilled.nemo"
    assert distil(["--data", str(data), "--init", str(DEMO_MODEL_PATH), "--steps", "2", "--batch", "2",
                   "--peak-lr", "1e-5", "--anchor-weight", "1", "--out", str(out)]) == 0

    from nemo.collections.asr.models import ASRModel

    before = dict(ASRModel.restore_from(str(DEMO_MODEL_PATH), map_location="cpu").named_parameters())
    after = dict(ASRModel.restore_from(str(out), map_location="cpu").named_parameters())
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the optimizer moved weights, not only norms
    assert heard_by(out) == SAID
