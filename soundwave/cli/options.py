"""Flags shared by the commands that load a model (`ask`, `transcribe`, `chat`, `eval`, `serve`); the decoding flags
come from `soundwave.options.add_option_flags`."""

from __future__ import annotations

import argparse

DEFAULT_MODEL = "soundwave-mini"  # the project's trained default (docs/soundwave-mini.md)
COMPILE_HELP = "static KV cache + compiled decode step (each new batch size compiles first; pays on a GPU)"


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"checkpoint dir, hub id or name (default {DEFAULT_MODEL})"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--quantize", default=None, choices=["int8", "nf4"], help="weight quantization")
    parser.add_argument("--compile", action="store_true", help=COMPILE_HELP)
    parser.add_argument("--mode", default=None, choices=["released", "paper"], help="override the model's behaviour")


def pipeline_from_args(args: argparse.Namespace):
    from soundwave.inference.pipeline import Pipeline

    options = {"mode": args.mode} if args.mode else {}
    return Pipeline.from_pretrained(
        args.model, device=args.device, dtype=args.dtype, quantize=args.quantize, compile=args.compile, **options
    )
