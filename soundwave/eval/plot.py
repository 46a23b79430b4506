"""report.png: the headline metric by clip-duration bucket, and what kinds of errors were made.

Rendered with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from soundwave.eval.scoring import score_corpus

if TYPE_CHECKING:
    from soundwave.eval.report import EvalReport, Utterance

DURATION_EDGES = (0.0, 2.0, 5.0, 10.0, 20.0, 30.0, float("inf"))  # seconds; a bucket is [low, high)


def duration_buckets(utterances: list[Utterance]) -> list[tuple[str, list[Utterance]]]:
    """Group utterances by duration into the non-empty DURATION_EDGES buckets (unknown durations last)."""
    groups: list[tuple[str, list[Utterance]]] = []
    for low, high in zip(DURATION_EDGES[:-1], DURATION_EDGES[1:], strict=True):
        members = [u for u in utterances if u.duration is not None and low <= u.duration < high]
        name = f">= {low:g} s" if high == float("inf") else f"{low:g}-{high:g} s"
        if members:
            groups.append((name, members))
    unknown = [u for u in utterances if u.duration is None]
    if unknown:
        groups.append(("unknown", unknown))
    return groups


def _bucket_metric(report: EvalReport, members: list[Utterance]) -> float | None:
    score = score_corpus(
        report.task,
        [u.reference for u in members],
        [u.hypothesis for u in members],
        [u.normalized_reference for u in members],
        [u.normalized_hypothesis for u in members],
        report.language,
    )
    return score.values.get(report.primary_metric)


def _outcome_counts(report: EvalReport) -> dict[str, int]:
    """Bar heights for the second panel."""
    failed = len(report.failed)
    if report.task == "asr":
        counts = report.details.get("word_errors", {})
        return {
            "substitutions": counts.get("substitutions", 0),
            "deletions": counts.get("deletions", 0),
            "insertions": counts.get("insertions", 0),
            "failed utts": failed,
        }
    if report.task in ("qa", "cls"):
        correct = sum(1 for u in report.scored if u.score.correct)
        return {"correct": correct, "wrong": len(report.scored) - correct, "failed": failed}
    return {"scored": len(report.scored), "failed": failed}


def plot_report(report: EvalReport, path: str | os.PathLike) -> None:
    """Write a two-panel PNG for `report` to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    metric = report.primary_metric
    as_percent = metric != "bleu"
    buckets = duration_buckets(report.scored)
    names = [f"{name}\n(n={len(members)})" for name, members in buckets]
    values = []
    for _, members in buckets:
        value = _bucket_metric(report, members)
        values.append(0.0 if value is None else (100 * value if as_percent else value))

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.bar(names, values, color="tab:blue")
    left.set_title(f"{metric}{' (%)' if as_percent else ''} by clip duration")
    left.set_ylabel(f"{metric}{' (%)' if as_percent else ''}")
    if not buckets:
        left.text(0.5, 0.5, "no scored utterances", ha="center", va="center", transform=left.transAxes)

    outcomes = _outcome_counts(report)
    right.bar(list(outcomes), list(outcomes.values()), color=["tab:orange", "tab:red", "tab:purple", "tab:gray"])
    right.set_title("word errors by type" if report.task == "asr" else "outcomes")
    right.set_ylabel("count")
    right.yaxis.set_major_locator(MaxNLocator(integer=True))

    figure.suptitle(f"{report.model} on {os.path.basename(report.manifest)} ({report.task})")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
