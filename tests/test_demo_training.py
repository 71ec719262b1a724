"""``python -m demo_model.train``: a run that grows the demo model deeper starts from what the model knew."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_demo_model import phrase_clip  # the same clips as the demo model's own tests
from test_voices import needs_synthesizers

from demo_model.make_data import main as make_data
from demo_model.train import main as train
from demo_model.voices import by_id, split_voices
from transcriber.engine import Engine
from transcriber.models import DEMO_MODEL_PATH

pytestmark = pytest.mark.integration

SAID = ["seven three go left", "yes no stop"]
"""What an unseen test voice says to a model after a short run: it must still hear it (as the demo model does)."""


def training_set(folder: Path, *, train: int, validation: int = 0) -> Path:
    """A small ``make_data`` folder with only training (and validation) clips, in one process."""
    assert make_data(["--out", str(folder), "--train", str(train), "--validation", str(validation), "--test", "0",
                      "--held-out", "0", "--noisy", "0", "--noise", "0", "--continuous", "0", "--workers", "1"]) == 0
    return folder


def heard_by(model: Path) -> list[str]:
    """What ``model`` hears, through the engine, in :data:`SAID` spoken by an unseen test voice."""
    voice = by_id("espeak-ng:en-us+m2")
    assert voice in split_voices()["test"]
    clips = [phrase_clip(text, voice) for text in SAID]
    return [r.transcript.text for r in Engine(device="cpu").transcribe_files(clips, model=str(model))]


@needs_synthesizers
def test_a_run_grows_the_demo_model_deeper_and_it_still_hears_its_words(tmp_path):
    from nemo.collections.asr.models import ASRModel

    data = training_set(tmp_path / "data", train=8, validation=4)
    deeper = tmp_path / "deeper.nemo"
    assert train(["--data", str(data), "--init", str(DEMO_MODEL_PATH), "--layers", "6", "--steps", "2",
                  "--out", str(deeper)]) == 0
    grown = ASRModel.restore_from(str(deeper), map_location="cpu")
    assert grown.cfg.encoder.n_layers == 6 and len(grown.encoder.layers) == 6

    assert heard_by(DEMO_MODEL_PATH) == SAID and heard_by(deeper) == SAID

    with pytest.raises(SystemExit, match="has 6 encoder layers; --layers 5 cannot cut it"):
        train(["--data", str(data), "--init", str(deeper), "--layers", "5", "--steps", "1",
               "--out", str(tmp_path / "cut.nemo")])
    assert not (tmp_path / "cut.nemo").exists()
