"""The LLM's KV cache across transformers versions: where an output carries it, and the forward keyword that takes
it (transformers 5.24 renamed `past_key_values` to `cache`)."""

from __future__ import annotations


def llm_cache(output) -> object | None:
    """The KV cache an LLM output carries: `cache` from transformers 5.24 on, `past_key_values` before it."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else getattr(output, "past_key_values", None)


def cache_kwargs(cache) -> dict:
    """The LLM forward's keyword for a KV cache: `cache` from transformers 5.24 on, `past_key_values` before it."""
    import transformers
    from packaging.version import Version

    renamed = Version(transformers.__version__).release >= (5, 24)
    return {"cache" if renamed else "past_key_values": cache}
