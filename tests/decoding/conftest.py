"""The decoding tests use the inference tests' fixtures: the reference checkpoint's Pipeline and its clips."""

from tests.inference.conftest import clips, pipe  # noqa: F401
