"""Multi-process training: `accelerate launch --cpu --num_processes 2` runs DDP (gloo) to a saved final model."""

import json
import shutil
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("accelerate") is None, reason="the accelerate launcher is not on PATH")
def test_two_process_ddp_run(run_config, tmp_path):
    cfg = run_config(
        tmp_path / "ddp",
        max_steps=3,
        per_device_train_batch_size=2,
        stage="shrink",
        trainable=["align_adapter.*", "shrink_adapter.*"],
        loss_weights={"ctc": 0.3, "lm": 1.0},
    )
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--cpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "soundwave.training",
        "--config",
        str(path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "ddp" / "final" / "weights.safetensors").is_file()
    rows = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "train"] == [1, 2, 3]  # logged once, by rank 0
