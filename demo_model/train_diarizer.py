"""Train the embedded demo diarizer: a small NeMo ``SortformerEncLabelModel`` on synthetic conversations.

The model is NVIDIA's Sortformer architecture (FastConformer encoder, Transformer encoder, one sigmoid per speaker
and 80 ms frame, speakers in arrival order) at a size two CPU cores can train, built from a config: the app then
runs it through exactly the code path of NVIDIA's released diarizers (``restore_from``, ``diarize()``).

Why these choices:

* A plain PyTorch loop, not Lightning: conversations are mixed in memory from an utterance bank for every step
  (``demo_model/conversations.py``), so there is no data set on disk; the loss is NeMo's own (``BCELoss`` on the
  arrival-time-sorted and the permutation-invariant targets, weighted by the config's ``ats_weight`` and
  ``pil_weight``), computed as ``SortformerEncLabelModel.training_step`` does.
* A curriculum from 8 s to :data:`MAX_CLIP_S` conversations: short clips teach speech activity and speaker changes
  fast, long ones teach keeping a speaker's identity. The app diarizes long audio in windows of the model's
  ``session_len_sec`` (set to :data:`MAX_CLIP_S`, the longest it trained on) and matches speakers between windows;
  a shorter window measured better on validation conversations is stored afterwards as ``diarization_window_sec``
  (``python -m demo_model.evaluate_diarizer --split validation --windows ...``, then ``--write-window S``).
* Learning rate and curriculum follow ``progress = max(step / steps, elapsed / budget)``: a run cut short by its
  time budget still ends its schedule.
* Voices: the pool's train split only (espeak-ng and flite); validation on the validation split's voices.
* ``--ema DECAY`` also keeps an exponential moving average of the weights (:class:`WeightAverage`), validated
  beside them at every check; the better of the two is kept. (In the one run measured with it, the average and the
  weights measured within 0.2 points of each other at every check: demo_model/README.md.)

Usage::

    python -m demo_model.train_diarizer --out transcriber/assets/demo-diarizer.nemo
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from demo_model.conversations import assemble, frame_targets, pick_speakers, utterance_bank
from demo_model.threads import with_torch_threads
from demo_model.train import preprocessor_config
from demo_model.voices import SAMPLE_RATE, Voice, VoiceChange, split_voices

logger = logging.getLogger(__name__)

SEED = 4321
THREADS = 2
N_MELS = 80
D_MODEL = 96
N_LAYERS = 4
TF_LAYERS = 2
MAX_SPEAKERS = 4
SUBSAMPLING = 8
FRAME_S = 0.01 * SUBSAMPLING
BATCH_SIZE = 4
PEAK_LR = 1e-3
MIN_LR = 1e-5
WARMUP_STEPS = 300
DEFAULT_STEPS = 6000
DEFAULT_MINUTES = 35.0
MIN_CLIP_S = 8.0
MAX_CLIP_S = 30.0
CURRICULUM_SHARE = 0.6
"""Clip length grows from MIN_CLIP_S to MAX_CLIP_S over this share of the schedule."""
SPEAKER_COUNTS = (1, 2, 3, 4)
SPEAKER_WEIGHTS = (0.0, 0.45, 0.3, 0.25)
"""How often a training (and validation) conversation has 1, 2, 3 or 4 speakers. The committed model never heard one
voice alone; ``--speaker-weights 0.15,0.4,0.25,0.2`` adds such talk (measured, not adopted: demo_model/README.md)."""
TWO_SPEAKERS_SHARE = 0.25
"""The first share of the schedule uses two speakers only: telling two voices apart comes first."""
BANK_VOICES = 260
PHRASES_PER_VOICE = 6
FLITE_PHRASES = 60
"""flite has three training voices against espeak-ng's hundreds: each gets many phrases, so they are heard often."""
CHANGED_VOICES = 0
"""New voices made from training voices (formants and pitch moved, ``Voice.changed``) in the bank: more speakers to
tell apart than the pool's own (``--changed-voices``; the committed model had none)."""
FLITE_SHARE = 0.3
"""Share of training conversations with one flite voice among the speakers."""
VALIDATION_CONVERSATIONS = 24
VALIDATION_S = 20.0
VALIDATE_EVERY = 500
LOG_EVERY = 50


def model_config(session_s: float = MAX_CLIP_S) -> dict[str, Any]:
    """The demo diarizer's full NeMo config (``session_s``: the longest clip it trains on)."""
    return {
        "sample_rate": SAMPLE_RATE,
        "pil_weight": 0.5,
        "ats_weight": 0.5,
        "max_num_of_spks": MAX_SPEAKERS,
        "streaming_mode": False,
        "session_len_sec": session_s,
        "model_defaults": {"fc_d_model": D_MODEL, "tf_d_model": D_MODEL},
        "train_ds": None,
        "validation_ds": None,
        "test_ds": None,
        "preprocessor": preprocessor_config(N_MELS, pad_to=16),
        "sortformer_modules": {
            "_target_": "nemo.collections.asr.modules.sortformer_modules.SortformerModules",
            "num_spks": MAX_SPEAKERS,
            "dropout_rate": 0.1,
            "fc_d_model": D_MODEL,
            "tf_d_model": D_MODEL,
            "subsampling_factor": SUBSAMPLING,  # not linked to the encoder's: set equal by hand
        },
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConformerEncoder",
            "feat_in": N_MELS,
            "feat_out": -1,
            "n_layers": N_LAYERS,
            "d_model": D_MODEL,
            "subsampling": "dw_striding",
            "subsampling_factor": SUBSAMPLING,
            "subsampling_conv_channels": 64,
            "causal_downsampling": False,
            "ff_expansion_factor": 4,
            "self_attention_model": "rel_pos",
            "n_heads": 4,
            "att_context_size": [-1, -1],
            "xscaling": True,
            "untie_biases": True,
            "pos_emb_max_len": 5000,
            "conv_kernel_size": 9,
            "conv_norm_type": "batch_norm",
            "dropout": 0.1,
            "dropout_pre_encoder": 0.1,
            "dropout_emb": 0.0,
            "dropout_att": 0.1,
        },
        "transformer_encoder": {
            "_target_": "nemo.collections.asr.modules.transformer.transformer_encoders.TransformerEncoder",
            "num_layers": TF_LAYERS,
            "hidden_size": D_MODEL,
            "inner_size": 4 * D_MODEL,
            "num_attention_heads": 4,
            "attn_score_dropout": 0.1,
            "attn_layer_dropout": 0.1,
            "ffn_dropout": 0.1,
            "hidden_act": "relu",
            "pre_ln": False,
            "pre_ln_final_layer_norm": True,
        },
        "loss": {"_target_": "nemo.collections.asr.losses.bce_loss.BCELoss", "weight": None, "reduction": "mean"},
        "optim": {"name": "adamw", "lr": PEAK_LR},
    }


def build_model(session_s: float = MAX_CLIP_S):
    """A fresh demo-size Sortformer from :func:`model_config` (random weights)."""
    from nemo.collections.asr.models import SortformerEncLabelModel
    from omegaconf import OmegaConf

    return SortformerEncLabelModel(cfg=OmegaConf.create(model_config(session_s)))


def output_frames(samples: int) -> int:
    """Frames the model gives for ``samples`` of audio: 10 ms frames, halved (rounding up) per stride-2 layer."""
    frames = samples // 160
    for _ in range(int(math.log2(SUBSAMPLING))):
        frames = (frames - 1) // 2 + 1
    return frames


def _bank_job(job: tuple[Voice, int, int]) -> tuple[str, list[np.ndarray]]:
    voice, count, seed = job
    return voice.id, utterance_bank((voice,), count, np.random.default_rng(seed))[voice.id]


def bank_voices(voices: tuple[Voice, ...], rng: np.random.Generator, *, pool_voices: int = BANK_VOICES,
                changed_voices: int = 0) -> tuple[Voice, ...]:
    """The speakers of an utterance bank: every flite voice of ``voices``, ``pool_voices`` others, and
    ``changed_voices`` new voices made from them (:meth:`Voice.changed`), a third of those from flite voices."""
    flite = [v for v in voices if v.synthesizer == "flite"]
    others = [v for v in voices if v.synthesizer != "flite"]
    chosen = flite + [others[int(i)] for i in rng.choice(len(others), min(pool_voices, len(others)), replace=False)]
    changed = []
    for _ in range(changed_voices):
        source = chosen if rng.random() >= 1 / 3 or not flite else flite
        changed.append(source[int(rng.integers(len(source)))].changed(VoiceChange.draw(rng)))
    return tuple(chosen + changed)


def build_bank(voices: tuple[Voice, ...], rng: np.random.Generator, workers: int,
               phrases: int = PHRASES_PER_VOICE) -> dict[str, list[np.ndarray]]:
    """``phrases`` phrases of each of ``voices`` (:data:`FLITE_PHRASES` of flite's few voices, so they are heard
    often), synthesised in parallel; keyed by voice id."""
    jobs = [(v, FLITE_PHRASES if v.synthesizer == "flite" and v.change is None else phrases,
             int(rng.integers(2**31))) for v in voices]
    with multiprocessing.Pool(workers) as pool:
        return dict(pool.map(_bank_job, jobs, chunksize=4))


def draw(bank: dict[str, list[np.ndarray]], voices: tuple[Voice, ...], seconds: float, rng: np.random.Generator,
         speakers: int | None = None, weights: tuple[float, ...] = SPEAKER_WEIGHTS) -> tuple[np.ndarray, np.ndarray]:
    """One conversation of banked voices: samples and (frames, MAX_SPEAKERS) targets; ``speakers`` voices, else as
    many as drawn with ``weights`` (:data:`SPEAKER_COUNTS`)."""
    if speakers is None:
        speakers = int(rng.choice(SPEAKER_COUNTS, p=weights))
    available = tuple(v for v in voices if v.id in bank)
    flite = [v for v in available if v.synthesizer == "flite"]
    if flite and rng.random() < FLITE_SHARE:  # few voices, so drawn on purpose, else they would hardly be heard
        first = flite[int(rng.integers(len(flite)))]
        chosen = [first, *pick_speakers(tuple(v for v in available if v.family != first.family), speakers - 1, rng)]
        chosen = [chosen[int(i)] for i in rng.permutation(len(chosen))]
    else:
        chosen = pick_speakers(available, speakers, rng)
    samples, turns = assemble([bank[v.id] for v in chosen], seconds, rng)
    samples = samples[: round(seconds * SAMPLE_RATE)]
    return samples, frame_targets(turns, output_frames(len(samples)), FRAME_S, MAX_SPEAKERS)


def batch(bank, voices, seconds: float, rng: np.random.Generator, size: int, speakers: int | None = None,
          weights: tuple[float, ...] = SPEAKER_WEIGHTS):
    import torch

    items = [draw(bank, voices, seconds, rng, speakers, weights) for _ in range(size)]
    length = max(len(s) for s, _ in items)
    audio = torch.zeros(size, length)
    lengths = torch.tensor([len(s) for s, _ in items])
    frames = output_frames(length)
    targets = torch.zeros(size, frames, MAX_SPEAKERS)
    for i, (samples, target) in enumerate(items):
        audio[i, : len(samples)] = torch.from_numpy(samples)
        targets[i, : len(target)] = torch.from_numpy(target)
    target_lens = torch.tensor([output_frames(len(s)) for s, _ in items])
    return audio, lengths, targets, target_lens


def loss_of(model, audio, lengths, targets, target_lens):
    """NeMo's Sortformer training loss (ATS + PIL), as ``training_step`` computes it."""
    from nemo.collections.asr.parts.utils.asr_multispeaker_utils import get_ats_targets, get_pil_targets

    preds = model(audio_signal=audio, audio_signal_length=lengths)
    frames = min(preds.shape[1], targets.shape[1])
    preds, targets, target_lens = preds[:, :frames], targets[:, :frames], target_lens.clamp(max=frames)
    ats = get_ats_targets(targets.clone(), preds, speaker_permutations=model.speaker_permutations)
    pil = get_pil_targets(targets.clone(), preds, speaker_permutations=model.speaker_permutations)
    loss = model.ats_weight * model.loss(probs=preds, labels=ats, target_lens=target_lens) + model.pil_weight * model.loss(
        probs=preds, labels=pil, target_lens=target_lens
    )
    return loss, preds, pil


def frame_error(preds, pil_targets, target_lens) -> float:
    """Share of (frame, speaker) cells wrong at threshold 0.5, after the best speaker permutation."""
    wrong = total = 0
    for i in range(preds.shape[0]):
        n = int(target_lens[i])
        wrong += int(((preds[i, :n] > 0.5).float() != pil_targets[i, :n]).sum())
        total += n * preds.shape[2]
    return wrong / max(1, total)


CONTINUE_WARMUP_STEPS = 100
CONTINUE_MIN_CLIP_S = 20.0
"""A continued run (``--init``) skips the curriculum: clips of 20-30 s, speakers drawn with ``--speaker-weights``."""


def learning_rate(progress: float, step: int, peak_lr: float = PEAK_LR, warmup: int = WARMUP_STEPS) -> float:
    if step < warmup:
        return peak_lr * (step + 1) / warmup
    return MIN_LR + 0.5 * (peak_lr - MIN_LR) * (1 + math.cos(math.pi * min(1.0, progress)))


def clip_seconds(progress: float, max_clip_s: float = MAX_CLIP_S) -> float:
    return MIN_CLIP_S + (max_clip_s - MIN_CLIP_S) * min(1.0, progress / CURRICULUM_SHARE)


def _continued(path: Path, model) -> None:
    """Load the weights of an earlier demo diarizer of the same shape into ``model``."""
    from nemo.collections.asr.models import SortformerEncLabelModel

    earlier = SortformerEncLabelModel.restore_from(str(path), map_location="cpu")
    try:
        model.load_state_dict(earlier.state_dict())
    except RuntimeError as error:
        raise SystemExit(f"{path} is not a demo diarizer of this shape; it cannot be continued ({error})") from None
    logger.info("continuing from %s", path)


class WeightAverage:
    """Exponential moving average of a model's floating-point weights and buffers.

    ``decay`` is reached gradually (``min(decay, (1 + n) / (10 + n))`` after ``n`` updates), so the first steps'
    random weights fade out fast. :meth:`swapped_in` lends the average to the model for a validation or a save.
    """

    def __init__(self, model, decay: float):
        self.decay = decay
        self.updates = 0
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    def update(self, model) -> None:
        import torch

        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        current = model.state_dict()
        with torch.no_grad():
            for name, average in self.state.items():
                average.mul_(decay).add_(current[name].detach(), alpha=1 - decay)

    def swapped_in(self, model) -> dict:
        """Load the average into ``model``; returns the model's own state (a copy) to restore afterwards."""
        own = copy.deepcopy(model.state_dict())
        model.load_state_dict({**own, **self.state})
        return own


@with_torch_threads(THREADS)
def train(out: Path, *, steps: int, minutes: float, workers: int, init: Path | None = None,
          peak_lr: float = PEAK_LR, speaker_weights: tuple[float, ...] = SPEAKER_WEIGHTS,
          changed_voices: int = CHANGED_VOICES, phrases: int = PHRASES_PER_VOICE,
          max_clip_s: float = MAX_CLIP_S, ema: float = 0.0) -> Path:
    """Train a demo diarizer into ``out``.

    ``init`` continues from an earlier model's weights: a short fresh warm-up to ``peak_lr`` and a cosine decay,
    without the curriculum (clips of :data:`CONTINUE_MIN_CLIP_S` to ``max_clip_s``, 1-4 speakers drawn with
    ``speaker_weights``, as the validation conversations are; from scratch, after the first
    :data:`TWO_SPEAKERS_SHARE` of two speakers, too). ``changed_voices`` new voices made from training voices join
    the utterance bank, which holds ``phrases`` phrases of each voice. Clips grow to ``max_clip_s``, the model's
    ``session_len_sec``.
    ``ema`` > 0 also validates an exponential moving average of the weights with that decay (:class:`WeightAverage`).
    """
    import torch

    started = time.perf_counter()
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    splits = split_voices()
    train_voices = bank_voices(splits["train"], rng, changed_voices=changed_voices)
    bank = build_bank(train_voices, rng, workers, phrases)
    bank_rng = np.random.default_rng(SEED + 1)
    validation_voices = bank_voices(splits["validation"], bank_rng)
    validation_bank = build_bank(validation_voices, bank_rng, workers)
    logger.info("utterance banks: %d + %d voices, %.0f s", len(bank), len(validation_bank), time.perf_counter() - started)
    validation_rng = np.random.default_rng(SEED + 2)
    validation = [batch(validation_bank, validation_voices, VALIDATION_S, validation_rng, 1, weights=speaker_weights)
                  for _ in range(VALIDATION_CONVERSATIONS)]

    model = build_model(max_clip_s)
    if init is not None:
        _continued(init, model)
    model.train()
    logger.info("model: %.2f M parameters", sum(p.numel() for p in model.parameters()) / 1e6)
    optimiser = torch.optim.AdamW(model.parameters(), lr=peak_lr, betas=(0.9, 0.98), weight_decay=1e-3)
    budget_s = minutes * 60
    train_started = time.perf_counter()
    best_error, best_state, best_step = float("inf"), None, ""
    average = WeightAverage(model, ema) if ema > 0 else None

    def keep_if_best(step: int, name: str) -> None:
        """Validate the weights the model holds now; keep a copy of them if they are the best so far."""
        nonlocal best_error, best_state, best_step
        error = validate(model, validation)
        logger.info("step %d validation frame error %.4f (%s)", step, error, name)
        if error <= best_error:
            best_error, best_state, best_step = error, copy.deepcopy(model.state_dict()), f"{step} ({name})"
        model.train()

    checked = -1

    def check(step: int) -> None:
        """Validate the weights after ``step`` (and their average), once."""
        nonlocal checked
        checked = step
        keep_if_best(step, "weights")
        if average is not None:
            own = average.swapped_in(model)
            keep_if_best(step, "average")
            model.load_state_dict(own)

    if init is not None:
        keep_if_best(0, "starting weights")
    warmup = WARMUP_STEPS if init is None else CONTINUE_WARMUP_STEPS

    trained = -1
    for step in range(steps):
        progress = max(step / steps, (time.perf_counter() - train_started) / budget_s)
        if progress >= 1.0:
            break
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(progress, step, peak_lr, warmup)
        if init is None:
            speakers = 2 if progress < TWO_SPEAKERS_SHARE else None
            seconds = clip_seconds(progress, max_clip_s)
        else:
            speakers = int(rng.choice(SPEAKER_COUNTS, p=speaker_weights))
            seconds = float(rng.uniform(min(CONTINUE_MIN_CLIP_S, max_clip_s), max_clip_s))
        audio, lengths, targets, target_lens = batch(bank, train_voices, seconds, rng, BATCH_SIZE, speakers,
                                                     speaker_weights)
        loss, _, _ = loss_of(model, audio, lengths, targets, target_lens)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        trained = step
        if average is not None:
            average.update(model)
        if step % LOG_EVERY == 0:
            logger.info("step %d loss %.4f lr %.2e clip %.0f s  %.0f s", step, loss.item(),
                        optimiser.param_groups[0]["lr"], seconds, time.perf_counter() - started)
        if step and step % VALIDATE_EVERY == 0:
            check(step)
    if trained > checked:  # the last weights, unless the last step was a validation step
        check(trained)
    if best_state is not None:
        logger.info("keeping step %s (validation frame error %.4f)", best_step, best_error)
        model.load_state_dict(best_state)
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save_to(str(out))
    logger.info("saved %s (%.1f MB); %d steps; wall time %.1f s", out, out.stat().st_size / 1e6, step + 1,
                time.perf_counter() - started)
    return out


def validate(model, validation) -> float:
    import torch

    model.eval()
    wrong = []
    with torch.no_grad():
        for audio, lengths, targets, target_lens in validation:
            _, preds, pil = loss_of(model, audio, lengths, targets, target_lens)
            wrong.append(frame_error(preds, pil, target_lens.clamp(max=preds.shape[1])))
    return float(np.mean(wrong))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("transcriber/assets/demo-diarizer.nemo"))
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES, help="time budget of the training loop")
    parser.add_argument("--workers", type=int, default=2, help="processes synthesising the utterance banks")
    parser.add_argument("--init", type=Path, help="continue from this demo diarizer's weights")
    parser.add_argument("--peak-lr", type=float, default=PEAK_LR, help=f"peak learning rate (default {PEAK_LR})")
    parser.add_argument("--changed-voices", type=int, default=CHANGED_VOICES,
                        help="new voices made from training voices in the utterance bank (default %(default)s)")
    parser.add_argument("--max-clip", type=float, default=MAX_CLIP_S,
                        help="longest training conversation in seconds, the model's session length "
                        "(default %(default)s)")
    parser.add_argument("--phrases", type=int, default=PHRASES_PER_VOICE,
                        help="phrases of each voice in the utterance bank (default %(default)s)")
    parser.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                        help="also validate a moving average of the weights with this decay, e.g. 0.999 (default: off)")
    parser.add_argument("--speaker-weights", default=",".join(map(str, SPEAKER_WEIGHTS)),
                        help="how often 1, 2, 3 and 4 speakers are drawn (default %(default)s)")
    args = parser.parse_args(argv)
    weights = tuple(float(w) for w in args.speaker_weights.split(","))
    if len(weights) != len(SPEAKER_COUNTS) or abs(sum(weights) - 1) > 1e-6:
        parser.error(f"--speaker-weights takes {len(SPEAKER_COUNTS)} numbers that add up to 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("NEMO_REDIRECT_LOGS_TO_STDERR", "1")
    train(args.out, steps=args.steps, minutes=args.minutes, workers=args.workers, init=args.init,
          peak_lr=args.peak_lr, speaker_weights=weights, changed_voices=args.changed_voices,
          phrases=args.phrases, max_clip_s=args.max_clip, ema=args.ema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
