"""The released checkpoint's key names, mapped to ours in one place (spec section 2).

Every released key that is not one of the audio parts below belongs to the LLM (`model.layers.N...`,
`model.embed_tokens`, `model.norm`, `lm_head`) and gains the `llm.` prefix.
"""

from __future__ import annotations

import re

# released prefix -> our prefix; order matters (longest / most specific first)
RELEASED_TO_OURS = (
    ("model.audio_tower.", "audio_encoder.whisper."),
    ("model.mm_projector1.", "align_adapter.proj."),
    ("model.asr_transformer_encoder.layers.0.", "align_adapter.layer."),
    ("model.out_norm.", "align_adapter.norm."),
    ("model.audio_feature_head.", "align_adapter.ctc_head."),
    ("model.lbm.encoder_attn.", "shrink_adapter.lookback.attn."),
    ("model.lbm.atten_layer_norm.", "shrink_adapter.lookback.norm."),
    ("model.lbm.posterior_mix.", "shrink_adapter.mix."),  # ours (posterior_embeds), not in the release
)
LLM_PREFIX = "llm."
AUDIO_TOWER_PREFIX = "model.audio_tower."
# the release's alignment encoder holds one layer (layers.0); deeper adapters of ours keep the rest in more_layers
_RELEASED_MORE = re.compile(r"^model\.asr_transformer_encoder\.layers\.([1-9]\d*)\.")
_OUR_MORE = re.compile(r"^align_adapter\.more_layers\.(\d+)\.")


def to_ours(key: str) -> str:
    """Released key -> our module path."""
    more = _RELEASED_MORE.match(key)
    if more:
        return f"align_adapter.more_layers.{int(more.group(1)) - 1}." + key[more.end() :]
    for released, ours in RELEASED_TO_OURS:
        if key.startswith(released):
            return ours + key[len(released) :]
    return LLM_PREFIX + key


def to_released(key: str) -> str:
    """Our module path -> released key."""
    more = _OUR_MORE.match(key)
    if more:
        return f"model.asr_transformer_encoder.layers.{int(more.group(1)) + 1}." + key[more.end() :]
    for released, ours in RELEASED_TO_OURS:
        if key.startswith(ours):
            return released + key[len(ours) :]
    if not key.startswith(LLM_PREFIX):
        raise KeyError(f"{key} has no place in the released format")
    return key[len(LLM_PREFIX) :]
