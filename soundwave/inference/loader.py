"""Find and load a model for inference, whatever its format: released Soundwave, compact, or a known name."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from soundwave.errors import ModelNotFoundError
from soundwave.processor import processor_for

CUDA_DEFAULT_DTYPE = torch.float16


def resolve_dtype(dtype, device: str) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        return CUDA_DEFAULT_DTYPE if str(device).startswith("cuda") else torch.float32
    try:
        return {
            "float32": torch.float32,
            "fp32": torch.float32,
            "bfloat16": torch.bfloat16,
            "bf16": torch.bfloat16,
            "float16": torch.float16,
            "fp16": torch.float16,
        }[dtype]
    except KeyError:
        raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}") from None


def resolve_model_dir(path_or_name: str) -> str:
    """A known model name (via the hub registry), a local path, or a hub id as given."""
    if Path(path_or_name).expanduser().exists():
        return str(Path(path_or_name).expanduser())
    try:
        from soundwave.hub import resolve_model_path
    except ImportError:
        return path_or_name
    return resolve_model_path(path_or_name)


def load_for_inference(path_or_name: str, device: str = "cpu", dtype=None, **model_options):
    """Returns (model, SpeechProcessor) for any supported checkpoint format."""
    directory = resolve_model_dir(str(path_or_name))
    torch_dtype = resolve_dtype(dtype, device)
    path = Path(directory)
    if path.is_dir() and not (path / "config.json").is_file():
        from soundwave.model import compact

        if compact.is_compact(path):
            model, tokenizer, extractor = compact.load_compact(path, device=device, dtype=torch_dtype)
            return model, processor_for(model, tokenizer, extractor)
        raise ModelNotFoundError(f"{path}: neither a Soundwave checkpoint (config.json) nor a compact model")
    model_type = json.loads((path / "config.json").read_text()).get("model_type") if path.is_dir() else "Soundwave"
    if model_type == "Soundwave":
        from soundwave.inference.release_api import load_model

        model, extractor, tokenizer = load_model(directory, device=device, dtype=torch_dtype)
        return model, processor_for(model, tokenizer, extractor)
    from transformers import AutoFeatureExtractor, AutoModelForCausalLM, AutoTokenizer

    import soundwave.model  # noqa: F401  (registers our model types)

    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch_dtype).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    extractor = AutoFeatureExtractor.from_pretrained(directory)
    return model, processor_for(model, tokenizer, extractor)
