"""`soundwave serve`: flags derived from ServerSettings, the env API key, loopback by default, app handed to uvicorn."""

from __future__ import annotations

import pytest

from soundwave.cli import build_parser, main
from soundwave.serving.settings import ServerSettings


def test_defaults_come_from_server_settings(monkeypatch):
    monkeypatch.delenv("SOUNDWAVE_API_KEY", raising=False)
    from soundwave.cli.serve import settings_from_args

    args = build_parser().parse_args(["serve", "--model", "runs/stage3/"])
    assert (args.host, args.port, args.model) == ("127.0.0.1", 8000, "runs/stage3/")
    settings = settings_from_args(args)
    defaults = ServerSettings()
    assert settings.model_name == "stage3" and settings.api_key is None
    assert (settings.max_batch, settings.queue_size, settings.max_upload_mb) == (
        defaults.max_batch,
        defaults.queue_size,
        defaults.max_upload_mb,
    )
    flags = ["serve", "--max-batch", "2", "--queue-size", "5", "--max-upload-mb", "1.5", "--timeout", "9"]
    limits = ["--max-audio-seconds", "30", "--max-prompt-tokens", "100", "--body-timeout", "5"]
    settings = settings_from_args(build_parser().parse_args([*flags, *limits]))
    assert (settings.max_batch, settings.queue_size, settings.max_upload_mb, settings.timeout) == (2, 5, 1.5, 9.0)
    assert (settings.max_audio_seconds, settings.max_prompt_tokens, settings.body_timeout) == (30.0, 100, 5.0)


def test_api_key_from_env_and_flag(monkeypatch):
    from soundwave.cli.serve import settings_from_args

    monkeypatch.setenv("SOUNDWAVE_API_KEY", "from-env")
    assert settings_from_args(build_parser().parse_args(["serve"])).api_key == "from-env"
    assert settings_from_args(build_parser().parse_args(["serve", "--api-key", "flag"])).api_key == "flag"


def test_bad_limit_is_refused():
    with pytest.raises(ValueError, match="queue_size"):
        ServerSettings(queue_size=0)


def test_run_hands_the_app_to_uvicorn(monkeypatch, fake):
    import uvicorn

    import soundwave.cli.serve as serve

    calls = []
    monkeypatch.setattr(serve, "pipeline_from_args", lambda args: fake)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    assert main(["serve", "--model", "tests/assets/x", "--port", "8123", "--api-key", "k"]) == 0
    app, kwargs = calls[0]
    assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1", 8123)
    assert app.state.settings.api_key == "k" and app.state.settings.model_name == "x"
