"""Evaluation: the field's standard metrics (Whisper-normalized WER/CER, sacrebleu BLEU, answer accuracy,
RTFx) for any object with `generate_batch`, written as per-utterance JSONL, a JSON summary, Markdown and
a PNG.

Importing this package stays light: torch and transformers load only with the Whisper baseline.
"""

from soundwave.eval.config import EvalConfig, load_eval_config
from soundwave.eval.evaluate import evaluate
from soundwave.eval.interface import GenerationPipeline, GenerationResult
from soundwave.eval.metrics import (
    ErrorCounts,
    bleu,
    cer,
    contains_rate,
    exact_match,
    rtfx,
    tokens_per_second,
    wer,
)
from soundwave.eval.normalize import get_normalizer, normalize_text
from soundwave.eval.report import EvalReport, Utterance, compare_summaries, write_report
from soundwave.eval.run import run_eval

__all__ = [
    "ErrorCounts",
    "EvalConfig",
    "EvalReport",
    "GenerationPipeline",
    "GenerationResult",
    "Utterance",
    "bleu",
    "cer",
    "compare_summaries",
    "contains_rate",
    "evaluate",
    "exact_match",
    "get_normalizer",
    "load_eval_config",
    "normalize_text",
    "rtfx",
    "run_eval",
    "tokens_per_second",
    "wer",
    "write_report",
]
