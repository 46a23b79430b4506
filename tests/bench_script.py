"""Import a `bench/` (or `experiments/*/bench/`) script as a module for its tests (neither is a package)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).parents[1] / "bench"


@contextmanager
def bench_script(name: str, where: Path = BENCH) -> Iterator[ModuleType]:
    """`<where>/<name>.py` as module `name`, registered in sys.modules while in use (dataclasses look it up there)."""
    spec = importlib.util.spec_from_file_location(name, where / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)
