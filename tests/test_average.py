"""``python -m demo_model.average``: the mean of demo models' weights, as one model the engine loads."""

from __future__ import annotations

import pytest
import torch

from demo_model.average import average, main
from transcriber.models import DEMO_MODEL_PATH

pytestmark = pytest.mark.integration



def test_the_average_of_two_models_has_their_mean_weights_and_the_same_tokenizer(tmp_path):
    from nemo.collections.asr.models import ASRModel

    moved = ASRModel.restore_from(str(DEMO_MODEL_PATH), map_location="cpu")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in moved.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.01)
    moved.save_to(str(tmp_path / "moved.nemo"))

    out = average([DEMO_MODEL_PATH, tmp_path / "moved.nemo"], tmp_path / "mean.nemo")
    mean = ASRModel.restore_from(str(out), map_location="cpu")
    original = ASRModel.restore_from(str(DEMO_MODEL_PATH), map_location="cpu")
    assert mean.tokenizer.vocab == original.tokenizer.vocab
    moved_state, original_state = moved.state_dict(), original.state_dict()
    for key, tensor in mean.state_dict().items():
        if tensor.is_floating_point() and original_state[key].ne(moved_state[key]).any():
            torch.testing.assert_close(tensor, (original_state[key] + moved_state[key]) / 2)


def test_models_of_another_tokenizer_or_too_few_are_refused_by_name(tiny_ctc, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "mean.nemo"), str(DEMO_MODEL_PATH), tiny_ctc])
    assert f"{tiny_ctc} has another tokenizer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "mean.nemo"), str(DEMO_MODEL_PATH)])
    assert "at least two models" in capsys.readouterr().err
    assert not (tmp_path / "mean.nemo").exists()
