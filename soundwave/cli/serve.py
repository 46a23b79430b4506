"""`soundwave serve --model M`: the OpenAI-compatible speech API and web page (FastAPI + uvicorn).

Server flags come from `ServerSettings`' fields, so their defaults live only there.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import logging
from pathlib import Path

from soundwave.cli.options import add_model_flags, pipeline_from_args
from soundwave.serving.settings import API_KEY_ENV, ServerSettings

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="serve the model over an OpenAI-compatible HTTP API + web page")
    add_model_flags(parser)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    for f in dataclasses.fields(ServerSettings):
        kind = str if f.default is None else type(f.default)
        default = None if f.name == "model_name" else f.default  # model_name: derived from --model
        shown = "last part of --model" if f.name == "model_name" else f.default
        help_text = f.metadata.get("help", "") + (f" (default: {shown})" if shown is not None else "")
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=default, help=help_text)
    parser.set_defaults(handler=run)


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """The server settings of parsed flags; the API key falls back to `$SOUNDWAVE_API_KEY`."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(ServerSettings)}
    values["model_name"] = values["model_name"] or Path(args.model.rstrip("/")).name
    values["api_key"] = values["api_key"] or ServerSettings.api_key_from_env()
    return ServerSettings(**values)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from soundwave.serving.app import create_app

    settings = settings_from_args(args)
    if not _is_loopback(args.host) and settings.api_key is None:
        logger.warning(
            "serving on %s without an API key: anyone who can reach it can use it (--api-key or $%s)",
            args.host,
            API_KEY_ENV,
        )
    app = create_app(pipeline_from_args(args), settings)
    logger.info("web page: http://%s:%d/  API: http://%s:%d/v1", args.host, args.port, args.host, args.port)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=5)
    return 0
