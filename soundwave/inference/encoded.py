"""`EncodedAudio`: audio the model has already turned into LLM vectors, spliced into a prompt as it is.

A live stream (`soundwave.inference.live`) keeps the shrunk vectors of what it heard instead of the audio; asking
about it passes them to the Pipeline in place of a recording, so nothing is encoded again:

    Pipeline.generate(EncodedAudio(embeds, seconds), "What was said?")   # also generate_batch, stream

The vectors take the place of the prompt's audio placeholder exactly as freshly encoded ones would. What an encoding
also holds for the decoding add-ons (CTC posteriors for joint decoding, encoder frames for the spelling head) is not
kept, so those add-ons cannot decode such an item; the CTC transcript ids are kept for the speculative draft.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from soundwave.errors import ConfigError


@dataclass(frozen=True)
class EncodedAudio:
    """Audio already encoded into the LLM's input space.

    Attributes:
        embeds: (K, D) the shrinking adapter's vectors, in time order.
        seconds: how much audio they stand for (reported as the Result's `audio_seconds`).
        ctc_ids: what the CTC head heard there, in the LLM's vocabulary (the speculative draft; may be empty).
    """

    embeds: torch.Tensor
    seconds: float
    ctc_ids: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.embeds.dim() != 2:
            raise ConfigError(f"EncodedAudio.embeds: expected (K, D) vectors, got shape {tuple(self.embeds.shape)}")


def seconds_of(audio) -> float:
    """Seconds of a 16 kHz waveform (n,) or of encoded audio; 0 for none."""
    from soundwave.audio import SAMPLE_RATE

    if audio is None:
        return 0.0
    if isinstance(audio, EncodedAudio):
        return audio.seconds
    return audio.shape[0] / SAMPLE_RATE


def encoding_of(model, items: Sequence[EncodedAudio]):
    """The model's audio encoding of already encoded items, one entry per item: what `encode_audio` returns, with
    the given vectors and nothing else (no CTC posteriors, no encoder frames).

    Returns:
        The model's encoding type with `embeds` (N, K_max, D) (zero-padded) and `lengths` (N,).
    """
    empty = model.empty_audio_encoding()
    dim = empty.embeds.shape[-1]
    for number, item in enumerate(items):
        if item.embeds.shape[-1] != dim:
            raise ConfigError(f"encoded audio {number}: vectors of width {item.embeds.shape[-1]}, the LLM's are {dim}")
    rows = [item.embeds.to(device=empty.embeds.device, dtype=empty.embeds.dtype) for item in items]
    lengths = torch.tensor([row.shape[0] for row in rows], dtype=torch.long, device=empty.embeds.device)
    if not rows or int(lengths.max()) == 0:
        embeds = empty.embeds.new_zeros(len(rows), 0, dim)  # (N, 0, D)
    else:
        embeds = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)  # N x (K_i, D) -> (N, K_max, D)
    return dataclasses.replace(empty, embeds=embeds, lengths=lengths)
