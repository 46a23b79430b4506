"""Data-parallel training: `torchrun` and `accelerate launch` give one gloo process group on CPU; 2 processes x 2
samples train as 1 process x 4 (same samples, same losses), also when one process's rows are all text-only."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
import yaml
from safetensors.torch import load_file

from soundwave.config.data import TemperatureSchedule
from soundwave.data.batching import LengthGroupedBatchSampler
from soundwave.data.mixing import MixtureStream, Pool
from soundwave.errors import ConfigError
from soundwave.training.distributed import RankSlices, make_accelerator
from tests.training.conftest import AUDIO

STEPS = 3
LAUNCH_TIMEOUT = 240  # seconds; a DDP deadlock fails the test instead of hanging the suite


@pytest.fixture(scope="module")
def ddp_config(tiny_bases, tmp_path_factory):
    """A stage-2 run (adapters + LoRA) on 2 audio rows and 2 text-only rows. A global batch holds all four,
    sorted by length, so with 2 processes rank 0 gets the two text-only rows: its batch leaves the audio adapters
    out of the graph (the case that deadlocked DDP) while LoRA trains."""
    root = tmp_path_factory.mktemp("ddp")
    rows = [
        {"id": "fox", "audio": str(AUDIO / "example_1.wav"), "prompt": "What does the person say?",
         "answer": "the quick brown fox", "transcript": "the quick brown fox"},
        {"id": "man", "audio": str(AUDIO / "sense_and_sensibility_01_austen_64kb-0880.wav"),
         "prompt": "What does the person say?", "answer": "he was not an ill disposed young man",
         "transcript": "he was not an ill disposed young man"},
        {"id": "sum", "audio": None, "prompt": "What is two plus two?", "answer": "four", "task": "text"},
        {"id": "sum2", "audio": None, "prompt": "What is three plus one?", "answer": "it is four", "task": "text"},
    ]  # fmt: skip
    manifest = root / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def make(output_dir: Path, per_device: int) -> dict:
        return {
            "model": {
                "encoder": str(tiny_bases["encoder"]),
                "llm": str(tiny_bases["llm"]),
                "mode": "paper",
                "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
            },
            "data": {"datasets": [{"path": str(manifest)}], "eval_datasets": [{"path": str(manifest), "name": "dev"}]},
            "training": {
                "output_dir": str(output_dir),
                "stage": "shrink",
                "trainable": ["align_adapter.*", "shrink_adapter.*", "*lora_*"],
                "loss_weights": {"ctc": 0.3, "lm": 1.0},
                "per_device_train_batch_size": per_device,
                "max_steps": STEPS,
                "logging_steps": 1,
                "learning_rate": 3e-3,
                "seed": 7,
            },
        }

    return make


@pytest.fixture(scope="module")
def one_process(ddp_config, tmp_path_factory):
    """The reference: 1 process x batch 4 (on the CPU too, as the launched runs, even where a GPU is)."""
    workdir = tmp_path_factory.mktemp("one")
    launch([sys.executable], ddp_config(workdir / "run", per_device=4), workdir)
    return workdir / "run"


def metric_rows(run_dir: Path, split: str = "train") -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == split]


def launch(command: list[str], config: dict, workdir: Path) -> None:
    """Train `config` with a launcher, on the CPU; kill it and every process it started if it outlives the
    timeout."""
    path = workdir / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen(
        [*command, "-m", "soundwave.training", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _, err = process.communicate(timeout=LAUNCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        workers = psutil.Process(process.pid).children(recursive=True)  # torchrun's workers: sessions of their own
        for child in [psutil.Process(process.pid), *workers]:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        _, err = process.communicate()
        pytest.fail(f"{command[:3]} did not finish in {LAUNCH_TIMEOUT} s (a DDP deadlock?):\n{err[-3000:]}")
    assert process.returncode == 0, err[-3000:]


def assert_same_training(run_dir: Path, reference: Path) -> None:
    """Both runs logged the same losses and learning rates at every step, and the same validation at the end."""
    rows, expected = metric_rows(run_dir), metric_rows(reference)
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))  # logged once per step, by the main process
    for got, want in zip(rows, expected, strict=True):
        for key in ("loss", "ce_loss", "ctc_loss"):
            assert got[key] == pytest.approx(want[key], abs=1e-5, rel=1e-5), (got["step"], key)
        assert got["lr"] == pytest.approx(want["lr"])  # the schedule steps once per optimizer step, not per process
    (valid,), (expected_valid,) = metric_rows(run_dir, "valid"), metric_rows(reference, "valid")
    assert valid.keys() == expected_valid.keys() >= {"loss", "ce_loss", "ctc_loss", "wer"}
    for key in ("loss", "ce_loss", "ctc_loss", "wer"):  # the processes' eval batches pooled
        assert valid[key] == pytest.approx(expected_valid[key], abs=1e-5, rel=1e-5), key
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == STEPS


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun is not on PATH")
def test_torchrun_two_processes_train_as_one_with_the_same_global_batch(ddp_config, one_process, tmp_path):
    run_dir = tmp_path / "ddp"
    launch(["torchrun", "--standalone", "--nproc_per_node", "2"], ddp_config(run_dir, per_device=2), tmp_path)
    assert_same_training(run_dir, one_process)
    final, expected = (load_file(str(d / "final" / "weights.safetensors")) for d in (run_dir, one_process))
    assert final.keys() == expected.keys()
    for key, value in expected.items():  # Adam's normalised steps (lr 3e-3) magnify float noise on tiny gradients
        torch.testing.assert_close(final[key], value, rtol=1e-3, atol=2e-4)


@pytest.mark.slow
def test_accelerate_launch_forms_a_process_group(ddp_config, one_process, tmp_path):
    run_dir = tmp_path / "ddp"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    command += ["--num_machines", "1", "--main_process_port", "0", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch(command, ddp_config(run_dir, per_device=2), tmp_path)
    assert_same_training(run_dir, one_process)


def test_accelerate_one_process_launcher_asked_for_several_is_an_error(monkeypatch):
    """`accelerate launch --cpu --num_processes 2` starts a single process: refuse rather than train alone."""
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")  # set by accelerate's one-process launcher when asked for more
    from soundwave.training.config import TrainingConfig

    with pytest.raises(ConfigError, match="--multi_gpu --num_processes N"):
        make_accelerator(TrainingConfig())


def global_batches(sampler) -> list[list[int]]:
    return [list(batch) for batch in sampler]


def tiny_sampler(batch_size: int, samples: int = 4, batches: int = 12) -> LengthGroupedBatchSampler:
    stream = MixtureStream([Pool("all", np.arange(samples))], TemperatureSchedule(), None, seed=3)
    lengths = np.array([3.0, 1.0, 0.0, 2.0, 5.0, 4.0][:samples])
    return LengthGroupedBatchSampler(stream, lengths, batch_size, batches, group_batches=64, seed=3)


def test_ranks_split_each_global_batch_so_the_order_does_not_depend_on_the_process_count():
    alone = global_batches(RankSlices(tiny_sampler(4), rank=0, world_size=1))
    halves = [global_batches(RankSlices(tiny_sampler(4), rank=r, world_size=2)) for r in (0, 1)]
    quarters = [global_batches(RankSlices(tiny_sampler(4), rank=r, world_size=4)) for r in range(4)]
    assert [a + b for a, b in zip(*halves, strict=True)] == alone
    assert [sum(parts, []) for parts in zip(*quarters, strict=True)] == alone
    resumed = RankSlices(tiny_sampler(4), rank=1, world_size=2)
    resumed.load_state_dict({"batches": 5})
    assert global_batches(resumed) == halves[1][5:]
    with pytest.raises(ValueError, match="does not split"):
        RankSlices(tiny_sampler(3), rank=0, world_size=2)


@pytest.mark.parametrize("samples, batch_size", [(4, 4), (4, 2), (5, 2), (6, 4)])
def test_length_grouping_on_a_tiny_set_does_not_repeat_a_sample_within_a_batch(samples, batch_size):
    """A window of 64 batches spans many passes over a tiny set; sorting it by length used to put every copy of a
    sample side by side (batches of one sample repeated)."""
    batches = global_batches(tiny_sampler(batch_size, samples, batches=40))
    assert [b for b in batches if len(set(b)) < len(b)] == []  # before: 39 or 40 of the 40 batches
    assert set().union(*batches) == set(range(samples))
