"""Released-format checkpoints: Auto loading, offline audio tower, round trip, and errors naming tensors."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

import soundwave  # noqa: F401  (registers the Soundwave model type)
from soundwave.errors import CheckpointError
from soundwave.model.loading import load_soundwave


@pytest.fixture
def checkpoint_copy(reference_dir, tmp_path):
    target = tmp_path / "ckpt"
    shutil.copytree(reference_dir / "checkpoint", target)
    return target


def test_auto_model_loads_soundwave(reference_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(reference_dir / "checkpoint")
    assert type(model).__name__ == "SoundwaveForCausalLM"
    assert model.config.mode == "released"


def test_loads_with_unreachable_hub_tower_and_no_preprocessor(checkpoint_copy, expected):
    """The release names `openai/whisper-large-v2` there: the geometry must come from the weights alone."""
    config = json.loads((checkpoint_copy / "config.json").read_text())
    config["audio_tower"] = "openai/whisper-large-v2"
    (checkpoint_copy / "config.json").write_text(json.dumps(config))
    shutil.rmtree(checkpoint_copy / "audio_tower")
    (checkpoint_copy / "preprocessor_config.json").unlink()
    model, extractor, _ = soundwave.load_model(checkpoint_copy)
    assert model.config.audio_config.encoder_attention_heads == 2
    assert extractor.feature_size == 80
    mel = expected["s0.input_features"][None]
    with torch.no_grad():
        frames = model.audio_encoder.encode_window(mel)[0]
    torch.testing.assert_close(frames, expected["s0.encoder_out"], atol=1e-4, rtol=1e-4)


def test_save_pretrained_round_trip_identical_tensors(reference_model, reference_dir, tmp_path):
    reference_model.save_pretrained(tmp_path / "saved")
    original = load_file(str(reference_dir / "checkpoint" / "model.safetensors"))
    saved = load_file(str(tmp_path / "saved" / "model.safetensors"))
    assert set(saved) == set(original)
    for key, tensor in original.items():
        assert torch.equal(saved[key], tensor), key
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["model_type"] == "Soundwave" and config["hidden_size"] == 64 and config["audio_patch_token"] == 400
    reloaded = load_soundwave(tmp_path / "saved")
    assert reloaded.config.text_config.num_key_value_heads == 2


def test_missing_and_misshaped_tensors_are_named(checkpoint_copy):
    weights = load_file(str(checkpoint_copy / "model.safetensors"))
    del weights["model.lbm.atten_layer_norm.weight"]
    weights["model.mm_projector1.bias"] = torch.zeros(3)
    save_file(weights, str(checkpoint_copy / "model.safetensors"))
    with pytest.raises(CheckpointError) as err:
        load_soundwave(checkpoint_copy)
    assert "model.lbm.atten_layer_norm.weight" in str(err.value)
    assert "model.mm_projector1.bias: checkpoint (3,) != model (64,)" in str(err.value)


def test_truncated_weights_file(checkpoint_copy):
    data = (checkpoint_copy / "model.safetensors").read_bytes()
    (checkpoint_copy / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_soundwave(checkpoint_copy)


def test_missing_weights_file(checkpoint_copy):
    (checkpoint_copy / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        load_soundwave(checkpoint_copy)


def test_sharded_save_and_load(reference_model, tmp_path, monkeypatch):
    from soundwave.model import checkpoint

    monkeypatch.setattr(checkpoint, "MAX_SHARD_BYTES", 1_000_000)
    reference_model.save_pretrained(tmp_path / "sharded")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    reloaded = load_soundwave(tmp_path / "sharded")
    for (name, a), (_, b) in zip(reference_model.state_dict().items(), reloaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_deeper_adapter_round_trips_through_the_released_format(reference_model, tmp_path):
    from soundwave.model.soundwave import SoundwaveForCausalLM

    config = reference_model.config.__class__.from_dict({**reference_model.config.to_dict(), "adapter_num_layers": 2})
    deep = SoundwaveForCausalLM(config)
    deep.load_state_dict(reference_model.state_dict(), strict=False)
    deep.save_pretrained(tmp_path / "deep")
    saved = load_file(str(tmp_path / "deep" / "model.safetensors"))
    assert "model.asr_transformer_encoder.layers.1.linear2.weight" in saved
    reloaded = load_soundwave(tmp_path / "deep")
    assert reloaded.config.adapter_num_layers == 2
    for key, tensor in deep.state_dict().items():
        assert torch.equal(reloaded.state_dict()[key], tensor), key
