"""Which metrics each task reports, per utterance and per corpus.

| task | corpus metrics (summary keys)           | per utterance                       |
|------|------------------------------------------|-------------------------------------|
| asr  | wer, cer (fractions)                     | word and character error counts     |
| st   | bleu (sacrebleu, 0-100)                  | -                                   |
| qa   | exact_match, contains (fractions)        | correct, contains                   |
| cls  | accuracy, contains (fractions)           | correct, contains                   |
| align| word start/end errors (`soundwave.eval.timing`, run by `soundwave.eval.align`, not scored here)   |

WER/CER and matching use normalized text; BLEU uses the raw text (sacrebleu tokenizes it itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from soundwave.eval import metrics
from soundwave.eval.normalize import is_character_language

Task = Literal["asr", "st", "qa", "cls"]
TASKS: tuple[str, ...] = ("asr", "st", "qa", "cls")  # scored on text, here
ALIGN_TASK = "align"  # word times against reference times: soundwave.eval.align
ALL_TASKS: tuple[str, ...] = (*TASKS, ALIGN_TASK)
METRIC_ORDER = ("wer", "cer", "bleu", "exact_match", "accuracy", "contains")  # display order in tables


def primary_metric(task: str, language: str | None) -> str:
    """The headline metric of a task ('cer' for ASR in languages written without spaces)."""
    if task == "asr":
        return "cer" if is_character_language(language) else "wer"
    return {"st": "bleu", "qa": "exact_match", "cls": "accuracy"}[task]


def lower_is_better(metric: str) -> bool:
    """True for error rates (wer, cer), False for scores (bleu, accuracy, ...)."""
    return metric in ("wer", "cer")


@dataclass(frozen=True)
class UtteranceScore:
    """Per-utterance scoring; fields a task does not use are None."""

    word_errors: metrics.ErrorCounts | None = None
    char_errors: metrics.ErrorCounts | None = None
    correct: bool | None = None
    contains: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form for utterances.jsonl: only the fields the task uses."""
        out: dict[str, Any] = {}
        if self.word_errors is not None:
            out["word_errors"] = self.word_errors.to_dict()
            out["wer"] = self.word_errors.rate
        if self.char_errors is not None:
            out["char_errors"] = self.char_errors.to_dict()
            out["cer"] = self.char_errors.rate
        if self.correct is not None:
            out["correct"] = self.correct
        if self.contains is not None:
            out["contains"] = self.contains
        return out


def _cer_text(texts: Sequence[str], language: str | None) -> list[str]:
    """Text as CER sees it: spaces kept for spaced scripts (jiwer's convention), dropped for zh/ja/...

    whose normalizer split the text into space-separated characters.
    """
    if is_character_language(language):
        return ["".join(t.split()) for t in texts]
    return list(texts)


def score_utterance(
    task: str, normalized_reference: str, normalized_hypothesis: str, language: str | None
) -> UtteranceScore:
    """Score one utterance from its normalized texts (BLEU is corpus-only, so st gets an empty score)."""
    ref, hyp = normalized_reference, normalized_hypothesis
    if task == "asr":
        return UtteranceScore(
            word_errors=metrics.word_error_counts([ref], [hyp]),
            char_errors=metrics.char_error_counts(_cer_text([ref], language), _cer_text([hyp], language)),
        )
    if task in ("qa", "cls"):
        return UtteranceScore(correct=metrics.is_exact_match(ref, hyp), contains=metrics.contains_answer(ref, hyp))
    return UtteranceScore()


@dataclass(frozen=True)
class CorpusScore:
    """Corpus-level results: `values` has the metric-name keys of the summary."""

    values: dict[str, float]
    details: dict[str, Any]  # counts and signatures that explain the values
    notes: tuple[str, ...] = ()


def score_corpus(
    task: str,
    references: Sequence[str],
    hypotheses: Sequence[str],
    normalized_references: Sequence[str],
    normalized_hypotheses: Sequence[str],
    language: str | None,
) -> CorpusScore:
    """Corpus metrics of `task` over the scored utterances (failed items excluded by the caller).

    Raises:
        ValueError: `task` is not one of TASKS.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if not references:
        return CorpusScore({}, {}, ("no utterance was scored, so there are no metrics",))
    if task == "asr":
        words = metrics.word_error_counts(normalized_references, normalized_hypotheses)
        chars = metrics.char_error_counts(
            _cer_text(normalized_references, language), _cer_text(normalized_hypotheses, language)
        )
        notes = tuple(f"{name}: {c.note}" for name, c in (("wer", words), ("cer", chars)) if c.note)
        return CorpusScore(
            {"wer": words.rate, "cer": chars.rate},
            {"word_errors": words.to_dict(), "char_errors": chars.to_dict()},
            notes,
        )
    if task == "st":
        result = metrics.bleu(hypotheses, references, language=language)
        return CorpusScore(
            {"bleu": result.score},
            {
                "bleu_precisions": list(result.precisions),
                "bleu_brevity_penalty": result.brevity_penalty,
                "bleu_signature": result.signature,
            },
        )
    name = "exact_match" if task == "qa" else "accuracy"  # the same measure, named as each field does
    return CorpusScore(
        {
            name: metrics.exact_match(normalized_references, normalized_hypotheses),
            "contains": metrics.contains_rate(normalized_references, normalized_hypotheses),
        },
        {},
    )
