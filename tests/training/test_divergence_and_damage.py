"""Divergence and damaged files: a non-finite loss stops the run (or skips the step), training values are
range-checked at load, a truncated checkpoint is named and the previous one used, a truncated final model is one
error line, and the temporary folders of interrupted saves are removed."""

import json
import logging

import pytest
import torch
from safetensors.torch import load_file

from soundwave.errors import CheckpointError, ConfigError
from soundwave.training import losses
from soundwave.training import trainer as trainer_module
from soundwave.training.config import load_run_config
from soundwave.training.state import newest_readable_checkpoint
from soundwave.training.trainer import train
from tests.training.conftest import AUDIO
from tests.training.test_trainer import STAGE1, rows

ADAPTERS = {  # stage 2 without LoRA: the LLM is frozen, only the audio adapters train
    "stage": "shrink",
    "trainable": ["align_adapter.*", "shrink_adapter.*"],
    "loss_weights": {"ctc": 0.3, "lm": 1.0},
}


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_a_diverging_run_stops_with_one_error_line_and_no_final_model(run_config, tmp_path, capsys):
    import yaml

    from soundwave.cli import main

    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(run_config(tmp_path / "run", max_steps=4, learning_rate=1e6, **ADAPTERS)))
    capsys.readouterr()
    assert main(["train", str(path)]) == 1  # before: exit 0, a final model with 38 of 41 tensors non-finite
    err = capsys.readouterr().err
    assert "error: training diverged at step 2: not finite (ce_loss=nan" in err
    assert "training.on_nonfinite_loss=skip" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "final").exists()


def test_skip_mode_drops_the_non_finite_step_and_says_so(run_config, tmp_path, monkeypatch, caplog):
    real, calls = losses.soundwave_losses, []

    def nan_at_the_second_step(*args, **kwargs):
        found = real(*args, **kwargs)
        calls.append(1)
        return {k: v * float("nan") for k, v in found.items()} if len(calls) == 2 else found

    monkeypatch.setattr(losses, "soundwave_losses", nan_at_the_second_step)
    cfg = run_config(
        tmp_path / "run", max_steps=3, save_steps=1, save_total_limit=0, on_nonfinite_loss="skip", **ADAPTERS
    )
    with caplog.at_level(logging.WARNING):
        final = train(load_run_config(cfg))
    assert "step 2: not finite (ce_loss=nan" in caplog.text and "optimizer step skipped" in caplog.text
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["skipped_steps"] == 1
    after_1, after_2 = (
        load_file(str(tmp_path / "run" / f"checkpoint-000000{s}" / "trainable.safetensors")) for s in (1, 2)
    )
    assert all(torch.equal(after_1[k], after_2[k]) for k in after_1)  # step 2 changed nothing
    assert all(bool(torch.isfinite(t).all()) for t in load_file(str(final / "weights.safetensors")).values())


@pytest.mark.parametrize(
    "override",
    [
        "training.learning_rate=.nan",
        "training.learning_rate=.inf",
        "training.learning_rate=0",
        "training.save_steps=-5",
        "training.save_steps=0",
        "training.eval_steps=0",
        "training.adam_beta2=1.0",
        "training.warmup_ratio=1.5",
        "training.max_grad_norm=-1",
        "training.seed=-1",
        "training.num_train_epochs=0",
        "training.loss_weights.ctc=.nan",
    ],
)
def test_training_values_are_range_checked_at_load(run_config, tmp_path, override):
    key = override.split("=")[0].split(".")[-1]
    with pytest.raises(ConfigError, match=key):
        load_run_config(run_config(tmp_path / "run"), [override])


def test_null_turns_step_checkpoints_and_validation_off(run_config, tmp_path):
    cfg = load_run_config(run_config(tmp_path / "run"), ["training.save_steps=null", "training.eval_steps=null"])
    assert cfg.training.save_steps is None and cfg.training.eval_steps is None


def test_a_batch_of_text_only_rows_trains_when_only_the_adapters_do(run_config, tmp_path):
    """The frozen LLM's CE of text-only rows reaches no trainable parameter; backward used to fail on it."""
    text = tmp_path / "text.jsonl"
    text.write_text(
        "".join(
            json.dumps({"id": f"t{i}", "audio": None, "prompt": "What is two plus two?", "answer": "four"}) + "\n"
            for i in range(2)
        )
    )
    cfg = run_config(tmp_path / "run", max_steps=2, per_device_train_batch_size=2, **ADAPTERS)
    cfg["data"] = {"datasets": [{"path": str(text)}]}
    train(load_run_config(cfg))  # before: RuntimeError: element 0 of tensors does not require grad
    assert [r["step"] for r in rows(tmp_path / "run")] == [1, 2]


def test_resume_names_a_truncated_checkpoint_and_uses_the_previous_one(run_config, tmp_path, monkeypatch, caplog):
    def config(name):
        cfg = run_config(tmp_path / name, max_steps=4, save_steps=1, **ADAPTERS)
        del cfg["data"]["eval_datasets"]
        return load_run_config(cfg)

    train(config("whole"))
    real_save = trainer_module.save_checkpoint

    def save_then_die_at_3(run_dir, step, *args):
        saved = real_save(run_dir, step, *args)
        if step == 3:
            raise KeyboardInterrupt("killed after the checkpoint")
        return saved

    monkeypatch.setattr(trainer_module, "save_checkpoint", save_then_die_at_3)
    with pytest.raises(KeyboardInterrupt):
        train(config("killed"))
    monkeypatch.setattr(trainer_module, "save_checkpoint", real_save)
    damaged = tmp_path / "killed" / "checkpoint-0000003" / "trainable.safetensors"
    truncate(damaged)
    with caplog.at_level(logging.WARNING):
        train(config("killed"), resume=True)  # before: a raw SafetensorError
    assert f"{damaged}: cannot read weights" in caplog.text and "using checkpoint-0000002" in caplog.text
    whole, resumed = rows(tmp_path / "whole"), rows(tmp_path / "killed")
    assert [r["step"] for r in resumed] == [1, 2, 3, 4]
    for a, b in zip(whole, resumed, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5), a["step"]
    other_batch = run_config(tmp_path / "killed", max_steps=4, per_device_train_batch_size=2, **ADAPTERS)
    with pytest.raises(CheckpointError, match="saved with batch_size=4, this run has batch_size=2"):
        train(load_run_config(other_batch), resume=True)  # the data would not go on where it stopped
    for path in (tmp_path / "killed").glob("checkpoint-*/trainable.safetensors"):
        truncate(path)
    with pytest.raises(CheckpointError, match="no checkpoint of .* can be read: .*trainable.safetensors"):
        newest_readable_checkpoint(tmp_path / "killed")


def test_a_truncated_final_model_is_named_in_one_error_line(run_config, tmp_path, capsys):
    from soundwave.cli import main
    from soundwave.model.compact import load_compact

    final = train(load_run_config(run_config(tmp_path / "run", max_steps=1, **STAGE1)))
    weights = final / "weights.safetensors"
    truncate(weights)
    with pytest.raises(CheckpointError, match="weights.safetensors: cannot read weights"):
        load_compact(final)
    capsys.readouterr()
    assert main(["ask", str(AUDIO / "example_1.wav"), "--model", str(final), "--greedy"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {weights}: cannot read weights"), err  # before: a traceback
    later = run_config(tmp_path / "next", max_steps=1, init_from=str(tmp_path / "run"), **STAGE1)
    with pytest.raises(CheckpointError, match="weights.safetensors: cannot read weights"):
        train(load_run_config(later))


def test_a_new_run_removes_the_folders_of_interrupted_saves(run_config, tmp_path):
    run_dir = tmp_path / "run"
    stale = [run_dir / ".checkpoint-0000002.tmp-k2j4x", run_dir / ".checkpoint-0000004.old-4242"]
    for folder in stale:
        folder.mkdir(parents=True)
        (folder / "trainable.safetensors").write_bytes(b"half")
    (run_dir / "notes.txt").write_text("not ours to remove")
    train(load_run_config(run_config(run_dir, max_steps=1, **STAGE1)))
    assert not any(folder.exists() for folder in stale)
    assert (run_dir / "notes.txt").is_file()
