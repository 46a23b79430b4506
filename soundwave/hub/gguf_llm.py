"""Convert a GGUF causal LM (llama.cpp format, any quantization transformers can read) into a plain fp32
transformers folder: safetensors weights, config, generation config and the tokenizer with its chat template.

transformers dequantizes GGUF on load (`from_pretrained(folder, gguf_file=...)`) but refuses to save such a
model ("quantized with gguf"), so the weights are moved into a plain model built from the same config, minus
its `quantization_config`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, PreTrainedModel

from soundwave.errors import CheckpointError

log = logging.getLogger(__name__)

CHECK_MESSAGES = [{"role": "user", "content": "Hi"}]


def _load_gguf(gguf_path: Path) -> tuple[PreTrainedModel, object]:
    """Load tokenizer and dequantized model; any parse failure becomes a CheckpointError naming the file."""
    if not gguf_path.is_file():
        raise CheckpointError(f"{gguf_path}: GGUF file not found")
    with gguf_path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise CheckpointError(f"{gguf_path}: not a GGUF file (the first bytes are not 'GGUF')")
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    except Exception as err:  # gguf and transformers raise many types for a bad file: all mean "unusable"
        raise CheckpointError(
            f"{gguf_path}: cannot read this GGUF file ({type(err).__name__}: {err}); it is truncated, "
            "corrupt or an architecture transformers cannot load: reinstall or re-copy it"
        ) from err
    return model, tokenizer


def _plain_copy(model: PreTrainedModel) -> PreTrainedModel:
    """A savable fp32 model with `model`'s weights: same config without `quantization_config`."""
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    state = {name: tensor.float() for name, tensor in model.state_dict().items()}
    missing, unexpected = plain.load_state_dict(state, strict=False, assign=True)
    tied = set(getattr(plain, "_tied_weights_keys", None) or [])
    if unexpected or set(missing) - tied:
        raise CheckpointError(f"GGUF weights do not fit {type(plain).__name__}: missing {missing}, extra {unexpected}")
    plain.tie_weights()
    return plain.eval()


def _fix_tokenizer(tokenizer, model: PreTrainedModel) -> None:
    """Make eos/pad/model_max_length explicit and check the chat template renders."""
    if not getattr(tokenizer, "chat_template", None):
        raise CheckpointError("the GGUF file has no chat template (tokenizer.chat_template); use an instruct model")
    if tokenizer.eos_token is None:
        raise CheckpointError("the GGUF file defines no end-of-sequence token (tokenizer.ggml.eos_token_id)")
    if tokenizer.pad_token is None:  # batch generation needs one; eos is the usual choice for chat LLMs
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.model_max_length = model.config.max_position_embeddings
    for loader_only in (
        "is_local",
        "local_files_only",
        "gguf_file",
    ):  # facts about the source, not the tokenizer
        tokenizer.init_kwargs.pop(loader_only, None)
    rendered = tokenizer.apply_chat_template(CHECK_MESSAGES, add_generation_prompt=True, tokenize=False)
    if CHECK_MESSAGES[0]["content"] not in rendered:
        raise CheckpointError(f"the chat template does not render the user message: {rendered!r}")


def _generation_config(model: PreTrainedModel, tokenizer) -> GenerationConfig:
    """Stop on the tokenizer's eos (the chat turn end) and pad with pad; not derived from the model config."""
    eos_ids = {tokenizer.eos_token_id}
    if model.generation_config.eos_token_id is not None:
        configured = model.generation_config.eos_token_id
        eos_ids |= set(configured if isinstance(configured, list) else [configured])
    generation = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=sorted(eos_ids) if len(eos_ids) > 1 else tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    generation._from_model_config = False
    return generation


def convert_gguf_llm(gguf_path: str | os.PathLike, dst: str | os.PathLike) -> PreTrainedModel:
    """Convert a GGUF chat LLM into a plain fp32 transformers folder.

    Args:
        gguf_path: the `.gguf` file.
        dst: output folder (created; existing files are overwritten).

    Returns:
        The converted fp32 model in eval mode, as saved in `dst`.

    Raises:
        CheckpointError: the file is missing, not GGUF, truncated/corrupt, or has no chat template or eos
            token.
    """
    gguf_path, dst = Path(gguf_path), Path(dst)
    gguf_model, tokenizer = _load_gguf(gguf_path)
    model = _plain_copy(gguf_model)
    del gguf_model
    _fix_tokenizer(tokenizer, model)
    model.generation_config = _generation_config(model, tokenizer)
    model.config.pad_token_id = tokenizer.pad_token_id
    dst.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dst)
    tokenizer.save_pretrained(dst)
    log.debug("converted %s -> %s (%s)", gguf_path, dst, type(model).__name__)
    return model
