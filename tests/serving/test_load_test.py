"""bench/load_test.py's pure parts: percentiles, SSE parsing, and the loopback-only rule."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "bench" / "load_test.py"


@pytest.fixture(scope="module")
def load_test():
    spec = importlib.util.spec_from_file_location("load_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_test"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("load_test", None)


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
