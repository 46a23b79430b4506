"""Evaluation results and their files: `EvalReport`, written atomically as utterances.jsonl, summary.json,
report.md and report.png, plus a side-by-side Markdown table of several summaries for docs.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soundwave.atomic import atomic_path, write_text
from soundwave.eval.metrics import rtfx, tokens_per_second
from soundwave.eval.scoring import METRIC_ORDER, UtteranceScore, lower_is_better

REPORT_FILES = ("utterances.jsonl", "summary.json", "report.md", "report.png")
MAX_LISTED = 20  # failures / skipped lines / worst utterances listed in report.md (all are in the JSON files)


@dataclass(frozen=True)
class Utterance:
    """One evaluated manifest line: what was asked, what came back, how it scored."""

    id: str
    line: int  # 1-based line in the manifest
    audio: str
    prompt: str
    reference: str
    hypothesis: str  # "" when generation failed
    normalized_reference: str
    normalized_hypothesis: str
    duration: float | None  # seconds of audio, if known
    score: UtteranceScore  # empty when generation failed
    error: str | None = None  # the pipeline's message when this item failed
    output_tokens: int = 0
    seconds: float = 0.0  # the pipeline's own per-item time
    group: str | None = None  # its value of the report's `group_by` field

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_record(self) -> dict[str, Any]:
        """The utterances.jsonl line."""
        return {
            "id": self.id,
            "line": self.line,
            "audio": self.audio,
            "prompt": self.prompt,
            "reference": self.reference,
            "hypothesis": self.hypothesis,
            "normalized_reference": self.normalized_reference,
            "normalized_hypothesis": self.normalized_hypothesis,
            "duration": self.duration,
            "error": self.error,
            "output_tokens": self.output_tokens,
            "seconds": self.seconds,
            **({"group": self.group} if self.group is not None else {}),
            **self.score.to_dict(),
        }


@dataclass(frozen=True)
class EvalReport:
    """Everything one evaluation run measured. `summary()` is the summary.json content."""

    model: str
    manifest: str
    task: str
    language: str | None
    normalizer: str
    primary_metric: str
    metrics: dict[str, float]  # summary keys: "wer", "cer", "bleu", "exact_match", "accuracy", "contains"
    details: dict[str, Any]  # counts behind the metrics (word_errors, char_errors, bleu_signature, ...)
    utterances: list[Utterance]
    skipped: list[dict[str, Any]]  # [{"line": int, "reason": str}] manifest lines not evaluated
    compute_seconds: float  # wall time inside generate_batch
    generation: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    group_by: str | None = None  # the manifest field scored per value, if any
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # {value: {metric: value, "utterances": n}}

    @property
    def failed(self) -> list[Utterance]:
        return [u for u in self.utterances if u.failed]

    @property
    def scored(self) -> list[Utterance]:
        return [u for u in self.utterances if not u.failed]

    @property
    def audio_seconds(self) -> float:
        return sum(u.duration or 0.0 for u in self.utterances)

    @property
    def output_tokens(self) -> int:
        return sum(u.output_tokens for u in self.utterances)

    def summary(self) -> dict[str, Any]:
        """Flat JSON summary: metric names as keys (rates as fractions; bleu on sacrebleu's 0-100 scale)."""
        return {
            "model": self.model,
            "manifest": self.manifest,
            "task": self.task,
            "language": self.language,
            "normalizer": self.normalizer,
            "primary_metric": self.primary_metric,
            **self.metrics,
            **self.details,
            "utterances": len(self.utterances),
            "scored": len(self.scored),
            "failed": len(self.failed),
            "skipped": len(self.skipped),
            "audio_seconds": round(self.audio_seconds, 3),
            "compute_seconds": round(self.compute_seconds, 3),
            "rtfx": rtfx(self.audio_seconds, self.compute_seconds),
            "output_tokens": self.output_tokens,
            "tokens_per_s": tokens_per_second(self.output_tokens, self.compute_seconds),
            "generation": self.generation,
            **({"group_by": self.group_by, "groups": self.groups} if self.group_by else {}),
            "notes": self.notes,
            "skipped_lines": self.skipped,
            "failures": [{"id": u.id, "line": u.line, "error": u.error} for u in self.failed],
        }


def _fmt(metric: str, value: Any) -> str:
    """Table cell: rates as percentages, BLEU and speeds with 2 decimals, missing as '-'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if metric in METRIC_ORDER and metric != "bleu":
        return f"{100 * value:.2f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _label(metric: str) -> str:
    return f"{metric} (%)" if metric in METRIC_ORDER and metric != "bleu" else metric


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: EvalReport, plot_name: str | None = "report.png") -> str:
    """report.md: headline table, counts, speed, notes, skipped lines, failures and the worst utterances."""
    summary = report.summary()
    lines = [
        f"# Evaluation: {report.model} on {Path(report.manifest).name} ({report.task})",
        "",
        f"Manifest `{report.manifest}`, language `{report.language}`, normalizer `{report.normalizer}`.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for name in METRIC_ORDER:
        if name in report.metrics:
            lines.append(f"| {_label(name)} | {_fmt(name, report.metrics[name])} |")
    for name in ("utterances", "scored", "failed", "skipped", "audio_seconds", "compute_seconds"):
        lines.append(f"| {name} | {_fmt(name, summary[name])} |")
    lines.append(f"| rtfx | {_fmt('rtfx', summary['rtfx'])} |")
    lines.append(f"| tokens_per_s | {_fmt('tokens_per_s', summary['tokens_per_s'])} |")
    for key in ("word_errors", "char_errors"):
        if key in report.details:
            counts = ", ".join(f"{k} {v}" for k, v in report.details[key].items())
            lines += ["", f"{key.replace('_', ' ').capitalize()}: {counts}."]
    if "bleu_signature" in report.details:
        lines += ["", f"BLEU signature: `{report.details['bleu_signature']}`."]
    if plot_name:
        lines += ["", f"![{plot_name}]({plot_name})"]
    lines += _group_table(report)
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {_escape(n)}" for n in report.notes]
    if report.skipped:
        lines += ["", f"## Skipped manifest lines ({len(report.skipped)})", ""]
        lines += [f"- line {s['line']}: {_escape(s['reason'])}" for s in report.skipped[:MAX_LISTED]]
    if report.failed:
        lines += ["", f"## Failed utterances ({len(report.failed)})", ""]
        lines += [f"- {u.id} (line {u.line}): {_escape(u.error or '')}" for u in report.failed[:MAX_LISTED]]
    worst = _worst(report)
    if worst:
        lines += [
            "",
            "## Worst utterances",
            "",
            "| id | reference | hypothesis | errors |",
            "|---|---|---|---|",
        ]
        for u, errors in worst:
            ref, hyp = _escape(u.normalized_reference), _escape(u.normalized_hypothesis)
            lines.append(f"| {u.id} | {ref} | {hyp} | {errors} |")
    return "\n".join(lines) + "\n"


def _group_table(report: EvalReport) -> list[str]:
    """The metrics per value of the `group_by` field (no lines when there is none)."""
    if not report.group_by:
        return []
    names = [m for m in METRIC_ORDER if any(m in g for g in report.groups.values())]
    lines = ["", f"## By {report.group_by}", "", f"| {report.group_by} | utterances | "]
    lines[-1] += " | ".join(_label(m) for m in names) + " |"
    lines.append("|---" * (len(names) + 2) + "|")
    for value, group in report.groups.items():
        cells = [_escape(value), str(group["utterances"])] + [_fmt(m, group.get(m)) for m in names]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _worst(report: EvalReport) -> list[tuple[Utterance, str]]:
    """Scored utterances with errors, most errors first (word errors for asr, wrong answers for qa/cls)."""
    scored = report.scored
    if report.task == "asr":
        ranked = sorted(scored, key=lambda u: -u.score.word_errors.errors if u.score.word_errors else 0)
        return [(u, str(u.score.word_errors.errors)) for u in ranked if u.score.word_errors.errors][:MAX_LISTED]
    if report.task in ("qa", "cls"):
        return [(u, "wrong") for u in scored if u.score.correct is False][:MAX_LISTED]
    return []


def write_report(report: EvalReport, output_dir: str | os.PathLike) -> Path:
    """Write the four report files into `output_dir` (created if needed), each atomically.

    Returns:
        The output directory.
    """
    from soundwave.eval.plot import plot_report  # matplotlib is slow to import; only when writing

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "utterances.jsonl") as tmp, tmp.open("w", encoding="utf-8") as fh:
        for utterance in report.utterances:
            fh.write(json.dumps(utterance.to_record(), ensure_ascii=False) + "\n")
    write_text(out / "summary.json", json.dumps(report.summary(), indent=2, ensure_ascii=False) + "\n")
    with atomic_path(out / "report.png") as tmp:
        plot_report(report, tmp)
    write_text(out / "report.md", render_markdown(report))
    return out


def compare_summaries(
    summaries: Sequence[Mapping[str, Any]],
    metrics: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
) -> str:
    """One Markdown table comparing runs side by side: a column per summary, a row per metric.

    Args:
        summaries: summary.json contents (dicts), e.g. `[json.load(open(p)) for p in paths]`.
        metrics: rows to show; default: every metric any summary has, then counts and speed.
        labels: column headers; default "model (manifest name)".

    Returns:
        The table; the best value of each metric row is in bold.
    """
    if labels is None:
        labels = [f"{s.get('model', '?')} ({Path(str(s.get('manifest', '?'))).stem})" for s in summaries]
    if len(labels) != len(summaries):
        raise ValueError(f"{len(labels)} labels for {len(summaries)} summaries")
    if metrics is None:
        metrics = [m for m in METRIC_ORDER if any(m in s for s in summaries)]
        metrics += ["scored", "failed", "skipped", "rtfx", "tokens_per_s"]
    lines = ["| metric | " + " | ".join(_escape(label) for label in labels) + " |"]
    lines.append("|---" * (len(summaries) + 1) + "|")
    for name in metrics:
        values = [s.get(name) for s in summaries]
        cells = [_fmt(name, v) for v in values]
        numeric = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if name in METRIC_ORDER and len(numeric) > 1:
            best = min(numeric) if lower_is_better(name) else max(numeric)
            cells = [f"**{c}**" if v == best else c for c, v in zip(cells, values, strict=True)]
        lines.append(f"| {_label(name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
