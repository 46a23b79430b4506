"""bench/load_test.py's pure parts: percentiles, SSE parsing, and the loopback-only rule."""

from __future__ import annotations

import pytest

from tests.bench_script import bench_script


@pytest.fixture(scope="module")
def load_test():
    with bench_script("load_test") as module:
        yield module


def test_percentile(load_test):
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert load_test.percentile(values, 50) == 51.0  # nearest rank on 0-based positions: round(49.5) = 50
    assert load_test.percentile(values, 99) == 99.0 and load_test.percentile([], 50) is None


def test_has_content(load_test):
    assert load_test.has_content('data: {"choices": [{"delta": {"content": "hi"}}]}')
    assert not load_test.has_content('data: {"choices": [{"delta": {"role": "assistant", "content": ""}}]}')
    assert not load_test.has_content("data: [DONE]") and not load_test.has_content("")


def test_only_loopback(load_test):
    load_test.require_loopback("http://127.0.0.1:8000")
    load_test.require_loopback("http://localhost:8000")
    with pytest.raises(SystemExit, match="loopback"):
        load_test.require_loopback("http://10.0.0.5:8000")
