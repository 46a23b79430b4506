"""Every shipped run config loads (strictly: unknown keys and wrong types fail), and names a buildable spec."""

from pathlib import Path

import pytest

from soundwave.training.config import load_run_config

CONFIGS = Path(__file__).parents[1] / "configs"
RUN_CONFIGS = sorted(p for d in ("release", "mini", "speechllm") for p in (CONFIGS / d).glob("*.yaml"))


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_run_config_loads(path):
    cfg = load_run_config(path)
    spec = cfg.model.to_spec()
    assert spec.encoder and spec.llm
    assert cfg.training.output_dir


def test_there_are_configs_for_every_geometry():
    names = {f"{p.parent.name}/{p.stem}" for p in RUN_CONFIGS}
    assert {"release/stage1_align", "mini/stage1_align", "speechllm/train"} <= names
