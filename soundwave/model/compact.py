"""Checkpoints that hold only what training changed, plus the export to a full standalone checkpoint.

A compact directory (`save_compact`), rebuilt from the base models by `load_compact`:

    model.yaml               format + version, the resolved ModelSpec, the base models (name and local path)
    weights.safetensors      adapter tensors, LoRA tensors, the embedding rows added for the placeholder, and
                             every base tensor that trains (or was loaded from an earlier compact checkpoint)
    tokenizer files, preprocessor_config.json

Soundwave's CTC head is not stored while it still equals the LLM's input embeddings (it is rebuilt from them).
`export_released` writes a full checkpoint that `AutoModelForCausalLM.from_pretrained` loads: the released
Soundwave format for Soundwave (LoRA merged in), transformers' own format for SpeechLLM.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file
from torch import Tensor, nn
from transformers import AutoConfig, AutoFeatureExtractor, AutoTokenizer

from soundwave.atomic import atomic_dir
from soundwave.config.loader import dump_config
from soundwave.errors import CheckpointError, ModelNotFoundError
from soundwave.model.builder import BASE_PREFIXES, build_from_spec
from soundwave.model.checkpoint import read_weights, save_soundwave, tied_keys
from soundwave.model.lora import is_lora_parameter, lora_merged
from soundwave.model.pretrained import resolve_base
from soundwave.model.soundwave import SoundwaveForCausalLM
from soundwave.model.spec import ModelSpec, load_model_spec
from soundwave.model.speechllm import SpeechLLM

META_FILE = "model.yaml"
WEIGHTS_FILE = "weights.safetensors"
FORMAT = "soundwave-compact"
FORMAT_VERSION = 1
ADDED_INPUT_ROWS = "added_rows.input_embeddings"  # (n_added, D) rows past the base vocabulary
ADDED_OUTPUT_ROWS = "added_rows.output_embeddings"  # same for an untied LM head
ADDED_CTC_ROWS = (
    "added_rows.ctc_head"  # CTC head rows past the base vocabulary (the blank), when the rest is the embeddings
)


def is_compact(directory: str | Path) -> bool:
    """Whether `directory` holds a compact checkpoint (as opposed to a full one)."""
    meta = Path(directory) / META_FILE
    if not meta.is_file():
        return False
    try:
        return (yaml.safe_load(meta.read_text()) or {}).get("format") == FORMAT
    except yaml.YAMLError:
        return False


def save_compact(model: nn.Module, tokenizer, feature_extractor, directory: str | Path, spec: ModelSpec) -> Path:
    """Write a compact checkpoint of `model` (built from `spec`) to `directory`, atomically (replaced whole).

    Raises:
        CheckpointError: the spec's adapter does not match the model, or a LoRA spec without LoRA layers.
    """
    spec = load_model_spec(spec)
    expected = SoundwaveForCausalLM if spec.adapter == "soundwave" else SpeechLLM
    if not isinstance(model, expected):
        raise CheckpointError(f"spec says adapter {spec.adapter!r} but the model is a {type(model).__name__}")
    names = [name for name, _ in model.named_parameters()]
    if spec.lora is not None and not any(is_lora_parameter(n) for n in names):
        raise CheckpointError("the spec has LoRA but the model has no LoRA layers (merged?): save before merging")
    base_vocab = AutoConfig.from_pretrained(resolve_base(spec.llm)).get_text_config().vocab_size
    tensors, ctc_from_embeddings = compact_tensors(model, base_vocab)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": yaml.safe_load(dump_config(spec)),
        "base": {
            "encoder": {"name": spec.encoder, "path": str(resolve_base(spec.encoder).resolve())},
            "llm": {"name": spec.llm, "path": str(resolve_base(spec.llm).resolve()), "vocab_size": base_vocab},
        },
        "ctc_head_from_embeddings": ctc_from_embeddings,
    }
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
        (tmp / META_FILE).write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
        tokenizer.save_pretrained(tmp)
        feature_extractor.save_pretrained(tmp)
    return directory


def compact_tensors(model: nn.Module, base_vocab: int) -> tuple[dict[str, Tensor], bool]:
    """The tensors a compact checkpoint stores, and whether the CTC head is left out (it equals the embeddings).

    Args:
        model: a SoundwaveForCausalLM or SpeechLLM.
        base_vocab: rows of the base LLM's embedding matrix before the placeholder was added.
    """
    state = model.state_dict()
    tied = tied_keys(model)
    trains = {n for n, p in model.named_parameters() if p.requires_grad} | getattr(model, "compact_overrides", set())
    ctc_from_embeddings = False
    if isinstance(model, SoundwaveForCausalLM):
        head, embeddings = model.align_adapter.ctc_head.weight, model.get_input_embeddings().weight
        # the base rows are the LLM's embeddings (frozen): only the added rows need storing
        ctc_from_embeddings = head.shape == embeddings.shape and torch.equal(head[:base_vocab], embeddings[:base_vocab])
    keep = {}
    for key, tensor in state.items():
        if key in tied:
            continue
        is_adapter = not key.startswith(BASE_PREFIXES)
        if key == "align_adapter.ctc_head.weight" and ctc_from_embeddings:
            continue
        if is_adapter or is_lora_parameter(key) or key in trains:
            keep[key] = tensor.detach()
    input_rows = model.get_input_embeddings().weight
    if input_rows.shape[0] > base_vocab:
        keep[ADDED_INPUT_ROWS] = input_rows.detach()[base_vocab:].clone()
    if ctc_from_embeddings and input_rows.shape[0] > base_vocab:
        keep[ADDED_CTC_ROWS] = model.align_adapter.ctc_head.weight.detach()[base_vocab:].clone()
    output = model.get_output_embeddings()
    if output is not None and output.weight is not input_rows and output.weight.shape[0] > base_vocab:
        keep[ADDED_OUTPUT_ROWS] = output.weight.detach()[base_vocab:].clone()
    return keep, ctc_from_embeddings


def load_compact(directory: str | Path, device: str | torch.device | None = None, dtype: torch.dtype | None = None):
    """Rebuild a model from its base models and apply a compact checkpoint's tensors.

    Args:
        directory: a `save_compact` directory.
        device: where to put the model (default: CPU).
        dtype: parameter dtype (default: float32).

    Returns:
        (model, tokenizer, feature_extractor), the model in eval mode.

    Raises:
        CheckpointError: not a compact checkpoint, an unknown format version, a damaged weights file, or tensors
            that do not fit.
        ModelNotFoundError: a base model is found neither by name nor at its recorded path.
    """
    directory = Path(directory)
    if not is_compact(directory):
        raise CheckpointError(f"{directory}: not a compact checkpoint (no {META_FILE} with format {FORMAT!r})")
    meta = yaml.safe_load((directory / META_FILE).read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{directory / META_FILE}: format_version {meta.get('format_version')} is not {FORMAT_VERSION}; "
            "upgrade soundwave to read it"
        )
    tensors = read_weights(directory / WEIGHTS_FILE)  # a damaged file fails here, before the model is built
    spec = load_model_spec(meta["model"])
    spec = dataclasses.replace(
        spec, encoder=locate_base(spec.encoder, meta["base"]["encoder"]), llm=locate_base(spec.llm, meta["base"]["llm"])
    )
    model, _, _ = build_from_spec(spec, dtype=dtype or torch.float32)
    base_vocab = meta["base"]["llm"]["vocab_size"]
    apply_compact_tensors(model, tensors, base_vocab, directory, bool(meta.get("ctc_head_from_embeddings")))
    tokenizer = AutoTokenizer.from_pretrained(directory)
    placeholder = model.config.audio_token if isinstance(model, SpeechLLM) else None
    if placeholder is not None and tokenizer.convert_tokens_to_ids(placeholder) != model.placeholder_id:
        raise CheckpointError(f"{directory}: the saved tokenizer's {placeholder} id differs from the model's")
    feature_extractor = AutoFeatureExtractor.from_pretrained(directory)
    return model.to(device or "cpu").eval(), tokenizer, feature_extractor


def locate_base(name: str, recorded: dict) -> str:
    """The base model by its name (registry or path) if it resolves, else at the path recorded at save time."""
    try:
        resolve_base(name)
        return name
    except ModelNotFoundError as err:
        path = recorded.get("path")
        if path and Path(path).is_dir():
            return path
        raise ModelNotFoundError(f"base model {name!r} not found, nor at its recorded path {path}") from err


def apply_compact_tensors(
    model: nn.Module, tensors: dict[str, Tensor], base_vocab: int, source: Path, ctc_from_embeddings: bool = False
) -> None:
    """Copy a compact checkpoint's tensors into a freshly built model; remember the base ones it overrides.

    With `ctc_from_embeddings` the CTC head is rebuilt as the embedding matrix plus its stored added rows, so it
    is the same head in every stage (a fresh build draws new random added rows).
    """
    state = model.state_dict()
    ctc_rows = tensors.pop(ADDED_CTC_ROWS, None)
    rows = {k: tensors.pop(k) for k in (ADDED_INPUT_ROWS, ADDED_OUTPUT_ROWS) if k in tensors}
    unexpected = sorted(k for k in tensors if k not in state)
    mismatched = sorted(
        f"{k}: {tuple(v.shape)} != {tuple(state[k].shape)}"
        for k, v in tensors.items()
        if k in state and v.shape != state[k].shape
    )
    if unexpected or mismatched:
        raise CheckpointError(
            f"{source / WEIGHTS_FILE} does not fit the rebuilt model: unexpected {unexpected}, mis-shaped {mismatched}"
        )
    with torch.no_grad():
        for key, value in tensors.items():
            state[key].copy_(value)
        targets = {ADDED_INPUT_ROWS: model.get_input_embeddings(), ADDED_OUTPUT_ROWS: model.get_output_embeddings()}
        for key, value in rows.items():
            weight = targets[key].weight
            if weight.shape[0] != base_vocab + value.shape[0] or weight.shape[1] != value.shape[1]:
                raise CheckpointError(
                    f"{source / WEIGHTS_FILE}: {key} {tuple(value.shape)} does not fit {tuple(weight.shape)} "
                    f"past the base vocabulary of {base_vocab}"
                )
            weight[base_vocab:] = value
        if ctc_from_embeddings:
            head = model.align_adapter.ctc_head.weight
            head.copy_(model.get_input_embeddings().weight)
            if ctc_rows is not None:
                head[base_vocab:] = ctc_rows
    model.compact_overrides = {k for k in tensors if k.startswith(BASE_PREFIXES) and not is_lora_parameter(k)}


def export_released(model: nn.Module, tokenizer, feature_extractor, directory: str | Path) -> Path:
    """Write a full standalone checkpoint that `AutoModelForCausalLM.from_pretrained(directory)` loads.

    Soundwave: the released format (`save_soundwave`); SpeechLLM: `save_pretrained`. LoRA is merged into the
    written weights; the model itself keeps its LoRA layers. Tokenizer, feature extractor and the LLM's
    generation config are written too. Atomic: `directory` is replaced whole.
    """
    directory = Path(directory)
    with atomic_dir(directory) as tmp, lora_merged(model.llm):
        if isinstance(model, SoundwaveForCausalLM):
            save_soundwave(model, tmp, feature_extractor)
        elif isinstance(model, SpeechLLM):
            model.save_pretrained(tmp)
            feature_extractor.save_pretrained(tmp)
        else:
            raise TypeError(f"export_released takes a SoundwaveForCausalLM or a SpeechLLM, got {type(model).__name__}")
        model.llm.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return directory
