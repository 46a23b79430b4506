"""LoRA through peft (identity at init, only LoRA trains, merge == unmerged) and set_trainable."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from soundwave.errors import ConfigError
from soundwave.model.lora import LoraSpec, apply_lora, has_lora, lora_merged, lora_state_dict, merge_lora
from soundwave.model.trainable import set_trainable

SPEC = LoraSpec(r=4, alpha=8.0, dropout=0.0)
IDS = torch.tensor([[0, 5, 17, 99, 3, 42]])


@pytest.fixture
def tiny_llm() -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def logits(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=IDS).logits


def perturb_lora(model: torch.nn.Module) -> None:
    """Non-zero B so LoRA changes the output (it starts at zero)."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.5)


def test_lora_is_identity_at_init(tiny_llm):
    before = logits(tiny_llm)
    apply_lora(tiny_llm, SPEC)
    assert has_lora(tiny_llm)
    torch.testing.assert_close(logits(tiny_llm), before, rtol=0, atol=0)
    names = set(lora_state_dict(tiny_llm))
    assert len(names) == 2 * 4 * 2  # A and B x q,k,v,o x 2 layers
    assert "model.layers.0.self_attn.q_proj.lora_A.default.weight" in names


def test_only_lora_weights_receive_gradients(tiny_llm):
    apply_lora(tiny_llm, SPEC)
    perturb_lora(tiny_llm)
    tiny_llm(input_ids=IDS).logits.sum().backward()
    with_grad = {name for name, p in tiny_llm.named_parameters() if p.grad is not None}
    assert with_grad == {name for name, _ in tiny_llm.named_parameters() if ".lora_" in name}


def test_merge_equals_unmerged(tiny_llm):
    apply_lora(tiny_llm, SPEC)
    perturb_lora(tiny_llm)
    unmerged = logits(tiny_llm)
    assert not torch.allclose(unmerged, logits(LlamaForCausalLM(tiny_llm.config).eval()))
    weight = tiny_llm.model.layers[0].self_attn.q_proj.base_layer.weight.detach().clone()
    with lora_merged(tiny_llm):
        assert not has_lora(tiny_llm)
        torch.testing.assert_close(logits(tiny_llm), unmerged, atol=1e-5, rtol=1e-5)
    assert has_lora(tiny_llm)  # back, with the base weights restored bit for bit
    assert torch.equal(tiny_llm.model.layers[0].self_attn.q_proj.base_layer.weight, weight)
    torch.testing.assert_close(logits(tiny_llm), unmerged, rtol=0, atol=0)
    merge_lora(tiny_llm)
    assert not has_lora(tiny_llm) and not any(
        ".lora_" in n or "base_layer" in n for n, _ in tiny_llm.named_parameters()
    )
    torch.testing.assert_close(logits(tiny_llm), unmerged, atol=1e-5, rtol=1e-5)


def test_lora_spec_errors(tiny_llm):
    with pytest.raises(ConfigError, match="lora.r must be >= 1"):
        LoraSpec(r=0)
    apply_lora(tiny_llm, SPEC)
    with pytest.raises(ValueError, match="already has LoRA layers"):
        apply_lora(tiny_llm, SPEC)


def test_set_trainable_freezes_all_but_the_patterns(tiny_llm):
    apply_lora(tiny_llm, SPEC)
    total = set_trainable(tiny_llm, ["*lora_A*", "model.norm.*"])
    trainable = {name for name, p in tiny_llm.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in tiny_llm.named_parameters() if "lora_A" in n} | {"model.norm.weight"}
    assert total == 8 * 4 * 32 + 32
    assert set_trainable(tiny_llm, []) == 0


def test_set_trainable_names_patterns_that_match_nothing(tiny_llm):
    with pytest.raises(ValueError, match=r"\['shrink_adaptor\.\*'\] match no parameter"):
        set_trainable(tiny_llm, ["model.norm.*", "shrink_adaptor.*"])
    assert all(p.requires_grad for p in tiny_llm.parameters())  # nothing changed on error
    with pytest.raises(TypeError, match="list of glob patterns"):
        set_trainable(tiny_llm, "model.*")


def test_lora_disabled_gives_the_base_model_back():
    import torch
    from torch import nn

    from soundwave.model.lora import LoraSpec, apply_lora, lora_disabled

    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    x = torch.randn(3, 8)
    before = base(x).detach()
    model = apply_lora(base, LoraSpec(r=2, alpha=4, dropout=0.0, target_modules=("0", "2")))
    for name, param in model.named_parameters():
        if "lora_B" in name:
            nn.init.normal_(param)
    assert not torch.allclose(model(x), before)
    with lora_disabled(model):
        torch.testing.assert_close(model(x), before)
    assert not torch.allclose(model(x), before)  # LoRA is back afterwards
