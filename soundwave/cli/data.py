"""`soundwave data ...`: build and inspect training data.

soundwave data synth --out DIR [--num N] [--seed S] [--workers W] [--tasks asr,qa,gender,text]
                     [--config configs/synth/default.yaml]
"""

from __future__ import annotations

import argparse
import dataclasses
import os

DEFAULT_CONFIG = "configs/synth/default.yaml"


def _synth(args: argparse.Namespace) -> int:
    from soundwave.synth.corpus import build_corpus, summary
    from soundwave.synth.recipe import SynthRecipe, load_recipe

    recipe = load_recipe(args.config) if args.config else SynthRecipe()
    if args.num is not None:
        recipe = recipe.with_num(args.num)
    if args.seed is not None:
        recipe = dataclasses.replace(recipe, seed=args.seed)
    if args.tasks:
        recipe = recipe.with_tasks([t.strip() for t in args.tasks.split(",") if t.strip()])
    report = build_corpus(args.out, recipe, workers=args.workers, progress=not args.quiet)
    print(summary(report))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="build training data", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    synth = commands.add_parser(
        "synth",
        help="synthesize a speech corpus offline with local TTS engines",
        description="Synthesize a speech corpus (asr, spoken QA, speaker gender, text-only) with local TTS "
        "engines. Deterministic from the seed; re-running the same command resumes a killed build.",
    )
    synth.add_argument("--out", required=True, help="output folder (manifests, corpus.json, audio/)")
    synth.add_argument(
        "--config",
        default=DEFAULT_CONFIG if os.path.isfile(DEFAULT_CONFIG) else None,
        help=f"recipe YAML (default: {DEFAULT_CONFIG} when run from the repository, else built-in defaults)",
    )
    synth.add_argument("--num", type=int, help="training utterances; valid and test scale in proportion")
    synth.add_argument("--seed", type=int, help="seed (overrides the recipe's)")
    synth.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel processes (default: 2)"
    )
    synth.add_argument("--tasks", help="comma-separated subset of asr,qa,gender,text (default: the recipe's)")
    synth.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(handler=_synth)
