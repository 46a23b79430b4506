"""`set_trainable`: which parameters train, from glob patterns over parameter names (a stage YAML's `trainable`)."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from torch import nn


def set_trainable(model: nn.Module, patterns: Sequence[str]) -> int:
    """Freeze every parameter, then unfreeze those whose name matches one of the glob patterns.

    Patterns match whole names, case-sensitively, and `*` also crosses dots: `"align_adapter.*"`,
    `"*lora_*"`, `"llm.model.layers.*.self_attn.*"`.

    Args:
        model: the model.
        patterns: glob patterns over `model.named_parameters()` names; empty freezes everything.

    Returns:
        The number of trainable parameters (elements).

    Raises:
        ValueError: naming every pattern that matches no parameter (almost always a typo in the config).
    """
    if isinstance(patterns, str):
        raise TypeError(f"patterns must be a list of glob patterns, got the string {patterns!r}")
    names = [name for name, _ in model.named_parameters()]
    unmatched = [p for p in patterns if not any(fnmatchcase(name, p) for name in names)]
    if unmatched:
        roots = sorted({name.split(".")[0] for name in names})
        raise ValueError(
            f"trainable pattern(s) {unmatched} match no parameter of {type(model).__name__} "
            f"(top-level modules: {roots}; e.g. {names[0]!r})"
        )
    total = 0
    for name, param in model.named_parameters():
        param.requires_grad_(any(fnmatchcase(name, p) for p in patterns))
        total += param.numel() if param.requires_grad else 0
    return total


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (tied parameters counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
