"""build_model: pretrained parts + new adapters, for both adapters, from arguments, dicts and YAML.

Also holds the tiny base models the other model tests import (`base_dir`): random transformers models built from
configs and saved once per session, with a Llama-3-style or ChatML byte-level tokenizer derived from the
reference fixture's. No network.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    HubertConfig,
    HubertModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2Model,
    WavLMConfig,
    WavLMModel,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
)

from soundwave.errors import ConfigError
from soundwave.model.builder import ModelSpec, build_from_spec, build_model, load_model_spec
from soundwave.model.lora import LoraSpec
from soundwave.model.shrink_adapter import expected_embeddings
from soundwave.model.soundwave import SoundwaveForCausalLM
from soundwave.model.speechllm import SpeechLLM

REFERENCE_TOKENIZER = Path(__file__).parents[1] / "assets" / "soundwave-reference" / "checkpoint" / "tokenizer.json"
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CHATML_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|reserved_0|>", "<|reserved_1|>"]
MEL_WINDOW = 200  # mel frames of the tiny Whisper's window (max_source_positions 100)

_BASES: dict[tuple[Path, str], Path] = {}


def write_tokenizer(out: Path, chatml: bool) -> PreTrainedTokenizerFast:
    """The reference fixture's byte-level BPE without `<audio_patch>` (400 tokens); ChatML tokens if asked."""
    spec = json.loads(REFERENCE_TOKENIZER.read_text())
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] != "<audio_patch>"]
    if chatml:  # rename the 5 special ids and stop prepending a BOS
        vocab = spec["model"]["vocab"]
        for token in spec["added_tokens"]:
            new = CHATML_SPECIALS[token["id"]]
            vocab[new] = vocab.pop(token["content"])
            token["content"] = new
        spec["post_processor"] = None
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(spec))
    if chatml:
        tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"), eos_token="<|im_end|>")
        tokenizer.chat_template = CHATML_TEMPLATE
    else:
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_file=str(out / "tokenizer.json"), bos_token="<|begin_of_text|>", eos_token="<|eot_id|>"
        )
        tokenizer.chat_template = LLAMA3_TEMPLATE
    tokenizer.save_pretrained(out)
    return tokenizer


def write_llm(out: Path, tied: bool = False, chatml: bool = False) -> None:
    tokenizer = write_tokenizer(out, chatml)
    eos = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.3,  # large weights: greedy outputs vary from token to token
        tie_word_embeddings=tied,
        bos_token_id=None if chatml else 0,
        eos_token_id=eos,
    )
    LlamaForCausalLM(config).save_pretrained(out)


def write_whisper(out: Path, mel_window: int = MEL_WINDOW) -> None:
    """A tiny random Whisper whose window is `mel_window` mel frames (100 per second)."""
    config = WhisperConfig(
        d_model=32,
        encoder_layers=2,
        encoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=64,
        num_mel_bins=80,
        max_source_positions=mel_window // 2,
        max_target_positions=16,
        vocab_size=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        suppress_tokens=[],
        begin_suppress_tokens=[],
    )
    WhisperForConditionalGeneration(config).save_pretrained(out)
    WhisperFeatureExtractor(feature_size=80, chunk_length=mel_window // 100).save_pretrained(out)


def write_waveform_encoder(out: Path, kind: str) -> None:
    geometry = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16),
        conv_stride=(5, 4),  # 20 samples per frame: 800 frames/s keeps the tests small
        conv_kernel=(10, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        mask_time_prob=0.0,
    )
    config_cls, model_cls = {
        "wavlm": (WavLMConfig, WavLMModel),
        "hubert": (HubertConfig, HubertModel),
        "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model),
    }[kind]
    model_cls(config_cls(**geometry)).save_pretrained(out)
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(out)


WRITERS = {
    "llm": lambda out: write_llm(out),
    "llm_tied": lambda out: write_llm(out, tied=True),
    "llm_chatml": lambda out: write_llm(out, chatml=True),
    "whisper": write_whisper,
    "wavlm": lambda out: write_waveform_encoder(out, "wavlm"),
    "hubert": lambda out: write_waveform_encoder(out, "hubert"),
    "wav2vec2": lambda out: write_waveform_encoder(out, "wav2vec2"),
}


def base_dir(root: Path, name: str) -> Path:
    """The directory of tiny base model `name` under `root`, written on first use (cached for the session)."""
    key = (root, name)
    if key not in _BASES:
        torch.manual_seed(1234)
        WRITERS[name](root / name)
        _BASES[key] = root / name
    return _BASES[key]


@pytest.fixture(scope="session")
def bases(tmp_path_factory):
    """`bases(name)` -> directory of a tiny base model ("llm", "llm_tied", "llm_chatml", "whisper", "wavlm", ...)."""
    root = tmp_path_factory.getbasetemp() / "tiny-bases"
    return lambda name: base_dir(root, name)


def xavier_bound(weight: torch.Tensor) -> float:
    fan_out, fan_in = weight.shape
    return math.sqrt(6.0 / (fan_in + fan_out))


# ---- Soundwave -------------------------------------------------------------------------------------------------
def test_soundwave_build_adds_placeholder_and_inits_ctc_head(bases):
    model, tokenizer, extractor = build_model(encoder=str(bases("whisper")), llm=str(bases("llm")))
    assert isinstance(model, SoundwaveForCausalLM)
    assert tokenizer.convert_tokens_to_ids("<audio_patch>") == 400 == model.placeholder_id
    embeddings = model.get_input_embeddings().weight
    assert embeddings.shape[0] == 401  # one row added
    assert model.get_output_embeddings().weight.shape[0] == 401
    ctc = model.align_adapter.ctc_head.weight
    assert torch.equal(ctc[:400], embeddings[:400]) and not ctc.requires_grad
    assert int((ctc @ ctc[400]).argmax()) == 400  # the blank row is one the adapter can make win
    proj = model.align_adapter.proj.weight
    assert proj.abs().max() <= xavier_bound(proj) and torch.all(model.align_adapter.proj.bias == 0)
    # Llama-3-style tokenizer: the release's prompt and padding
    assert model.config.prompt_format == "release" and model.config.mask_eot_keys
    assert model.config.llm_pad_token_id == 4 == tokenizer.pad_token_id
    assert model.llm.generation_config.eos_token_id == 4
    assert type(extractor).__name__ == "WhisperFeatureExtractor" and extractor.nb_max_frames == MEL_WINDOW


@pytest.mark.parametrize(
    ("mode", "option", "temporal"), [("paper", None, True), ("paper", False, False), ("released", None, False)]
)
def test_adapter_temporal_follows_the_mode_unless_set(bases, mode, option, temporal):
    model, _, _ = build_model(encoder=str(bases("whisper")), llm=str(bases("llm")), mode=mode, adapter_temporal=option)
    assert model.align_adapter.temporal is temporal
    assert model.config.adapter_temporal is option


def test_posterior_embeds_build_feeds_the_llm_its_own_embeddings_at_first(bases):
    model, _, _ = build_model(encoder=str(bases("whisper")), llm=str(bases("llm")), mode="paper", posterior_embeds=True)
    assert model.config.posterior_embeds and torch.equal(model.shrink_adapter.mix.gate, torch.zeros(32))
    model.eval()
    with torch.no_grad():
        audio = model.encode_audio(torch.randn(2, 80, MEL_WINDOW) * 0.5)
        rows = model.get_input_embeddings().weight
        expected = expected_embeddings(audio.ctc_logits, audio.keep, rows)  # (B, K, D)
    torch.testing.assert_close(audio.embeds, expected)
    plain, _, _ = build_model(encoder=str(bases("whisper")), llm=str(bases("llm")), mode="paper")
    assert plain.shrink_adapter.mix is None and not plain.config.posterior_embeds


def test_posterior_embeds_of_a_padded_batch_equal_each_clip_alone(bases):
    model, _, _ = build_model(encoder=str(bases("whisper")), llm=str(bases("llm")), mode="paper", posterior_embeds=True)
    with torch.no_grad():
        model.shrink_adapter.mix.gate.fill_(0.3)  # the look-back in play too
    model.eval()
    mel, lengths = torch.randn(3, 80, MEL_WINDOW) * 0.5, torch.tensor([MEL_WINDOW, 1200, 600])
    with torch.no_grad():
        together = model.encode_audio(mel, lengths)
        for i in range(3):
            alone = model.encode_audio(mel[i : i + 1, :, : int(lengths[i])], lengths[i : i + 1])
            n = int(alone.lengths[0])
            assert n > 0 and int(together.lengths[i]) == n
            torch.testing.assert_close(together.embeds[i, :n], alone.embeds[0, :n], atol=1e-5, rtol=1e-4)


def test_soundwave_build_loads_pretrained_weights_and_freezes_the_base(bases):
    model, _, _ = build_model(encoder=str(bases("whisper")), llm=str(bases("llm")))
    llm_weights = load_file(str(bases("llm") / "model.safetensors"))
    whisper_weights = load_file(str(bases("whisper") / "model.safetensors"))
    assert torch.equal(model.llm.model.layers[1].mlp.up_proj.weight, llm_weights["model.layers.1.mlp.up_proj.weight"])
    torch.testing.assert_close(
        model.get_input_embeddings().weight[:400], llm_weights["model.embed_tokens.weight"], rtol=0, atol=0
    )
    encoder = model.audio_encoder.whisper
    assert torch.equal(encoder.layers[0].fc1.weight, whisper_weights["model.encoder.layers.0.fc1.weight"])
    trainable = {name.split(".")[0] for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"align_adapter", "shrink_adapter"}


def test_soundwave_chatml_llm_uses_chat_template_and_a_pad_that_is_not_eos(bases):
    model, tokenizer, _ = build_model(encoder=str(bases("whisper")), llm=str(bases("llm_chatml")), mode="paper")
    assert model.config.prompt_format == "chat_template" and not model.config.mask_eot_keys
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert model.llm.generation_config.eos_token_id == eos
    assert model.config.llm_pad_token_id == tokenizer.convert_tokens_to_ids("<|endoftext|>") != eos
    assert model.config.mode == "paper" and model.align_adapter.temporal


def test_soundwave_rejects_a_waveform_encoder(bases):
    with pytest.raises(ConfigError, match="needs a Whisper encoder"):
        build_model(encoder=str(bases("wavlm")), llm=str(bases("llm")))


# ---- SpeechLLM -------------------------------------------------------------------------------------------------
def test_speechllm_build(bases):
    model, tokenizer, extractor = build_model(
        encoder=str(bases("wavlm")), llm=str(bases("llm_tied")), adapter="speechllm", projector_hidden_size=48
    )
    assert isinstance(model, SpeechLLM) and model.input_kind == "waveform"
    assert tokenizer.convert_tokens_to_ids("<audio>") == model.placeholder_id == 400
    assert model.get_input_embeddings().weight.shape[0] == 401
    assert model.config.llm_pad_token_id not in (4, 400, 0)  # not eos, placeholder or bos
    for layer in [*model.projector.mlp, model.projector.residual]:
        if isinstance(layer, torch.nn.Linear):
            assert layer.weight.abs().max() <= xavier_bound(layer.weight) and torch.all(layer.bias == 0)
    assert model.projector.residual.weight.shape == (32, 5 * 32)
    trainable = {name.split(".")[0] for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"projector"}
    assert extractor.return_attention_mask


# ---- specs -----------------------------------------------------------------------------------------------------
def test_spec_from_yaml_with_overrides(bases, tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text(
        f"encoder: {bases('whisper')}\nllm: {bases('llm')}\nmode: paper\n"
        "lora: {r: 4, alpha: 8, dropout: 0.0, target_modules: [q_proj, v_proj]}\n"
    )
    spec = load_model_spec(path, ["lora.r=2", "adapter_dropout=0.0"])
    assert spec.lora == LoraSpec(r=2, alpha=8.0, dropout=0.0, target_modules=("q_proj", "v_proj"))
    model, _, _ = build_from_spec(path, ["lora.r=2"])
    lora_a = model.llm.model.layers[0].self_attn.q_proj.lora_A["default"].weight
    assert lora_a.shape == (2, 32) and lora_a.requires_grad
    assert not model.llm.model.layers[0].self_attn.k_proj.__class__.__name__.startswith("Lora")


def test_spec_errors_name_the_option():
    with pytest.raises(ConfigError, match="downsample_factor.*do not apply to the soundwave"):
        ModelSpec(encoder="e", llm="l", downsample_factor=4)
    with pytest.raises(ConfigError, match="mode.*do not apply to the speechllm"):
        ModelSpec(encoder="e", llm="l", adapter="speechllm", mode="paper")
    with pytest.raises(ConfigError, match="unknown key 'lora.rank'"):
        load_model_spec({"encoder": "e", "llm": "l", "lora": {"rank": 4}})
    with pytest.raises(ConfigError, match="valid options"):
        build_model(encoder="e", llm="l", projector_layers=3)


# ---- real weights (pip-shipped, converted once by soundwave.hub) ----------------------------------------------
@pytest.mark.slow
def test_real_whisper_and_smollm2():
    from soundwave.hub import list_models

    installed = {m.name for m in list_models() if m.installed}
    if not {"whisper-tiny.en", "smollm2-135m-instruct"} <= installed:
        pytest.skip("needs the pip packages of whisper-tiny.en and smollm2-135m-instruct (soundwave.hub)")
    model, tokenizer, _ = build_model(encoder="whisper-tiny.en", llm="smollm2-135m-instruct", lora=LoraSpec(r=8))
    assert model.config.prompt_format == "chat_template" and not model.config.mask_eot_keys
    assert tokenizer.convert_tokens_to_ids("<audio_patch>") == model.placeholder_id == 49152
    assert model.get_input_embeddings().weight.shape == (49153, 576)
    assert model.llm.generation_config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert model.config.llm_pad_token_id == tokenizer.convert_tokens_to_ids("<|endoftext|>")
    head, embeddings = model.align_adapter.ctc_head.weight, model.get_input_embeddings().weight
    assert torch.equal(head[:49152], embeddings[:49152])
    # the mean-resized `<audio_patch>` row can never be the top logit; the blank row can
    assert int((head @ head[49152]).argmax()) == 49152
    assert int((embeddings @ embeddings[49152]).argmax()) != 49152
