"""Serving: an OpenAI-compatible speech API (chat completions with audio, transcriptions) and a web page.

    from soundwave.serving import ServerSettings, create_app
    app = create_app(pipeline, ServerSettings(api_key="..."))   # run with uvicorn, or `soundwave serve`

`create_app` is imported lazily so that `soundwave --help` (which reads `ServerSettings`) stays light.
"""

from soundwave.serving.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from soundwave.serving.app import create_app

        return create_app
    raise AttributeError(f"module 'soundwave.serving' has no attribute {name!r}")
