"""A multi-turn conversation over a Pipeline: text turns and audio turns, history kept between prompts."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from soundwave.audio import AudioInput, load_audio
from soundwave.inference.pipeline import Item, Pipeline, Result
from soundwave.prompts import Turn


class Conversation:
    """Holds the turns so far. `attach(audio)` adds a recording to the next user turn."""

    def __init__(self, pipeline: Pipeline, system: str | None = None) -> None:
        self.pipeline = pipeline
        self.turns: list[Turn] = []
        self.audio: list[np.ndarray] = []  # recordings of earlier audio turns, in order
        self.pending: np.ndarray | None = None

    def attach(self, audio: AudioInput, sampling_rate: int | None = None) -> None:
        """Load a recording (errors are raised now, naming the file) for the next prompt."""
        self.pending = load_audio(audio, sampling_rate=sampling_rate)

    def reset(self) -> None:
        self.turns, self.audio, self.pending = [], [], None

    def _item(self, prompt: str) -> Item:
        return Item(
            self.pending, prompt, history=tuple(self.turns), history_audio=tuple(self.audio), sampling_rate=16000
        )

    def _record(self, prompt: str, answer: str) -> None:
        self.turns.append(Turn("user", prompt, audio=self.pending is not None))
        if self.pending is not None:
            self.audio.append(self.pending)
            self.pending = None
        self.turns.append(Turn("assistant", answer))

    def say(self, prompt: str, **generation) -> Result:
        """Ask and remember the answer."""
        result = self.pipeline.generate_batch([self._item(prompt)], **generation)[0]
        if result.error is None:
            self._record(prompt, result.text)
        return result

    def stream(self, prompt: str, **generation) -> Iterator[str]:
        """Like `say`, yielding the answer's text as it comes."""
        item = self._item(prompt)
        pieces = []
        for piece in self.pipeline.stream(
            item.audio, prompt, history=item.history, history_audio=item.history_audio, **generation
        ):
            pieces.append(piece)
            yield piece
        self._record(prompt, "".join(pieces).strip())
