"""The CPU threads a training run uses: set for the run and given back after it, so a run called in a process that
goes on (the tests, a notebook) does not leave every later model call in it on the run's thread count."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def with_torch_threads(count: int) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated function with PyTorch on ``count`` threads, then restore the thread count it had."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            import torch

            before = torch.get_num_threads()
            torch.set_num_threads(count)
            try:
                return function(*args, **kwargs)
            finally:
                torch.set_num_threads(before)

        return run

    return decorate
