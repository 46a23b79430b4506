"""`soundwave eval`: score a model (or the plain-Whisper baseline) on a manifest and write a report.

soundwave eval --model M --data data/eval/librivox.jsonl --task asr
soundwave eval --baseline whisper --model whisper-tiny.en --data data/eval/cards.jsonl --task asr
soundwave eval --config configs/eval/librivox.yaml --limit 2
soundwave eval --task align --data data/align-festival/manifest.jsonl [--baseline whisper --model whisper-tiny.en]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from soundwave.cli.options import COMPILE_HELP
from soundwave.eval.config import EvalConfig, build_eval_config, load_eval_config
from soundwave.eval.report import compare_summaries
from soundwave.eval.run import run_eval
from soundwave.eval.scoring import ALL_TASKS
from soundwave.options import add_option_flags, option_overrides


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` subcommand."""
    parser = subparsers.add_parser("eval", help="score a model on an eval manifest (WER, CER, BLEU, accuracy)")
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    # Every flag defaults to None, so a --config file's values hold unless a flag is given.
    parser.add_argument("--config", help="an eval YAML (configs/eval/*.yaml); flags given override it")
    parser.add_argument("--model", help="model name (e.g. whisper-tiny.en) or local folder")
    parser.add_argument("--data", help="the manifest (.jsonl)")
    parser.add_argument(
        "--task", choices=ALL_TASKS, help="asr (WER/CER), st (BLEU), qa, cls (accuracy), align (word times)"
    )
    parser.add_argument(
        "--align-source",
        dest="align_source",
        choices=("reference", "transcript"),
        help="task align: time the manifest's transcript (default) or the model's own transcript",
    )
    parser.add_argument("--output", help="report folder (default runs/eval/<model>/<manifest>-<task>)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N usable lines")
    parser.add_argument("--batch-size", type=int, dest="batch_size", help="items per batch (default 8)")
    parser.add_argument("--baseline", choices=("whisper",), help="evaluate plain Whisper decoding instead")
    parser.add_argument("--language", help="language of the references (default en)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: the loader's)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), help="model dtype")
    parser.add_argument("--quantize", choices=("int8", "nf4"), help="quantize the model (Pipeline only)")
    parser.add_argument("--compile", action="store_true", default=None, help=f"{COMPILE_HELP} (Pipeline only)")
    parser.add_argument(
        "--group-by", dest="group_by", help="also score each value of this manifest field apart (voice, speaker)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_option_flags(parser)  # decoding options: every flag the other commands take, from soundwave.options
    parser.set_defaults(handler=handle)


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    """The EvalConfig the flags (and the --config file, if any) describe."""
    names = [f.name for f in dataclasses.fields(EvalConfig) if f.name != "generation"]
    flags = {name: getattr(args, name) for name in names} | option_overrides(args)
    if args.config:
        return load_eval_config(args.config, overrides=flags)
    return build_eval_config({k: v for k, v in flags.items() if v is not None}, source="command line")


def handle(args: argparse.Namespace) -> int:
    """Run the evaluation; exit 1 when no utterance could be scored."""
    config = config_from_args(args)
    report, output = run_eval(config, progress=not args.no_progress)
    if config.task == "align":
        from soundwave.eval.align import compare_alignments

        print(compare_alignments([report.summary()]), end="")
    else:
        print(compare_summaries([report.summary()]), end="")
    print(f"report: {output}")
    if not report.scored:
        print(f"error: every utterance failed; see {output / 'report.md'}", file=sys.stderr)
        return 1
    return 0
