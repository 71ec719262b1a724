"""Train the embedded demo model: a small FastConformer-CTC (NeMo ``EncDecCTCModelBPE``) on the voice-pool data set.

Why these choices:

* CTC, not RNNT or TDT: NeMo 3.0's TDT loss needs CUDA and RNNT trains about ten times slower on a CPU; the data
  set is small and the vocabulary closed, so CTC reaches a low error within the time budget of two CPU cores.
* One SentencePiece piece per word (``▁seven``): the vocabulary is closed, so whole-word pieces make each word a
  single CTC spike, which trains fastest; the letters stay in the tokenizer so any text can still be encoded.
* Subsampling x4 (one encoder frame = 40 ms) rather than FastConformer's x8: twice the frames cost little at this
  size and halve the granularity of word timestamps.

The model is trained with NeMo's own data loaders and a Lightning ``Trainer`` for a fixed number of steps (fixed
seeds, so reruns match up to floating-point non-determinism); the weights with the lowest validation WER are saved.

Usage::

    python -m demo_model.make_data --out /tmp/demo-data
    python -m demo_model.train --data /tmp/demo-data --out transcriber/assets/demo-en-commands.nemo
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from demo_model.make_data import VOCABULARY
from demo_model.threads import with_torch_threads

logger = logging.getLogger(__name__)

SEED = 1234
THREADS = 2
SAMPLE_RATE = 16_000
N_MELS = 80
WINDOW_STRIDE = 0.01
SUBSAMPLING_FACTOR = 4
D_MODEL = 96
N_LAYERS = 5
N_HEADS = 4
FF_EXPANSION = 4
CONV_KERNEL = 9
SUBSAMPLING_CHANNELS = 64
DROPOUT = 0.1
BATCH_SIZE = 16
PEAK_LR = 2.5e-3
WARMUP_STEPS = 100
DEFAULT_STEPS = 4000
VALIDATION_EVERY = 100
LOG_EVERY = 25
MAX_CLIP_S = 12.0
VOCAB_SLACK = 16


def build_tokenizer(out_dir: Path) -> Path:
    """A SentencePiece unigram tokenizer whose pieces are the letters plus one ``▁word`` piece per vocabulary word."""
    import sentencepiece
    from nemo.collections.common.tokenizers.sentencepiece_tokenizer import create_spt_model

    words = sorted(VOCABULARY)
    letters = {char for word in words for char in word}
    shutil.rmtree(out_dir, ignore_errors=True)  # create_spt_model keeps an existing model
    out_dir.mkdir(parents=True)
    corpus = out_dir / "corpus.txt"
    # Every ordered pair of words: each word equally frequent and next to every other. (With one word per line the
    # unigram trainer keeps only fragments.)
    corpus.write_text("".join(f"{a} {b}\n" for a in words for b in words), encoding="utf-8")
    create_spt_model(
        str(corpus),
        # letters + "▁word" pieces + <unk>, plus slack: the limit is soft and a tight one can leave a word split.
        vocab_size=len(letters) + len(words) + 1 + VOCAB_SLACK,
        sample_size=-1,
        do_lower_case=True,
        tokenizer_type="unigram",
        output_dir=str(out_dir),
    )
    processor = sentencepiece.SentencePieceProcessor(model_file=str(out_dir / "tokenizer.model"))
    split = [w for w in words if len(processor.encode(w)) != 1]
    if split:
        raise RuntimeError(f"tokenizer splits these words into several pieces: {split}")
    return out_dir


def check_vocabulary(manifest: Path) -> None:
    """Every word of the manifest must be a vocabulary word (one tokenizer piece)."""
    texts = [json.loads(line)["text"] for line in manifest.read_text(encoding="utf-8").splitlines()]
    unknown = {word for text in texts for word in text.split()} - set(VOCABULARY)
    if unknown:
        raise ValueError(f"{manifest} has words outside the vocabulary: {sorted(unknown)}")


def _data_cfg(manifest: Path | None, *, shuffle: bool, batch_size: int) -> dict[str, Any]:
    return {
        "manifest_filepath": str(manifest) if manifest else None,
        "sample_rate": SAMPLE_RATE,
        "batch_size": batch_size,
        "shuffle": shuffle,
        "num_workers": 0,  # a worker process would only compete for the same two cores
        "pin_memory": False,
        "max_duration": MAX_CLIP_S,
        "trim_silence": False,
        "use_start_end_token": False,
        # Batches of similar length: less padding, and padding costs the same as speech on a CPU.
        "use_semi_sorted_batching": shuffle,
        "randomization_factor": 0.2,
        "drop_last": False,
    }


def preprocessor_config(features: int, *, pad_to: int = 0) -> dict[str, Any]:
    """NeMo's log-mel front end as both demo models use it: 25 ms windows every 10 ms, per-feature normalisation;
    ``pad_to`` pads the frames to a multiple of it (the demo diarizer was trained with NeMo's default, 16)."""
    return {
        "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
        "sample_rate": SAMPLE_RATE,
        "normalize": "per_feature",
        "window_size": 0.025,
        "window_stride": WINDOW_STRIDE,
        "window": "hann",
        "features": features,
        "n_fft": 512,
        "log": True,
        "frame_splicing": 1,
        "dither": 1e-5,
        "pad_to": pad_to,
        "pad_value": 0.0,
    }


def model_config(tokenizer_dir: Path, train: Path, validation: Path, max_steps: int, *, d_model: int = D_MODEL,
                 n_layers: int = N_LAYERS, subsampling: int = SUBSAMPLING_FACTOR) -> dict[str, Any]:
    """The full NeMo config of the demo model (``d_model``, ``n_layers`` and ``subsampling`` shape the encoder)."""
    return {
        "sample_rate": SAMPLE_RATE,
        "log_prediction": False,
        "ctc_reduction": "mean_volume",
        "skip_nan_grad": False,
        "tokenizer": {"dir": str(tokenizer_dir), "type": "bpe"},
        "preprocessor": preprocessor_config(N_MELS),
        "spec_augment": {
            "_target_": "nemo.collections.asr.modules.SpectrogramAugmentation",
            "freq_masks": 2,
            "time_masks": 4,
            "freq_width": 15,
            "time_width": 0.025,
        },
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConformerEncoder",
            "feat_in": N_MELS,
            "feat_out": -1,
            "n_layers": n_layers,
            "d_model": d_model,
            "subsampling": "dw_striding",
            "subsampling_factor": subsampling,
            "subsampling_conv_channels": SUBSAMPLING_CHANNELS,
            "causal_downsampling": False,
            "ff_expansion_factor": FF_EXPANSION,
            "self_attention_model": "rel_pos",
            "n_heads": N_HEADS,
            "att_context_size": [-1, -1],
            "xscaling": True,
            "untie_biases": True,
            "pos_emb_max_len": 5000,
            "conv_kernel_size": CONV_KERNEL,
            "conv_norm_type": "batch_norm",
            "dropout": DROPOUT,
            "dropout_pre_encoder": DROPOUT,
            "dropout_emb": 0.0,
            "dropout_att": DROPOUT,
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
            "feat_in": d_model,
            "num_classes": -1,
            "vocabulary": [],
        },
        "decoding": {"strategy": "greedy_batch"},
        "train_ds": _data_cfg(train, shuffle=True, batch_size=BATCH_SIZE),
        "validation_ds": _data_cfg(validation, shuffle=False, batch_size=BATCH_SIZE),
        "test_ds": None,
        "optim": {
            "name": "adamw",
            "lr": PEAK_LR,
            "betas": [0.9, 0.98],
            "weight_decay": 1e-3,
            "sched": {"name": "CosineAnnealing", "warmup_steps": WARMUP_STEPS, "min_lr": 1e-5, "max_steps": max_steps},
        },
    }


def _progress_callback(total_steps: int, started: float):
    """A Lightning callback that logs loss and validation WER and keeps the weights with the best validation WER."""
    import lightning.pytorch as pl

    class Progress(pl.Callback):
        def __init__(self) -> None:
            self.best_wer = float("inf")
            self.best_state: dict[str, Any] | None = None
            self.best_step = -1

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            step = trainer.global_step
            if step % LOG_EVERY == 0:
                metrics = trainer.callback_metrics
                logger.info(
                    "step %d/%d loss %.3f lr %.2e  %.0f s",
                    step,
                    total_steps,
                    float(metrics.get("train_loss", float("nan"))),
                    float(metrics.get("learning_rate", float("nan"))),
                    time.perf_counter() - started,
                )

        def on_validation_end(self, trainer, pl_module) -> None:
            if trainer.sanity_checking:
                return
            wer = float(trainer.callback_metrics.get("val_wer", float("nan")))
            logger.info("step %d validation WER %.4f  %.0f s", trainer.global_step, wer, time.perf_counter() - started)
            if wer <= self.best_wer:  # ties go to the later, longer-trained weights
                self.best_wer, self.best_step = wer, trainer.global_step
                self.best_state = copy.deepcopy(pl_module.state_dict())

    return Progress()


LAYER_OUTPUTS = ("feed_forward1.linear2.", "self_attn.linear_out.", "conv.pointwise_conv2.", "feed_forward2.linear2.")
"""The last projection of each residual branch of a Conformer layer: zeros make the branch add nothing."""


def deepened(state: dict[str, Any], n_layers: int) -> dict[str, Any]:
    """``state`` (a model's ``state_dict``) with encoder layers added after its last up to ``n_layers``, each a copy of
    the last whose residual branches add nothing (:data:`LAYER_OUTPUTS` zeroed), so the deeper model starts out
    saying what the model it grows from says (up to its added layers' output norm) and training gives the new layers
    their work."""
    prefix = "encoder.layers."
    have = 1 + max(int(key[len(prefix):].split(".")[0]) for key in state if key.startswith(prefix))
    if n_layers < have:
        raise ValueError(f"has {have} encoder layers; --layers {n_layers} cannot cut it")
    last = f"{prefix}{have - 1}."
    last_layer = {key[len(last):]: value for key, value in state.items() if key.startswith(last)}
    grown = dict(state)
    for index in range(have, n_layers):
        for name, value in last_layer.items():
            grown[f"{prefix}{index}.{name}"] = value.new_zeros(value.shape) if name.startswith(LAYER_OUTPUTS) \
                else value.clone()
    return grown


@with_torch_threads(THREADS)
def train(
    data: Path, out: Path, *, steps: int, work_dir: Path, max_minutes: float | None = None,
    init: Path | None = None, peak_lr: float = PEAK_LR, d_model: int = D_MODEL, n_layers: int = N_LAYERS,
    subsampling: int = SUBSAMPLING_FACTOR,
) -> Path:
    """Build, train and save the model; returns ``out``.

    ``max_minutes`` stops training early (a safety net on a busy machine); the best weights so far are saved.
    ``init`` continues from the weights of an earlier model of the same shape (its tokenizer must be this one), with
    a fresh warm-up and cosine schedule peaking at ``peak_lr``; an earlier model with fewer encoder layers grows to
    ``n_layers`` (:func:`deepened`). ``d_model``, ``n_layers`` and ``subsampling`` shape the encoder.
    """
    import lightning.pytorch as pl
    from nemo.collections.asr.models import EncDecCTCModelBPE
    from omegaconf import OmegaConf

    started = time.perf_counter()
    pl.seed_everything(SEED, workers=True)
    for split in ("train", "validation"):
        check_vocabulary(data / f"{split}.json")
    tokenizer_dir = build_tokenizer(work_dir / "tokenizer")
    cfg = OmegaConf.create(model_config(tokenizer_dir, data / "train.json", data / "validation.json", steps,
                                        d_model=d_model, n_layers=n_layers, subsampling=subsampling))
    cfg.optim.lr = peak_lr
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=steps,
        max_time=None if max_minutes is None else {"minutes": max_minutes},
        val_check_interval=VALIDATION_EVERY,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        gradient_clip_val=1.0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(work_dir),
    )
    model = EncDecCTCModelBPE(cfg=cfg, trainer=trainer)
    if init is not None:
        earlier = EncDecCTCModelBPE.restore_from(str(init), map_location="cpu")
        if earlier.tokenizer.vocab != model.tokenizer.vocab:
            raise SystemExit(f"{init} has another tokenizer; it cannot be continued")
        try:
            model.load_state_dict(deepened(earlier.state_dict(), n_layers))
        except ValueError as error:
            raise SystemExit(f"{init} {error}") from None
        logger.info("continuing from %s (%d encoder layers; now %d)", init, earlier.cfg.encoder.n_layers, n_layers)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("model: %.2f M parameters", n_params / 1e6)
    progress = _progress_callback(steps, started)
    trainer.callbacks.append(progress)
    trainer.fit(model)
    if progress.best_state is not None:
        logger.info("keeping step %d weights (validation WER %.4f)", progress.best_step, progress.best_wer)
        model.load_state_dict(progress.best_state)
    # The shipped model must not point at this machine's manifests.
    model.cfg.train_ds.manifest_filepath = None
    model.cfg.validation_ds.manifest_filepath = None
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save_to(str(out))
    logger.info("saved %s (%.1f MB); wall time %.1f s", out, out.stat().st_size / 1e6, time.perf_counter() - started)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder written by make_data.py")
    parser.add_argument("--out", type=Path, default=Path("transcriber/assets/demo-en-commands.nemo"))
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="optimizer steps")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop training after this long")
    parser.add_argument("--work-dir", type=Path, default=None, help="tokenizer and scratch files (default: <data>/work)")
    parser.add_argument("--init", type=Path, help="continue from this model's weights (same shape and tokenizer; "
                                                  "fewer --layers grow to this many)")
    parser.add_argument("--peak-lr", type=float, default=PEAK_LR, help=f"peak learning rate (default {PEAK_LR})")
    parser.add_argument("--d-model", type=int, default=D_MODEL, help=f"encoder width (default {D_MODEL})")
    parser.add_argument("--layers", type=int, default=N_LAYERS, help=f"encoder layers (default {N_LAYERS})")
    parser.add_argument("--subsampling", type=int, choices=(4, 8), default=SUBSAMPLING_FACTOR,
                        help=f"encoder frames per 10 ms feature frames (default {SUBSAMPLING_FACTOR}: 40 ms)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("NEMO_REDIRECT_LOGS_TO_STDERR", "1")
    train(args.data, args.out, steps=args.steps, work_dir=args.work_dir or args.data / "work",
          max_minutes=args.max_minutes, init=args.init, peak_lr=args.peak_lr, d_model=args.d_model,
          n_layers=args.layers, subsampling=args.subsampling)
    return 0


if __name__ == "__main__":
    sys.exit(main())
