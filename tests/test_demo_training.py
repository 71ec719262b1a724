"""``python -m demo_model.train``: a run that grows the demo model deeper starts from what the model knew."""

from __future__ import annotations

import pytest
from test_demo_model import phrase_clip  # the same clips as the demo model's own tests
from test_voices import needs_synthesizers

from demo_model.make_data import main as make_data
from demo_model.train import main as train
from demo_model.voices import by_id, split_voices
from transcriber.engine import Engine
from transcriber.models import DEMO_MODEL_PATH

pytestmark = pytest.mark.integration


@needs_synthesizers
def test_a_run_grows_the_demo_model_deeper_and_it_still_hears_its_words(tmp_path):
    from nemo.collections.asr.models import ASRModel

    data = tmp_path / "data"
    assert make_data(["--out", str(data), "--train", "8", "--validation", "4", "--test", "0", "--held-out", "0",
                      "--noisy", "0", "--noise", "0", "--continuous", "0", "--workers", "1"]) == 0
    deeper = tmp_path / "deeper.nemo"
    assert train(["--data", str(data), "--init", str(DEMO_MODEL_PATH), "--layers", "6", "--steps", "2",
                  "--out", str(deeper)]) == 0
    grown = ASRModel.restore_from(str(deeper), map_location="cpu")
    assert grown.cfg.encoder.n_layers == 6 and len(grown.encoder.layers) == 6

    voice = by_id("espeak-ng:en-us+m2")
    assert voice in split_voices()["test"]
    texts = ["seven three go left", "yes no stop"]
    clips = [phrase_clip(text, voice) for text in texts]
    engine = Engine(device="cpu")
    before = [r.transcript.text for r in engine.transcribe_files(clips, model=str(DEMO_MODEL_PATH))]
    after = [r.transcript.text for r in engine.transcribe_files(clips, model=str(deeper))]
    assert before == texts and after == before

    with pytest.raises(SystemExit, match="has 6 encoder layers; --layers 5 cannot cut it"):
        train(["--data", str(data), "--init", str(deeper), "--layers", "5", "--steps", "1",
               "--out", str(tmp_path / "cut.nemo")])
    assert not (tmp_path / "cut.nemo").exists()
