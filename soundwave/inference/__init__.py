"""Inference: `Pipeline` (pipeline.py) and what it builds on; also the release's `inference(...)` function.

`soundwave.inference` names both this package and the release's `inference(model, audio_processor, tokenizer,
prompt, audio_path)` (release_api.py). A function bound to that name would hide the package from
`import soundwave.inference.live as live`, so the package itself is callable: calling it calls the function.
"""

import sys
import types


class _CallablePackage(types.ModuleType):
    """A package that, called, runs the release's `inference` (release_api.py)."""

    def __call__(self, *args, **kwargs):
        from soundwave.inference.release_api import inference

        return inference(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
