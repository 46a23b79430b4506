"""Pretrained base models and their tokenizers: find one by name, load an LLM with the audio placeholder added, and
choose the pad and eos ids. Shared by the builder and by `SpeechLLM(config)`, which loads its own parts.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from tokenizers import AddedToken
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from soundwave.errors import ConfigError
from soundwave.model.checkpoint import resolve_checkpoint_dir
from soundwave.prompts import END_HEADER, EOT, START_HEADER

log = logging.getLogger(__name__)

# pad candidates after the tokenizer's own, in order; a pad must never be an eos, the bos or the placeholder
PAD_CANDIDATES = ("<|finetune_right_pad_id|>", "<|end_of_text|>", "<|endoftext|>", "<pad>")


def resolve_base(name_or_path: str | Path) -> Path:
    """A base model's local directory: a known name through the hub registry, else a path (or a hub id online)."""
    try:
        from soundwave.hub import resolve_model_path
    except ImportError:  # no registry in this installation: names are paths
        resolve_model_path = str
    return resolve_checkpoint_dir(resolve_model_path(str(name_or_path)))


def load_llm(name_or_path: str | Path, placeholder: str, dtype: torch.dtype = torch.float32):
    """A pretrained causal LM and its tokenizer, with `placeholder` added (one embedding row if it is new).

    Returns:
        (llm, tokenizer, placeholder_id).
    """
    directory = resolve_base(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    llm = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype)
    placeholder_id = add_token(tokenizer, placeholder)
    rows = llm.get_input_embeddings().weight.shape[0]
    if placeholder_id >= rows:
        llm.resize_token_embeddings(placeholder_id + 1)  # mean-initialised new row(s)
    return llm, tokenizer, placeholder_id


def add_token(tokenizer, token: str) -> int:
    """Add `token` as a special token unless the tokenizer has it; return its id."""
    if token not in tokenizer.get_vocab():
        tokenizer.add_tokens([AddedToken(token, special=True, normalized=False)], special_tokens=True)
    return tokenizer.convert_tokens_to_ids(token)


def is_llama3_style(tokenizer) -> bool:
    """True for Llama-3 chat tokens (`<|start_header_id|>`, `<|end_header_id|>`, `<|eot_id|>`) and a bos token."""
    vocab = tokenizer.get_vocab()
    return tokenizer.bos_token is not None and all(t in vocab for t in (START_HEADER, END_HEADER, EOT))


def check_prompt_format(prompt_format: str, tokenizer, llm_name: str) -> None:
    if prompt_format == "release" and not is_llama3_style(tokenizer):
        raise ConfigError(f"prompt_format 'release' needs a Llama-3-style tokenizer; {llm_name} has none")
    if prompt_format == "chat_template" and not tokenizer.chat_template:
        raise ConfigError(
            f"{llm_name}: the tokenizer has no chat template; use an instruct model or set prompt_format: release"
        )


def set_pad_and_eos(tokenizer, llm: PreTrainedModel, placeholder_id: int, release: bool) -> int:
    """Pick the pad id, set it and the eos ids on the tokenizer / LLM configs; return the pad id.

    eos: the tokenizer's eos, the LLM's generation eos ids, and `<|eot_id|>` for Llama-3-style tokenizers.
    pad: `<|eot_id|>` for the release's prompt (it pads with it and masks those keys); otherwise the tokenizer's
    pad, then the first of PAD_CANDIDATES, that is not an eos, the bos or the placeholder, so a collator that
    ignores pad labels still learns to stop.
    """
    vocab = tokenizer.get_vocab()
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    generation_eos = llm.generation_config.eos_token_id
    eos += generation_eos if isinstance(generation_eos, list) else [generation_eos]
    if is_llama3_style(tokenizer):
        eos.append(vocab[EOT])
    eos_ids = list(dict.fromkeys(i for i in eos if i is not None))
    if not eos_ids:
        raise ConfigError(f"{tokenizer.name_or_path}: no eos token in the tokenizer or the generation config")
    if release:
        pad_id = vocab[EOT]
    else:
        taken = {*eos_ids, tokenizer.bos_token_id, placeholder_id}
        candidates = [tokenizer.pad_token_id, *(vocab.get(t) for t in PAD_CANDIDATES)]
        pad_id = next((i for i in candidates if i is not None and i not in taken), None)
        if pad_id is None:
            pad_id = eos_ids[0]
            log.warning("no pad token apart from eos in %s: padding with eos id %d", tokenizer.name_or_path, pad_id)
    tokenizer.pad_token = tokenizer.convert_ids_to_tokens(pad_id)
    for target in (llm.config, llm.generation_config):
        target.pad_token_id = pad_id
        target.eos_token_id = eos_ids[0] if len(eos_ids) == 1 else eos_ids
    return pad_id
