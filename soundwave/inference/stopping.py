"""`stop_when(should_stop)`: stop a `generate` call between decoding steps once a flag says so (a request given up).

transformers asks its stopping criteria after every new token; this one answers "done" for every row as soon as
`should_stop()` is true, so the call returns at the next step instead of running to `max_new_tokens`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

StopFlag = Callable[[], bool]  # true once the work is given up


class StopWhen(StoppingCriteria):
    """Every row is done once `should_stop()` is true (a cheap call: it runs after each decoding step)."""

    def __init__(self, should_stop: StopFlag) -> None:
        self.should_stop = should_stop

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.BoolTensor:
        """input_ids: (R, S) the rows so far. Returns (R,) all True once stopped, else all False."""
        return torch.full((input_ids.shape[0],), bool(self.should_stop()), dtype=torch.bool, device=input_ids.device)


def stop_when(should_stop: StopFlag) -> StoppingCriteriaList:
    """`generate(stopping_criteria=...)` that ends the call once `should_stop()` is true."""
    return StoppingCriteriaList([StopWhen(should_stop)])
