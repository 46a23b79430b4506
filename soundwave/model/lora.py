"""LoRA on the LLM through `peft`, wrapped once: nothing else in the package touches peft's API.

LoRA layers are injected in place (`peft.inject_adapter_in_model`), so the LLM stays the same object and its
parameter names gain only `.base_layer` / `.lora_A.default` / `.lora_B.default` parts. B starts at zero, so a
freshly wrapped model computes exactly what it did before.

    model.llm = apply_lora(model.llm, LoraSpec(r=64, alpha=16, dropout=0.05))
    with lora_merged(model.llm):        # plain Linear layers holding W + BA, e.g. to export
        ...
    merge_lora(model.llm)               # the same, for good
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import LoraLayer
from torch import Tensor, nn

from soundwave.errors import ConfigError

LORA_MARK = ".lora_"  # every LoRA parameter name holds it (lora_A, lora_B, lora_embedding_*, lora_magnitude_*)


@dataclass(frozen=True)
class LoraSpec:
    """LoRA hyper-parameters; the defaults are the paper's (r 64, alpha 16, dropout 0.05, on q, k, v, o)."""

    r: int = 64
    alpha: float = 16.0
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ConfigError(f"lora.r must be >= 1, got {self.r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"lora.dropout must be in [0, 1), got {self.dropout}")
        if not self.target_modules:
            raise ConfigError(
                "lora.target_modules is empty: name the Linear layers to adapt, e.g. ['q_proj', 'v_proj']"
            )


def apply_lora(module: nn.Module, spec: LoraSpec) -> nn.Module:
    """Inject LoRA layers into `module` in place and return it.

    Every parameter of `module` except the new LoRA ones is frozen (peft's convention); `set_trainable` decides
    what trains afterwards.

    Raises:
        ValueError: `module` already has LoRA layers, or no module matches `spec.target_modules`.
    """
    if has_lora(module):
        raise ValueError("the module already has LoRA layers; apply LoRA once (merge_lora first to re-apply)")
    config = LoraConfig(
        r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=list(spec.target_modules)
    )
    return inject_adapter_in_model(config, module)


def has_lora(module: nn.Module) -> bool:
    return any(isinstance(m, LoraLayer) for m in module.modules())


def is_lora_parameter(name: str) -> bool:
    """Whether a parameter name (from `named_parameters`) belongs to a LoRA layer's adapter weights."""
    return LORA_MARK in name


def lora_state_dict(module: nn.Module) -> dict[str, Tensor]:
    """The LoRA adapter tensors of `module`, under their `named_parameters` names."""
    return {name: p.detach() for name, p in module.named_parameters() if is_lora_parameter(name)}


def _lora_layers(module: nn.Module) -> list[tuple[nn.Module, str, LoraLayer]]:
    """(parent, attribute name, LoRA layer) for every LoRA layer under `module`."""
    found = []
    for parent in module.modules():
        for name, child in parent.named_children():
            if isinstance(child, LoraLayer):
                found.append((parent, name, child))
    return found


def merge_lora(module: nn.Module) -> nn.Module:
    """Fold every LoRA layer into its base Linear (W + BA) and put the plain Linear back, in place."""
    for parent, name, layer in _lora_layers(module):
        layer.merge()
        setattr(parent, name, layer.get_base_layer())
    for attr in ("peft_config", "active_adapter"):
        if attr in module.__dict__:
            delattr(module, attr)
    return module


@contextmanager
def lora_merged(module: nn.Module) -> Iterator[nn.Module]:
    """Within the block, `module` has plain Linear layers holding W + BA; on exit its LoRA layers are back.

    The base weights are restored bit for bit (a copy of each adapted weight is kept meanwhile).
    """
    layers = _lora_layers(module)
    saved = []
    for parent, name, layer in layers:
        base = layer.get_base_layer()
        saved.append(base.weight.detach().clone())
        layer.merge()
        setattr(parent, name, base)
    try:
        yield module
    finally:
        with torch.no_grad():
            for (parent, name, layer), weight in zip(layers, saved, strict=True):
                setattr(parent, name, layer)
                layer.unmerge()
                layer.get_base_layer().weight.copy_(weight)


@contextmanager
def lora_disabled(module: nn.Module) -> Iterator[nn.Module]:
    """Within the block, `module` runs its base Linear layers only: the model as it was before LoRA."""
    layers = _lora_layers(module)
    for parent, name, layer in layers:
        setattr(parent, name, layer.get_base_layer())
    try:
        yield module
    finally:
        for parent, name, layer in layers:
            setattr(parent, name, layer)
