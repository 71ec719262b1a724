"""The tiny-model builder produces loadable, deterministic NeMo models of each kind."""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

try:
    from tests.tiny_models import BLANK, KINDS, SAMPLE_RATE, build_tiny_model, model_class
except ImportError:  # pytest rootdir not on sys.path; tests/ itself is
    from tiny_models import BLANK, KINDS, SAMPLE_RATE, build_tiny_model, model_class

# NeMo is imported lazily (inside the helpers) so collecting this file stays cheap.
pytestmark = [
    pytest.mark.integration,  # runs real (tiny) NeMo models; ~12 s incl. the NeMo import
    pytest.mark.skipif(importlib.util.find_spec("nemo") is None, reason="nemo_toolkit not installed"),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    paths = {kind: build_tiny_model(kind, out) for kind in KINDS}
    # The .nemo files must be self-contained: the tokenizer is packed inside.
    shutil.rmtree(out / "tokenizer")
    return paths


def _restore(path):
    from nemo.collections.asr.models import ASRModel

    return ASRModel.restore_from(str(path), map_location="cpu")


@pytest.mark.parametrize("kind", KINDS)
def test_builds_loadable_model_of_expected_class(built, kind):
    path = built[kind]
    assert path.name == f"tiny-{kind}.nemo"
    assert 0 < path.stat().st_size < 3 * 1024 * 1024
    model = _restore(path)
    assert type(model) is model_class(kind)
    assert model.cfg.sample_rate == SAMPLE_RATE
    assert model.encoder.subsampling_factor == 8
    if kind == "tdt":
        assert model.cfg.loss.loss_name == "tdt"
        assert model.cfg.decoding.model_type == "tdt"
        assert list(model.cfg.decoding.durations) == [0, 1, 2, 3, 4]
        assert model.joint.num_extra_outputs == 5
    if kind == "hybrid":
        assert hasattr(model, "ctc_decoder")


@pytest.mark.parametrize("kind", KINDS)
def test_biased_model_emits_words_within_audio(built, kind):
    model = _restore(built[kind])
    seconds = 2.0
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    audio = [
        (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
        (0.1 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32),
    ]
    hyps = model.transcribe(
        audio, batch_size=2, num_workers=0, return_hypotheses=True, timestamps=True, verbose=False
    )
    assert len(hyps) == 2
    for hyp in hyps:
        assert hyp.text.split()[0] == "nine"
        words = hyp.timestamp["word"]
        assert words
        for w in words:
            assert w["word"] == "nine"
            assert 0.0 <= float(w["start"]) <= float(w["end"]) <= seconds + 0.08 + 1e-6


def test_blank_model_emits_nothing(tmp_path):
    model = _restore(build_tiny_model("rnnt", tmp_path, emit_token=BLANK))
    audio = np.zeros(SAMPLE_RATE, dtype=np.float32)
    (hyp,) = model.transcribe([audio], batch_size=1, num_workers=0, timestamps=True, verbose=False)
    assert hyp.text == ""
    assert hyp.timestamp["word"] == []


def test_build_is_deterministic(tmp_path):
    a = _restore(build_tiny_model("ctc", tmp_path / "a"))
    b = _restore(build_tiny_model("ctc", tmp_path / "b"))
    assert a.tokenizer.vocab == b.tokenizer.vocab
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert np.array_equal(sa[key].numpy(), sb[key].numpy()), key
