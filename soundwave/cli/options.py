"""Flags shared by the commands that load a model (`ask`, `transcribe`, `chat`, `eval`, `serve`)."""

from __future__ import annotations

import argparse

DEFAULT_MODEL = "soundwave-mini"  # the project's trained default (see docs/mini.md)


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"checkpoint dir, hub id or name (default {DEFAULT_MODEL})"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--quantize", default=None, choices=["int8", "nf4"], help="weight quantization")
    parser.add_argument("--mode", default=None, choices=["released", "paper"], help="override the model's behaviour")


def add_generation_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--greedy", action="store_true", help="greedy decoding instead of sampling")
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--repetition-penalty", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--num-beams", type=int, default=None, help="beam search width (default 1; transcribe: 4 on models with CTC)"
    )
    parser.add_argument(
        "--ctc-weight",
        type=float,
        default=None,
        help="joint CTC / LLM decoding for transcripts, weight in [0, 1] (Soundwave models; default 0: off)",
    )
    parser.add_argument(
        "--spelling-weight",
        type=float,
        default=None,
        help="joint decoding weight of the spelling CTC for transcripts (models with a spelling head; default 0)",
    )
    parser.add_argument(
        "--word-repair",
        type=float,
        default=None,
        help="repair misspelled words of a transcript after decoding, the text LM's weight (spelling head; 0: off)",
    )
    parser.add_argument(
        "--word-repair-speech",
        type=float,
        default=None,
        help="word repair's weight of the speech LLM's log P(sentence | audio) (spelling head; 0: off)",
    )
    parser.add_argument(
        "--repair-nbest",
        type=int,
        default=None,
        help="with --num-beams and word repair: repair this many best beams, keep the best-scoring (default 1)",
    )
    parser.add_argument(
        "--repair-pool",
        type=int,
        default=None,
        help="word repair: lexicon words found per word, the 8 the spelling CTC likes best scored (0: just 8)",
    )


def generation_overrides(args: argparse.Namespace) -> dict:
    return {
        "greedy": args.greedy,
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "repetition_penalty": args.repetition_penalty,
        "seed": args.seed,
        "num_beams": args.num_beams,
        "ctc_weight": args.ctc_weight,
        "spelling_weight": args.spelling_weight,
        "word_repair": args.word_repair,
        "word_repair_speech": args.word_repair_speech,
        "repair_nbest": args.repair_nbest,
        "repair_pool": args.repair_pool,
    }


def pipeline_from_args(args: argparse.Namespace):
    from soundwave.inference.pipeline import Pipeline

    options = {"mode": args.mode} if args.mode else {}
    return Pipeline.from_pretrained(args.model, device=args.device, dtype=args.dtype, quantize=args.quantize, **options)
