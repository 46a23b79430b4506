"""bench/gpu_throughput.py at the tiny geometry on the CPU: what the GPU run reports is checked here first."""

from __future__ import annotations

import json

import pytest

from tests.bench_script import bench_script
from tests.model.test_builder import base_dir

CLIPS, NEW_TOKENS = 3, 5


@pytest.fixture(scope="module")
def bench():
    with bench_script("gpu_throughput") as module:
        yield module


@pytest.fixture(scope="module")
def report(bench, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("gpu-throughput")
    tokenizer = base_dir(root, "llm_chatml")  # ChatML, 400 tokens: every id the tiny LLM can emit decodes
    argv = ["--geometry", "tiny", "--tokenizer", str(tokenizer), "--out", str(root / "out"), "--clips", str(CLIPS)]
    argv += ["--min-seconds", "1", "--max-seconds", "2", "--batch-sizes", "3", "--repeats", "1"]
    bench.main([*argv, "--max-new-tokens", str(NEW_TOKENS)])
    return json.loads((root / "out" / "gpu-throughput-tiny.json").read_text())


def test_batched_answers_equal_one_by_one(report):
    rows = {row["batch"]: row for row in report["throughput"]}
    assert set(rows) == {1, 3} and not any(row["error"] for row in rows.values())
    assert rows[3]["same_text_as_one_by_one"] == CLIPS and rows[3]["same_audio_tokens_as_one_by_one"] == CLIPS
    assert all(rows[1]["answers"])  # real text, so equal answers mean equal tokens
    assert rows[1]["speedup"] == 1.0 and rows[3]["speedup"] > 0


def test_every_row_decodes_the_configured_number_of_tokens(report):
    assert report["output_token_counts_seen"] == [NEW_TOKENS]
    for row in report["throughput"]:
        assert row["generated_tokens"] == CLIPS * NEW_TOKENS
        assert row["tokens_per_s"] == pytest.approx(row["generated_tokens"] / row["seconds"])


def test_report_names_what_the_llm_received_and_the_stages(report):
    assert len(report["audio_tokens_per_clip"]) == CLIPS and min(report["audio_tokens_per_clip"]) > 0
    assert report["audio_seconds"] == pytest.approx(sum(report["clip_seconds"]))
    assert all(1 <= s <= 2 for s in report["clip_seconds"])
    parts = report["parameters"]
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    stages = {row["batch"]: row for row in report["stages"]}
    assert set(stages) == {1, 3} and all(row["encode_s"] > 0 and row["prefill_s"] > 0 for row in stages.values())
    assert report["peak_gb"] is None  # CPU: no device memory to report


def test_settings_put_the_largest_batch_first_and_one_by_one_last(bench):
    names = [s.name for s in bench.make_settings([8, 32, 1])]
    assert names == ["batch 32", "batch 8", "1 (one by one)", "stages batch 32", "stages batch 8", "stages batch 1"]


def test_compiled_settings_decode_the_same_answers_and_report_their_rate(bench, tmp_path):
    from tests.model.test_builder import base_dir

    tokenizer = base_dir(tmp_path, "llm_chatml")
    argv = ["--geometry", "tiny", "--tokenizer", str(tokenizer), "--out", str(tmp_path / "out"), "--clips", "2"]
    argv += ["--min-seconds", "1", "--max-seconds", "2", "--batch-sizes", "2", "--repeats", "1"]
    argv += ["--max-new-tokens", str(NEW_TOKENS), "--compile", "--compile-backend", "eager", "--bandwidth-gbs", "100"]
    report = bench.main(argv)
    rows = {row["label"]: row for row in report["throughput"]}
    assert set(rows) == {"batch 2", "1 (one by one)", "compiled batch 2", "compiled 1 (one by one)"}
    for label in ("compiled batch 2", "compiled 1 (one by one)"):
        assert not rows[label]["error"] and rows[label]["same_text_as_one_by_one"] == 2
        assert rows[label]["decode_tokens_per_s"] > 0
    assert set(report["compile_s"]) == {"compiled batch 2", "compiled 1 (one by one)"}
    assert report["bound_tokens_per_s"] == pytest.approx(100e9 / (report["llm_weight_gb"] * 1e9))
    single = rows["compiled 1 (one by one)"]
    assert single["share_of_bound"] == pytest.approx(single["decode_tokens_per_s"] / report["bound_tokens_per_s"])
    assert "share_of_bound" not in rows["compiled batch 2"]  # the bound is batch 1's
