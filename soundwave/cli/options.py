"""Flags shared by the commands that load a model (`ask`, `transcribe`, `chat`, `eval`, `serve`)."""

from __future__ import annotations

import argparse

from soundwave.options import add_option_flags, option_overrides

DEFAULT_MODEL = "soundwave-mini"  # the project's trained default (docs/soundwave-mini.md)


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"checkpoint dir, hub id or name (default {DEFAULT_MODEL})"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--quantize", default=None, choices=["int8", "nf4"], help="weight quantization")
    parser.add_argument("--mode", default=None, choices=["released", "paper"], help="override the model's behaviour")


def add_generation_flags(parser: argparse.ArgumentParser) -> None:
    """The decoding flags, derived from `soundwave.options` (one flag per option, in titled groups)."""
    add_option_flags(parser)


def generation_overrides(args: argparse.Namespace) -> dict:
    """The decoding options given on the command line; the others stay the model's."""
    return option_overrides(args)


def pipeline_from_args(args: argparse.Namespace):
    from soundwave.inference.pipeline import Pipeline

    options = {"mode": args.mode} if args.mode else {}
    return Pipeline.from_pretrained(args.model, device=args.device, dtype=args.dtype, quantize=args.quantize, **options)
