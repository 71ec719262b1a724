"""A random-weight model with the architecture, size and compute of ``nvidia/parakeet-tdt-0.6b-v2``, built offline.

    python bench/parakeet_like.py [--rebuild] [--check]

Prints the parameter count per module and the path of the cached ``.nemo`` (``.cache/bench/``, gitignored; the name
carries a hash of the config, so a changed config builds a new file and repeated runs reuse the old one). ``--check``
also transcribes 20 s of noise and prints the time.

The config starts from the tiny TDT recipe in ``tests/tiny_models.py`` and scales it to parakeet's published one:
FastConformer encoder (dw_striding x8 with 256 channels, d_model 1024, 24 layers, 8 heads, feed-forward x4, conv
kernel 9, xscaling, rel_pos full attention), 128 mels at 16 kHz with a 10 ms stride, a 2-layer LSTM prediction net of
640, a joint of 640, TDT durations [0..4], and a 1024-piece SentencePiece tokenizer trained on generated pseudo-words.

Why the output layer is calibrated: with random weights the joint almost never picks the blank (1 class in 1025), so
greedy TDT decoding would emit up to ``max_symbols`` tokens at every frame: ten decoder steps per 80 ms, a cost a
trained model never pays. The joint's bias is therefore set so that every step advances two frames (about what a
trained TDT model averages) and tokens come out at :data:`TOKENS_PER_SECOND` on speech-like noise, like English
speech through a 1024-piece vocabulary. Encoder compute, which dominates, does not depend on the weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import CACHE_DIR, speechlike, use_passive_openmp
from tiny_models import TDT_DURATIONS, _quiet_nemo, model_class, tiny_model_config

VOCAB_SIZE = 1024
N_MELS = 128
D_MODEL = 1024
N_LAYERS = 24
N_HEADS = 8
PRED_HIDDEN = 640
JOINT_HIDDEN = 640
MAX_SYMBOLS = 10
"""Greedy TDT's cap on tokens per frame, as in parakeet's own config."""
SEED = 1234

PUBLISHED_PARAMETERS = 600e6
"""The model card's "600-million-parameter"."""
TOKENS_PER_SECOND = 3.5
"""About 150 words a minute at 1.4 pieces a word."""
STEP_DURATION = 2
"""Frames every decoding step advances in the calibrated model."""
CALIBRATION_S = 30.0
CALIBRATION_STEPS = 24
"""Bisection steps for the blank bias; each halves the interval, so the result is exact to far below one token."""
BIAS_RANGE = (-50.0, 50.0)
DURATION_BIAS = 50.0
"""Added to the chosen duration's logit: far above the random logits, so that duration always wins."""
CHECK_S = 20.0

TOKENIZER_WORDS = 20_000
TOKENIZER_SEED = 7
_ONSETS = (
    "b c d f g h j k l m n p qu r s t v w y z bl br ch cl cr dr fl fr gl gr pl pr sc sh sk sl sm sn sp st str th tr wh"
).split()
_VOWELS = "a e i o u ai ea ee ie oa oo ou ay".split()
_CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "nt", "rt", "st", "ck", "sh", "th"]


def pseudo_words(count: int = TOKENIZER_WORDS, seed: int = TOKENIZER_SEED) -> list[str]:
    """``count`` deterministic English-looking words of one to four syllables (enough distinct ones for 1024 pieces)."""
    rng = np.random.default_rng(seed)
    words = []
    for _ in range(count):
        syllables = rng.integers(1, 5)
        word = ""
        for _ in range(syllables):
            word += _ONSETS[rng.integers(len(_ONSETS))]
            word += _VOWELS[rng.integers(len(_VOWELS))]
            word += _CODAS[rng.integers(len(_CODAS))]
        words.append(word)
    return words


def build_tokenizer(out_dir: Path, vocab_size: int = VOCAB_SIZE) -> Path:
    """Train (once) a SentencePiece unigram tokenizer of ``vocab_size`` pieces under ``out_dir/tokenizer``."""
    from nemo.collections.common.tokenizers.sentencepiece_tokenizer import create_spt_model

    tok_dir = out_dir / "tokenizer"
    if (tok_dir / "tokenizer.model").exists() and (tok_dir / "vocab.txt").exists():
        return tok_dir
    tok_dir.mkdir(parents=True, exist_ok=True)
    words = pseudo_words()
    corpus = tok_dir / "corpus.txt"
    corpus.write_text("\n".join(" ".join(words[i : i + 12]) for i in range(0, len(words), 12)) + "\n", encoding="utf-8")
    create_spt_model(
        str(corpus), vocab_size=vocab_size, sample_size=-1, do_lower_case=True, tokenizer_type="unigram",
        output_dir=str(tok_dir),
    )
    return tok_dir


def parakeet_config(tokenizer_dir: Path) -> dict[str, Any]:
    """The plain-dict config: the tiny TDT recipe with parakeet-tdt-0.6b-v2's sizes."""
    cfg = tiny_model_config("tdt", tokenizer_dir, max_symbols=MAX_SYMBOLS)
    cfg["preprocessor"].update(features=N_MELS, dither=1e-5)
    cfg["encoder"].update(
        feat_in=N_MELS,
        n_layers=N_LAYERS,
        d_model=D_MODEL,
        subsampling="dw_striding",
        subsampling_factor=8,
        subsampling_conv_channels=256,
        ff_expansion_factor=4,
        self_attention_model="rel_pos",
        n_heads=N_HEADS,
        att_context_size=[-1, -1],
        xscaling=True,
        conv_kernel_size=9,
    )
    cfg["model_defaults"] = {"enc_hidden": D_MODEL, "pred_hidden": PRED_HIDDEN, "joint_hidden": JOINT_HIDDEN}
    cfg["decoder"]["prednet"].update(pred_hidden=PRED_HIDDEN, pred_rnn_layers=2)
    cfg["joint"]["jointnet"].update(joint_hidden=JOINT_HIDDEN, encoder_hidden=D_MODEL, pred_hidden=PRED_HIDDEN)
    assert cfg["decoding"]["model_type"] == "tdt" and cfg["loss"]["loss_name"] == "tdt"
    assert cfg["decoding"]["durations"] == TDT_DURATIONS
    return cfg


def _config_hash(cfg: dict[str, Any]) -> str:
    portable = {key: value for key, value in cfg.items() if key != "tokenizer"}  # the tokenizer path varies
    recipe = {"cfg": portable, "vocab": VOCAB_SIZE, "tps": TOKENS_PER_SECOND, "step": STEP_DURATION, "seed": SEED}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]


def count_parameters(model: Any) -> dict[str, int]:
    """Parameters per top-level module and in total."""
    counts = {name: sum(p.numel() for p in module.parameters()) for name, module in model.named_children()}
    counts = {name: count for name, count in counts.items() if count}
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts


def _tokens_per_second(model: Any, encoded: Any, encoded_len: Any, seconds: float) -> float:
    hypotheses = model.decoding.rnnt_decoder_predictions_tensor(encoded, encoded_len, return_hypotheses=True)
    return len(hypotheses[0].y_sequence) / seconds


def calibrate_output(model: Any, *, seconds: float = CALIBRATION_S) -> tuple[float, float]:
    """Bias the joint so that each step advances :data:`STEP_DURATION` frames and tokens come at
    :data:`TOKENS_PER_SECOND` on speech-like noise. Returns (blank bias, tokens per second reached)."""
    import torch

    joint_out = model.joint.joint_net[-1]
    n_labels = model.joint.num_classes_with_blank - model.joint.num_extra_outputs
    blank = n_labels - 1
    with torch.no_grad():
        joint_out.bias[n_labels:] = 0.0
        joint_out.bias[n_labels + TDT_DURATIONS.index(STEP_DURATION)] = DURATION_BIAS
        audio = torch.from_numpy(speechlike(seconds, seed=SEED))[None]
        encoded, encoded_len = model.forward(input_signal=audio, input_signal_length=torch.tensor([audio.shape[1]]))
        low, high = BIAS_RANGE
        original = float(joint_out.bias[blank])
        for _ in range(CALIBRATION_STEPS):
            middle = (low + high) / 2
            joint_out.bias[blank] = original + middle
            if _tokens_per_second(model, encoded, encoded_len, seconds) > TOKENS_PER_SECOND:
                low = middle  # too many tokens: favour the blank more
            else:
                high = middle
        joint_out.bias[blank] = original + high
        return high, _tokens_per_second(model, encoded, encoded_len, seconds)


def parakeet_like_path(cache_dir: Path = CACHE_DIR, *, rebuild: bool = False) -> Path:
    """The cached ``.nemo`` of the parakeet-like model, built first when missing (a minute or two, 2.4 GB)."""
    import torch
    from omegaconf import OmegaConf

    cache_dir.mkdir(parents=True, exist_ok=True)
    tok_dir = build_tokenizer(cache_dir / "parakeet-like")
    cfg = parakeet_config(tok_dir)
    path = cache_dir / f"parakeet-like-{_config_hash(cfg)}.nemo"
    if path.is_file() and not rebuild:
        return path
    with _quiet_nemo():
        torch.manual_seed(SEED)
        model = model_class("tdt")(cfg=OmegaConf.create(cfg))
        model.eval()
        bias, reached = calibrate_output(model)
        print(f"calibrated blank bias {bias:+.3f}: {reached:.2f} tokens/s on speech-like noise")
        partial = path.with_suffix(".partial")
        model.save_to(str(partial))
        partial.replace(path)  # a build cut short never leaves a truncated .nemo behind
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="build again even when a cached file exists")
    parser.add_argument("--check", action="store_true", help="also transcribe 20 s of noise and print the time")
    args = parser.parse_args()
    use_passive_openmp()  # before torch is imported

    started = time.perf_counter()
    path = parakeet_like_path(rebuild=args.rebuild)
    print(f"model file: {path} ({path.stat().st_size / 2**30:.2f} GiB, ready in {time.perf_counter() - started:.0f} s)")

    import torch
    from nemo.collections.asr.models import ASRModel

    with _quiet_nemo():
        model = ASRModel.restore_from(str(path), map_location="cpu")
    model.eval()
    counts = count_parameters(model)
    for name, count in counts.items():
        print(f"{name:<14}{count / 1e6:>10.1f} M")
    print(f"published: ~{PUBLISHED_PARAMETERS / 1e6:.0f} M; this model: {counts['total'] / PUBLISHED_PARAMETERS:.2f}x")
    if args.check:
        audio = speechlike(CHECK_S, seed=0)
        started = time.perf_counter()
        (hypothesis,) = model.transcribe(
            [audio], batch_size=1, num_workers=0, return_hypotheses=True, timestamps=True, verbose=False
        )
        wall = time.perf_counter() - started
        words = len(hypothesis.timestamp["word"])
        threads = torch.get_num_threads()
        print(f"{CHECK_S:g} s of noise: {wall:.1f} s (RTFx {CHECK_S / wall:.1f}), {words} words, {threads} torch threads")


if __name__ == "__main__":
    main()
