"""Weight quantization for inference: less memory, and on CPU faster decoding.

- CPU, "int8": torch's dynamic quantization (int8 weights, fbgemm kernels) on every `nn.Linear` of the LLM and the
  audio encoder. The CTC head stays in float: its argmax decides which frames the shrinking step keeps.
- CUDA, "int8" / "nf4": bitsandbytes' `Linear8bitLt` / `Linear4bit` in place of the LLM's linear layers.
"""

from __future__ import annotations

import logging
import warnings

import torch
from torch import nn

from soundwave.errors import SoundwaveError

log = logging.getLogger(__name__)
QUANTIZATIONS = ("int8", "nf4")


def quantize_model(model: nn.Module, method: str) -> nn.Module:
    """Quantize `model` in place for inference and return it.

    Raises:
        SoundwaveError: unknown method, nf4 on CPU, or bitsandbytes missing on CUDA.
    """
    if method not in QUANTIZATIONS:
        raise SoundwaveError(f"quantize must be one of {QUANTIZATIONS}, got {method!r}")
    merge_adapters(model)
    device = next(model.parameters()).device
    if device.type == "cpu":
        if method != "int8":
            raise SoundwaveError("nf4 needs CUDA and bitsandbytes; on CPU use quantize='int8'")
        return _cpu_int8(model)
    return _bitsandbytes(model, method)


def merge_adapters(model: nn.Module) -> None:
    """Fold LoRA into the base weights (W + BA, up to float rounding the same function): every Pipeline does it at
    load (fewer, larger matrix products per step), and quantized layers could not host peft's LoRA layers anyway."""
    from soundwave.model.lora import has_lora, merge_lora

    llm = getattr(model, "llm", None)
    if llm is not None and has_lora(llm):
        merge_lora(llm)


def _targets(model: nn.Module) -> list[nn.Module]:
    """The parts whose linear layers are quantized: the LLM and the audio encoder."""
    parts = [getattr(model, name) for name in ("llm", "audio_encoder", "speech_encoder") if hasattr(model, name)]
    return parts or [model]


def _cpu_int8(model: nn.Module) -> nn.Module:
    model = model.float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch marks the eager quantization API as deprecated in favour of torchao
        for part in _targets(model):
            torch.ao.quantization.quantize_dynamic(part, {nn.Linear}, dtype=torch.qint8, inplace=True)
    model.quantization = "int8"
    return model


def _bitsandbytes(model: nn.Module, method: str) -> nn.Module:
    try:
        import bitsandbytes as bnb
    except ImportError as err:
        raise SoundwaveError(f"quantize={method!r} on CUDA needs bitsandbytes: pip install bitsandbytes") from err

    def replace(module: nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, nn.Linear):
                if method == "int8":
                    new = bnb.nn.Linear8bitLt(
                        child.in_features,
                        child.out_features,
                        child.bias is not None,
                        has_fp16_weights=False,
                        threshold=6.0,
                    )
                    new.weight = bnb.nn.Int8Params(child.weight.data.cpu(), requires_grad=False, has_fp16_weights=False)
                else:
                    new = bnb.nn.Linear4bit(
                        child.in_features,
                        child.out_features,
                        child.bias is not None,
                        compute_dtype=child.weight.dtype,
                        quant_type="nf4",
                    )
                    new.weight = bnb.nn.Params4bit(child.weight.data.cpu(), requires_grad=False, quant_type="nf4")
                if child.bias is not None:
                    new.bias = nn.Parameter(child.bias.data, requires_grad=False)
                setattr(module, name, new.to(child.weight.device))
            else:
                replace(child)

    device = next(model.parameters()).device
    replace(model.llm if hasattr(model, "llm") else model)
    model.to(device)
    model.quantization = method
    return model
