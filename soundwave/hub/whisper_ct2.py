"""Convert a faster-whisper (CTranslate2) Whisper folder into a transformers Whisper model + processor.

The source folder holds `model.bin` (or parts of it), `tokenizer.json` and usually `config.json`
(suppressed token ids). The result is a normal transformers folder: `WhisperForConditionalGeneration` weights
in fp32 safetensors, `WhisperProcessor` (feature extractor + tokenizer) and a generation config that
`generate` accepts as is. The geometry (width, mel bins, layers, heads, vocabulary) is read off the weights.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import (
    GenerationConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)
from transformers.models.whisper.tokenization_whisper import LANGUAGES

from soundwave.errors import CheckpointError
from soundwave.hub.ctranslate2 import Ct2Model, read_ct2_model

N_TIMESTAMPS = 1501  # <|0.00|> ... <|30.00|> in 0.02 s steps, the last ids of every Whisper vocabulary
MULTILINGUAL_MIN_VOCAB = 51865  # openai/whisper: `is_multilingual = n_vocab >= 51865`
HEAD_DIM = 64  # every released Whisper size uses 64-wide heads
# 0-d settings of WhisperSpec that this conversion does not need (they are fixed for Whisper)
SPEC_SETTINGS = ("activation", "alibi", "alignment_heads", "alignment_layer", "num_heads", "pre_norm")
SPEC_SETTINGS += ("scale_embeddings", "start_from_zero_embedding")


class _Weights:
    """Hands out CTranslate2 variables as fp32 tensors and remembers which ones were used."""

    def __init__(self, ct2: Ct2Model) -> None:
        self.ct2 = ct2
        self.used: set[str] = set()

    def get(self, name: str) -> torch.Tensor:
        tensor = self.ct2[name]
        self.used.add(self.ct2.aliases.get(name, name))
        if not tensor.is_floating_point():  # int8/int16 quantized export: weight = stored / scale (per row)
            scale_name = name.rsplit("/", 1)[0] + "/weight_scale"
            if scale_name not in self.ct2:
                raise CheckpointError(f"{name} is stored as {tensor.dtype} but {scale_name} is missing")
            self.used.add(scale_name)
            scale = self.ct2[scale_name].float()
            return tensor.float() / (scale[:, None] if scale.ndim == 1 else scale)
        return tensor.float()

    def linear(self, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self.get(f"{prefix}/weight"), self.get(f"{prefix}/bias")

    def norm(self, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self.get(f"{prefix}/gamma"), self.get(f"{prefix}/beta")

    def unused(self) -> list[str]:
        settings = {f"{side}/{s}" for side in ("encoder", "decoder") for s in SPEC_SETTINGS}
        return [n for n in self.ct2.variables if n not in self.used and n not in settings]


def _put(state: dict[str, torch.Tensor], prefix: str, pair: tuple[torch.Tensor, torch.Tensor | None]) -> None:
    state[f"{prefix}.weight"] = pair[0]
    if pair[1] is not None:
        state[f"{prefix}.bias"] = pair[1]


def _attention(state: dict, hf: str, w: _Weights, ct2: str, fused_qkv: bool) -> None:
    """Split CTranslate2's fused projections into q/k/v/out; Whisper's k_proj has no bias."""
    if fused_qkv:  # self-attention: linear_0 = [q; k; v], linear_1 = out
        weight, bias = w.linear(f"{ct2}/linear_0")
        q_w, k_w, v_w = weight.chunk(3, dim=0)  # (3d, d) -> 3 x (d, d)
        q_b, _k_b, v_b = bias.chunk(3, dim=0)  # a k bias shifts all logits equally: dropped
        out = w.linear(f"{ct2}/linear_1")
    else:  # cross-attention: linear_0 = q, linear_1 = [k; v], linear_2 = out
        q_w, q_b = w.linear(f"{ct2}/linear_0")
        weight, bias = w.linear(f"{ct2}/linear_1")
        k_w, v_w = weight.chunk(2, dim=0)  # (2d, d) -> 2 x (d, d)
        _k_b, v_b = bias.chunk(2, dim=0)
        out = w.linear(f"{ct2}/linear_2")
    _put(state, f"{hf}.q_proj", (q_w, q_b))
    _put(state, f"{hf}.k_proj", (k_w, None))
    _put(state, f"{hf}.v_proj", (v_w, v_b))
    _put(state, f"{hf}.out_proj", out)


def _layer_count(ct2: Ct2Model, side: str) -> int:
    indices = {int(m.group(1)) for n in ct2.variables if (m := re.match(rf"{side}/layer_(\d+)/", n))}
    if not indices or indices != set(range(len(indices))):
        raise CheckpointError(f"CTranslate2 model: {side} layers are missing or not numbered 0..N-1: {sorted(indices)}")
    return len(indices)


def ct2_whisper_state_dict(ct2: Ct2Model, eot_id: int, sot_id: int) -> tuple[WhisperConfig, dict[str, torch.Tensor]]:
    """Map a CTranslate2 WhisperSpec onto transformers' Whisper names; the config comes from the shapes.

    Args:
        ct2: the model file's content.
        eot_id: id of <|endoftext|> (bos, eos and pad in transformers' Whisper configs).
        sot_id: id of <|startoftranscript|> (the decoder start).
    """
    w = _Weights(ct2)
    conv1 = ct2["encoder/conv1/weight"]  # (d_model, n_mels, 3)
    d_model, n_mels = conv1.shape[0], conv1.shape[1]
    config = WhisperConfig(
        vocab_size=ct2["decoder/embeddings/weight"].shape[0],
        num_mel_bins=n_mels,
        d_model=d_model,
        encoder_layers=_layer_count(ct2, "encoder"),
        decoder_layers=_layer_count(ct2, "decoder"),
        encoder_attention_heads=ct2.scalar("encoder/num_heads", d_model // HEAD_DIM),
        decoder_attention_heads=ct2.scalar("decoder/num_heads", d_model // HEAD_DIM),
        encoder_ffn_dim=ct2["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=ct2["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=ct2["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=ct2["decoder/position_encodings/encodings"].shape[0],
        bos_token_id=eot_id,
        eos_token_id=eot_id,
        pad_token_id=eot_id,
        decoder_start_token_id=sot_id,
    )
    state: dict[str, torch.Tensor] = {}
    enc, dec = "model.encoder", "model.decoder"
    _put(state, f"{enc}.conv1", w.linear("encoder/conv1"))
    _put(state, f"{enc}.conv2", w.linear("encoder/conv2"))
    state[f"{enc}.embed_positions.weight"] = w.get("encoder/position_encodings/encodings")
    _put(state, f"{enc}.layer_norm", w.norm("encoder/layer_norm"))
    for i in range(config.encoder_layers):
        hf, ct = f"{enc}.layers.{i}", f"encoder/layer_{i}"
        _attention(state, f"{hf}.self_attn", w, f"{ct}/self_attention", fused_qkv=True)
        _put(state, f"{hf}.self_attn_layer_norm", w.norm(f"{ct}/self_attention/layer_norm"))
        _put(state, f"{hf}.fc1", w.linear(f"{ct}/ffn/linear_0"))
        _put(state, f"{hf}.fc2", w.linear(f"{ct}/ffn/linear_1"))
        _put(state, f"{hf}.final_layer_norm", w.norm(f"{ct}/ffn/layer_norm"))
    state[f"{dec}.embed_tokens.weight"] = w.get("decoder/embeddings/weight")
    state[f"{dec}.embed_positions.weight"] = w.get("decoder/position_encodings/encodings")
    _put(state, f"{dec}.layer_norm", w.norm("decoder/layer_norm"))
    for i in range(config.decoder_layers):
        hf, ct = f"{dec}.layers.{i}", f"decoder/layer_{i}"
        _attention(state, f"{hf}.self_attn", w, f"{ct}/self_attention", fused_qkv=True)
        _put(state, f"{hf}.self_attn_layer_norm", w.norm(f"{ct}/self_attention/layer_norm"))
        _attention(state, f"{hf}.encoder_attn", w, f"{ct}/attention", fused_qkv=False)
        _put(state, f"{hf}.encoder_attn_layer_norm", w.norm(f"{ct}/attention/layer_norm"))
        _put(state, f"{hf}.fc1", w.linear(f"{ct}/ffn/linear_0"))
        _put(state, f"{hf}.fc2", w.linear(f"{ct}/ffn/linear_1"))
        _put(state, f"{hf}.final_layer_norm", w.norm(f"{ct}/ffn/layer_norm"))
    if "decoder/projection/weight" in ct2:
        w.get("decoder/projection/weight")  # an alias of the embeddings: proj_out is tied
    state["proj_out.weight"] = state[f"{dec}.embed_tokens.weight"]
    if unused := w.unused():
        raise CheckpointError(f"CTranslate2 Whisper model has variables this converter does not map: {unused[:5]}")
    return config, state


def _load_tokenizer(src: Path, vocab_size: int) -> WhisperTokenizer:
    """Whisper tokenizer from `tokenizer.json`, with the special and timestamp tokens transformers expects."""
    if not (src / "tokenizer.json").is_file():
        raise CheckpointError(f"{src}: tokenizer.json is missing; a Whisper folder needs it next to model.bin")
    specials = [t["content"] for t in json.loads((src / "tokenizer.json").read_text())["added_tokens"] if t["special"]]
    # from_pretrained reads a whole folder; the source folder may hold other files, so copy the one we need
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(src / "tokenizer.json", tmp)
        tokenizer = WhisperTokenizer.from_pretrained(
            tmp, extra_special_tokens=specials, pad_token="<|endoftext|>", model_max_length=448
        )
    n_timestamps = vocab_size - len(tokenizer)
    if n_timestamps == N_TIMESTAMPS:  # older tokenizer.json files stop at <|notimestamps|>
        tokenizer.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(N_TIMESTAMPS)])
    elif n_timestamps != 0:
        raise CheckpointError(
            f"{src}/tokenizer.json has {len(tokenizer)} tokens but the model's vocabulary has {vocab_size}; "
            "the tokenizer does not belong to this model"
        )
    return tokenizer


def _generation_config(
    config: WhisperConfig, tokenizer: WhisperTokenizer, ct2_config: dict, multilingual: bool
) -> GenerationConfig:
    ids = tokenizer.convert_tokens_to_ids
    space = tokenizer(" ", add_special_tokens=False).input_ids  # Whisper never starts with a bare space
    lang_to_id = {f"<|{code}|>": ids(f"<|{code}|>") for code in LANGUAGES if f"<|{code}|>" in tokenizer.get_vocab()}
    extra = {}
    if multilingual:
        extra = dict(lang_to_id=lang_to_id, task_to_id={t: ids(f"<|{t}|>") for t in ("transcribe", "translate")})
    generation = GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions,
        begin_suppress_tokens=ct2_config.get("suppress_ids_begin", [*space, config.eos_token_id]),
        suppress_tokens=ct2_config.get("suppress_ids", []),
        no_timestamps_token_id=ids("<|notimestamps|>"),
        prev_sot_token_id=ids("<|startofprev|>"),
        is_multilingual=multilingual,
        return_timestamps=False,
        max_initial_timestamp_index=50,
        alignment_heads=ct2_config.get("alignment_heads"),
        **extra,
    )
    generation._from_model_config = False  # transformers 5: generate(language=...) refuses a derived config
    return generation


def convert_ct2_whisper(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    model_files: Sequence[str | os.PathLike] | None = None,
    multilingual: bool | None = None,
) -> WhisperForConditionalGeneration:
    """Convert a faster-whisper folder into a transformers Whisper folder (safetensors, fp32).

    Args:
        src: folder with `model.bin`, `tokenizer.json` and optionally `config.json`.
        dst: output folder (created; existing files are overwritten).
        model_files: the model.bin parts in order, for a split model; default `src/model.bin`.
        multilingual: override the rule used by openai/whisper (vocabulary >= 51865 means multilingual).

    Returns:
        The converted model (fp32, eval mode), as saved in `dst`.

    Raises:
        CheckpointError: missing, truncated or corrupt files, or a tokenizer that does not fit the weights.
    """
    src, dst = Path(src), Path(dst)
    ct2 = read_ct2_model(model_files if model_files is not None else src / "model.bin")
    if ct2.spec != "WhisperSpec":
        raise CheckpointError(f"{src}: expected a CTranslate2 WhisperSpec model, got {ct2.spec!r}")
    tokenizer = _load_tokenizer(src, vocab_size=ct2["decoder/embeddings/weight"].shape[0])
    eot, sot = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|startoftranscript|>"])
    config, state = ct2_whisper_state_dict(ct2, eot_id=eot, sot_id=sot)
    del ct2
    if multilingual is None:
        multilingual = config.vocab_size >= MULTILINGUAL_MIN_VOCAB
    ct2_config_path = src / "config.json"
    ct2_config = json.loads(ct2_config_path.read_text()) if ct2_config_path.is_file() else {}
    if "suppress_ids_begin" in ct2_config:  # the WhisperConfig default fits English-only models only
        config.begin_suppress_tokens = ct2_config["suppress_ids_begin"]

    model = WhisperForConditionalGeneration(config)
    model.load_state_dict(state, strict=True)
    model.tie_weights()
    model.eval()
    model.generation_config = _generation_config(config, tokenizer, ct2_config, multilingual)
    processor = WhisperProcessor(
        feature_extractor=WhisperFeatureExtractor(feature_size=config.num_mel_bins), tokenizer=tokenizer
    )
    dst.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dst)
    processor.save_pretrained(dst)
    return model
