"""The training loop on tiny models: three chained stages, overfitting, exact resume, frozen parts, bad data."""

import copy
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from soundwave.errors import ConfigError
from soundwave.training import trainer as trainer_module
from soundwave.training.config import load_run_config
from soundwave.training.losses import alignment_ctc_loss
from soundwave.training.spec_augment import spec_augment
from soundwave.training.trainer import train

STAGE1 = {"stage": "align", "trainable": ["align_adapter.*"], "loss_weights": {"ctc": 1.0, "lm": 0.0}}
STAGE2 = {
    "stage": "shrink",
    "trainable": ["align_adapter.*", "shrink_adapter.*", "*lora_*"],
    "loss_weights": {"ctc": 0.3, "lm": 1.0},
}
STAGE3 = {"stage": "sft", "trainable": ["*lora_*", "shrink_adapter.*"], "loss_weights": {"ctc": 0.3, "lm": 1.0}}
LORA = {"r": 4, "alpha": 8, "dropout": 0.0}


def rows(run_dir, split="train"):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


def test_three_stages_chain(run_config, tmp_path):
    s1 = run_config(tmp_path / "s1", max_steps=3, cache_encoder_outputs=True, ctc_negatives=16, eval_steps=3, **STAGE1)
    final1 = train(load_run_config(s1))
    s2 = run_config(tmp_path / "s2", max_steps=3, init_from=str(tmp_path / "s1"), **STAGE2)
    s2["model"]["lora"] = LORA
    final2 = train(load_run_config(s2))
    s3 = copy.deepcopy(s2)
    s3["training"].update(output_dir=str(tmp_path / "s3"), init_from=str(tmp_path / "s2"), **STAGE3)
    final3 = train(load_run_config(s3))
    for run_dir in ("s1", "s2", "s3"):
        assert (tmp_path / run_dir / "training_curves.png").stat().st_size > 1000
        assert (tmp_path / run_dir / "config.yaml").is_file()
    assert "wer" in rows(tmp_path / "s1", "valid")[0]
    assert "ce_loss" not in rows(tmp_path / "s1")[0]  # stage 1 never runs the LLM
    w1, w2, w3 = (load_file(str(f / "weights.safetensors")) for f in (final1, final2, final3))
    key = "align_adapter.proj.weight"
    assert not torch.equal(w1[key], w2[key])  # stage 2 went on training the alignment adapter
    assert torch.equal(w2[key], w3[key])  # stage 3 did not train it
    assert any("lora" in k for k in w3)
    from soundwave.model.compact import load_compact

    heads = [load_compact(f)[0].align_adapter.ctc_head.weight for f in (final1, final2, final3)]
    assert torch.equal(heads[0], heads[1]) and torch.equal(heads[1], heads[2])  # frozen: the same blank in every stage
    assert "align_adapter.ctc_head.weight" not in w3  # only its added rows are stored
    from soundwave.inference.pipeline import Pipeline

    result = Pipeline.from_pretrained(str(final3)).generate(
        s1["data"]["datasets"][0]["path"].replace("train.jsonl", "")
        and str(__import__("tests.training.conftest", fromlist=["AUDIO"]).AUDIO / "example_1.wav"),
        "What does the person say?",
        greedy=True,
        max_new_tokens=5,
    )
    assert result.audio_tokens >= 0 and result.output_tokens > 0


def test_tiny_model_overfits(run_config, tmp_path, manifest):
    two = tmp_path / "two.jsonl"
    two.write_text("".join(manifest.read_text().splitlines(keepends=True)[:2]))
    cfg = run_config(
        tmp_path / "fit",
        max_steps=30,
        lr_scheduler_type="constant",
        per_device_train_batch_size=2,
        trainable=["align_adapter.*", "shrink_adapter.*", "llm.*"],
        loss_weights={"ctc": 0.3, "lm": 1.0},
    )
    cfg["data"]["datasets"] = [{"path": str(two)}]
    train(load_run_config(cfg))
    losses = [r["ce_loss"] for r in rows(tmp_path / "fit")]
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.5 * first, (first, last)


@pytest.mark.parametrize("augment", [None, {"freq_masks": 2, "time_masks": 2}], ids=["plain", "spec_augment"])
def test_resume_equals_uninterrupted(run_config, tmp_path, monkeypatch, augment):
    def config(name):
        cfg = run_config(tmp_path / name, max_steps=6, save_steps=3, spec_augment=augment, **STAGE2)
        cfg["model"]["lora"] = {**LORA, "dropout": 0.1}  # dropout: the RNG state must be restored too
        return load_run_config(cfg)

    train(config("whole"))
    real_save = trainer_module.save_checkpoint

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt("killed after the checkpoint")

    monkeypatch.setattr(trainer_module, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(config("killed"))
    monkeypatch.setattr(trainer_module, "save_checkpoint", real_save)
    assert not (tmp_path / "killed" / "final").exists()
    saved = json.loads((tmp_path / "killed" / "checkpoint-0000003" / "trainer_state.json").read_text())
    assert saved["train_seconds"] > 0 and saved["train_cpu_seconds"] > 0
    train(config("killed"), resume=True)
    whole, resumed = rows(tmp_path / "whole"), rows(tmp_path / "killed")
    assert [r["step"] for r in resumed] == [1, 2, 3, 4, 5, 6]
    clock = [r["train_seconds"] for r in resumed]  # counted on from the checkpoint, never restarted at 0
    assert clock == sorted(clock) and clock[3] > saved["train_seconds"]
    summary = json.loads((tmp_path / "killed" / "summary.json").read_text())
    assert summary["train_seconds"] >= clock[-1] and summary["train_cpu_seconds"] > saved["train_cpu_seconds"]
    for a, b in zip(whole, resumed, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5), a["step"]
    final_whole = load_file(str(tmp_path / "whole" / "final" / "weights.safetensors"))
    final_resumed = load_file(str(tmp_path / "killed" / "final" / "weights.safetensors"))
    for key, value in final_whole.items():
        torch.testing.assert_close(final_resumed[key], value, rtol=1e-5, atol=1e-6)


def test_frozen_parameters_get_no_gradient_and_do_not_change(tiny_bases, manifest):
    from soundwave.model.builder import build_model
    from soundwave.training.config import TrainingConfig
    from soundwave.training.trainer import configure_trainable

    model, _, _ = build_model(str(tiny_bases["encoder"]), str(tiny_bases["llm"]), mode="paper")
    count = configure_trainable(model, TrainingConfig(trainable=("align_adapter.*",)))
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    assert "align_adapter.ctc_head.weight" in frozen  # frozen by default: it stays the LLM's embeddings
    assert (
        count == sum(p.numel() for p in model.align_adapter.parameters()) - model.align_adapter.ctc_head.weight.numel()
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    mel = torch.randn(2, 80, 1000)
    loss = alignment_ctc_loss(model, *model.encode_frames(mel), torch.tensor([[5, 6, 7], [8, 9, -100]]))
    loss.backward()
    for name, param in model.named_parameters():
        if name in frozen:
            assert param.grad is None, name
    optimizer.step()
    for name, param in model.named_parameters():
        if name in frozen:
            assert torch.equal(param, frozen[name]), name
    assert not torch.equal(model.align_adapter.proj.weight, torch.zeros(1))


def test_bad_samples_are_skipped_and_counted(run_config, tmp_path, manifest):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(manifest.read_text() + '{"audio": "missing.wav", "prompt": "x", "answer": "y"}\n{not json\n')
    cfg = run_config(tmp_path / "run", max_steps=2, **STAGE1)
    cfg["data"]["datasets"] = [{"path": str(bad)}]
    train(load_run_config(cfg))
    skips = json.loads((tmp_path / "run" / "data_skips.json").read_text())
    assert json.dumps(skips).count("missing") >= 1
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["skipped"] == 2


def test_cli_train_with_overrides_and_errors(run_config, tmp_path, capsys):
    import yaml

    from soundwave.cli import main

    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(run_config(tmp_path / "cli", **STAGE1)))
    assert main(["train", str(path), "training.max_steps=2"]) == 0
    assert capsys.readouterr().out.strip().endswith("final")
    assert main(["train", "--config", str(path), "training.max_steps=1", f"training.output_dir={tmp_path}/b"]) == 0
    assert main(["train", str(path), "training.lerning_rate=1"]) == 1
    assert "did you mean 'training.learning_rate'" in capsys.readouterr().err


def test_resume_without_checkpoint_is_an_error(run_config, tmp_path):
    from soundwave.errors import CheckpointError

    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(load_run_config(run_config(tmp_path / "none", max_steps=1, **STAGE1)), resume=True)


SEED_CONFIG = Path(__file__).parents[2] / "configs" / "speechllm" / "train.yaml"  # the seed's YAML, as written


def test_seed_yaml_loads_as_written(tmp_path):
    path = SEED_CONFIG
    cfg = load_run_config(path)
    assert cfg.training.learning_rate == 1e-4 and cfg.training.bf16
    assert cfg.data.remap_keys == {"text_normalized": "transcription"}
    spec = cfg.model.to_spec()
    assert spec.adapter == "speechllm" and spec.downsample_factor == 5
    assert set(cfg.training.frozen_patterns) >= {"audio_encoder.*", "llm.*"}
    with pytest.raises(ConfigError, match="training.num_train_epochs"):
        load_run_config(path, ["training.num_train_epochs=three"])


def test_ctc_vocab_size_sets_the_stage1_targets(run_config, tmp_path, monkeypatch):
    from soundwave.training import losses
    from tests.training.test_ctc_targets import base_ids

    seen, stage1_ctc = [], losses.alignment_ctc_loss

    def spy(model, frames, frame_lengths, targets, *args):
        seen.append(targets)
        return stage1_ctc(model, frames, frame_lengths, targets, *args)

    monkeypatch.setattr(losses, "alignment_ctc_loss", spy)
    cfg = load_run_config(run_config(tmp_path / "small", max_steps=2, ctc_negatives=16, **STAGE1))
    train(cfg)
    full = [t for t in seen if t is not None]
    seen.clear()
    from transformers import AutoTokenizer

    size = base_ids(AutoTokenizer.from_pretrained(cfg.model.llm)) + 20
    cfg = load_run_config(run_config(tmp_path / "small2", max_steps=2, ctc_negatives=16, ctc_vocab_size=size, **STAGE1))
    train(cfg)
    small = [t for t in seen if t is not None]
    assert max(int(t.max()) for t in full) >= size  # the LLM's own tokens reach past the first `size` ids
    assert max(int(t.max()) for t in small) < size
    assert sum(int((t >= 0).sum()) for t in small) > sum(int((t >= 0).sum()) for t in full)  # more, smaller pieces


def test_reset_ctc_blank_gives_a_trained_model_a_reachable_blank(run_config, tmp_path):
    from transformers import AutoFeatureExtractor, AutoTokenizer

    from soundwave.model.compact import load_compact, save_compact

    first = train(load_run_config(run_config(tmp_path / "a", max_steps=1, **STAGE1)))
    model = load_compact(first)[0]
    blank = model.placeholder_id
    with torch.no_grad():  # the first mini models' blank row: the mean of the token rows, never the top logit
        model.align_adapter.ctc_head.weight[blank] = model.align_adapter.ctc_head.weight[:blank].mean(0)
    spec = load_run_config(run_config(tmp_path / "a")).model.to_spec()
    save_compact(
        model, AutoTokenizer.from_pretrained(first), AutoFeatureExtractor.from_pretrained(first), tmp_path / "m", spec
    )
    again = run_config(tmp_path / "b", max_steps=1, init_from=str(tmp_path / "m"), reset_ctc_blank=True, **STAGE1)
    head = load_compact(train(load_run_config(again)))[0].align_adapter.ctc_head.weight
    assert int((head @ head[blank]).argmax()) == blank
    assert torch.equal(head[:blank], model.align_adapter.ctc_head.weight[:blank])  # the token rows are untouched


def test_init_from_exclude_keeps_the_fresh_parameters(run_config, tmp_path):
    from soundwave.model.builder import build_from_spec
    from soundwave.model.compact import load_compact

    raw = run_config(tmp_path / "a", max_steps=2, **STAGE2)
    raw["model"]["lora"] = LORA
    cfg = load_run_config(raw)
    trained = load_compact(train(cfg))[0].state_dict()
    torch.manual_seed(3)
    fresh = build_from_spec(cfg.model.to_spec())[0]
    fresh_align = {k: v.clone() for k, v in fresh.state_dict().items() if k.startswith("align_adapter.proj")}
    trainer_module.init_from_previous(fresh, tmp_path / "a", exclude=("align_adapter.*",))
    state = fresh.state_dict()
    assert all(torch.equal(state[k], v) for k, v in fresh_align.items())  # left as built
    assert not torch.equal(state["align_adapter.proj.weight"], trained["align_adapter.proj.weight"])
    key = next(k for k in trained if k.startswith("shrink_adapter."))
    assert torch.equal(state[key], trained[key])  # everything else comes from the previous stage
    with pytest.raises(ConfigError, match="align_adaptor"):
        trainer_module.init_from_previous(fresh, tmp_path / "a", exclude=("align_adaptor.*",))


def test_a_stop_file_ends_the_run_with_a_saved_model(run_config, tmp_path, monkeypatch):
    from soundwave.training.metrics_log import MetricsLog

    log = MetricsLog.log

    def log_and_ask_to_stop(self, split, step, row):
        log(self, split, step, row)
        if split == "train" and step == 2:
            (tmp_path / "run" / trainer_module.STOP_FILE).touch()

    monkeypatch.setattr(MetricsLog, "log", log_and_ask_to_stop)
    final = train(load_run_config(run_config(tmp_path / "run", max_steps=6, **STAGE1)))
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 2
    assert (final / "weights.safetensors").is_file()
    assert not (tmp_path / "run" / trainer_module.STOP_FILE).exists()  # consumed: a later --resume goes on


class CountingEncoder:
    """Stands in for a model's frozen encoder: frames = the mel transposed; counts the windows it encodes."""

    dtype = torch.float32

    def __init__(self) -> None:
        self.encoded = 0

    def encode_frames(self, mel, mel_lengths):
        self.encoded += mel.shape[0]
        return mel.transpose(1, 2), mel_lengths  # (W, n_mels, F) -> (W, F, n_mels)


def audio_batch(ids, frames=6):
    from types import SimpleNamespace

    lengths = torch.arange(len(ids)) + frames - len(ids) + 1
    mel = torch.randn(len(ids), 2, frames)
    ones = torch.ones(len(ids), dtype=torch.long)
    return SimpleNamespace(
        ids=ids, audio_keys=ids, audios=mel, audio_lengths=lengths, windows_per_item=ones, audios_per_row=ones
    )


def assert_encoded(frames, lengths, batch):
    """frames = what the encoder gives (in float16) up to each row's length, zeros past it."""
    expected = batch.audios.transpose(1, 2)  # (W, F, n_mels)
    torch.testing.assert_close(lengths, batch.audio_lengths)
    for row, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(frames[row, :length], expected[row, :length], atol=1e-2, rtol=1e-2)
        assert not frames[row, length:].any()


def test_encoder_cache_encodes_each_clip_once_within_its_budget():
    encoder = CountingEncoder()
    cache = trainer_module.EncoderCache(max_bytes=2 * 6 * 2 * 2)  # room for two clips of <= 6 frames x 2 dims, fp16
    first = audio_batch(["a", "b"])
    frames, lengths = cache.lookup(encoder, first)
    again, _ = cache.lookup(encoder, first)
    assert encoder.encoded == 2  # the second lookup came from the cache
    torch.testing.assert_close(again, frames)
    assert_encoded(frames, lengths, first)
    over = audio_batch(["c", "d"])
    frames, lengths = cache.lookup(encoder, over)  # the budget is spent: encoded (once) at every lookup, not stored
    cache.lookup(encoder, over)
    assert encoder.encoded == 2 + 2 + 2 and set(cache.frames) == {"a", "b"}
    assert_encoded(frames, lengths, over)


def test_encoder_cache_budget_must_be_positive(run_config, tmp_path):
    config = run_config(tmp_path / "run", encoder_cache_gb=0, **STAGE1)
    with pytest.raises(ConfigError, match="encoder_cache_gb must be finite and positive"):
        load_run_config(config)


def test_spec_augment_masks_every_training_batch_and_no_validation_batch(run_config, tmp_path, monkeypatch):
    seen = []

    def counting(mel, mel_lengths, cfg, generator=None):
        out = spec_augment(mel, mel_lengths, cfg, generator)
        seen.append(int((out != mel).sum()))
        return out

    monkeypatch.setattr(trainer_module, "spec_augment", counting)
    cfg = run_config(tmp_path / "aug", max_steps=3, eval_steps=1, spec_augment={"freq_masks": 2}, **STAGE2)
    cfg["model"]["lora"] = LORA
    train(load_run_config(cfg))
    assert len(seen) == 3 and sum(seen) > 0  # three steps, three batches masked, validation untouched
    assert len(rows(tmp_path / "aug", "valid")) == 3
