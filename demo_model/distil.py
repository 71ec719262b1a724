"""Continue training the demo model against babble by distillation: a student hears clips under babble and learns to
say, frame by frame, what a teacher (the model it starts from, frozen) says of the same clips without it.

CTC on its own tells a model which words a clip holds, not where; the teacher's per-frame posteriors on the clean
clip say, for every frame, what the student should hear through the babble. Each step takes ``--batch`` clips of
the training set as they are (CTC, as ``train.py``) and ``--batch`` clips of it that have no noise, which the student
hears under babble of the training voices at ``--snr`` dB (CTC on their text, plus the KL divergence from the
teacher's posteriors, weighted ``--kl-weight``). With ``--anchor-weight`` above zero the teacher also hears the
clips as they are, and the student's frames on them are drawn toward the teacher's by that weight, so what it hears
in clear speech stays where the teacher had it while it learns the babble. SpecAugment runs on the student as in
``train.py``; the teacher hears every clip unaugmented. The babble is cut from ``make_data``'s bank of training tracks, so no voice of
the evaluation splits is heard.

Usage::

    python -m demo_model.distil --data /tmp/demo-data --init transcriber/assets/demo-en-commands.nemo --out M.nemo
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from demo_model.make_data import babble, under_noise
from demo_model.threads import with_torch_threads
from demo_model.voices import SAMPLE_RATE

logger = logging.getLogger(__name__)

STEPS = 3000
BATCH = 8
PEAK_LR = 5e-4
WARMUP_STEPS = 100
GRAD_CLIP = 1.0
BETAS = (0.9, 0.98)
WEIGHT_DECAY = 1e-3
SNR_DB = (0.0, 10.0)
KL_WEIGHT = 1.0
ANCHOR_WEIGHT = 0.0
SAVE_EVERY = 500
LOG_EVERY = 50
THREADS = 2
TORCH_SEED = 1234
RNG_SEED = 20261206
BABBLE_VOICES = "train"


def under_babble(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``samples`` with training babble added at ``snr_db`` (as ``make_data`` puts noise under speech); where the sum
    would clip, scaled down to the peak ``samples`` had."""
    mixed = under_noise(samples, babble(len(samples), BABBLE_VOICES, rng), snr_db)
    peak = float(np.abs(mixed).max())
    return (mixed / peak * np.abs(samples).max() if peak > 1.0 else mixed).astype(np.float32)


def consistency_loss(teacher_log_probs, teacher_lengths, student_log_probs, student_lengths):
    """Mean over the frames both models computed of KL(teacher || student), from (batch, frames, tokens) log
    posteriors; frames past a clip's length are padding and do not count."""
    import torch

    frames = min(teacher_log_probs.shape[1], student_log_probs.shape[1])
    teacher, student = teacher_log_probs[:, :frames], student_log_probs[:, :frames]
    lengths = torch.minimum(teacher_lengths, student_lengths)
    mask = (torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]).to(teacher.dtype)
    per_frame = (teacher.exp() * (teacher - student)).sum(-1)
    return (per_frame * mask).sum() / mask.sum().clamp(min=1.0)


def learning_rate(step: int, steps: int, peak_lr: float) -> float:
    """Linear warm-up over :data:`WARMUP_STEPS`, then cosine decay to zero at ``steps``."""
    if step < WARMUP_STEPS:
        return peak_lr * (step + 1) / WARMUP_STEPS
    return peak_lr * 0.5 * (1 + math.cos(math.pi * (step - WARMUP_STEPS) / max(1, steps - WARMUP_STEPS)))


def _padded(clips: list[np.ndarray]):
    import torch

    signal = torch.zeros(len(clips), max(len(c) for c in clips))
    for row, clip in enumerate(clips):
        signal[row, : len(clip)] = torch.from_numpy(clip)
    return signal, torch.tensor([len(c) for c in clips])


def _targets(tokenizer, texts: list[str]):
    import torch

    ids = [tokenizer.text_to_ids(text) for text in texts]
    targets = torch.zeros(len(ids), max(1, max(len(i) for i in ids)), dtype=torch.long)
    for row, tokens in enumerate(ids):
        targets[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
    return targets, torch.tensor([len(i) for i in ids])


def _ctc(model, clips: list[np.ndarray], texts: list[str]):
    """The model's CTC loss on ``clips`` and its log posteriors and their lengths."""
    signal, lengths = _padded(clips)
    log_probs, encoded_lengths, _ = model(input_signal=signal, input_signal_length=lengths)
    targets, target_lengths = _targets(model.tokenizer, texts)
    loss = model.loss(log_probs=log_probs, targets=targets, input_lengths=encoded_lengths,
                      target_lengths=target_lengths)
    return loss, log_probs, encoded_lengths


@with_torch_threads(THREADS)
def distil(data: Path, init: Path, out: Path, *, steps: int = STEPS, batch: int = BATCH, peak_lr: float = PEAK_LR,
           snr_db: tuple[float, float] = SNR_DB, kl_weight: float = KL_WEIGHT, anchor_weight: float = ANCHOR_WEIGHT,
           max_minutes: float | None = None) -> int:
    """Train from ``init`` on ``data``'s ``train.json`` as the module docstring says; save to ``out`` every
    :data:`SAVE_EVERY` steps and at the end. Returns the number of steps run."""
    import torch
    from nemo.collections.asr.models import ASRModel

    torch.manual_seed(TORCH_SEED)
    rng = np.random.default_rng(RNG_SEED)
    entries = [json.loads(line) for line in (data / "train.json").read_text(encoding="utf-8").splitlines()]
    clean = [e for e in entries if e.get("noise") is None and e["text"]]
    if not clean:
        raise SystemExit(f"{data / 'train.json'} has no clip with speech and without noise to put babble under")
    logger.info("%d training clips, %d of them with speech and without noise", len(entries), len(clean))
    student = ASRModel.restore_from(str(init), map_location="cpu")
    teacher = ASRModel.restore_from(str(init), map_location="cpu").eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    optimizer = torch.optim.AdamW(student.parameters(), lr=peak_lr, betas=BETAS, weight_decay=WEIGHT_DECAY)

    def read(entry: dict) -> np.ndarray:
        return sf.read(entry["audio_filepath"], dtype="float32")[0]

    babble(SAMPLE_RATE, BABBLE_VOICES, rng)  # the bank is made now, before the clock starts
    started = time.perf_counter()
    student.train()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, peak_lr)
        as_they_are = [entries[i] for i in rng.integers(len(entries), size=batch)]
        plain_clips = [read(e) for e in as_they_are]
        plain_loss, plain_log_probs, plain_lengths = _ctc(student, plain_clips, [e["text"] for e in as_they_are])
        anchor = torch.zeros(())
        if anchor_weight > 0:
            with torch.no_grad():
                signal, lengths = _padded(plain_clips)
                teacher_plain, teacher_plain_lengths, _ = teacher(input_signal=signal, input_signal_length=lengths)
            anchor = consistency_loss(teacher_plain, teacher_plain_lengths, plain_log_probs, plain_lengths)
        chosen = [clean[i] for i in rng.integers(len(clean), size=batch)]
        clips = [read(e) for e in chosen]
        with torch.no_grad():
            signal, lengths = _padded(clips)
            teacher_log_probs, teacher_lengths, _ = teacher(input_signal=signal, input_signal_length=lengths)
        noisy = [under_babble(c, float(rng.uniform(*snr_db)), rng) for c in clips]
        babble_loss, student_log_probs, student_lengths = _ctc(student, noisy, [e["text"] for e in chosen])
        kl = consistency_loss(teacher_log_probs, teacher_lengths, student_log_probs, student_lengths)
        loss = 0.5 * (plain_loss + babble_loss) + kl_weight * kl + anchor_weight * anchor
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), GRAD_CLIP)
        optimizer.step()
        minutes = (time.perf_counter() - started) / 60
        if step % LOG_EVERY == 0:
            logger.info("step %d/%d loss %.3f (CTC %.3f, under babble %.3f, KL %.4f, anchor %.4f) lr %.2e  %.0f s",
                        step, steps, float(loss), float(plain_loss), float(babble_loss), float(kl), float(anchor),
                        learning_rate(step, steps, peak_lr), minutes * 60)
        last = step + 1 == steps or (max_minutes is not None and minutes >= max_minutes)
        if (step + 1) % SAVE_EVERY == 0 or last:
            student.eval()
            student.save_to(str(out))
            student.train()
            logger.info("saved %s at step %d", out, step + 1)
        if last:
            return step + 1
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder written by make_data.py (its train.json)")
    parser.add_argument("--init", type=Path, required=True, help="the model to start from, and the teacher")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--batch", type=int, default=BATCH, help="clips as they are, and as many under babble")
    parser.add_argument("--peak-lr", type=float, default=PEAK_LR)
    parser.add_argument("--snr", type=float, nargs=2, default=SNR_DB, metavar=("LOW", "HIGH"))
    parser.add_argument("--kl-weight", type=float, default=KL_WEIGHT)
    parser.add_argument("--anchor-weight", type=float, default=ANCHOR_WEIGHT,
                        help="weight of the KL toward the teacher on the clips as they are (0: none)")
    parser.add_argument("--max-minutes", type=float, help="stop (and save) after this long")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ran = distil(args.data, args.init, args.out, steps=args.steps, batch=args.batch, peak_lr=args.peak_lr,
                 snr_db=tuple(args.snr), kl_weight=args.kl_weight, anchor_weight=args.anchor_weight,
                 max_minutes=args.max_minutes)
    logger.info("%d steps; model in %s", ran, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
