"""`evaluate(pipeline, manifest, task)`: run a model over a manifest in batches, score it, write the report.

Any object with the `generate_batch` contract (`soundwave.eval.interface`) can be evaluated: a Soundwave
`Pipeline`, the plain-Whisper baseline, or a test double. Bad manifest lines are skipped and listed with their
line numbers; items the model fails on are counted as failed and left out of the metrics (never silently).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from soundwave.data.manifest import Sample, read_manifest
from soundwave.errors import ConfigError, ManifestError, SoundwaveError
from soundwave.eval.interface import GenerationPipeline
from soundwave.eval.normalize import normalize_text, normalizer_name
from soundwave.eval.report import EvalReport, Utterance, write_report
from soundwave.eval.scoring import TASKS, UtteranceScore, primary_metric, score_corpus, score_utterance
from soundwave.prompts import TRANSCRIBE_PROMPT

logger = logging.getLogger(__name__)

# Prompt for manifest lines that carry none; other tasks need the question in the manifest.
DEFAULT_PROMPTS = {"asr": TRANSCRIBE_PROMPT}
MAX_LOGGED = 10  # skipped lines logged one by one; the rest are counted (summary.json lists all)


class _Failure:
    """Result for an item whose generation raised instead of returning an error result."""

    def __init__(self, error: str) -> None:
        self.text, self.error = "", error
        self.input_tokens, self.output_tokens, self.seconds = 0, 0, 0.0


def _check_arguments(task: str, limit: int | None, batch_size: int) -> None:
    if task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be a positive number of utterances, got {limit}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")


def _reference(sample: Sample, task: str) -> str:
    """ASR scores against the transcript when there is one; every other task against the answer."""
    if task == "asr" and sample.transcript is not None:
        return sample.transcript
    return sample.answer


def _duration(sample: Sample) -> float | None:
    """Seconds of audio: from the manifest, else from the file header (None if unreadable)."""
    if sample.duration is not None:
        return sample.duration
    import soundfile

    try:
        return float(soundfile.info(sample.audio).duration)
    except Exception:  # libsndfile raises several types; the model run will report the bad file itself
        return None


def select_samples(
    manifest_path: str | os.PathLike, task: str, limit: int | None
) -> tuple[list[Sample], list[dict[str, Any]]]:
    """Read the manifest and keep the samples of `task`, at most `limit` of them.

    Returns:
        (samples, skipped) where skipped is [{"line", "reason"}] for unusable or other-task lines.

    Raises:
        ManifestError: no usable line, or no line of `task`.
    """
    result = read_manifest(manifest_path, default_prompt=DEFAULT_PROMPTS.get(task))
    skipped = [{"line": s.line, "reason": s.reason} for s in result.skipped]
    samples = []
    for sample in result.samples:
        if sample.task != task:
            skipped.append({"line": sample.line, "reason": f"task {sample.task!r}, not the evaluated {task!r}"})
        elif sample.audio is None:
            skipped.append({"line": sample.line, "reason": "no audio (text-only line)"})
        else:
            samples.append(sample)
    if not samples:
        found = sorted({s.task for s in result.samples})
        raise ManifestError(
            f"{manifest_path}: no line to evaluate for task {task!r} (tasks found: {', '.join(found)}); "
            'set "task" on the lines or pick the matching --task'
        )
    skipped.sort(key=lambda s: s["line"])
    for entry in skipped[:MAX_LOGGED]:
        logger.warning("%s:%d: skipped: %s", manifest_path, entry["line"], entry["reason"])
    if len(skipped) > MAX_LOGGED:
        logger.warning(
            "%s: %d more lines skipped (all are listed in summary.json)", manifest_path, len(skipped) - MAX_LOGGED
        )
    return (samples[:limit] if limit else samples), skipped


def generate_isolated(
    pipeline: GenerationPipeline, items: list[dict[str, Any]], generation: Mapping[str, Any], task: str = "qa"
) -> list[Any]:
    """`generate_batch` (for asr: `transcribe_batch`, the path `soundwave transcribe` and the server take, where the
    pipeline has one), but a batch that raises is retried item by item so one bad item fails only itself.

    Raises:
        ConfigError: the generation options are wrong (raised at once: every item would fail the same way).
        SoundwaveError: the pipeline returned a different number of results than items (a pipeline bug).
    """
    run = getattr(pipeline, "transcribe_batch", None) if task == "asr" else None
    try:
        results = (run or pipeline.generate_batch)(items, **generation)
    except ConfigError:
        raise
    except Exception as err:  # model code can raise anything; isolate it rather than lose the whole run
        if len(items) == 1:
            return [_Failure(f"{type(err).__name__}: {err}")]
        logger.warning("a batch of %d raised (%s); retrying its items one by one", len(items), err)
        return [result for item in items for result in generate_isolated(pipeline, [item], generation, task)]
    if len(results) != len(items):
        raise SoundwaveError(f"generate_batch returned {len(results)} results for {len(items)} items")
    return list(results)


def group_of(sample: Sample, field: str) -> str | None:
    """The sample's value of a manifest field (`voice`, `speaker`, `task`, ...) as text; None when it has none."""
    value = getattr(sample, field) if field in ("task", "prompt") else sample.extra.get(field)
    return None if value is None else str(value)


def _check_group_field(samples: Sequence[Sample], field: str, manifest_path) -> None:
    if not any(group_of(s, field) is not None for s in samples):
        fields = sorted({key for s in samples for key in s.extra} | {"task", "prompt"})
        raise ConfigError(f"{manifest_path}: no evaluated line has the field {field!r} to group by; fields: {fields}")


def _utterance(sample: Sample, result: Any, task: str, language: str | None, group_by: str | None = None) -> Utterance:
    reference = _reference(sample, task)
    error = result.error
    hypothesis = "" if error is not None else (result.text or "").strip()
    norm_ref = normalize_text(reference, language)
    norm_hyp = normalize_text(hypothesis, language) if error is None else ""
    score = score_utterance(task, norm_ref, norm_hyp, language) if error is None else UtteranceScore()
    return Utterance(
        id=sample.id,
        line=sample.line,
        audio=str(sample.audio),
        prompt=sample.prompt,
        reference=reference,
        hypothesis=hypothesis,
        normalized_reference=norm_ref,
        normalized_hypothesis=norm_hyp,
        duration=_duration(sample),
        score=score,
        error=error,
        output_tokens=int(result.output_tokens or 0),
        seconds=float(result.seconds or 0.0),
        group=group_of(sample, group_by) if group_by else None,
    )


def evaluate(
    pipeline: GenerationPipeline,
    manifest_path: str | os.PathLike,
    task: str,
    limit: int | None = None,
    batch_size: int = 8,
    generation: Mapping[str, Any] | None = None,
    output_dir: str | os.PathLike | None = None,
    *,
    language: str | None = "en",
    model_name: str | None = None,
    progress: bool = True,
    group_by: str | None = None,
) -> EvalReport:
    """Evaluate `pipeline` on the `task` lines of a manifest.

    Args:
        pipeline: anything with `generate_batch(items, **generation)` (see `soundwave.eval.interface`).
        manifest_path: a JSONL manifest (see `soundwave.data.manifest`).
        task: "asr" (WER/CER), "st" (BLEU), "qa" (exact match, contains) or "cls" (accuracy, contains).
        limit: evaluate only the first `limit` usable lines.
        batch_size: items per `generate_batch` call.
        generation: keyword arguments for `generate_batch` (e.g. {"max_new_tokens": 128}).
        output_dir: where to write utterances.jsonl, summary.json, report.md and report.png (None: don't).
        language: language of the references: picks the normalizer and the BLEU tokenizer.
        model_name: label for reports (default: the pipeline's `name` attribute or its class name).
        progress: show a progress bar.
        group_by: also score each value of this manifest field apart (e.g. "voice", "speaker").

    Returns:
        The EvalReport.

    Raises:
        ConfigError: bad task, limit or batch_size, or no evaluated line has the `group_by` field.
        ManifestError: the manifest is missing or has nothing to evaluate for `task`.
    """
    _check_arguments(task, limit, batch_size)
    generation = dict(generation or {})
    if task != "asr" or not hasattr(pipeline, "transcribe_batch"):  # scores must not depend on sampling
        generation = {"do_sample": False} | generation
    samples, skipped = select_samples(manifest_path, task, limit)
    if group_by:
        _check_group_field(samples, group_by, manifest_path)
    utterances: list[Utterance] = []
    compute_seconds = 0.0
    with tqdm(total=len(samples), unit="utt", desc=f"eval {task}", disable=not progress) as bar:
        for start in range(0, len(samples), batch_size):
            batch = samples[start : start + batch_size]
            items = [{"audio": s.audio, "prompt": s.prompt} for s in batch]
            began = time.perf_counter()
            results = generate_isolated(pipeline, items, generation, task)
            compute_seconds += time.perf_counter() - began
            utterances += [_utterance(s, r, task, language, group_by) for s, r in zip(batch, results, strict=True)]
            bar.update(len(batch))
    report = _build_report(
        pipeline, manifest_path, task, language, model_name, utterances, skipped, compute_seconds, generation, group_by
    )
    if output_dir is not None:
        write_report(report, output_dir)
        logger.info("wrote the evaluation report to %s", output_dir)
    return report


def _build_report(
    pipeline: GenerationPipeline,
    manifest_path: str | os.PathLike,
    task: str,
    language: str | None,
    model_name: str | None,
    utterances: Sequence[Utterance],
    skipped: list[dict[str, Any]],
    compute_seconds: float,
    generation: dict[str, Any],
    group_by: str | None = None,
) -> EvalReport:
    scored = [u for u in utterances if not u.failed]
    corpus = _score(task, scored, language)
    notes = list(corpus.notes)
    failed = len(utterances) - len(scored)
    if failed:
        first = next(u for u in utterances if u.failed)
        notes.append(f"{failed} utterance(s) failed and are left out of the metrics; first: {first.error}")
    if skipped:
        notes.append(f"{len(skipped)} manifest line(s) skipped")
    unknown = sum(1 for u in utterances if u.duration is None)
    if unknown:
        notes.append(f"{unknown} utterance(s) of unknown duration: audio_seconds and rtfx leave them out")
    return EvalReport(
        model=model_name or str(getattr(pipeline, "name", None) or type(pipeline).__name__),
        manifest=str(Path(manifest_path).resolve()),
        task=task,
        language=language,
        normalizer=normalizer_name(language),
        primary_metric=primary_metric(task, language),
        metrics=corpus.values,
        details=corpus.details,
        utterances=list(utterances),
        skipped=skipped,
        compute_seconds=compute_seconds,
        generation=generation,
        notes=notes,
        group_by=group_by,
        groups=_group_scores(task, scored, language) if group_by else {},
    )


def _score(task: str, scored: Sequence[Utterance], language: str | None):
    return score_corpus(
        task,
        [u.reference for u in scored],
        [u.hypothesis for u in scored],
        [u.normalized_reference for u in scored],
        [u.normalized_hypothesis for u in scored],
        language,
    )


def _group_scores(task: str, scored: Sequence[Utterance], language: str | None) -> dict[str, dict[str, Any]]:
    """{group value: {metric: value, ..., "utterances": n}} over the scored utterances, in sorted order."""
    groups: dict[str, list[Utterance]] = {}
    for utterance in scored:
        groups.setdefault(utterance.group or "(none)", []).append(utterance)
    return {
        name: {**_score(task, members, language).values, "utterances": len(members)}
        for name, members in sorted(groups.items())
    }
