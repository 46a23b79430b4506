"""CTC targets over a smaller sub-vocabulary of the LLM's own BPE.

A byte-level BPE learns its merges in order and numbers each new token after the last, so the first K ids of
the LLM's vocabulary, with the merges that make them, are themselves a complete BPE of K tokens: every text
still tokenizes (down to single bytes), every id is still a row of the LLM's embeddings, and decoding gives back
the same text. Words the small BPE lacks come out as the pieces it has ("Ġdisposed" -> "Ġdis", "pos", "ed").

The alignment adapter's CTC head stays the LLM's embeddings; only the targets change. With a few tens of hours of
speech most of the 49,152 full-vocabulary tokens are seen a handful of times or never (docs/mini.md), while
the first 2,048 ids cover the same transcripts with every token seen often.
"""

from __future__ import annotations

import json

from soundwave.errors import ConfigError


def truncated_bpe(tokenizer, vocab_size: int):
    """The `tokenizers.Tokenizer` of the LLM's BPE cut to its first `vocab_size` ids (same ids, same bytes).

    Args:
        tokenizer: a Hugging Face fast tokenizer whose model is a byte-level BPE with merges in id order.
        vocab_size: how many of the first ids to keep; at least every id that is not made by a merge.
    """
    from tokenizers import Tokenizer

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ConfigError("training.ctc_vocab_size needs a fast (tokenizers) BPE tokenizer; this one is not")
    spec = json.loads(backend.to_str())
    model = spec["model"]
    if model.get("type") != "BPE":
        raise ConfigError(f"training.ctc_vocab_size needs a BPE tokenizer, this one is {model.get('type')}")
    vocab, merges = model["vocab"], [m if isinstance(m, list) else m.split(" ") for m in model["merges"]]
    made = [vocab[a + b] for a, b in merges]  # id of each merge's result, in merge order
    if any(later <= earlier for earlier, later in zip(made[:-1], made[1:], strict=True)):
        raise ConfigError("training.ctc_vocab_size: this BPE does not number its tokens in merge order")
    base = len(vocab) - len(merges)  # ids that are not made by a merge: specials and single bytes
    if not base <= vocab_size <= len(vocab):
        raise ConfigError(f"training.ctc_vocab_size must be between {base} and {len(vocab)}, got {vocab_size}")
    model["vocab"] = {token: i for token, i in vocab.items() if i < vocab_size}
    model["merges"] = [m for m, i in zip(merges, made, strict=True) if i < vocab_size]
    spec["post_processor"] = None  # transcripts get no BOS/EOS (spec 3.8)
    return Tokenizer.from_str(json.dumps(spec))


class CtcTargets:
    """text -> CTC target ids: the LLM's own tokens (`vocab_size` None) or those of its first `vocab_size` ids."""

    def __init__(self, tokenizer, vocab_size: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.small = truncated_bpe(tokenizer, vocab_size) if vocab_size is not None else None

    def __call__(self, text: str) -> list[int]:
        if self.small is None:
            return list(self.tokenizer(text, add_special_tokens=False).input_ids)
        return self.small.encode(text, add_special_tokens=False).ids
