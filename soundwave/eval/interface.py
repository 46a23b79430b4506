"""What evaluation needs from a model: the `generate_batch` contract shared by `soundwave.Pipeline` and the
Whisper baseline, written as structural types so either (or a test double) can be evaluated. A pipeline that also
has `transcribe_batch(items, **generation)` (the Pipeline) is evaluated on asr through it, so eval's transcripts
are those of `soundwave transcribe` and the server.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class GenerationResult(Protocol):
    """One item's output from `generate_batch`."""

    text: str
    error: str | None  # None on success; a message when this item failed (the others still run)
    input_tokens: int
    output_tokens: int
    seconds: float


@runtime_checkable
class GenerationPipeline(Protocol):
    """Anything that turns (audio, prompt) items into text, a batch at a time."""

    def generate_batch(self, items: list[dict[str, Any]], **generation: Any) -> list[GenerationResult]:
        """Generate for `items`, each `{"audio": path | array | bytes, "prompt": str}`.

        Returns one result per item, in order; a bad item sets its own `error` and fails only itself.
        """
        ...
