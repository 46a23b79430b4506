"""`soundwave train CONFIG [key=value ...]` (also `--config CONFIG`, and under `torchrun` / `accelerate launch`)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a model from a YAML config (one stage)")
    parser.add_argument("config_file", nargs="?", help="run config YAML (data / training / model sections)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. training.learning_rate=1e-4")
    parser.add_argument("--config", dest="config_flag", help="the config, as the SpeechLLM seed passes it")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in output_dir")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from soundwave.atomic import check_output_dir
    from soundwave.errors import ConfigError
    from soundwave.training.config import load_run_config
    from soundwave.training.trainer import train

    config = args.config_flag or args.config_file
    overrides = list(args.overrides)
    if args.config_flag and args.config_file:  # `--config X a=b`: the positional is an override
        overrides.insert(0, args.config_file)
    if not config:
        raise ConfigError("soundwave train: give a config file (soundwave train CONFIG or --config CONFIG)")
    run_config = load_run_config(config, overrides)
    check_output_dir(run_config.training.output_dir, "training.output_dir")  # before the models load
    final = train(run_config, resume=args.resume)
    print(final)
    return 0
