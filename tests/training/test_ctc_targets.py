"""CTC targets over the first K ids of the LLM's own BPE."""

import json

import pytest
from transformers import PreTrainedTokenizerFast

from soundwave.errors import ConfigError
from soundwave.training.ctc_targets import CtcTargets, truncated_bpe
from tests.model.test_builder import write_tokenizer

TEXTS = ["he was not an ill disposed young man", "the quick brown fox", "Don't forget the 5:10 bus!"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> PreTrainedTokenizerFast:
    return write_tokenizer(tmp_path_factory.mktemp("tok"), chatml=True)


def base_ids(tokenizer) -> int:
    """Ids no merge makes (specials and single bytes): the smallest allowed size."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    return len(spec["model"]["vocab"]) - len(spec["model"]["merges"])


def test_full_size_gives_the_llm_tokens(tokenizer):
    targets = CtcTargets(tokenizer, len(tokenizer.backend_tokenizer.get_vocab()))
    for text in TEXTS:
        assert targets(text) == tokenizer(text, add_special_tokens=False).input_ids
    assert CtcTargets(tokenizer)(TEXTS[0]) == tokenizer(TEXTS[0], add_special_tokens=False).input_ids


def test_small_vocab_splits_words_into_the_llm_pieces(tokenizer):
    size = base_ids(tokenizer) + 20  # the bytes, the specials and the first 20 merges
    small = CtcTargets(tokenizer, size)
    full = CtcTargets(tokenizer)
    for text in TEXTS:
        ids = small(text)
        assert max(ids) < size
        assert tokenizer.decode(ids) == text  # same bytes, decoded by the LLM's own tokenizer
        assert len(ids) >= len(full(text))
    assert sum(len(small(t)) for t in TEXTS) > sum(len(full(t)) for t in TEXTS)


def test_sizes_outside_the_bpe_are_refused(tokenizer):
    with pytest.raises(ConfigError, match="between"):
        truncated_bpe(tokenizer, 10)
    with pytest.raises(ConfigError, match="between"):
        truncated_bpe(tokenizer, 10**6)
