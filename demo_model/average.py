"""Average the weights of demo models of one shape and tokenizer into one model (a "model soup").

Two runs of continued training on different fresh clips land on nearby weights; their mean is often better on voices
neither run heard than either run, and the variance of one run on one speaker shrinks. Floating-point tensors are
averaged (equal weights), anything else (step counters) is taken from the first model; the first model's
configuration and tokenizer are kept.

Usage::

    python -m demo_model.average --out /tmp/soup.nemo /tmp/run1.nemo /tmp/run2.nemo
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def average(models: list[Path], out: Path) -> Path:
    """Write the mean of ``models``' weights to ``out``; returns ``out``."""
    import torch
    from nemo.collections.asr.models import ASRModel

    if len(models) < 2:
        raise ValueError("averaging needs at least two models")
    loaded = [ASRModel.restore_from(str(path), map_location="cpu") for path in models]
    first = loaded[0]
    states = [model.state_dict() for model in loaded]
    shapes = {key: tensor.shape for key, tensor in states[0].items()}
    for path, model, state in zip(models[1:], loaded[1:], states[1:], strict=True):
        if model.tokenizer.vocab != first.tokenizer.vocab:
            raise ValueError(f"{path} has another tokenizer than {models[0]}")
        if {key: tensor.shape for key, tensor in state.items()} != shapes:
            raise ValueError(f"{path} has another shape than {models[0]}")
    mean = {}
    for key, tensor in states[0].items():
        if tensor.is_floating_point():
            mean[key] = (torch.stack([state[key].double() for state in states]).mean(0)).to(tensor.dtype)
        else:
            mean[key] = tensor
    first.load_state_dict(mean)
    out.parent.mkdir(parents=True, exist_ok=True)
    first.save_to(str(out))
    logger.info("averaged %d models -> %s (%.1f MB)", len(models), out, out.stat().st_size / 1e6)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", type=Path, nargs="+", help=".nemo files of one shape and tokenizer")
    parser.add_argument("--out", type=Path, required=True, help="the averaged .nemo")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        average(args.models, args.out)
    except ValueError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
