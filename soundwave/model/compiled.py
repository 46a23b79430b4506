"""A compiled decode step (ours, on transformers' static cache): the LLM's one-token steps captured once.

    eager      each new token: Python launches every layer's kernels again (at batch 1 on a GPU the launches,
               not the weight reads, take most of a step)
    compiled   a static KV cache (fixed shapes: prompt + max_new_tokens) lets torch.compile capture the step once:
               CUDA graphs on CUDA ("reduce-overhead"), inductor's fused kernels elsewhere

transformers' `generate` does the work (`cache_implementation="static"` + a `CompileConfig`); this module only says
how, per device. The first call of each batch size and length compiles (seconds to minutes); later calls reuse it.
Where compiling fails (no C++ compiler, an unsupported op), decoding goes on eagerly with a warning: the same ids.
"""

from __future__ import annotations

import warnings

from transformers import CompileConfig


def compile_config(device_type: str, backend="inductor") -> CompileConfig:
    """How the decode step is compiled on `device_type`: CUDA graphs on CUDA, inductor's default mode elsewhere."""
    config = CompileConfig(backend=backend, mode="reduce-overhead" if device_type == "cuda" else "default")
    config._compile_all_devices = True  # transformers compiles on GPUs only unless told (its private switch)
    return config


def compiled_generate_kwargs(config: CompileConfig) -> dict:
    """`generate` keywords for a static cache decoded by the compiled step."""
    return {"cache_implementation": "static", "compile_config": config}


def warn_eager(error: Exception) -> None:
    said = " ".join(str(error).split())[:300]  # one line: torch's messages span several
    warnings.warn(
        f"compiled decoding failed ({type(error).__name__}: {said}); decoding eagerly from now on",
        RuntimeWarning,
        stacklevel=3,
    )
