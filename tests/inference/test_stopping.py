"""`should_stop` ends a generation at the next decoding step, in every decoding mode and when streaming."""

from __future__ import annotations

import itertools

import pytest


def stop_after(steps: int):
    """A should_stop that turns true at its `steps`-th call (transformers asks once per decoding step)."""
    calls = itertools.count(1)
    return lambda: next(calls) >= steps


@pytest.mark.parametrize(
    "options",
    [{"greedy": True}, {"temperature": 0.7, "seed": 0}, {"greedy": True, "num_beams": 2}],
    ids=["greedy", "sampling", "beams"],  # greedy with audio: the speculative loop (draft "ctc"); the others: HF's
)
def test_generation_stops_when_told(pipe, clips, options):
    item = {"audio": clips[0], "prompt": "What is said?"}
    whole = pipe.generate_batch([item], max_new_tokens=12, **options)[0]
    stopped = pipe.generate_batch([item], max_new_tokens=12, should_stop=stop_after(3), **options)[0]
    assert whole.output_tokens == 12  # the random model never ends on its own
    assert stopped.error is None and stopped.output_tokens <= 4


def test_a_stream_stops_when_told(pipe, clips):
    pieces = list(pipe.stream(clips[0], "What is said?", max_new_tokens=12, greedy=True, should_stop=stop_after(3)))
    whole = list(pipe.stream(clips[0], "What is said?", max_new_tokens=12, greedy=True))
    assert len("".join(pieces)) < len("".join(whole))


def test_transcription_stops_when_told(pipe, clips):
    result = pipe.transcribe_batch([clips[0]], max_new_tokens=12, should_stop=stop_after(2))[0]
    assert result.output_tokens <= 3
