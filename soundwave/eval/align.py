"""`soundwave eval --task align`: word times against a manifest's reference times, for a Soundwave model (its CTC
forced alignment) or the Whisper baseline (its own word timestamps).

    soundwave eval --task align --data data/align-festival/manifest.jsonl --model soundwave-mini
    soundwave eval --task align --data data/align-festival/manifest.jsonl --baseline whisper --model whisper-tiny.en

A manifest line takes part when it has audio, a transcript (or answer) and `words: [{word, start, end}]` (seconds).
`align_source: reference` (the default) aligns the line's transcript (`Pipeline.align`); `transcript` first
transcribes the audio and times the model's own words (`Pipeline.transcribe(timestamps="word")`, what `soundwave
transcribe --timestamps word` writes), which also measures what the alignment costs next to the transcription. The
Whisper baseline always times what it transcribed (reported as `align_source: transcript`). Metrics:
`soundwave.eval.timing`. The report folder gets utterances.jsonl (each reference word with its error, and the
system's own words), summary.json, report.md, report.png (error histograms) and alignment.png (the first utterance).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from soundwave.atomic import atomic_path, write_text
from soundwave.data.manifest import Sample, read_manifest
from soundwave.errors import ConfigError, ManifestError, SoundwaveError
from soundwave.eval.timing import TOLERANCES_MS, WordTiming, timing_metrics, word_timings

logger = logging.getLogger(__name__)

ALIGN_SOURCES = ("reference", "transcript")


@dataclass(frozen=True)
class AlignUtterance:
    """One manifest line: its reference words, and where the system put them."""

    id: str
    line: int
    audio: str
    reference: str  # the line's transcript
    hypothesis: str  # the text the system timed (the reference, or its own transcript)
    duration: float
    timings: tuple[WordTiming, ...]
    error: str | None = None
    align_seconds: float = 0.0
    transcribe_seconds: float = 0.0  # align_source "transcript" only
    placed: tuple[dict, ...] = ()  # the system's own words ({word, start, end}), matched or not

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "line": self.line,
            "audio": self.audio,
            "reference": self.reference,
            "hypothesis": self.hypothesis,
            "duration": self.duration,
            "error": self.error,
            "align_seconds": round(self.align_seconds, 4),
            "transcribe_seconds": round(self.transcribe_seconds, 4),
            **timing_metrics(self.timings),
            "words": [t.to_dict() for t in self.timings],
            "system_words": list(self.placed),
        }


@dataclass(frozen=True)
class AlignReport:
    """One word-timing evaluation. `summary()` is summary.json."""

    model: str
    manifest: str
    source: str
    utterances: list[AlignUtterance]
    skipped: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def scored(self) -> list[AlignUtterance]:
        return [u for u in self.utterances if not u.failed]

    @property
    def failed(self) -> list[AlignUtterance]:
        return [u for u in self.utterances if u.failed]

    def summary(self) -> dict[str, Any]:
        scored = self.scored
        align = sum(u.align_seconds for u in scored)
        transcribe = sum(u.transcribe_seconds for u in scored)
        return {
            "model": self.model,
            "manifest": self.manifest,
            "task": "align",
            "align_source": self.source,
            **timing_metrics([t for u in scored for t in u.timings]),
            "utterances": len(self.utterances),
            "scored": len(scored),
            "failed": len(self.failed),
            "skipped": len(self.skipped),
            "audio_seconds": round(sum(u.duration for u in scored), 3),
            "align_seconds": round(align, 3),
            "transcribe_seconds": round(transcribe, 3),
            "align_cost": round(align / transcribe, 4) if transcribe else None,  # alignment / transcription time
            "notes": self.notes,
            "skipped_lines": self.skipped,
            "failures": [{"id": u.id, "line": u.line, "error": u.error} for u in self.failed],
        }


def reference_words(sample: Sample) -> list[dict[str, Any]]:
    """The line's `words`, checked: a list of {"word": str, "start": number, "end": number}.

    Raises:
        ManifestError: absent or malformed, naming what is wrong.
    """
    words = sample.extra.get("words")
    if not isinstance(words, list) or not words:
        raise ManifestError("no 'words' list of reference word times")
    for index, word in enumerate(words):
        ok = isinstance(word, dict) and isinstance(word.get("word"), str)
        ok = ok and all(
            isinstance(word.get(k), int | float) and not isinstance(word.get(k), bool) for k in ("start", "end")
        )
        if not ok or word["end"] < word["start"]:
            raise ManifestError(f"words[{index}] is not {{'word': str, 'start': seconds, 'end': seconds >= start}}")
    return words


def select_rows(manifest: str | os.PathLike, limit: int | None) -> tuple[list[tuple[Sample, list]], list[dict]]:
    """The lines with audio, a transcript and reference word times (at most `limit`), and the skipped ones."""
    result = read_manifest(manifest)
    skipped = [{"line": s.line, "reason": s.reason} for s in result.skipped]
    rows = []
    for sample in result.samples:
        try:
            if sample.audio is None:
                raise ManifestError("no audio")
            rows.append((sample, reference_words(sample)))
        except ManifestError as err:
            skipped.append({"line": sample.line, "reason": str(err)})
    if not rows:
        raise ManifestError(
            f"{manifest}: no line has audio and reference word times ('words': [{{'word', 'start', 'end'}}]); "
            "scripts/make_align_set.py makes such a set"
        )
    skipped.sort(key=lambda s: s["line"])
    return (rows[:limit] if limit else rows), skipped


@dataclass(frozen=True)
class _Timed:
    text: str  # what was timed
    words: Sequence[Any]  # `soundwave.alignment.Word`s
    duration: float
    align_seconds: float
    transcribe_seconds: float = 0.0


def _time_words(system: Any, sample: Sample, source: str) -> tuple[_Timed, Any]:
    """The words `system` times for one line, and the `Alignment` to draw (when it has one)."""
    text = sample.transcript or sample.answer
    if source == "reference" or not hasattr(system, "transcribe"):
        alignment = system.align(sample.audio, text)
        return _Timed(alignment.text, alignment.words, alignment.duration, alignment.seconds), alignment
    started = time.perf_counter()
    result = system.transcribe(sample.audio, timestamps="word")
    transcribe_seconds = time.perf_counter() - started - result.align_seconds
    timed = _Timed(result.text, result.words or [], result.audio_seconds, result.align_seconds, transcribe_seconds)
    return timed, None


def evaluate_alignment(
    system: Any,
    manifest: str | os.PathLike,
    limit: int | None = None,
    output_dir: str | os.PathLike | None = None,
    model_name: str | None = None,
    progress: bool = True,
    source: str = "reference",
) -> AlignReport:
    """Time the words of every usable manifest line with `system` and score them against the reference times.

    Args:
        system: anything with `align(audio, text) -> Alignment` (a Soundwave `Pipeline`, `WhisperBaseline`);
            for `source="transcript"` also `transcribe(audio, timestamps="word")`.
        manifest: a JSONL manifest whose lines carry `words`.
        limit: the first N usable lines only.
        output_dir: where to write the report (None: nowhere).
        model_name: label for reports.
        progress: show a progress bar.
        source: "reference" (align the transcript) or "transcript" (time the model's own transcript).

    Raises:
        ConfigError: a bad `source`. ManifestError: no usable line.
    """
    if source not in ALIGN_SOURCES:
        raise ConfigError(f"align_source: expected one of {', '.join(ALIGN_SOURCES)}, got {source!r}")
    rows, skipped = select_rows(manifest, limit)
    if getattr(system, "aligns_own_transcript", False):  # the Whisper baseline: whatever it was asked
        source = "transcript"
    utterances, example = [], None
    for sample, words in tqdm(rows, unit="utt", desc="eval align", disable=not progress):
        text = sample.transcript or sample.answer
        try:
            timed, alignment = _time_words(system, sample, source)
            if example is None and source == "transcript" and alignment is None:
                alignment = system.align(sample.audio, timed.text)  # the picture only
        except SoundwaveError as err:
            utterances.append(AlignUtterance(sample.id, sample.line, str(sample.audio), text, "", 0.0, (), str(err)))
            continue
        timings = tuple(word_timings(words, timed.words))
        utterances.append(
            AlignUtterance(
                sample.id,
                sample.line,
                str(sample.audio),
                text,
                timed.text,
                timed.duration,
                timings,
                None,
                timed.align_seconds,
                timed.transcribe_seconds,
                tuple({"word": w.word, "start": w.start, "end": w.end} for w in timed.words),
            )
        )
        if example is None and alignment is not None:
            example = (sample, words, alignment)
    notes = []
    if any(u.failed for u in utterances):
        first = next(u for u in utterances if u.failed)
        notes.append(f"{len([u for u in utterances if u.failed])} utterance(s) failed; first: {first.error}")
    label = model_name or str(getattr(system, "name", None) or type(system).__name__)
    report = AlignReport(label, str(Path(manifest).resolve()), source, utterances, skipped, notes)
    if output_dir is not None:
        write_align_report(report, output_dir, example)
    return report


def write_align_report(report: AlignReport, output_dir: str | os.PathLike, example=None) -> Path:
    """utterances.jsonl, summary.json, report.md, report.png and (given an example) alignment.png."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "utterances.jsonl") as tmp, tmp.open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(u.to_record(), ensure_ascii=False) + "\n" for u in report.utterances)
    write_text(out / "summary.json", json.dumps(report.summary(), indent=2, ensure_ascii=False) + "\n")
    with atomic_path(out / "report.png") as tmp:
        plot_errors(report, tmp)
    if example is not None:
        from soundwave.alignment.plot import plot_alignment
        from soundwave.audio import load_audio

        sample, words, alignment = example
        with atomic_path(out / "alignment.png") as tmp:
            plot_alignment(
                load_audio(sample.audio),
                alignment,
                tmp,
                title=f"{sample.id} (dashed: reference starts)",
                reference=words,
            )
    lines = [
        f"# Word timing: {report.model} on {Path(report.manifest).name}",
        "",
        compare_alignments([report.summary()]),
    ]
    lines += ["![report.png](report.png)", ""] + (["![alignment.png](alignment.png)", ""] if example else [])
    lines += [f"- {note}" for note in report.notes]
    write_text(out / "report.md", "\n".join(lines) + "\n")
    return out


ROWS = (
    ("start_median_ms", "start error, median (ms)"),
    ("start_mean_ms", "start error, mean (ms)"),
    *((f"start_within_{t}ms", f"starts within {t} ms (%)") for t in TOLERANCES_MS),
    ("end_median_ms", "end error, median (ms)"),
    ("end_mean_ms", "end error, mean (ms)"),
    *((f"end_within_{t}ms", f"ends within {t} ms (%)") for t in TOLERANCES_MS),
    ("words", "reference words"),
    ("not_placed", "words not placed"),
    ("audio_seconds", "audio (s)"),
    ("align_seconds", "alignment time (s)"),
    ("align_cost", "alignment / transcription time (%)"),
)


def compare_alignments(summaries: Sequence[Mapping[str, Any]], labels: Sequence[str] | None = None) -> str:
    """A Markdown table of word-timing summaries side by side (a column per summary)."""
    labels = labels or [f"{s.get('model', '?')} ({s.get('align_source', '?')})" for s in summaries]
    lines = ["| | " + " | ".join(labels) + " |", "|---" * (len(summaries) + 1) + "|"]
    for key, name in ROWS:
        cells = []
        for summary in summaries:
            value = summary.get(key)
            if value is None:
                cells.append("-")
            elif "within" in key or key == "align_cost":
                cells.append(f"{100 * value:.1f}")
            else:
                cells.append(f"{value:.0f}" if isinstance(value, float) and "seconds" not in key else f"{value}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_errors(report: AlignReport, path: str | os.PathLike) -> None:
    """Histograms of the signed start and end errors (ms) of the placed words."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timings = [t for u in report.scored for t in u.timings if t.placed]
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    for axis, side in zip(axes, ("start", "end"), strict=True):
        errors = [1000 * (getattr(t, side) - getattr(t, f"reference_{side}")) for t in timings]
        axis.hist(errors, bins=40, range=(-300, 300), color="tab:blue")
        axis.axvline(0, color="black", linewidth=0.8)
        axis.set_title(f"{side} error (ms, + = late), {len(errors)} words")
    figure.suptitle(f"{report.model} on {Path(report.manifest).name}")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
