"""Generation helpers shared by both designs."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from soundwave.model.generation import move_padding_left
from soundwave.model.kv_cache import llm_cache


def test_llm_cache_reads_the_new_and_the_old_name() -> None:
    cache = object()
    assert llm_cache(SimpleNamespace(cache=cache)) is cache  # transformers >= 5.24
    assert llm_cache(SimpleNamespace(cache=None, past_key_values=cache)) is cache
    assert llm_cache(SimpleNamespace(past_key_values=cache)) is cache  # transformers < 5.24
    assert llm_cache(SimpleNamespace()) is None


def test_move_padding_left_rolls_only_right_padded_rows() -> None:
    ids = torch.tensor([[5, 6, 0, 0], [7, 8, 9, 1]])
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left_ids, left_mask = move_padding_left(ids, mask)
    assert left_ids.tolist() == [[0, 0, 5, 6], [7, 8, 9, 1]]
    assert left_mask.tolist() == [[0, 0, 1, 1], [1, 1, 1, 1]]
